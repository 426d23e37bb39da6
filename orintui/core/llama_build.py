"""Build llama.cpp's programs (llama-completion, llama-bench, llama-cli, llama-server) from the source
vendored in the pinned llama-cpp-python sdist, cached: a second build of the same version and flavour
does nothing. `orintui setup` and scripts/build-llama-cpp both use this.

    python -m orintui.core.llama_build [--cuda] [--arch 87] [--source DIR] [--prefix DIR]

Prints the folder holding the programs on its last line. On a terminal the build shows one progress
line (cmake's percentage); elsewhere a line every 10 %.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from orintui.core import paths

TOOLS = ("llama-completion", "llama-bench", "llama-cli", "llama-server")
PERCENT = re.compile(rb"^\[\s*(\d+)%\]")


class BuildError(Exception):
    """A build that cannot start or did not finish: one line, and where its log is."""


def cached(prefix: Path) -> bool:
    return all(os.access(prefix / t, os.X_OK) for t in TOOLS)


def source_tree(version: str = paths.LLAMA_CPP_VERSION) -> Path:
    """llama.cpp's source from the llama-cpp-python sdist (pip fetches it from the package index)."""
    cache = paths.cache_dir()
    source = cache / "src" / f"llama.cpp-{version}"
    if (source / "CMakeLists.txt").is_file():
        return source
    sdist_dir = cache / "sdist"
    tarball = sdist_dir / f"llama_cpp_python-{version}.tar.gz"
    if not tarball.is_file():
        sdist_dir.mkdir(parents=True, exist_ok=True)
        got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                              f"llama-cpp-python=={version}", "-d", str(sdist_dir)], capture_output=True, text=True)
        if got.returncode != 0 or not tarball.is_file():
            last = (got.stderr.strip().splitlines() or ["no sdist downloaded"])[-1]
            raise BuildError(f"cannot download the llama-cpp-python {version} sdist: {last}")
    inner = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tempfile.TemporaryDirectory(dir=cache) as tmp, tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(inner) and (m.isfile() or m.isdir())]
        safe: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp, members=members, **safe)  # regular files and folders of one known prefix only
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(source, ignore_errors=True)
        shutil.move(str(Path(tmp) / inner), source)
    return source


def cmake_flags(cuda: bool, arch: str | None) -> list[str]:
    flags = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
             "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_EXAMPLES=OFF",
             "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_UI=OFF"]
    if cuda:
        flags += ["-DGGML_CUDA=ON", "-DGGML_CUDA_NCCL=OFF", f"-DCMAKE_CUDA_ARCHITECTURES={arch or 'native'}"]
    return flags


def _progress_printer(stream: TextIO = sys.stderr) -> Callable[[int], None]:
    tty = stream.isatty()
    shown = [-10]

    def show(percent: int) -> None:
        if tty:
            stream.write(f"\r  building llama.cpp: {percent:3d} %")
            stream.flush()
        elif percent >= shown[0] + 10:
            stream.write(f"  building llama.cpp: {percent} %\n")
            stream.flush()
            shown[0] = percent
    return show


def build(cuda: bool = False, arch: str | None = None, source: Path | None = None, prefix: Path | None = None,
          progress: Callable[[int], None] | None = None) -> Path:
    """The folder with the four programs, built unless they already are."""
    flavour = "cuda" if cuda else "cpu"
    prefix = prefix or paths.llama_cpp_dir(flavour)
    if cached(prefix):
        return prefix
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} is needed to build llama.cpp (apt-get install cmake g++)")
    source = source or source_tree()
    cache = paths.cache_dir()
    work = cache / f"build-llama.cpp-{paths.LLAMA_CPP_VERSION}-{flavour}"
    log_path = cache / f"build-llama.cpp-{flavour}.log"
    jobs = str(os.cpu_count() or 2)
    show = progress or _progress_printer()
    with open(log_path, "wb") as log:
        steps = [["cmake", "-S", str(source), "-B", str(work), *cmake_flags(cuda, arch)],
                 ["cmake", "--build", str(work), "--target", *TOOLS, "-j", jobs]]
        for step in steps:
            proc = subprocess.Popen(step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if m := PERCENT.match(line):
                    show(int(m.group(1)))
            if proc.wait() != 0:
                raise BuildError(f"building llama.cpp failed ({' '.join(step[:2])}): see {log_path}")
    if sys.stderr.isatty() and progress is None:
        sys.stderr.write("\n")
    (prefix).mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        shutil.copy2(work / "bin" / tool, prefix / tool)
    shutil.rmtree(work, ignore_errors=True)
    return prefix


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m orintui.core.llama_build", description=__doc__.split("\n\n")[0])
    p.add_argument("--cuda", action="store_true", help="build with CUDA (GGML_CUDA)")
    p.add_argument("--arch", help="CUDA architecture, e.g. 87 for Orin (default: native)")
    p.add_argument("--source", type=Path, help="a llama.cpp source tree instead of the pinned sdist's")
    p.add_argument("--prefix", type=Path, help="where the programs go (default: orintui's cache)")
    args = p.parse_args(argv)
    try:
        print(build(args.cuda, args.arch or os.environ.get("CUDA_ARCHITECTURES"), args.source, args.prefix))
    except BuildError as exc:
        print(f"build-llama-cpp: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
