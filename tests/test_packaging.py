"""The wheel carries the bundled scenarios, themes and sessions: an installed orintui finds them
without the source tree."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_installed_wheel_finds_its_bundled_files(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(ROOT),
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("orintui-*.whl"))
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = ("import orintui.core.paths as p, orintui.config.scenarios as s, orintui.reading.catalog as c;"
             "print(p.bundled_dir('scenarios')); print(p.bundled_dir('themes'));"
             "print(sorted(e.name for e in s.list_scenarios())); print(len(c.list_sessions(include_demo=True)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, check=True,
                         env={"PYTHONPATH": str(site), "ORINTUI_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    scenarios_dir, themes_dir, names, sessions = out.stdout.splitlines()
    assert scenarios_dir.startswith(str(site)) and themes_dir.startswith(str(site))
    assert "demo" in names and "nvidia-gpu" in names and len(ast.literal_eval(names)) == len(list((ROOT / "scenarios").glob("*.toml")))
    assert sessions == "1"  # the bundled H100 demo session
