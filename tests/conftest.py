"""Shared fixtures: temporary stores, and no widget callback may fail silently."""

from __future__ import annotations

import logging

import pytest

from tests.support.postgres import postgres_server
from tests.support.stores import store_with_subjects


@pytest.fixture
def store(tmp_path):
    """An empty store in a temporary folder, with a handful of subjects of each label."""
    s = store_with_subjects(tmp_path / "lf.duckdb")
    yield s
    s.close()


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server (URL of its ``postgres`` database), started on first use and
    stopped at the end; each pytest-xdist worker starts its own."""
    with postgres_server() as url:
        yield url


@pytest.fixture(autouse=True)
def fail_on_swallowed_callback_errors(caplog):
    """ipywidgets catches exceptions in handlers and only logs them; turn those logs into failures."""
    caplog.set_level(logging.WARNING)
    yield
    swallowed = [r for r in caplog.get_records("call")
                 if "Exception in callback" in r.getMessage() or "Error in widget" in r.getMessage()
                 or (r.name.startswith("lensfinder") and r.levelno >= logging.ERROR)]
    if swallowed:
        pytest.fail("a handler failed silently: " + "; ".join(r.getMessage() for r in swallowed))
