"""Configuration and import: TOML scenarios, backend logs turned into sessions, and the quiet-machine gate that the scenarios configure."""
