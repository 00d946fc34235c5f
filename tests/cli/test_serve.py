"""`lensfinder serve`: Voilà on loopback with culling, a pre-started classify kernel, URLs printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from support import free_port, make_image_store
from lensfinder_nb.cli.serve import voila_command
from lensfinder_nb.classify.identity import is_teacher


def test_voila_command_culls_idle_kernels_and_preheats_only_classify():
    cmd = " ".join(voila_command(8000, pool_size=2, cull_idle_s=300))
    assert "--Voila.ip=127.0.0.1" in cmd and "cull_idle_timeout=300" in cmd and "cull_interval" in cmd
    assert '"classify.ipynb": {"pool_size": 2}' in cmd and '"default": {"pool_size": 0}' in cmd
    assert "preheat" not in " ".join(voila_command(8000, pool_size=0))


@pytest.mark.slow   # starts Voilà and a kernel
def test_serve_prints_working_links(tmp_path):
    store = make_image_store(tmp_path / "lf.duckdb")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lensfinder_nb.cli", "serve", "--db", str(store.path),
                             "--port", str(port), "--no-demo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "voila/render/teacher.ipynb?key=" in line:
                break
        text = "".join(lines)
        assert f"http://127.0.0.1:{port}/voila/render/classify.ipynb" in text
        key = re.search(r"teacher\.ipynb\?key=([\w-]+)", text).group(1)
        assert is_teacher(store, key)
        while time.monotonic() < deadline:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/classify.ipynb", timeout=60)
                break
            except OSError:
                time.sleep(0.5)
        assert page.status == 200 and b"classify" in page.read()
    finally:
        proc.terminate()
        proc.wait(30)
        store.close()
