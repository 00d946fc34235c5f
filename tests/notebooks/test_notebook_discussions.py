"""The discussions notebook runs top to bottom on a small store with threads, and finds by hashtag."""

from __future__ import annotations

import pytest

from tests.support.stores import store_with_subjects
from tests.support.notebooks import run_notebook

pytestmark = pytest.mark.slow   # a kernel


def test_discussions_notebook_searches_by_hashtag(tmp_path):
    store = store_with_subjects(tmp_path / "lf.duckdb")
    store.add_user("ada", "Ada", role="volunteer")
    store.add_user("exp", "Eve", role="expert")
    store.post_comment("ada", "S008", "<script>alert(1)</script> #arc")
    store.post_comment("ada", "S009", "a faint #Arc and a #ring")
    store.post_comment("exp", "S009", "agreed, #arc")
    store.post_comment("ada", "S010", "#artefact")
    spam = store.post_comment("ada", "S011", "#arc spam")
    store.hide_comment(spam, "exp")
    store.close()
    nb, got = run_notebook("discussions.ipynb", tmp_path / "lf.duckdb", tmp_path)
    assert got["tag"] == "arc" and got["posts"] == 3 and got["subjects_list"] == ["S008", "S009"]
    assert got["tags"] == ["arc", "artefact", "ring"]  # by use, then name; the hidden post's tag not counted twice
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "<script>alert(1)" not in html
