"""Append-only per-process vote journals: the write path of the store.

A vote is acknowledged once its JSON line has been handed to the kernel with one
``write`` on the process's own journal file (and, with ``fsync=True``, flushed to
disk).  A process killed right after that loses nothing: the bytes are in the
file.  Journals are folded into DuckDB later by whichever process gets the
exclusive lock (see ``store.Store.fold``).  Each writer holds an ``flock`` on its
own journal while alive, so a folder can tell finished journals from live ones.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["JournalWriter", "JournalTail", "read_tails", "parse_events", "journal_is_live"]


class JournalWriter:
    """The append handle of one process; reopened after a fork."""

    def __init__(self, directory: Path, *, fsync: bool = False) -> None:
        self.directory = directory
        self.fsync = fsync
        self._fd: int | None = None
        self._pid: int | None = None
        self.path: Path | None = None

    def _open(self) -> int:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        tmp = self.directory / f"{name}.new"
        fd = os.open(tmp, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o664)
        # Lock before the name becomes visible, so no folder can take it for a dead journal.
        fcntl.flock(fd, fcntl.LOCK_EX)
        self.path = self.directory / f"{name}.jsonl"
        os.rename(tmp, self.path)
        self._fd, self._pid = fd, os.getpid()
        return fd

    def append(self, events: list[dict]) -> None:
        """Write events as complete lines in a single ``write`` call."""
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
        fd = self._open()
        written = os.write(fd, data)
        while written < len(data):  # regular files write fully; be safe anyway
            written += os.write(fd, data[written:])
        if self.fsync:
            os.fsync(fd)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


def journal_is_live(path: Path) -> bool:
    """True while the process that writes ``path`` still holds it open."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@dataclass
class JournalTail:
    """Complete lines of one journal past an offset (``data`` holds whole lines only)."""

    journal: str
    start: int
    end: int
    data: bytes


def read_tails(directory: Path, progress: dict[str, int]) -> list[JournalTail]:
    """Bytes not yet folded, per journal; a trailing partial line is left for later."""
    tails = []
    if not directory.exists():
        return tails
    for path in sorted(directory.glob("*.jsonl")):
        start = progress.get(path.name, 0)
        try:
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            continue
        cut = data.rfind(b"\n") + 1
        tails.append(JournalTail(path.name, start, start + cut, data[:cut]))
    return tails


_FIELDS = [("type", "string"), ("vote_id", "string"), ("user_id", "string"), ("subject", "string"),
           ("answer", "int8"), ("marks", "string"), ("created_at", "string"), ("time_spent_s", "float64"),
           ("session", "string"), ("retracted_at", "string"), ("event_id", "string"), ("favourite", "bool_"),
           ("comment", "string")]


def parse_events(tails: list[JournalTail]) -> pd.DataFrame:
    """All events of the tails as one frame in arrival order (column per field, missing -> null).

    Parsed with pyarrow, or in Python where pyarrow is kept out (a classify page's kernel,
    ``ui.lean``): the same frame, and a page's tails are a few lines.
    """
    try:
        import pyarrow as pa
        import pyarrow.json as pj
    except ImportError:
        return _parse_in_python(b"".join(t.data for t in tails if t.data.strip()))

    blob = b"".join(t.data for t in tails if t.data.strip())
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in _FIELDS])
    if not blob:
        return schema.empty_table().to_pandas()
    try:
        table = pj.read_json(io.BytesIO(blob), parse_options=pj.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"),
            read_options=pj.ReadOptions(block_size=max(1 << 20, len(blob) + 1)))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A torn line from a killed writer (never acknowledged): keep every line that parses.
        rows = []
        for line in blob.splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        table = pa.Table.from_pylist(rows, schema=schema)
    return table.to_pandas()


_CASTS = {"string": lambda v: None if v is None else str(v), "int8": lambda v: None if v is None else int(v),
          "float64": lambda v: None if v is None else float(v), "bool_": lambda v: None if v is None else bool(v)}


def _parse_in_python(blob: bytes) -> pd.DataFrame:
    """:func:`parse_events` without pyarrow, with the dtypes pyarrow's ``to_pandas`` gives.

    A line that is not a JSON object of the journal's fields (a torn last line of a killed
    writer, never acknowledged) is skipped, as pyarrow's path skips it.
    """
    columns: dict[str, list] = {name: [] for name, _ in _FIELDS}
    for line in blob.splitlines():
        try:
            event = json.loads(line)
            row = [_CASTS[kind](event.get(name)) for name, kind in _FIELDS]
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            continue
        for (name, _), value in zip(_FIELDS, row):
            columns[name].append(value)
    frame = {}
    for name, kind in _FIELDS:
        values = columns[name]
        has_null = any(v is None for v in values)
        if kind == "string":
            frame[name] = pd.Series(values, dtype="str")
        elif kind == "int8":
            frame[name] = pd.Series(values, dtype="float64" if has_null else "int8")
        elif kind == "float64":
            frame[name] = pd.Series(values, dtype="float64")
        else:
            frame[name] = pd.Series(values, dtype="object" if has_null else "bool")
    return pd.DataFrame(frame)
