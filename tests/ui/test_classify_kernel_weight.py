"""What a classify page's kernel loads: the page's path (sign-in, a session, pictures, votes, the
journal read back) imports none of the heavy packages, so every student's kernel stays light."""

from __future__ import annotations

import json
import subprocess
import sys

from lensfinder_nb.settings import PROJECT_ROOT

from support import make_image_store

#: packages the classify path must never import (each costs tens of MB or seconds per kernel)
HEAVY = ("torch", "scipy", "astropy", "lenstronomy", "sklearn", "matplotlib", "bqplot", "ipyaggrid", "psycopg",
         "dask", "urllib3", "pyarrow")   # PIL is used (JPEG of other stretches) and costs ~8 MB

_PAGE_PATH = """
import os, sys
os.environ["QUERY_STRING"] = ""
from lensfinder_nb.ui.lean import without_pyarrow
assert without_pyarrow()
from lensfinder_nb.ui.pages import classify_page
from lensfinder_nb.classify.identity import sign_up
from lensfinder_nb.classify.session import ClassifySession
from lensfinder_nb.ui.classify import ClassifyView
from lensfinder_nb.store import open_store
store = open_store(sys.argv[1])
who = sign_up(store, "Weight Watcher")
session = ClassifySession(store, who.user_id, seed=0)
view = ClassifyView(session)
for answer in (1, 0, 1):
    assert session.picture() is not None
    session.vote(answer)
assert len(store.votes()) == 3                 # read back from the journal, parsed without pyarrow
store.fold()
assert store.votes()["answer"].tolist() == [1, 0, 1]
print(" ".join(sorted({m.split(".")[0] for m, module in sys.modules.items() if module is not None})))
"""


def test_the_classify_page_keeps_pyarrow_out_before_anything_loads_pandas():
    notebook = json.loads((PROJECT_ROOT / "apps" / "classify.ipynb").read_text())
    source = "".join(notebook["cells"][0]["source"])
    assert source.index("without_pyarrow()") < source.index("lensfinder_nb.ui.pages")


def test_the_classify_path_imports_no_heavy_package(tmp_path):
    store = make_image_store(tmp_path / "lf.duckdb")
    store.close()
    out = subprocess.run([sys.executable, "-c", _PAGE_PATH, str(store.path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert "ipywidgets" in loaded and "duckdb" in loaded       # the page really ran
    assert sorted(loaded & set(HEAVY)) == []
