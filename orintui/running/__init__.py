"""Running a scenario (`engine.py`), the OpenMetrics exporter, the model files the scenarios expect, and the `[power]` modes below them."""
