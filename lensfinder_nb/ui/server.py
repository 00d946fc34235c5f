"""The Voilà server that runs the pages: its command line from :class:`Settings`, start, and a clean stop.

``lensfinder serve`` and the browser tests both run the server through :class:`VoilaServer`, so
the tests meet the server people get.  Stopping it stops its kernels too: Voilà shuts its
kernels down on SIGTERM, and whatever of its process tree is still alive after that (kernels
run in sessions of their own, so a process group does not reach them) is killed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import IO

import psutil

from ..settings import PROJECT_ROOT, Settings

__all__ = ["VoilaServer", "voila_command", "voila_environment", "max_kernels", "APPS_DIR", "ENTRY_PAGE"]

APPS_DIR = "apps"
ENTRY_PAGE = "classify.ipynb"
#: seconds Voilà waits for a page cell's output after the cell finished (nbclient's default: 4)
IOPUB_TIMEOUT_S = 120


def max_kernels(settings: Settings) -> int:
    """The kernel cap: ``settings.max_kernels``, or when 0 the one the memory available now allows."""
    from .kernels import default_max_kernels
    return settings.max_kernels or default_max_kernels()


def voila_command(settings: Settings) -> list[str]:
    """The Voilà command line for the apps folder (tree mode: every page under ``/voila/render/``)."""
    from .kernels import TEMPLATE
    cmd = [sys.executable, "-m", "voila", APPS_DIR, f"--port={settings.port}", "--no-browser",
           f"--Voila.ip={settings.ip}", f"--template={TEMPLATE}",
           "--VoilaConfiguration.multi_kernel_manager_class=lensfinder_nb.ui.kernels.CappedKernelManager",
           f"--CappedKernelManager.max_kernels={max_kernels(settings)}",
           f"--MappingKernelManager.cull_idle_timeout={settings.cull_idle_s}",
           f"--MappingKernelManager.cull_interval={settings.cull_interval_s}",
           "--MappingKernelManager.cull_connected=False",
           f"--VoilaConfiguration.show_tracebacks={settings.page_tracebacks}",
           # nbclient waits 4 s after a cell for its output; on a server busy starting a class's
           # kernels the page's widgets came later and were lost (a page with no image, for good).
           # The wait ends as soon as the output arrives, so a long bound costs nothing.
           f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_S}"]
    if settings.pool_size > 0:
        # Only the classify page gets pre-started kernels: each costs its full memory.
        pools = json.dumps({ENTRY_PAGE: {"pool_size": settings.pool_size}, "default": {"pool_size": 0}})
        cmd += ["--preheat_kernel=True", f"--pool_size={settings.pool_size}",
                f"--VoilaKernelManager.kernel_pools_config={pools}"]
    return cmd


def voila_environment(settings: Settings) -> dict[str, str]:
    """The environment of Voilà and its kernels: the settings', with lensfinder's Voilà template found first."""
    from .kernels import TEMPLATE_ROOT
    env = settings.child_environment()
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATE_ROOT), env.get("JUPYTER_PATH")) if p)
    return env


class VoilaServer:
    """A running Voilà server for ``settings``; use as a context manager or call :meth:`stop`.

    ``log``: a file for the server's output (default: this process's stdout and stderr).
    """

    def __init__(self, settings: Settings, *, log: IO | None = None) -> None:
        self.settings = settings
        self.base_url = f"http://{settings.ip}:{settings.port}"
        # A session of its own: Ctrl-C in a terminal reaches only `lensfinder serve`, which then
        # stops Voilà in order (Voilà's own SIGINT handler would wait for a "y" on stdin).
        self.process = subprocess.Popen(voila_command(settings), cwd=PROJECT_ROOT,
                                        env=voila_environment(settings), stdout=log,
                                        stderr=subprocess.STDOUT if log is not None else None,
                                        start_new_session=True)

    def url(self, page: str | None = None, query: str = "") -> str:
        """The address of a page (``"classify"``), or of the tree when ``page`` is None."""
        path = "/" if page is None else f"/voila/render/{page}.ipynb"
        return self.base_url + path + (f"?{query}" if query else "")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Return once the server answers; RuntimeError if it exited or did not answer in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(self.url(), timeout=2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"voila exited with status {self.process.returncode}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"voila did not answer within {timeout_s:g} s") from None
                time.sleep(0.2)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Stop Voilà and every process it started (kernels included); returns Voilà's exit status."""
        if self.process.poll() is not None:
            # Already reaped: its pid may be another process's now.  Its kernels notice that
            # their parent is gone and exit by themselves (ipykernel's parent poller).
            return self.process.returncode
        tree = _tree(self.process.pid)
        self.process.terminate()  # Voilà shuts its kernels down, then exits
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        _kill_all(tree, timeout_s=3.0)
        return self.process.returncode

    def __enter__(self) -> VoilaServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants, while they can still be found through their parents."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _kill_all(processes: list[psutil.Process], *, timeout_s: float) -> None:
    # psutil checks each process's start time, so a reused pid is never signalled.
    alive = [p for p in processes if p.is_running()]
    for p in alive:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(alive, timeout=timeout_s)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout_s)
