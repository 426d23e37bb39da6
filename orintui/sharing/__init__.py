"""Sharing sessions: compare of N sessions, the HTML report, the share card, their hand-written SVG, and SVG to PNG."""
