"""`orintui models`: which model files the scenarios expect, where they look, and fetching the
published ones from the Hugging Face Hub with a checksum.

The list is read from the scenarios themselves (every variable or run model that names a .gguf),
so it cannot drift from them; where a file comes from is orintui/data/models.toml. Files the
scenarios generate (random weights, [generate]) are written by orintui and never downloaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from orintui.core import paths

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}\.gguf$")


class ModelError(Exception):
    """A fetch that cannot be done or did not verify: one line for the user."""


@dataclass(frozen=True)
class Source:
    file: str
    repo: str
    about: str = ""
    sha256: str | None = None
    revision: str = "main"


@dataclass
class Expected:
    """A model file one or more scenarios expect."""
    path: str
    scenarios: list[str] = field(default_factory=list)
    generated: str | None = None  # the random-weight shape orintui writes there
    source: Source | None = None

    @property
    def present(self) -> bool:
        return os.path.isfile(self.path)

    def to_dict(self) -> dict[str, object]:
        src = self.source
        return {"path": self.path, "present": self.present, "size": os.path.getsize(self.path) if self.present else None,
                "scenarios": self.scenarios, "generated": self.generated,
                "source": {"repo": src.repo, "file": src.file, "revision": src.revision} if src else None}


def sources() -> dict[str, Source]:
    from orintui.config.scenarios import tomllib

    doc = tomllib.loads((paths.bundled_dir("data") / "models.toml").read_text())
    out = {}
    for m in doc.get("models", []):
        out[m["file"]] = Source(m["file"], m["repo"], m.get("about", ""), m.get("sha256"), m.get("revision", "main"))
    return out


def expected_models() -> list[Expected]:
    """Every .gguf the scenarios on this machine name, once, with the scenarios that need it."""
    from orintui.config.scenarios import ScenarioError, list_scenarios, load_scenario

    known = sources()
    found: dict[str, Expected] = {}
    for entry in list_scenarios():
        if entry.error:
            continue
        try:
            s = load_scenario(entry.path)
        except ScenarioError:
            continue
        generated = {s.variables[k]: shape for k, shape in s.generate.items() if k in s.variables}
        named = [v for v in s.variables.values() if v.endswith(".gguf")] + [r.model for r in s.runs if r.model]
        for path in named:
            if not path.endswith(".gguf"):
                continue
            e = found.setdefault(path, Expected(path, generated=generated.get(path), source=known.get(os.path.basename(path))))
            if s.name not in e.scenarios:
                e.scenarios.append(s.name)
    return sorted(found.values(), key=lambda e: (e.generated is not None, e.path))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def fetch(source: Source, dest_dir: Path, endpoint: str | None = None) -> Path:
    """Download one file into dest_dir (progress on stderr), then check its SHA-256 against the
    Hub's (and the pinned one, if any). A file that does not verify is removed."""
    if not REPO_ID.match(source.repo) or ".." in source.repo:
        raise ModelError(f"not a Hugging Face repository id: {source.repo!r}")
    if not FILE_NAME.match(source.file):
        raise ModelError(f"not a plain .gguf file name: {source.file!r}")
    try:
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
        from huggingface_hub.errors import HfHubHTTPError
    except ImportError:  # pragma: no cover - a dependency; said plainly if someone removed it
        raise ModelError("huggingface_hub is not installed: pip install huggingface_hub") from None
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    dest_dir.mkdir(parents=True, exist_ok=True)
    url = hf_hub_url(source.repo, source.file, revision=source.revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, endpoint=endpoint)
        got = Path(hf_hub_download(source.repo, source.file, revision=source.revision, local_dir=dest_dir,
                                   endpoint=endpoint))
    except HfHubHTTPError as exc:
        raise ModelError(f"{source.repo}/{source.file}: {str(exc).splitlines()[0]}") from None
    except OSError as exc:  # network unreachable, disk full: huggingface_hub lets these through
        raise ModelError(f"{source.repo}/{source.file}: {exc}") from None
    digest = _sha256(got)
    hub = (meta.etag or "").lower()
    want = [h for h in ((hub if re.fullmatch(r"[0-9a-f]{64}", hub) else None), source.sha256) if h]
    if not want:
        print(f"orintui: {source.file}: the Hub gave no SHA-256 for it: size checked only", file=sys.stderr)
        if meta.size is not None and got.stat().st_size != meta.size:
            got.unlink()
            raise ModelError(f"{source.file}: {got.stat().st_size} bytes, the Hub says {meta.size}: removed")
    for h in want:
        if digest != h.lower():
            got.unlink()
            raise ModelError(f"{source.file}: SHA-256 {digest} does not match {h}: the file was removed")
    return got


def default_dests(files: list[str]) -> dict[str, Path]:
    """Where the scenarios look for each file (so a fetch makes them ready), else orintui's model
    folder. The scenarios are read once for all the files."""
    looked: dict[str, Path] = {}
    for e in expected_models():
        if e.generated is None:
            looked.setdefault(os.path.basename(e.path), Path(e.path).parent)
    return {file: looked.get(file, paths.models_dir()) for file in files}
