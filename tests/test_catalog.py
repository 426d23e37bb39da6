"""The menu's session list: headlines cached by path, size and mtime."""

from __future__ import annotations

import gzip
import json
import os
import shutil

import pytest
from conftest import FIXTURES, ROOT

from orintui.reading import catalog

DEMO_CPU = FIXTURES / "sessions" / "demo-cpu.json"
H100 = ROOT / "orintui" / "data" / "demo-session.json.gz"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ORINTUI_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "sessions"
    d.mkdir()
    shutil.copy(DEMO_CPU, d / "a.json")
    shutil.copy(H100, d / "b.json.gz")
    os.utime(d / "a.json", (1_700_000_000, 1_700_000_000))
    return d


@pytest.fixture
def loads(monkeypatch):
    """Counts the sessions that were really loaded (the real headline function still runs)."""
    seen = []
    real = catalog.headline

    def counting(path):
        seen.append(path.name)
        return real(path)
    monkeypatch.setattr(catalog, "headline", counting)
    return seen


def test_headlines_are_loaded_once_then_cached(folder, loads):
    first = catalog.list_sessions(folder)
    assert [e.path.rsplit("/", 1)[1] for e in first] == ["a.json", "b.json.gz", catalog.DEMO_SESSION]  # by start time
    assert sorted(loads) == sorted(["a.json", "b.json.gz", catalog.DEMO_SESSION])
    assert first[1].headline == "704.0 tok/s llama-bench fa on, 1 failed"
    loads.clear()
    assert catalog.list_sessions(folder) == first and loads == []


def test_a_changed_file_is_loaded_again_and_a_deleted_one_dropped(folder, loads):
    catalog.list_sessions(folder)
    loads.clear()
    (folder / "a.json").write_text("{not json")
    a = next(e for e in catalog.list_sessions(folder) if e.path.endswith("a.json"))
    assert loads == ["a.json"] and a.path.endswith("a.json") and "not valid JSON" in a.error
    catalog.delete_session(a)
    assert [e.path.rsplit("/", 1)[1] for e in catalog.list_sessions(folder)] == ["b.json.gz", catalog.DEMO_SESSION]
    cached = catalog._load_cache()
    assert not any(k.endswith("a.json") for k in cached) and len(cached) == 2


def test_a_corrupt_cache_is_ignored(folder, loads, tmp_path):
    catalog._cache_file().parent.mkdir(parents=True)
    catalog._cache_file().write_bytes(gzip.compress(b"binary junk"))
    assert len(catalog.list_sessions(folder)) == 3 and len(loads) == 3


def test_the_bundled_demo_cannot_be_deleted(folder):
    demo = catalog.list_sessions(folder)[-1]
    assert demo.bundled
    with pytest.raises(ValueError):
        catalog.delete_session(demo)
    assert H100.exists()


def _saved(folder, monkeypatch):
    """Two real sessions in the user's sessions folder (ORINTUI_HOME is per test), named by their ids."""
    from orintui.core import paths
    from orintui.session import load_session

    monkeypatch.setenv("ORINTUI_CACHE", str(paths.cache_dir()))
    target = paths.sessions_dir()
    target.mkdir(parents=True, exist_ok=True)
    ids = []
    for src in (folder / "a.json", folder / "b.json.gz"):
        sid = load_session(src).id
        shutil.copy(src, target / (sid + "".join(src.suffixes)))
        ids.append(sid)
    return target, ids


def test_a_session_is_named_by_path_id_prefix_last_or_demo(folder, monkeypatch):
    target, (cpu_id, h100_id) = _saved(folder, monkeypatch)
    assert catalog.resolve_session(str(folder / "a.json")) == folder / "a.json"
    assert catalog.resolve_session(cpu_id).name.startswith(cpu_id)
    unique = len(os.path.commonprefix([cpu_id, h100_id])) + 1
    assert catalog.resolve_session(h100_id[:unique]).name.startswith(h100_id)
    newest = max((cpu_id, h100_id))  # ids start with the start time
    assert catalog.resolve_session("last").name.startswith(newest)
    assert catalog.resolve_session("demo") == catalog.demo_session_path()
    with pytest.raises(catalog.HandleError, match="no such file"):
        catalog.resolve_session(str(folder / "gone.json"))
    with pytest.raises(catalog.HandleError, match="no session matches 'zzz'"):
        catalog.resolve_session("zzz")


def test_an_ambiguous_prefix_is_refused_with_the_candidates(folder, monkeypatch):
    target, (cpu_id, h100_id) = _saved(folder, monkeypatch)
    shared = os.path.commonprefix([cpu_id, h100_id])
    assert shared  # both ids start with a year
    with pytest.raises(catalog.HandleError, match=f"matches 2 sessions .*{cpu_id}"):
        catalog.resolve_session(shared)


def test_the_list_sorts_by_start_time_not_file_time(folder):
    from orintui.session import load_session

    starts = {p.name: load_session(p).started_at for p in folder.iterdir()}
    os.utime(folder / "b.json.gz", (1_600_000_000, 1_600_000_000))  # the older file ...
    os.utime(folder / "a.json", (1_700_000_000, 1_700_000_000))
    listed = [e.path.rsplit("/", 1)[1] for e in catalog.list_sessions(folder, include_demo=False)]
    assert listed == sorted(starts, key=starts.get, reverse=True)  # ... still ranks by when it started


def test_commands_take_handles_and_sessions_lists_them(folder, monkeypatch, capsys):
    from orintui.cli import main

    target, (cpu_id, h100_id) = _saved(folder, monkeypatch)
    assert main(["sessions", "--json", "--saved"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(e["id"] for e in listed) == sorted([cpu_id, h100_id])
    assert main(["report", cpu_id[:len(os.path.commonprefix([cpu_id, h100_id])) + 1], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)
    assert main(["report", "nope-nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orintui: no session matches 'nope-nope'") and err.count("\n") == 1
