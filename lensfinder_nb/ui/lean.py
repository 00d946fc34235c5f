"""Keep pyarrow out of a classify page's kernel: about 64 MB of RSS (11 MB PSS) less per student.

pandas loads pyarrow whenever it is installed, though a page only reads a few rows and appends
journal lines.  :func:`without_pyarrow` must run before anything imports pandas, so the classify
notebook calls it first.  With pyarrow out, pandas keeps strings as Python objects and the
journal tails are parsed in Python (``store.journal``).  A PostgreSQL store needs pyarrow for
its snapshot copies, so there it does nothing.
"""

from __future__ import annotations

import sys

from ..settings import Settings, is_database_url

__all__ = ["without_pyarrow"]


def without_pyarrow(settings: Settings | None = None) -> bool:
    """Make ``import pyarrow`` fail in this process unless it is already loaded or the store is
    PostgreSQL; returns whether pyarrow is kept out."""
    settings = settings or Settings.from_env()
    if is_database_url(settings.db_path) or "pyarrow" in sys.modules or "pandas" in sys.modules:
        return sys.modules.get("pyarrow", 0) is None
    sys.modules["pyarrow"] = None  # the import system's own "not importable" mark
    return True
