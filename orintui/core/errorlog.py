"""orintui's own log file, for errors that must not stop a run (a view or callback that raised):
each is written with its traceback to ``orintui.log`` in the logs folder, so it is never lost
silently, and the caller tells the user where that file is."""

from __future__ import annotations

import logging
import logging.handlers
import threading
from pathlib import Path

from orintui.core import paths

MAX_BYTES = 1 << 20  # one file of 1 MiB plus two older ones
_lock = threading.Lock()
_logger: logging.Logger | None = None
_path: Path | None = None


def log_file() -> Path:
    return paths.logs_dir() / "orintui.log"


def _open() -> logging.Logger | None:
    """The logger writing to ``log_file()``, opened on first use (ORINTUI_HOME may change between
    tests: a new folder opens a new file); None when the file cannot be written."""
    global _logger, _path
    path = log_file()
    if _logger is not None and _path == path:
        return _logger
    logger = logging.getLogger("orintui")
    logger.propagate = False  # never onto the terminal the app draws on
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=2, encoding="utf-8")
    except OSError:
        _logger = _path = None
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(threadName)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    _logger, _path = logger, path
    return logger


def log_error(message: str, error: BaseException | None = None) -> Path | None:
    """``message`` (and the traceback of ``error``) appended to the log: its path, or None when it
    cannot be written."""
    with _lock:
        logger = _open()
        if logger is None:
            return None
        logger.error(message, exc_info=(type(error), error, error.__traceback__) if error is not None else None)
        for handler in logger.handlers:
            handler.flush()
        return _path
