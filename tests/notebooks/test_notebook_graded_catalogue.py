"""notebooks/graded_catalogue.ipynb runs top to bottom on a store with expert grades and shows their numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from lensfinder_nb.scoring.grading import krippendorff_alpha
from tests.support.stores import store_with_subjects
from tests.support.notebooks import run_notebook

pytestmark = pytest.mark.slow   # a kernel


def test_graded_catalogue_notebook(tmp_path):
    store = store_with_subjects(tmp_path / "lf.duckdb")
    # three experts grade the four unknown images: S008 A (8/3), S009 B (2), S010 and S011 C
    table = {"e-a": (3, 2, 0, 1), "e-b": (3, 2, 1, 0), "e-c": (2, 2, 0, 0)}
    for user, grades in table.items():
        for subject, g in zip(("S008", "S009", "S010", "S011"), grades):
            store.add_grade(user, subject, g)
    store.write_scores(pd.DataFrame({"subject": ["S008"], "probability": [0.9], "n_votes": [5],
                                     "status": ["undecided"]}), "swap")
    expected_alpha = krippendorff_alpha(store.grades())
    store.close()
    nb, got = run_notebook("graded_catalogue.ipynb", tmp_path / "lf.duckdb", tmp_path)
    assert got == {"n_graded": 4, "n_A": 1, "n_B": 1, "n_C": 2, "alpha": round(expected_alpha, 6), "graders": 3}
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "S008" in html and "grade_class" in html and "mean_abs_diff" in html
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))
