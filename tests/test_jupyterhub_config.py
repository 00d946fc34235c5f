"""deploy/jupyterhub/jupyterhub_config.py refuses to start a class it cannot serve, with one clear line.

The whole class (a real hub, students and the teacher in chromium) is tests/browser/test_jupyterhub.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from support.hub import CONFIG, STUDENT_PASSWORD

from lensfinder_nb.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow  # each start imports JupyterHub: several seconds


def _start(tmp_path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LENSFINDER_", "JUPYTERHUB_"))}
    environ["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG), "--ip=127.0.0.1", "--port=1"],
                          cwd=tmp_path, env={**environ, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("db", [None, "data/lensfinder.duckdb"])
def test_the_hub_needs_a_postgresql_store(tmp_path, db):
    result = _start(tmp_path, LENSFINDER_HUB_PASSWORD=STUDENT_PASSWORD, **({"LENSFINDER_DB": db} if db else {}))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == \
        "Set LENSFINDER_DB=postgresql://... : the class shares one PostgreSQL store"
    assert list(tmp_path.iterdir()) == []  # no hub state was made


def test_the_hub_needs_a_class_password(tmp_path):
    result = _start(tmp_path, LENSFINDER_DB="postgresql://lf@127.0.0.1:1/lf")
    assert result.returncode == 1
    assert "Set LENSFINDER_HUB_PASSWORD" in result.stderr.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []
