"""Where things live: one settings object built from the environment or the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "default_db_path", "PROJECT_ROOT"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_db_path() -> Path:
    """``$LENSFINDER_DB`` if set, else ``data/lensfinder.duckdb`` in the project."""
    env = os.environ.get("LENSFINDER_DB")
    if env:
        return Path(env).expanduser().resolve()
    return PROJECT_ROOT / "data" / "lensfinder.duckdb"


@dataclass(frozen=True)
class Settings:
    """Paths and knobs shared by the CLI, the pages and the notebooks."""

    db_path: Path = field(default_factory=default_db_path)
    #: fsync every vote (survives power loss, not only a killed process).
    fsync_votes: bool = field(default_factory=lambda: os.environ.get("LENSFINDER_FSYNC", "0") == "1")
    #: seconds between background folds of the vote journals into DuckDB.
    fold_interval_s: float = 1.0
    #: seconds a caller waits for the store before a clear "busy" error.
    lock_timeout_s: float = 60.0

    @property
    def data_dir(self) -> Path:
        """Folder of the store; images and cubes are referenced relative to it."""
        return self.db_path.parent
