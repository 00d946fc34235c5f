"""Settings shared by the tests under tests/ and the doctests of lensfinder_nb (which has no conftest of its own)."""

from __future__ import annotations

import tempfile

import pytest


@pytest.fixture(autouse=True)
def _doctest_temporary_folders(request, tmp_path, monkeypatch):
    """Docstring examples make folders with ``tempfile.mkdtemp()``: put them in pytest's tmp_path."""
    if not isinstance(request.node, pytest.Function):     # a doctest item
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield
