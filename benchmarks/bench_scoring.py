"""Benchmark of the scoring engine at CFHTLS scale (Space Warps stage 1).

Generates a simulated crowd (default 10.8 million votes, 37,000 volunteers, 427,000
subjects), loads it into a real store file (``store.import_votes_arrow`` in chunks), then times:

* swap: from the votes in the store to all scores (load + code + score);
* the plain per-vote Python loop of the same rule on a prefix of the votes,
  extrapolated per vote to the full count (and checked equal to the vectorised result);
* dawid-skene on 1 million votes;
* peak memory of the process (resource.getrusage).

Run:  python benchmarks/bench_scoring.py            (full scale, ~2 minutes)
      python benchmarks/bench_scoring.py --votes 500000   (quick)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from lensfinder_nb.scoring import code_votes, dawid_skene, load_votes, simulate_crowd, swap, swap_reference
from lensfinder_nb.store import open_store

FULL = (10_800_000, 37_000, 427_000)
CHUNK = 2_000_000   # votes per import call


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--votes", type=int, default=FULL[0], help="number of votes (default 10.8 million)")
    ap.add_argument("--ref-votes", type=int, default=300_000, help="votes for the Python loop (default 300,000)")
    ap.add_argument("--ds-votes", type=int, default=1_000_000, help="votes for dawid-skene (default 1 million)")
    ap.add_argument("--db", default=None, help="store file (default: a temporary folder), or a PostgreSQL server "
                    "URL (postgresql://...): a fresh database is made on it")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    scale = args.votes / FULL[0]
    n_users, n_subjects = max(100, int(FULL[1] * scale)), max(2_000, int(FULL[2] * scale))
    print(f"machine: {os.cpu_count()} cores; {args.votes:,} votes, {n_users:,} volunteers, {n_subjects:,} subjects")

    t = time.perf_counter()
    crowd = simulate_crowd(args.votes, n_users, n_subjects, seed=args.seed)
    print(f"generate crowd                 {time.perf_counter() - t:7.2f} s")

    tmp = tempfile.TemporaryDirectory()
    if args.db and args.db.startswith("postgresql://"):
        from lensfinder_nb.store.postgres import create_database
        db = create_database(args.db)
    else:
        db = Path(args.db or Path(tmp.name) / "bench.duckdb")
    store = open_store(db)
    t = time.perf_counter()
    store.add_subjects(crowd.subjects)
    n = sum(store.import_votes_arrow(_arrow_chunk(crowd.votes, i, i + CHUNK))
            for i in range(0, len(crowd.votes), CHUNK))
    size = f"{db.stat().st_size / 1e6:,.0f} MB file" if isinstance(db, Path) else "PostgreSQL"
    print(f"load store (import_votes_arrow, {CHUNK:,} per call)  {time.perf_counter() - t:7.2f} s   ({n:,} votes, "
          f"{size})")

    print(f"peak memory so far (generation + import)  {_peak_gb():.2f} GB")
    store.fold()
    # Score in a fresh process, as `lensfinder score` would: its memory is the scoring engine's own.
    child = subprocess.run([sys.executable, __file__, "--score-db", str(db)], check=True,
                           capture_output=True, text=True)
    r = json.loads(child.stdout.strip().splitlines()[-1])
    total, t_load, t_swap = r["total"], r["load"], r["swap"]
    print(f"swap, store -> scores          {total:7.2f} s   (read+code {t_load:.2f} s, score {t_swap:.2f} s; "
          f"{r['n'] / total / 1e6:.1f} M counted votes/s; {r['detected']:,} detected; "
          f"peak memory of that process {r['peak_gb']:.2f} GB)")

    m = min(args.ref_votes, len(crowd.votes))
    prefix = crowd.votes.iloc[:m]                      # the first m votes in time: a valid crowd
    t = time.perf_counter()
    ref = swap_reference(prefix, crowd.subjects)
    t_ref = time.perf_counter() - t
    fast = swap(prefix, crowd.subjects)
    diff = float(np.max(np.abs(ref["probability"].to_numpy() - fast["probability"].to_numpy())))
    per_vote = t_ref / m
    extrapolated = per_vote * len(crowd.votes)
    print(f"python loop on {m:,} votes   {t_ref:7.2f} s   ({per_vote * 1e6:.2f} us/vote -> "
          f"{extrapolated:.1f} s extrapolated to {len(crowd.votes):,}; max |dp| vs vectorised {diff:.1e})")
    print(f"speed-up (store->scores vs loop, extrapolated)  {extrapolated / total:5.1f}x   "
          f"(vs scoring step alone {extrapolated / t_swap:5.1f}x)")

    k = min(args.ds_votes, len(crowd.votes))
    ds_coded = code_votes(crowd.votes.iloc[:k], crowd.subjects)
    t = time.perf_counter()
    _, model = dawid_skene(ds_coded, return_model=True)
    print(f"dawid-skene on {k:,} votes  {time.perf_counter() - t:7.2f} s   ({model['n_iter']} EM steps, "
          f"prior {model['prior']:.4f})")

    print(f"peak memory of the benchmark process (incl. generation and import)  {_peak_gb():.2f} GB")
    store.close()
    tmp.cleanup()


def _arrow_chunk(votes, start: int, stop: int):
    """Rows start:stop of the simulated votes as an Arrow table: categoricals become dictionary
    arrays (no per-row strings in Python), vote ids are the row numbers."""
    import pyarrow as pa

    chunk = votes.iloc[start:stop]

    def dictionary(col):
        return pa.DictionaryArray.from_arrays(pa.array(col.cat.codes.to_numpy()),
                                              pa.array(col.cat.categories.to_numpy(dtype=object)))

    return pa.table({"vote_id": pa.array(np.arange(start, start + len(chunk))).cast(pa.string()),
                     "user_id": dictionary(chunk["user_id"]), "subject": dictionary(chunk["subject"]),
                     "answer": pa.array(chunk["answer"].to_numpy()),
                     "created_at": pa.array(chunk["created_at"].to_numpy())})


def _peak_gb() -> float:
    """Peak resident memory of this process: VmHWM (reset by exec) if available, else ru_maxrss
    (which Linux carries over from the parent across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def score_only(db: str) -> None:
    """Child process: time store -> swap scores, print one JSON line."""
    store = open_store(db if db.startswith("postgresql://") else Path(db))
    t = time.perf_counter()
    coded = load_votes(store)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    scores = swap(coded)
    t_swap = time.perf_counter() - t
    print(json.dumps({"total": t_load + t_swap, "load": t_load, "swap": t_swap, "n": len(coded.answer),
                      "detected": int((scores.status == "detected").sum()), "peak_gb": _peak_gb()}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--score-db":
        score_only(sys.argv[2])
    else:
        main()
