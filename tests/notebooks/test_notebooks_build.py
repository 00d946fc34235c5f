"""notebooks/build_dataset.ipynb runs top to bottom offline: catalogue -> synthetic fallback -> mocks -> store."""

from __future__ import annotations

import json
import time

import nbformat
import pytest
from nbclient import NotebookClient

from lensfinder_nb.settings import PROJECT_ROOT
from lensfinder_nb.store import open_store

pytestmark = pytest.mark.slow   # a kernel that simulates mocks


def test_build_dataset_notebook_offline(tmp_path):
    nb = nbformat.read(PROJECT_ROOT / "notebooks" / "build_dataset.ipynb", as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    summary = tmp_path / "summary.json"
    db = tmp_path / "data" / "lf.duckdb"
    t0 = time.perf_counter()
    with pytest.MonkeyPatch.context() as mp:  # the kernel inherits the environment
        mp.setenv("LENSFINDER_DB", str(db))
        mp.setenv("LENSFINDER_SUMMARY", str(summary))
        mp.setenv("LENSFINDER_CUTOUT_URL", "http://127.0.0.1:9")  # nothing listens: offline
        mp.setenv("LENSFINDER_NB_BACKGROUNDS", "12")
        mp.setenv("LENSFINDER_NB_MOCKS", "8")
        NotebookClient(nb, kernel_name="python3", timeout=60,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert time.perf_counter() - t0 < 60
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    result = json.loads(summary.read_text())
    assert result["backgrounds_from"] == "synthetic sky"
    assert result["accepted"] == result["mocks_in_store"] == 8
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 2  # stored mocks and the theta_E x magnitude x stretch gallery
    store = open_store(db)
    assert len(store.sql("SELECT * FROM subjects WHERE label = 1 AND kind = 'mock'")) == 8
    store.close()
