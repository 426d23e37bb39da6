"""The menu's session list: headlines cached by path, size and mtime."""

from __future__ import annotations

import gzip
import os
import shutil

import pytest
from conftest import FIXTURES, ROOT

from orintui import catalog

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
    assert [e.path.rsplit("/", 1)[1] for e in first] == ["b.json.gz", "a.json", catalog.DEMO_SESSION]
    assert sorted(loads) == sorted(["a.json", "b.json.gz", catalog.DEMO_SESSION])
    assert first[0].headline == "704.0 tok/s llama-bench fa on, 1 failed"
    loads.clear()
    assert catalog.list_sessions(folder) == first and loads == []


def test_a_changed_file_is_loaded_again_and_a_deleted_one_dropped(folder, loads):
    catalog.list_sessions(folder)
    loads.clear()
    (folder / "a.json").write_text("{not json")
    a = catalog.list_sessions(folder)[0]  # newest now
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
