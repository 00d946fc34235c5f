"""A real JupyterHub with the project's configuration (deploy/jupyterhub/jupyterhub_config.py), for tests.

The hub, its proxy (Debian's configurable-http-proxy) and every student's server run on free
ports of 127.0.0.1; the hub's state and the students' home folders live in a temporary folder.
On exit the hub is stopped (it stops the servers and the proxy itself) and anything of its
process tree still alive is killed, so a test leaves nothing running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from lensfinder_nb.settings import PROJECT_ROOT

from .browser import free_port

__all__ = ["CONFIG", "STUDENT_PASSWORD", "TEACHER_PASSWORD", "RunningHub", "jupyterhub", "proxy_available"]

CONFIG = PROJECT_ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
STUDENT_PASSWORD = "class-password-2026"
TEACHER_PASSWORD = "teacher-password-of-at-least-32-characters"


def proxy_available() -> bool:
    """Whether configurable-http-proxy is installed (`make jupyterhub`, part of `make test`)."""
    return shutil.which("configurable-http-proxy") is not None


def _wait_up(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterHub exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"JupyterHub did not answer {url} in {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@dataclass
class RunningHub:
    """The hub of :func:`jupyterhub`: its public URL, and after the stop what had to be killed."""

    url: str
    pid: int
    left_running: list[str] = field(default_factory=list)


@contextlib.contextmanager
def jupyterhub(db_url: str, data_dir: Path, workdir: Path, *, teachers: str = "teacher") -> Iterator[RunningHub]:
    """Run the project's hub for the store ``db_url`` (images in ``data_dir``).

    ``workdir`` holds the hub's state, the students' homes and ``hub.log``.  After the block,
    ``left_running`` names the processes that the hub did not stop by itself within 30 s of its
    own exit (they are killed).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "LENSFINDER_DB": db_url, "LENSFINDER_DATA": str(data_dir),
           "LENSFINDER_HUB_PASSWORD": STUDENT_PASSWORD, "LENSFINDER_HUB_ADMIN_PASSWORD": TEACHER_PASSWORD,
           "LENSFINDER_HUB_TEACHERS": teachers, "LENSFINDER_HUB_HOMES": str(workdir / "homes"),
           # the page's code of this checkout, in the hub and in every kernel
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    for name in ("JUPYTERHUB_USER", "JUPYTERHUB_SERVICE_PREFIX", "LENSFINDER_HUB_ADMIN"):
        env.pop(name, None)  # the hub sets these for each server
    cmd = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG), "--ip=127.0.0.1", f"--port={port}",
           f"--JupyterHub.hub_port={free_port()}",
           f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
           # every student's server on a free loopback port (JupyterHub picks one per server)
           "--Spawner.ip=127.0.0.1"]
    log_path = workdir / "hub.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        hub = RunningHub(f"http://127.0.0.1:{port}", proc.pid)
        try:
            _wait_up(f"{hub.url}/hub/api/", proc, log_path, 90)
            yield hub
        finally:
            hub.left_running = _stop(proc)


def _stop(proc: subprocess.Popen) -> list[str]:
    """SIGTERM the hub (it stops the servers and the proxy), then kill whatever of its tree is left."""
    try:
        tree = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    _, alive = psutil.wait_procs(tree, timeout=30)
    names = []
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            names.append(" ".join(p.cmdline())[:200])
            p.kill()
    psutil.wait_procs(alive, timeout=10)
    return names
