"""orintui: a terminal live monitor for local LLM inference benchmarks on NVIDIA Jetson."""

__version__ = "0.1.0"
