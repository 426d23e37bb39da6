"""Front ends beside the app: `orintui run`'s headless printer (`headless.py`) and `orintui setup` (`bootstrap.py`)."""
