"""Running the pages for tests and benchmarks: a real Voilà server and Debian chromium.

Used by ``tests/`` and ``benchmarks/``; nothing here is needed to run the product.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from lensfinder_nb.settings import PROJECT_ROOT

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "voila_server", "browser_page"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def voila_server(db_path: Path, *, extra_env: dict | None = None, extra_args: list[str] | None = None):
    """Start ``voila apps`` on a free loopback port; yields the base URL (log beside the store)."""
    port = free_port()
    env = dict(os.environ, LENSFINDER_DB=str(db_path), **(extra_env or {}))
    cmd = [sys.executable, "-m", "voila", "apps", f"--port={port}", "--no-browser", "--Voila.ip=127.0.0.1",
           "--VoilaConfiguration.show_tracebacks=True", *(extra_args or [])]
    log = open(db_path.parent / "voila.log", "w")
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("voila did not start: " + (db_path.parent / "voila.log").read_text())
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser_page():
    """A fresh headless Debian chromium page driven by playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            yield page
        finally:
            browser.close()
