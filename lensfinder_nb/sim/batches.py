"""Mock lenses in independent batches, on local processes or a Dask cluster, written through the store.

:func:`simulate_into_store` paints lensed arcs into the store's label-0 backgrounds (demo fields
or ingested real cutouts) and adds them as label-1 subjects of kind ``"mock"``:

1. the client reads the background pool from the store (:func:`background_pool`) and cuts the
   job into batches (:func:`plan_tasks`); a batch is a small picklable
   :class:`~lensfinder_nb.sim.batch_task.SimulateTask`;
2. a worker runs :func:`~lensfinder_nb.sim.batch_task.run_simulate_task`: it simulates, injects,
   renders and writes the batch's files and returns the subject rows;
3. the client adds each batch's rows with ``store.add_subjects`` in one transaction, so only
   one process ever writes to DuckDB.

Batches run in a ``concurrent.futures.ProcessPoolExecutor`` (2 workers by default) or, given a
scheduler address (``tcp://host:port``) or a ``distributed.Client``, on a Dask cluster whose
workers see the same data folder (a shared file system) (:mod:`~lensfinder_nb.sim.executors`).
Backgrounds and their conditions: :mod:`~lensfinder_nb.sim.backgrounds`.

Subject ids are derived from the run (scale, seed, batch size), the batch number and the row,
and a run makes only the ids not yet in the store (:func:`plan_tasks`): re-running the same
command adds nothing, resumes an interrupted run, and a larger ``n`` adds the missing mocks.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from .backgrounds import (CONDITION_COLUMNS, central_galaxy_params, estimate_sky_sigma,
                          synthetic_background_rows)
from .batch_task import SOURCE, BatchResult, SimulateTask, run_simulate_task
from .executors import run_batches

__all__ = ["SimulateReport", "simulate_into_store", "plan_tasks", "background_pool",
           # re-exported: the pipeline's pieces, importable from here as before
           "SimulateTask", "BatchResult", "run_simulate_task", "run_batches", "central_galaxy_params",
           "synthetic_background_rows", "estimate_sky_sigma", "SOURCE"]


def background_pool(store, scale: str = "galaxy") -> pd.DataFrame:
    """Label-0 subjects usable as mock backgrounds, with their conditions from params (NaN if absent).

    Plain non-lenses only: look-alikes, artefacts and mocks are left out; when a background's
    params name its ``field`` (demo: ``galaxy`` or ``cluster``) it must match ``scale``.
    Columns: subject, ra, dec, cube, the six condition columns and the lens-light columns.
    """
    from ..store import queries

    df = queries.mock_backgrounds(store)
    rows = []
    for r in df.itertuples(index=False):
        p = json.loads(r.params) if isinstance(r.params, str) and r.params else {}
        if p.get("field") not in (None, scale):
            continue
        row = {"subject": r.subject, "ra": r.ra, "dec": r.dec, "cube": r.cube, "params": p}
        row.update({k: float(p[k]) if p.get(k) is not None else np.nan for k in CONDITION_COLUMNS})
        rows.append(row)
    return pd.DataFrame(rows, columns=["subject", "ra", "dec", "cube", "params", *CONDITION_COLUMNS])


# ---------------------------------------------------------------- the job
@dataclass
class SimulateReport:
    """What :func:`simulate_into_store` did."""

    accepted: int = 0
    n_draws: int = 0
    rejected: dict = field(default_factory=dict)
    batches_done: int = 0
    batches_skipped: int = 0
    backgrounds: int = 0
    bytes_arcs: int = 0
    bytes_images: int = 0
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)

    def __str__(self) -> str:
        why = ", ".join(f"{k}: {v}" for k, v in sorted(self.rejected.items())) or "none"
        n = max(self.accepted, 1)
        return "\n".join([
            f"simulate: {self.accepted} mock lenses accepted in {self.seconds:.1f} s "
            f"({self.batches_done} batches run, {self.batches_skipped} already in the store)",
            f"  draws examined {self.n_draws}, rejected {sum(self.rejected.values())}: {why}",
            f"  backgrounds in the pool: {self.backgrounds}",
            f"  disk per mock: arcs+mask {self.bytes_arcs / n / 1e3:.1f} KB, JPEG {self.bytes_images / n / 1e3:.1f} KB",
        ])


def _subject_id(run: str, batch: int, i: int) -> str:
    digest = hashlib.blake2s(f"{run}/{batch}/{i}".encode(), digest_size=6).hexdigest()
    return f"LFS-{digest}"


def plan_tasks(data_dir, pool: pd.DataFrame, n: int, *, scale: str = "galaxy", seed: int = 0, batch_size: int = 500,
               ranges: dict | None = None, cuts: dict | None = None, supersampling: int = 2,
               have: Collection[str] = frozenset()) -> tuple[list[SimulateTask], int]:
    """Cut a job of ``n`` mocks into batches, leaving out the mocks whose ids are in ``have``.

    Batch ``b`` holds the ids ``(scale, seed, batch_size, b, i)`` for ``i < min(batch_size, n - b *
    batch_size)``.  Its task covers the ids not yet stored: all of them on a first run (files
    ``sim-<s><seed>-<batch_size>-<b>``, seed ``(seed, b, 2)``); after a smaller ``n`` or a batch
    that fell short of its cuts, the missing ones from ``i = first`` on, with their own files and
    seed (``...-<b>-<first>``, ``(seed, b, 2, first)``), so the mocks already stored keep theirs.

    Returns the tasks to run and the number of batches already complete.
    """
    if n < 0 or batch_size < 1:
        raise ValueError("n must be >= 0 and batch_size >= 1")
    run = f"{scale}-{seed}-{batch_size}"
    tasks, complete = [], 0
    for b, start in enumerate(range(0, n, batch_size)):
        ids = [_subject_id(run, b, i) for i in range(min(batch_size, n - start))]
        missing = [i for i, sid in enumerate(ids) if sid not in have]
        if not missing:
            complete += 1
            continue
        first = missing[0]
        part = () if first == 0 else (first,)  # a first run keeps the names and seeds it always had
        rng = np.random.default_rng([seed, b, 1, *part])
        pick = np.sort(rng.choice(len(pool), size=min(len(pool), max(len(missing), 64)), replace=False))
        tasks.append(SimulateTask(
            data_dir=str(data_dir), name="-".join([f"sim-{scale[0]}{seed}-{batch_size}-{b:05d}",
                                                   *(f"{p:05d}" for p in part)]),
            ids=tuple(ids[i] for i in missing), seed=(int(seed), b, 2, *part), scale=scale,
            backgrounds=pool.iloc[pick].reset_index(drop=True), ranges=dict(ranges or {}), cuts=dict(cuts or {}),
            supersampling=supersampling))
    return tasks, complete


def simulate_into_store(store, n: int, *, scale: str = "galaxy", seed: int = 0, batch_size: int = 500,
                        scheduler=None, workers: int = 2, ranges: dict | None = None, cuts: dict | None = None,
                        supersampling: int = 2, catalogue_theta_e: bool = False,
                        progress: Callable | None = None) -> SimulateReport:
    """Make ``n`` mock lenses from the store's label-0 backgrounds and add them as label-1 subjects.

    Parameters
    ----------
    store : lensfinder_nb.store.Store
    n : int
        Mocks wanted (batches falling short of their cuts warn and add fewer).
    scale : "galaxy" or "cluster"
        Cluster Einstein radii are capped to what the cutouts show (10.5" at 101 pixels; fetch
        201-pixel cutouts for the full 4-20").
    seed, batch_size : the run; the same values give the same subject ids, and a run adds only
        the ids not yet stored: re-running resumes (or adds nothing), a larger ``n`` adds the rest.
    scheduler : None (local ``ProcessPoolExecutor`` with ``workers`` processes), a Dask
        scheduler address ``"tcp://host:port"`` or a ``distributed.Client``.
    ranges, cuts : passed to :func:`lensing.simulate_mocks`.
    catalogue_theta_e : bool
        Cluster scale: take z_lens and M500 (or M200) from the backgrounds' params (a cluster
        catalogue) for the Einstein radius instead of drawing the mass; backgrounds without
        them keep drawn values.
    progress : optional ``progress(iterable, total=, desc=, unit=)`` wrapper.

    Returns
    -------
    SimulateReport
    """
    from .lensing import DEFAULT_RANGES

    if scale not in DEFAULT_RANGES:
        raise ValueError(f"scale must be 'galaxy' or 'cluster', not {scale!r}")
    t0 = time.perf_counter()
    pool = background_pool(store, scale)
    if len(pool) == 0:
        raise InvalidInput(f"the store holds no label-0 backgrounds for {scale}-scale mocks "
                         "(run `lensfinder demo` or ingest real non-lens cutouts first)")
    if not catalogue_theta_e:
        pool = pool.assign(params=[{k: v for k, v in p.items() if k not in ("z_lens", "z", "m500_msun",
                                                                           "m200_msun")} for p in pool["params"]])
    report = SimulateReport(backgrounds=len(pool))
    todo, report.batches_skipped = plan_tasks(
        store.settings.data_dir, pool, n, scale=scale, seed=seed, batch_size=batch_size, ranges=ranges, cuts=cuts,
        supersampling=supersampling, have=store.subject_ids(refresh=True))
    results = run_batches(run_simulate_task, todo, scheduler=scheduler, workers=workers)
    if progress is not None:
        results = progress(results, total=len(todo), desc="simulating", unit="batch")
    rejected = Counter()
    stages = Counter()
    for res in results:
        t = time.perf_counter()
        if len(res.rows):
            store.add_subjects(res.rows)
        stages["store"] += time.perf_counter() - t
        stages.update(res.seconds)
        report.accepted += len(res.rows)
        report.n_draws += res.n_draws
        report.bytes_arcs += res.bytes_arcs
        report.bytes_images += res.bytes_images
        report.batches_done += 1
        rejected.update(res.rejected)
    report.rejected = dict(rejected)
    report.stage_seconds = dict(stages)
    report.seconds = time.perf_counter() - t0
    return report
