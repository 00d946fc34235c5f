"""The train-your-own notebook runs top to bottom on a small demo store (LENSFINDER_NB_SMALL=1)."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from lensfinder_nb.settings import PROJECT_ROOT
from lensfinder_nb.sim.demo import build_demo
from lensfinder_nb.store import open_store

NOTEBOOK = PROJECT_ROOT / "notebooks" / "train_your_own_lens_finder.ipynb"

pytestmark = pytest.mark.slow   # a kernel and a training run


def _run(db, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    monkeypatch.setenv("LENSFINDER_DB", str(db))       # the kernel inherits the environment
    monkeypatch.setenv("LENSFINDER_NB_SMALL", "1")
    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.output_type == "stream")
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    return text, images


def test_notebook_trains_shows_mistakes_and_says_when_there_are_no_votes(tmp_path, monkeypatch):
    store = open_store(tmp_path / "lf.duckdb")
    build_demo(store, seed=3, n_mocks=32, n_nonlens=32, n_unknown=24)
    store.close()
    text, images = _run(tmp_path / "lf.duckdb", monkeypatch)
    assert "ROC AUC" in text and "validation: 8 mocks, 8 non-lenses" in text
    assert "no votes yet" in text
    assert len(images) >= 4                           # training images, false positives, missed mocks
    assert (tmp_path / "models" / "notebook-cnn.pt").exists()
    # the notebook never writes machine scores into the class's store
    assert open_store(tmp_path / "lf.duckdb").sql("SELECT count(*) AS n FROM machine_scores")["n"].iloc[0] == 0
