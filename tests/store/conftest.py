"""The store tests run on both backends: the ``store`` fixture is a DuckDB file and a PostgreSQL store."""

from __future__ import annotations

import pytest

from tests.support.postgres import fresh_database
from tests.support.stores import store_with_subjects


@pytest.fixture(params=["duckdb", "postgresql"])
def store_location(request, tmp_path):
    """Where a fresh, empty store lives: a DuckDB file, or a new database on the test server."""
    if request.param == "duckdb":
        return tmp_path / "lf.duckdb"
    return fresh_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(store_location):
    """An empty store on each backend, with a handful of subjects of each label."""
    s = store_with_subjects(store_location)
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path):
    """The same on a DuckDB file only: for what only the file has (vote journals and folding)."""
    s = store_with_subjects(tmp_path / "lf.duckdb")
    yield s
    s.close()
