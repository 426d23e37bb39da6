"""How long the menu's session list takes, with and without the headline cache.

Writes COUNT sessions of TOKENS token events each into a fresh ORINTUI_HOME, then times
catalog.list_sessions() cold (no cache: every file loaded, its metrics computed) and warm.

    python benchmarks/menu_sessions.py [COUNT] [TOKENS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from common import synthetic_session


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    with tempfile.TemporaryDirectory() as home:
        os.environ["ORINTUI_HOME"] = home
        os.environ.pop("ORINTUI_CACHE", None)
        from orintui.core import paths
        from orintui.reading import catalog
        from orintui.session import save_session

        folder = paths.sessions_dir()
        folder.mkdir(parents=True)
        session = synthetic_session(tokens, 100.0, tokens // 50, 2.0)
        for i in range(count):
            save_session(session, folder / f"s{i:03d}.json.gz")
        size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
        print(f"{count} sessions of {tokens:,} token events, {size:.1f} MiB on disk")
        for label in ("cold (no cache)", "warm (cached)", "warm again"):
            start = time.perf_counter()
            entries = catalog.list_sessions()
            print(f"  list_sessions {label:16} {time.perf_counter() - start:8.3f} s  ({len(entries)} entries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
