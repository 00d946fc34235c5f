"""`lensfinder serve`: Voilà on loopback with culling, a pre-started classify kernel, URLs printed,
and a clean stop: a signal to `lensfinder serve` stops Voilà and its kernels and frees the port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from support import free_port, make_image_store
from lensfinder_nb.classify.identity import is_teacher
from lensfinder_nb.settings import Settings
from lensfinder_nb.settings import SettingsError
from lensfinder_nb.ui.kernels import KERNEL_MB, RESERVE_MB, default_max_kernels
from lensfinder_nb.ui.server import voila_command


def test_voila_command_culls_idle_kernels_and_preheats_only_classify():
    cmd = " ".join(voila_command(Settings(port=8000, pool_size=2, cull_idle_s=300)))
    assert "--Voila.ip=127.0.0.1" in cmd and "--port=8000" in cmd
    assert "cull_idle_timeout=300" in cmd and "cull_interval=20" in cmd and "cull_connected=False" in cmd
    assert '"classify.ipynb": {"pool_size": 2}' in cmd and '"default": {"pool_size": 0}' in cmd
    assert "show_tracebacks=False" in cmd and "--VoilaExecutor.iopub_timeout=120" in cmd
    assert "preheat" not in " ".join(voila_command(Settings(pool_size=0)))


def test_voila_command_caps_kernels_from_the_setting_or_the_memory():
    cmd = voila_command(Settings(max_kernels=7))
    assert "--VoilaConfiguration.multi_kernel_manager_class=lensfinder_nb.ui.kernels.CappedKernelManager" in cmd
    assert "--CappedKernelManager.max_kernels=7" in cmd and "--template=lensfinder" in cmd
    derived = default_max_kernels()
    assert f"--CappedKernelManager.max_kernels={derived}" in voila_command(Settings())
    available_mb = psutil.virtual_memory().available / 2**20
    assert derived == max(2, int((available_mb - RESERVE_MB) // KERNEL_MB)) or abs(
        derived - (available_mb - RESERVE_MB) / KERNEL_MB) < 3      # memory moves between the two reads
    assert default_max_kernels(1024 + 10 * KERNEL_MB) == 10 and default_max_kernels(100) == 2
    with pytest.raises(SettingsError):
        Settings(max_kernels=-1)


def _port_is_free(port: int) -> bool:
    """A new server could listen on ``port`` (as servers do, SO_REUSEADDR: closed connections do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start_serve(store, port: int, *options: str) -> tuple[subprocess.Popen, str]:
    """`lensfinder serve` in a subprocess, `--db` before the command; returns it and its output up to the links."""
    proc = subprocess.Popen([sys.executable, "-m", "lensfinder_nb.cli", "--db", str(store.path), "serve",
                             "--port", str(port), "--no-demo", *options], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "voila/render/teacher.ipynb?key=" in line or not line:
            break
    return proc, "".join(lines)


def _serving(store) -> list[psutil.Process]:
    """Every process started for this store: Voilà and its kernels carry its path in their environment."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.environ().get("LENSFINDER_DB") == str(store.path):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _gone_within(store, seconds: float) -> list[str]:
    """The command lines of this store's processes still running after ``seconds``."""
    _, alive = psutil.wait_procs(_serving(store), timeout=seconds)
    return [" ".join(p.cmdline()) for p in alive if p.is_running()]


def _open_page(proc: subprocess.Popen, port: int):
    """The classify page through loopback, once the server answers."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/classify.ipynb", timeout=60)
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "the page never answered"
            time.sleep(0.5)


def _kernels(store) -> list[psutil.Process]:
    return [p for p in _serving(store) if "ipykernel" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_serve_on_the_network_culls_closed_pages_and_sigterm_stops_voila_and_its_kernels(tmp_path):
    """A classroom server: listens on every interface and prints the address and what is exposed; a
    page that was opened and left (no tab connected) loses its kernel after the idle time; a signal to
    `lensfinder serve` stops Voilà and its kernels and frees the port."""
    store = make_image_store(tmp_path / "lf.duckdb")
    port = free_port()
    proc, text = _start_serve(store, port, "--ip", "0.0.0.0", "--pool-size", "0", "--cull-idle-s", "3",
                              "--cull-interval-s", "1", "--max-kernels", "4")
    try:
        assert "At most 4 pages open at once" in proc.stdout.readline()
        assert "Listening beyond this machine" in text and "teacher's dashboard needs its key" in text, text
        assert "http://127.0.0.1:" not in text.split("Teacher")[0]   # a LAN address students can type
        key = re.search(r"teacher\.ipynb\?key=([\w-]+)", text).group(1)
        assert is_teacher(store, key)
        page = _open_page(proc, port)   # tests talk to loopback only; the server listens on all interfaces
        assert page.status == 200 and b"classify" in page.read()
        voila = [p for p in _serving(store) if "voila" in " ".join(p.cmdline())][0]
        listening = {c.laddr.ip for c in voila.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        assert listening & {"0.0.0.0", "::"}, listening
        assert _kernels(store), "the page started no kernel"
        # urllib does not open the page's websocket: the kernel is idle and unconnected, as after a closed tab
        deadline = time.monotonic() + 30
        while _kernels(store):
            assert time.monotonic() < deadline, "the kernel of a closed page was not shut down"
            time.sleep(0.5)

        assert _open_page(proc, port).status == 200 and _kernels(store)   # a kernel for the signal to stop
        proc.send_signal(signal.SIGTERM)  # what a process manager, `kill` or a test runner sends
        assert proc.wait(30) == 0
        assert _gone_within(store, 5) == []
        assert _port_is_free(port)
    finally:
        _leave_nothing(proc, store)


@pytest.mark.slow
def test_sighup_while_voila_starts_stops_it_too(tmp_path):
    """A closed terminal right after the links are printed: the starting server goes too.

    SIGINT (Ctrl-C) and SIGTERM take the same path (``cli.serve.STOP_SIGNALS``).
    """
    store = make_image_store(tmp_path / "lf.duckdb")
    port = free_port()
    proc, text = _start_serve(store, port)
    try:
        assert "teacher.ipynb?key=" in text, text
        deadline = time.monotonic() + 30
        while not _serving(store):  # Voilà is being started
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(30) == 0
        assert _gone_within(store, 5) == []
        assert _port_is_free(port)
    finally:
        _leave_nothing(proc, store)


def _leave_nothing(proc: subprocess.Popen, store) -> None:
    """Even a failed test must not leave a server behind."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    for p in _serving(store):
        p.kill()
    proc.stdout.close()
    store.close()
