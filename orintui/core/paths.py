"""Where orintui keeps things, and where the programs it runs are. ORINTUI_HOME moves all user
state (tests and CI use it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # orintui/, above this core/ folder


def _home(kind: str) -> Path:
    root = os.environ.get("ORINTUI_HOME")
    if root:
        return Path(root) / kind
    import platformdirs

    getter = {"config": platformdirs.user_config_dir, "data": platformdirs.user_data_dir,
              "cache": platformdirs.user_cache_dir}[kind]
    return Path(getter("orintui"))


def config_dir() -> Path:
    return _home("config")


def sessions_dir() -> Path:
    return _home("data") / "sessions"


def reports_dir() -> Path:
    return _home("data") / "reports"


def live_journals_dir() -> Path:
    """One small file per live journal naming where it is (a journal outside the sessions folder
    is found and recovered after a kill)."""
    return _home("data") / "live-journals"


def logs_dir() -> Path:
    """Crash logs of the app."""
    return _home("data") / "logs"


def cache_dir() -> Path:
    env = os.environ.get("ORINTUI_CACHE")
    return Path(env) if env else _home("cache")


def models_dir() -> Path:
    return cache_dir() / "models"


def user_scenarios_dir() -> Path:
    return config_dir() / "scenarios"


def bundled_dir(name: str) -> Path:
    """themes/ and scenarios/ live at the top of the source tree; the wheel carries them inside
    the package, so an installed orintui finds them without the source."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


LLAMA_CPP_VERSION = "0.3.36"  # the llama-cpp-python sdist whose vendored llama.cpp orintui builds


def llama_cpp_dir(flavour: str) -> Path:
    """Where `orintui setup` (and scripts/build-llama-cpp) put a llama.cpp build: cpu or cuda."""
    return cache_dir() / f"llama.cpp-{LLAMA_CPP_VERSION}-{flavour}" / "bin"


def tool_dirs() -> list[Path]:
    """Folders searched after PATH for a backend's program: the llama.cpp that orintui built
    (CUDA first), so a demo finds it without the user editing PATH."""
    return [d for d in (llama_cpp_dir("cuda"), llama_cpp_dir("cpu")) if d.is_dir()]


def resolve_binary(argv0: str, env: dict[str, str] | None = None, cwd: str | None = None) -> str | None:
    """The executable argv0 names, looked up the way the child will see it, or None."""
    if os.sep in argv0:
        path = argv0 if os.path.isabs(argv0) or not cwd else os.path.join(cwd, argv0)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    search = (env or os.environ).get("PATH", os.defpath)
    # after PATH: the programs orintui built itself (orintui setup), so the user's own build wins
    return shutil.which(argv0, path=os.pathsep.join([search, *map(str, tool_dirs())]))
