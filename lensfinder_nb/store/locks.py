"""Cross-process reader/writer lock around the DuckDB file.

DuckDB allows one read-write process per file, and read-only openers only while no
writer holds it.  Every process that touches the file first takes an ``flock`` on a
sidecar ``<db>.lock`` file: shared for reading, exclusive for writing.  Nobody then
ever meets DuckDB's own "Could not set lock" error; they wait their turn instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError

__all__ = ["LockTimeout", "file_lock"]


class LockTimeout(UserError, RuntimeError):
    """The store stayed busy for longer than the caller was willing to wait."""


@contextlib.contextmanager
def file_lock(path: Path, *, exclusive: bool, timeout_s: float | None = 60.0,
              blocking: bool = True) -> Iterator[bool]:
    """Hold an flock on ``path``; yields True when held, False when ``blocking=False`` and busy."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        if not blocking:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
        elif timeout_s is None:
            fcntl.flock(fd, mode)
        else:
            # Poll so that a stuck holder turns into a clear error, not a hang.
            deadline = time.monotonic() + timeout_s
            delay = 0.0005
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(
                            f"the store {path.with_suffix('')} stayed busy for {timeout_s:.0f} s") from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.01)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
