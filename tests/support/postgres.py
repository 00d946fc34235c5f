"""A throwaway PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

Debian's ``postgresql`` package (``make test`` installs it) provides the binaries under
``/usr/lib/postgresql/<version>/bin``.  ``initdb`` refuses to run as root, so as root the
cluster belongs to ``nobody`` (a folder it owns); otherwise to the current user.  The server
listens on 127.0.0.1 only, on a free port; each pytest-xdist worker starts its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["pg_bin", "postgres_server", "fresh_database"]


def pg_bin() -> Path:
    """The newest installed PostgreSQL server's bin folder (raises if there is none)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make postgresql` (Debian's postgresql package)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *argv] if os.getuid() == 0 else argv


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a cluster and yield the URL of its ``postgres`` database; stop and delete it afterwards."""
    bin_dir = pg_bin()
    root = Path(tempfile.mkdtemp(prefix="lf-pg-"))
    if os.getuid() == 0:
        shutil.chown(root, "nobody", "nogroup")
    data = root / "data"
    port = _free_port()
    run = lambda argv: subprocess.run(_as_server_user(argv), check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "lensfinder", "-E", "UTF8",
             "--no-sync"])
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
             "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200", "start"])
        yield f"postgresql://lensfinder@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                                            "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server and return its URL."""
    from lensfinder_nb.store.postgres import create_database
    return create_database(server_url)
