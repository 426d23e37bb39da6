"""Every figure shown (`metrics.py`), and above it the same figures fed event by event and the Pareto chart. Pure."""
