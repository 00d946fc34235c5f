"""Running a notebook of ``notebooks/`` the way an astronomer would, on a given store."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from lensfinder_nb.settings import PROJECT_ROOT

__all__ = ["NOTEBOOKS", "run_notebook"]

NOTEBOOKS = PROJECT_ROOT / "notebooks"


def run_notebook(name: str, db: Path | str, tmp_path: Path) -> tuple[nbformat.NotebookNode, dict]:
    """Execute ``notebooks/<name>`` on the store ``db``; fail on any error output.  Returns the executed
    notebook and the JSON summary the notebook writes to ``$LENSFINDER_SUMMARY``."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    summary = tmp_path / "summary.json"
    with pytest.MonkeyPatch.context() as mp:       # the kernel inherits the environment
        mp.setenv("LENSFINDER_DB", str(db))
        mp.setenv("LENSFINDER_SUMMARY", str(summary))
        NotebookClient(nb, kernel_name="python3", timeout=120,
                       resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    return nb, json.loads(summary.read_text())
