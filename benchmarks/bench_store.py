"""Many kernels voting into one store at once, against the naive baseline, in the same run.

Scenarios (each with a reader process querying every 0.2 s that must never fail):
  burst      N writer processes vote as fast as they can for --seconds
  target     N writer processes at 1,000 votes/s in all (one vote every N/1000 s each)
  classroom  N writer processes vote once every 0.5 s each for --seconds
Designs:
  lensfinder the store (per-process journal append = acknowledgement, background folding)
  naive      open DuckDB / insert / close per vote under an exclusive file lock

Prints acknowledged votes/s, acknowledgement latency p50/p99/max, reader failures and lost votes.

    python benchmarks/bench_store.py [--writers 40] [--seconds 10] [--db postgresql://user@host/postgres]

With ``--db`` the store under test is PostgreSQL (a fresh database on that server per run: the URL's
user may create databases), against the same naive DuckDB baseline.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from lensfinder_nb.store.locks import file_lock
from lensfinder_nb.store import open_store

N_SUBJECTS = 500


class NaiveStore:
    """The baseline: a short DuckDB connection per vote, serialised by a file lock."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.lock = self.path.with_name(self.path.name + ".lock")

    def add_vote(self, user: str, subject: str, answer: int) -> str:
        vid = uuid.uuid4().hex
        with file_lock(self.lock, exclusive=True, timeout_s=120):
            con = duckdb.connect(str(self.path))
            try:
                con.execute("INSERT INTO votes (vote_id, seq, user_id, subject, answer, created_at) "
                            "VALUES (?, 0, ?, ?, ?, current_timestamp)", [vid, user, subject, answer])
            finally:
                con.close()
        return vid

    def count(self) -> int:
        with file_lock(self.lock, exclusive=False, timeout_s=120):
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                return con.execute("SELECT count(*) FROM votes").fetchone()[0]
            finally:
                con.close()


def _open(design: str, path: str):
    return open_store(path) if design == "lensfinder" else NaiveStore(path)


def _writer(design, path, user, seconds, pace_s, start, out):
    store = _open(design, path)
    rng = np.random.default_rng(abs(hash(user)) % 2**32)
    ids, lat = [], []
    start.wait()
    t_end = time.monotonic() + seconds
    next_t = time.monotonic() + rng.uniform(0, pace_s or 0)
    while True:
        if pace_s:
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_t += pace_s
        now = time.monotonic()
        if now >= t_end:
            break
        vid = store.add_vote(user, f"S{int(rng.integers(N_SUBJECTS)):04d}", int(rng.integers(2)))
        lat.append(time.monotonic() - now)
        ids.append(vid)
    if design == "lensfinder":
        store.close()
    out.put((ids, lat))


def _reader(design, path, start, stop, out):
    store = _open(design, path)
    failures, reads, lat = 0, 0, []
    start.wait()
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            if design == "lensfinder":
                store.sql("SELECT count(*) FROM votes")
            else:
                store.count()
            reads += 1
            lat.append(time.monotonic() - t0)
        except Exception:
            failures += 1
        time.sleep(max(0.0, 0.2 - (time.monotonic() - t0)))
    out.put((reads, failures, lat))


def run(design: str, writers: int, seconds: float, pace_s: float | None, server: str | None = None) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"bench-{design}-")
    path = os.path.join(tmp, "lf.duckdb")
    if design == "lensfinder" and server:
        from lensfinder_nb.store.postgres import create_database
        path = create_database(server, "bench_")
    store = open_store(path)
    store.add_subjects(pd.DataFrame({"subject": [f"S{i:04d}" for i in range(N_SUBJECTS)], "label": -1}))
    store.close()
    ctx = mp.get_context("fork")
    start, stop, out, rout = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(design, path, f"u{k}", seconds, pace_s, start, out))
             for k in range(writers)]
    reader = ctx.Process(target=_reader, args=(design, path, start, stop, rout))
    for p in procs + [reader]:
        p.start()
    time.sleep(1.0)  # let every process get to the start line
    start.set()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join()
    stop.set()
    reads, failures, rlat = rout.get(timeout=60)
    reader.join()
    acked = {v for ids, _ in results for v in ids}
    lat = np.array([x for _, lats in results for x in lats]) * 1000
    if design == "lensfinder":
        s = open_store(path)
        s.fold()
        stored = set(s.sql("SELECT vote_id FROM db.votes")["vote_id"])
        s.close()
    else:
        con = duckdb.connect(path, read_only=True)
        stored = {r[0] for r in con.execute("SELECT vote_id FROM votes").fetchall()}
        con.close()
    return {
        "design": design, "writers": writers, "pace": "max" if not pace_s else f"{pace_s}s",
        "votes/s": len(acked) / seconds, "p50 ms": np.percentile(lat, 50), "p99 ms": np.percentile(lat, 99),
        "max ms": lat.max(), "acked": len(acked), "lost": len(acked - stored),
        "reader ok": reads, "reader failed": failures,
        "reader p99 ms": np.percentile(np.array(rlat) * 1000, 99) if rlat else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--writers", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--db", metavar="URL", help="a PostgreSQL server (postgresql://...) for the store under test")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"duckdb {duckdb.__version__}; store under test: {'PostgreSQL' if args.db else 'DuckDB file'}")
    rows = []
    for scenario, pace in (("burst", None), ("target", args.writers / 1000), ("classroom", 0.5)):
        for design in ("lensfinder", "naive"):
            row = run(design, args.writers, args.seconds, pace, args.db)
            row["scenario"] = scenario
            rows.append(row)
            print(f"{scenario:9s} {design:10s} {row['votes/s']:8.0f} votes/s  p50 {row['p50 ms']:7.1f} ms  "
                  f"p99 {row['p99 ms']:7.1f} ms  max {row['max ms']:7.1f} ms  lost {row['lost']}  "
                  f"reader ok {row['reader ok']} failed {row['reader failed']} "
                  f"(p99 {row['reader p99 ms']:.0f} ms)", flush=True)
    table = pd.DataFrame(rows).set_index(["scenario", "design"])
    with pd.option_context("display.width", 200, "display.float_format", "{:.1f}".format):
        print(table)
    lf = table.loc["burst", "lensfinder"]
    base = table.loc["burst", "naive"]
    print(f"\nburst: {lf['votes/s']:.0f} votes/s (target >= 1000), {lf['votes/s'] / base['votes/s']:.0f}x the naive "
          f"baseline; classroom p99 {table.loc['classroom', 'lensfinder']['p99 ms']:.1f} ms (target <= 50) vs "
          f"{table.loc['classroom', 'naive']['p99 ms']:.1f} ms naive; lost votes "
          f"{int(table['lost'].sum())}; reader failures {int(table['reader failed'].sum())}; reader p99 at 1,000 "
          f"votes/s {table.loc['target', 'lensfinder']['reader p99 ms']:.0f} ms")


if __name__ == "__main__":
    main()
