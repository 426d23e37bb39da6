"""SVG to PNG through a real browser: headless Chromium draws the SVG (fonts, text, dashes as any
browser shows them) and takes a screenshot of exactly its size. Nothing is fetched: the page is a
local file with a policy that forbids every request."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SIZE = re.compile(r'<svg[^>]*?\bwidth="(\d+(?:\.\d+)?)"[^>]*?\bheight="(\d+(?:\.\d+)?)"')
VIEWBOX = re.compile(r'<svg[^>]*?\bviewBox="[\d.\s-]*?\s(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)"')


class PngError(RuntimeError):
    """No browser to draw with, or it failed: one line for the user."""


def find_browser() -> str | None:
    """$ORINTUI_CHROMIUM, else the first Chromium or Chrome on PATH."""
    env = os.environ.get("ORINTUI_CHROMIUM")
    if env:
        return env if shutil.which(env) else None
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def browser_argv(browser: str, user_dir: str) -> list[str]:
    argv = [browser, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--mute-audio",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={user_dir}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    return argv


def svg_size(svg: str) -> tuple[int, int]:
    m = SIZE.search(svg) or VIEWBOX.search(svg)
    if not m:
        raise PngError("the SVG gives no size")
    return round(float(m.group(1))), round(float(m.group(2)))


def svg_to_png(svg: str, out: str | os.PathLike, timeout: float = 60.0) -> Path:
    browser = find_browser()
    if browser is None:
        raise PngError("PNG needs Chromium (apt-get install chromium, or set ORINTUI_CHROMIUM); write .svg instead")
    width, height = svg_size(svg)
    target = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="orintui-png-") as tmp:
        page = Path(tmp) / "page.html"
        page.write_text('<!DOCTYPE html><html><head><meta charset="utf-8">'
                        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                        "style-src 'unsafe-inline'\"><style>html,body{margin:0;padding:0;overflow:hidden}"
                        "svg{display:block}</style></head><body>" + svg + "</body></html>", encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        argv = browser_argv(browser, str(Path(tmp) / "profile")) + [
            f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise PngError(f"{browser} took more than {timeout:.0f} s to draw the PNG") from None
        if not shot.exists() or shot.stat().st_size == 0:
            last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), f"exit {done.returncode}")
            raise PngError(f"{browser} wrote no PNG: {last[:200]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
    return target
