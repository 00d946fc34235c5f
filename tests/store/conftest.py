"""The store tests run on both backends: the ``store`` fixture is a DuckDB file and a PostgreSQL store."""

from __future__ import annotations

import pandas as pd
import pytest

from lensfinder_nb.store import open_store
from tests.support.postgres import fresh_database


@pytest.fixture(params=["duckdb", "postgresql"])
def store_location(request, tmp_path):
    """Where a fresh, empty store lives: a DuckDB file, or a new database on the test server."""
    if request.param == "duckdb":
        return tmp_path / "lf.duckdb"
    return fresh_database(request.getfixturevalue("pg_server"))


def _with_subjects(location):
    s = open_store(location)
    s.add_subjects(pd.DataFrame({
        "subject": [f"S{i:03d}" for i in range(12)],
        "label": [1, 1, 1, 1, 0, 0, 0, 0, -1, -1, -1, -1],
        "ra": [150.0 + i * 0.01 for i in range(12)],
        "dec": [2.0 + i * 0.01 for i in range(12)],
    }))
    return s


@pytest.fixture
def store(store_location):
    """An empty store on each backend, with a handful of subjects of each label."""
    s = _with_subjects(store_location)
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path):
    """The same on a DuckDB file only: for what only the file has (vote journals and folding)."""
    s = _with_subjects(tmp_path / "lf.duckdb")
    yield s
    s.close()
