"""`orintui setup`: from an installed orintui to a live comparison. Finds or gets what the demo needs
(clang for tinygrad's CPU backend, tinygrad, llama.cpp built from the pinned sdist, with CUDA for the
board's architecture on a Jetson or a GPU machine), says what it did and where everything is.
The CLI then starts the demo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orintui.core import paths

# CUDA architectures of the boards orintui knows, by device-tree "compatible" (read, never assumed)
TEGRA_ARCH = {"nvidia,tegra264": "110", "nvidia,tegra234": "87", "nvidia,tegra194": "72"}
GPU_NODES = ("/dev/nvidiactl", "/dev/nvgpu/igpu0/ctrl")
TINYGRAD_PIN = "tinygrad==0.13.0"
TINYGRAD_REPO = "https://github.com/tinygrad/tinygrad"


@dataclass
class Cuda:
    use: bool
    arch: str | None
    why: str


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)  # (what, where or how it is)
    problems: list[str] = field(default_factory=list)

    def add(self, what: str, state: str) -> None:
        self.lines.append((what, state))


def _nvcc() -> str | None:
    return shutil.which("nvcc") or next((p for p in ("/usr/local/cuda/bin/nvcc",) if os.access(p, os.X_OK)), None)


def device_tree_compatible(root: Path) -> list[str]:
    try:
        return (root / "proc/device-tree/compatible").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def detect_cuda(root: str | os.PathLike = "/") -> Cuda:
    """Whether to build llama.cpp with CUDA, and for which architecture: a Jetson's from its device
    tree, a discrete GPU's from nvidia-smi. ``root``: where /proc and /dev are (tests)."""
    root = Path(root)
    compatible = device_tree_compatible(root)
    arch = next((TEGRA_ARCH[c] for c in compatible if c in TEGRA_ARCH), None)
    gpu = arch is not None or any((root / node.lstrip("/")).exists() for node in GPU_NODES)
    if not gpu:
        return Cuda(False, None, "no NVIDIA GPU here: llama.cpp for CPU")
    nvcc = _nvcc()
    if nvcc is None:
        return Cuda(False, None, "an NVIDIA GPU but no nvcc (the CUDA toolkit): llama.cpp for CPU")
    if arch is None and shutil.which("nvidia-smi"):
        got = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        cap = got.stdout.strip().splitlines()[0].strip() if got.returncode == 0 and got.stdout.strip() else ""
        arch = cap.replace(".", "") if cap.replace(".", "").isdigit() else None
    board = next((c for c in compatible if c in TEGRA_ARCH), None)
    source = f"device tree {board}" if board else ("nvidia-smi" if arch else "nvcc's native detection")
    return Cuda(True, arch, f"CUDA, sm_{arch or 'native'} (from {source})")


def _can_install_packages() -> list[str] | None:
    """The apt-get prefix this process may use, or None (not root, no password-less sudo)."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return ["apt-get"]
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "apt-get"]
    return None


def ensure_clang(report: Report, say: Callable[[str], None]) -> None:
    if found := shutil.which("clang"):
        report.add("clang (tinygrad's CPU backend)", found)
        return
    apt = _can_install_packages()
    if apt:
        say("installing clang (tinygrad's CPU backend compiles with it)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        ok = (subprocess.run([*apt, "update", "-qq"], capture_output=True, env=env).returncode == 0
              and subprocess.run([*apt, "install", "-y", "-qq", "clang"], capture_output=True, env=env).returncode == 0)
        if ok and (found := shutil.which("clang")):
            report.add("clang (tinygrad's CPU backend)", f"{found} (installed now)")
            return
    report.add("clang (tinygrad's CPU backend)", "missing: apt-get install clang")
    report.problems.append("no clang: tinygrad on CPU cannot compile its kernels (apt-get install clang)")


def tinygrad_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tinygrad")
    except PackageNotFoundError:
        return None


def ensure_tinygrad(report: Report, say: Callable[[str], None], on_jetson: bool) -> None:
    if ver := tinygrad_version():
        report.add("tinygrad", f"{ver} in {sys.executable}")
    elif sys.version_info < (3, 11):
        report.add("tinygrad", f"not installable on Python {sys.version.split()[0]} (tinygrad needs >= 3.11): "
                               "the demo runs llama.cpp alone")
    else:
        say(f"installing {TINYGRAD_PIN} (the demo's tinygrad run)")
        got = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", TINYGRAD_PIN, "gguf", "numpy"],
                             capture_output=True, text=True)
        if got.returncode == 0 and (ver := tinygrad_version()):
            report.add("tinygrad", f"{ver} in {sys.executable} (installed now)")
        else:
            last = (got.stderr.strip().splitlines() or ["pip failed"])[-1]
            report.add("tinygrad", f"missing: {last}")
            report.problems.append(f"tinygrad could not be installed: {last}")
    # the Jetson scenarios run tinygrad's examples (gpt2.py, llama3.py) from a checkout in ~/tinygrad
    checkout = Path.home() / "tinygrad"
    if (checkout / "tinygrad").is_dir():
        report.add("tinygrad checkout (examples)", str(checkout))
    elif on_jetson and shutil.which("git"):
        say(f"checking out tinygrad into {checkout} (the Jetson scenarios run its examples)")
        got = subprocess.run(["git", "clone", "--quiet", "--depth", "1", TINYGRAD_REPO, str(checkout)],
                             capture_output=True, text=True)
        state = str(checkout) + " (cloned now)" if got.returncode == 0 else f"missing: git clone failed: {got.stderr.strip()[-200:]}"
        report.add("tinygrad checkout (examples)", state)
    else:
        report.add("tinygrad checkout (examples)", f"not found in {checkout} (git clone {TINYGRAD_REPO} for gpt2/llama3 scenarios)")


def ensure_llama_cpp(report: Report, say: Callable[[str], None], cuda: Cuda) -> None:
    from orintui.core.llama_build import BuildError, build, cached

    prefix = paths.llama_cpp_dir("cuda" if cuda.use else "cpu")
    if not cached(prefix):
        say(f"building llama.cpp {paths.LLAMA_CPP_VERSION} ({cuda.why}); it takes minutes on a small machine")
    try:
        got = build(cuda.use, cuda.arch)
    except BuildError as exc:
        report.add("llama.cpp", f"missing: {exc}")
        report.problems.append(f"llama.cpp could not be built: {exc}")
        return
    report.add("llama.cpp", f"{got} ({cuda.why})")


def setup(say: Callable[[str], None], root: str | os.PathLike = "/") -> Report:
    from orintui import __version__

    report = Report()
    report.add("orintui", f"{__version__} in Python {sys.version.split()[0]} ({sys.executable})")
    cuda = detect_cuda(root)
    on_jetson = any(c in TEGRA_ARCH for c in device_tree_compatible(Path(root)))
    ensure_clang(report, say)
    ensure_tinygrad(report, say, on_jetson)
    ensure_llama_cpp(report, say, cuda)
    report.add("models (random-weight demo models are written here)", str(paths.models_dir()))
    report.add("sessions", str(paths.sessions_dir()))
    report.add("your scenarios", str(paths.user_scenarios_dir()))
    return report
