"""Running the pages for tests and benchmarks: the product's Voilà server and Debian chromium.

Used by ``tests/`` and ``benchmarks/``; nothing here is needed to run the product.  The server
is :class:`lensfinder_nb.ui.server.VoilaServer`, built from the same :class:`Settings` as
``lensfinder serve``; this module only starts and stops it, and chromium.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from lensfinder_nb.settings import Settings
from lensfinder_nb.ui.server import VoilaServer

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port", "voila_server", "browser_page", "chromium", "kernels_of"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def voila_server(db_path: Path, **settings):
    """Serve the pages of the store ``db_path`` on a free loopback port; yields the base URL.

    The server is configured as ``lensfinder serve`` configures it, except for the store, the
    port and no pre-started kernel unless asked (``pool_size=1`` as served): on two cores a pool
    kernel re-runs its page after every open, which costs a test tens of seconds; the journey
    test and ``tests/cli/test_serve.py`` run the pool.  ``settings``: Settings fields to change.
    The log goes to ``voila.log`` beside the store; on exit the server and its kernels are stopped.
    """
    config = Settings.from_env(db_path=db_path, port=free_port(), **{"pool_size": 0, **settings})
    with open(Path(db_path).parent / "voila.log", "w") as log, VoilaServer(config, log=log) as server:
        try:
            server.wait_ready(60)
        except RuntimeError as exc:
            log.flush()
            raise RuntimeError(f"{exc}: {(Path(db_path).parent / 'voila.log').read_text()}") from None
        yield server.base_url


def kernels_of(base_url: str) -> list:
    """The kernel processes of the Voilà server serving ``base_url`` (psutil), found through their parent."""
    import psutil
    port = int(base_url.rsplit(":", 1)[1])
    for p in psutil.process_iter(["cmdline"]):
        if "voila" not in (p.info["cmdline"] or []) or f"--port={port}" not in (p.info["cmdline"] or []):
            continue
        try:
            children = p.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return []
        kernels = []
        for k in children:
            try:
                if "ipykernel_launcher" in " ".join(k.cmdline()):
                    kernels.append(k)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue  # culled while we looked
        return kernels
    return []


@contextlib.contextmanager
def chromium():
    """A headless Debian chromium driven by playwright (no downloaded browser); one context per person."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def browser_page():
    """A fresh headless Debian chromium page driven by playwright (no downloaded browser)."""
    with chromium() as browser:
        yield browser.new_page(viewport={"width": 1200, "height": 1000})
