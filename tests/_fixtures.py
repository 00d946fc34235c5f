"""Builders for small real stores with images, and a real Voilà server for browser tests."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from lensfinder_nb.config import PROJECT_ROOT
from lensfinder_nb.store import open_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def make_image_store(path: Path, n_per_label: int = 6, seed: int = 0):
    """A store whose subjects have real JPEG files: labels 1, 0 and -1, ``n_per_label`` each."""
    store = open_store(path)
    rng = np.random.default_rng(seed)
    (path.parent / "images").mkdir(exist_ok=True)
    rows = []
    for k, label in enumerate([1, 0, -1] * n_per_label):
        sid = f"T{k:04d}"
        rgb = (rng.random((101, 101, 3)) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=80)
        (path.parent / "images" / f"{sid}.jpg").write_bytes(buf.getvalue())
        rows.append({"subject": sid, "label": label, "image": f"images/{sid}.jpg", "ra": 10 + k / 100, "dec": -5.0})
    store.add_subjects(pd.DataFrame(rows))
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def voila_server(db_path: Path, *, extra_env: dict | None = None, extra_args: list[str] | None = None):
    """Start ``voila apps`` on a free loopback port; yields the base URL."""
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
