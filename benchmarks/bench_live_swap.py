"""Live SWAP: the cost of one update step against the batch size and against the store size.

    python benchmarks/bench_live_swap.py [--sizes 10000,100000,1000000] [--batches 1,10,100,1000,10000]
                                         [--db postgresql://...]

For each store size N a simulated crowd (scoring.crowd_sim) of N votes is imported into a fresh
store (a DuckDB file, and with ``--db`` a new database on that server), the live state is built
once (a full recompute, timed), then batches of new votes are imported and one live step is
timed (median of three).  The step is timed alone: on DuckDB without the fold and the
connection, on PostgreSQL including the ``seq`` horizon lock.  Cost proportional to the new
votes means: rising with the batch size, flat with the store size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lensfinder_nb.scoring import simulate_crowd  # noqa: E402
from lensfinder_nb.store import live, open_store  # noqa: E402
from lensfinder_nb.store.postgres import create_database  # noqa: E402


def _crowd(n_votes: int, extra: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Votes in time order (the first ``n_votes`` fill the store, the rest are the new batches) and subjects."""
    total = n_votes + extra
    # ~10 votes per subject and ~100 per volunteer, as a class or a project would have them
    c = simulate_crowd(n_votes=total, n_users=max(50, total // 100), n_subjects=max(1_000, total // 10), seed=seed,
                       categorical=False)
    v = c.votes.sort_values("created_at", kind="stable").reset_index(drop=True)
    v["vote_id"] = [f"b{i}" for i in range(len(v))]
    v["created_at"] = pd.to_datetime(v["created_at"]).astype("datetime64[us]")
    return v[["vote_id", "user_id", "subject", "answer", "created_at"]], c.subjects[["subject", "label"]]


def _step(store) -> live.LiveStep:
    if store.journalled:
        with store._writer() as con:
            return live.update_duckdb(con)
    import psycopg
    with psycopg.connect(store.path) as con:
        return live.update_postgres(con, wait=True)


def bench(location_of, sizes: list[int], batches: list[int], label: str) -> list[dict]:
    rows = []
    for n in sizes:
        reps = 3
        votes, subjects = _crowd(n, sum(batches) * reps)
        store = open_store(location_of(n), live_scores=False)   # steps are run by hand
        store.add_subjects(subjects)
        t0 = time.perf_counter()
        store.import_votes_arrow(votes.iloc[:n])
        t_import = time.perf_counter() - t0
        first = _step(store)
        rows.append({"backend": label, "store_votes": n, "batch": "full", "step_ms": 1e3 * first.seconds,
                     "cpu_ms": 1e3 * first.cpu_seconds, "mode": first.mode})
        print(f"{label} N={n:>9,}: import {t_import:.1f} s, full recompute {first.seconds:.2f} s "
              f"(cpu {first.cpu_seconds:.2f} s)", flush=True)
        at = n
        for b in batches:
            times, cpu = [], []
            for _ in range(reps):
                store.import_votes_arrow(votes.iloc[at:at + b])
                at += b
                step = _step(store)
                assert step.mode == "incremental", step
                times.append(step.seconds)
                cpu.append(step.cpu_seconds)
            ms, cpu_ms = 1e3 * statistics.median(times), 1e3 * statistics.median(cpu)
            rows.append({"backend": label, "store_votes": n, "batch": b, "step_ms": ms, "cpu_ms": cpu_ms,
                         "mode": "incremental"})
            print(f"{label} N={n:>9,} batch {b:>6,}: {ms:8.1f} ms per step (cpu {cpu_ms:7.1f} ms), "
                  f"{1e3 * ms / b:8.1f} us per vote", flush=True)
        store.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--batches", default="1,10,100,1000,10000")
    ap.add_argument("--db", dest="pg", default=None, metavar="URL",
                    help="a PostgreSQL server (postgresql://.../postgres): bench it too, one new database per size")
    ap.add_argument("--no-duckdb", action="store_true")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    batches = [int(x) for x in args.batches.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lf-bench-live-") as tmp:
        if not args.no_duckdb:
            rows += bench(lambda n: Path(tmp) / f"s{n}.duckdb", sizes, batches, "duckdb")
        if args.pg:
            rows += bench(lambda n: create_database(args.pg, "lf_bench_"), sizes, batches, "postgresql")
    table = pd.DataFrame(rows)
    print()
    for value in ("step_ms", "cpu_ms"):
        print(f"\n{value} of one live step (rows: batch of new votes, or the full recompute; columns: votes stored)")
        print(table.pivot_table(index=["backend", "batch"], columns="store_votes", values=value, aggfunc="first",
                                sort=False).round(1).to_string())


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
