"""Mock lenses in independent batches, on local processes or a Dask cluster, written through the store.

:func:`simulate_into_store` paints lensed arcs into the store's label-0 backgrounds (demo fields
or ingested real cutouts) and adds them as label-1 subjects of kind ``"mock"``:

1. the client reads the background pool from the store and cuts the job into batches; a
   batch is a small picklable :class:`SimulateTask` (background references and conditions,
   a seed, the ranges and cuts);
2. a worker (:func:`run_simulate_task`) loads its backgrounds with :func:`cubes.load_cube`,
   simulates (:func:`lensing.simulate_mocks`), injects and renders the viewer JPEGs, and
   writes its own files under the data folder with names unique to the batch:
   ``cubes/<batch>-arcs.npy`` (float16 arcs, nanomaggies; the background is *not* copied),
   ``cubes/<batch>-masks.npy`` (bit-packed arc masks) and ``images/<batch>.jpgs`` (the
   batch's JPEGs back to back, see :func:`cubes.read_image`); it returns the subject rows;
3. the client adds each batch's rows with ``store.add_subjects`` in one transaction, so only
   one process ever writes to DuckDB.

Batches run in a ``concurrent.futures.ProcessPoolExecutor`` (2 workers by default) or, given a
scheduler address (``tcp://host:port``) or a ``distributed.Client``, on a Dask cluster whose
workers see the same data folder (a shared file system).

Subject ids are derived from the run (scale, seed, batch size), the batch number and the row,
so a re-run skips batches already in the store (resume) and a larger ``n`` extends a run.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..imaging import files as cubes

__all__ = ["SimulateTask", "BatchResult", "SimulateReport", "simulate_into_store", "run_simulate_task",
           "run_batches", "background_pool", "central_galaxy_params", "synthetic_background_rows",
           "estimate_sky_sigma", "DEFAULT_SEEING_ARCSEC", "SOURCE"]

SOURCE = "simulate"
BANDS = ("g", "r", "z")
#: DESI Legacy Surveys (DECaLS) typical seeing FWHM in arcsec (g, r, z), used when a background's
#: params do not give its own: middles of 1.3-1.5, 1.2-1.3 and 1.1-1.25.
DEFAULT_SEEING_ARCSEC = (1.40, 1.25, 1.18)
_F16_TINY = float(np.finfo(np.float16).smallest_normal)
_CONDITION_COLUMNS = [f"seeing_{b}_arcsec" for b in BANDS] + [f"sky_{b}_nmgy" for b in BANDS]
_LENS_COLUMNS = ["lens_x_arcsec", "lens_y_arcsec", "lens_phi_rad", "lens_q", "z_lens", "m500_msun", "m200_msun"]


# ---------------------------------------------------------------- backgrounds
def estimate_sky_sigma(cube: np.ndarray) -> np.ndarray:
    """Robust sky noise per band (nanomaggies per pixel): 1.4826 x the median absolute deviation.

    Galaxies cover a small part of a cutout, so the MAD follows the sky; NaN pixels are ignored.
    Returns shape (3,).
    """
    c = np.asarray(cube, np.float64).reshape(cube.shape[0], -1)
    med = np.nanmedian(c, axis=1, keepdims=True)
    return 1.4826 * np.nanmedian(np.abs(c - med), axis=1)


def _lens_light(params: dict, npix: int, pixscale: float) -> dict:
    """Lens overrides from a background's params: the central galaxy lines up light and mass.

    Keys read: ``central_x_pix, central_y_pix`` (0-based FITS pixels, y to the north),
    ``central_pa_deg`` (east of north), ``central_q``; for clusters ``z_lens`` (or ``z``) and
    ``m500_msun`` / ``m200_msun`` from a catalogue.  Missing keys give NaN (keep the draw).
    """
    c = (npix - 1) / 2.0
    out = dict.fromkeys(_LENS_COLUMNS, np.nan)
    if "central_x_pix" in params and "central_y_pix" in params:
        out["lens_x_arcsec"] = (float(params["central_x_pix"]) - c) * pixscale
        out["lens_y_arcsec"] = (float(params["central_y_pix"]) - c) * pixscale
    if params.get("central_pa_deg") is not None:
        # position angle east of north -> major-axis angle from +x (columns; west in FITS orientation)
        out["lens_phi_rad"] = math.radians((float(params["central_pa_deg"]) + 90.0) % 180.0)
    if params.get("central_q") is not None:
        out["lens_q"] = float(params["central_q"])
    z = params.get("z_lens", params.get("z"))
    if z is not None:
        out["z_lens"] = float(z)
    for key in ("m500_msun", "m200_msun"):
        if params.get(key) is not None:
            out[key] = float(params[key])
    return out


def central_galaxy_params(table: pd.DataFrame) -> pd.DataFrame:
    """Per field of a :func:`sky.draw_fields` table, the params keys that align lens mass and light.

    Returns one row per field (sorted) with ``central_x_pix, central_y_pix, central_pa_deg,
    central_q`` (NaN where a field has no central galaxy); add them to a background's params.
    """
    fields = np.sort(table["field"].unique())
    central = table[table["component"] == "central"].drop_duplicates("field").set_index("field")
    out = pd.DataFrame(index=pd.Index(fields, name="field"))
    for src, dst in (("x_pix", "central_x_pix"), ("y_pix", "central_y_pix"), ("pa_deg", "central_pa_deg"),
                     ("q", "central_q")):
        out[dst] = central[src].reindex(fields).to_numpy(float)
    return out.reset_index(drop=True)


def synthetic_background_rows(data_dir: str | Path, table: pd.DataFrame, name: str, prefix: str,
                              source: str, ra0: float = 150.0) -> list[dict]:
    """Subject rows (label 0) for the fields of a :func:`sky.draw_fields` table: cubes written as batch
    ``name``, params with each field's conditions and central galaxy (what :func:`background_pool` reads)."""
    from . import sky
    fields = sky.field_table(table)
    central = central_galaxy_params(table)
    refs = cubes.write_batch(data_dir, name, sky.render_fields(table))
    rows = []
    for i, ref in enumerate(refs):
        p = {c: float(fields[c].iloc[i]) for c in fields.columns if c.startswith(("seeing_", "sky_"))}
        p.update(central.iloc[i].to_dict(), field=str(fields["kind"].iloc[i]))
        rows.append({"subject": f"{prefix}{i:05d}", "label": 0, "kind": "nonlens", "ra": ra0 + i * 1e-3, "dec": 2.0,
                     "cube": ref, "params": json.dumps(p), "source": source})
    return rows


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
        row.update({k: float(p[k]) if p.get(k) is not None else np.nan for k in _CONDITION_COLUMNS})
        rows.append(row)
    return pd.DataFrame(rows, columns=["subject", "ra", "dec", "cube", "params", *_CONDITION_COLUMNS])


# ---------------------------------------------------------------- one batch (runs on a worker)
@dataclass(frozen=True)
class SimulateTask:
    """One batch: everything a worker needs, small enough to ship to a Dask worker."""

    data_dir: str
    name: str                      # unique file stem of the batch, e.g. "sim-g0-500-00003"
    ids: tuple[str, ...]           # subject ids for up to len(ids) accepted mocks
    seed: tuple[int, ...]          # entropy for numpy.random.default_rng
    scale: str
    backgrounds: pd.DataFrame      # rows of background_pool()
    ranges: dict = field(default_factory=dict)
    cuts: dict = field(default_factory=dict)
    supersampling: int = 2
    pixscale_arcsec: float = 0.262


@dataclass
class BatchResult:
    """What a worker returns: subject rows to add, draws and rejections, bytes and timings."""

    name: str
    rows: pd.DataFrame
    rejected: dict
    n_draws: int
    bytes_arcs: int
    bytes_images: int
    seconds: dict


def _json_value(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return float(f"{v:.6g}") if math.isfinite(v) else None
    return v


def _load_backgrounds(task: SimulateTask) -> tuple[np.ndarray, pd.DataFrame, Counter]:
    bgs, keep, skipped = [], [], Counter()
    for i, ref in enumerate(task.backgrounds["cube"]):
        try:
            cube = cubes.load_cube(task.data_dir, ref)
        except (OSError, ValueError, IndexError):
            skipped["background unreadable"] += 1
            continue
        if cube.shape[0] != 3 or cube.shape[1] != cube.shape[2] or (bgs and cube.shape != bgs[0].shape):
            skipped["background not a square g,r,z cube of the batch's size"] += 1
            continue
        bgs.append(cube)
        keep.append(i)
    if not bgs:
        return np.empty((0, 3, 1, 1), np.float32), task.backgrounds.iloc[:0], skipped
    return np.stack(bgs), task.backgrounds.iloc[keep].reset_index(drop=True), skipped


def _conditions(backgrounds: np.ndarray, pool: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeing and sky sigma (m, 3) from params, else DESI seeing and the cube's MAD sky sigma."""
    seeing = np.array(pool[_CONDITION_COLUMNS[:3]], dtype=float)
    sky = np.array(pool[_CONDITION_COLUMNS[3:]], dtype=float)
    seeing_given = np.isfinite(seeing).all(axis=1)
    sky_given = np.isfinite(sky).all(axis=1) & (sky > 0).all(axis=1)
    seeing[~seeing_given] = DEFAULT_SEEING_ARCSEC
    for i in np.flatnonzero(~sky_given):
        sky[i] = estimate_sky_sigma(backgrounds[i])
    return seeing, sky, np.stack([seeing_given, sky_given], 1)


def run_simulate_task(task: SimulateTask) -> BatchResult:
    """Simulate, inject, render and write one batch; returns the subject rows (no store access)."""
    from . import lensing
    from ..imaging import render

    t0 = time.perf_counter()
    secs = {}
    backgrounds, pool, skipped = _load_backgrounds(task)
    m = len(pool)
    if m == 0:
        return BatchResult(task.name, pd.DataFrame(), dict(skipped), 0, 0, 0, {"load": time.perf_counter() - t0})
    npix = backgrounds.shape[-1]
    seeing, sky, given = _conditions(backgrounds, pool)
    lens = pd.DataFrame([_lens_light(p, npix, task.pixscale_arcsec) for p in pool["params"]])
    use_lens = lens.notna().any().any()
    secs["load"] = time.perf_counter() - t0
    t = time.perf_counter()
    batch = lensing.simulate_mocks(backgrounds, seeing, sky, len(task.ids), list(task.seed), scale=task.scale,
                                   ranges=task.ranges, pixscale_arcsec=task.pixscale_arcsec,
                                   supersampling=task.supersampling, lens_light=lens if use_lens else None,
                                   **task.cuts)
    secs["simulate"] = time.perf_counter() - t
    t = time.perf_counter()
    n = len(batch.params)
    bg = batch.params["background"].to_numpy(int) if n else np.empty(0, int)
    jpegs = []
    for s0 in range(0, n, 32):  # inject and render a few at a time (stays in cache)
        images = backgrounds[bg[s0:s0 + 32]] + batch.arcs[s0:s0 + 32]
        jpegs += [render.encode_jpeg(render.viewer_rgb(img)) for img in images]
    secs["inject+render"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = pd.DataFrame()
    bytes_arcs = bytes_images = 0
    if n:
        arcs16 = _to_float16(batch.arcs)
        arc_refs = cubes.write_batch(task.data_dir, f"{task.name}-arcs", arcs16)
        mask_refs = cubes.write_batch(task.data_dir, f"{task.name}-masks", batch.masks)
        image_refs = cubes.write_images(task.data_dir, task.name, jpegs)
        bytes_arcs = arcs16.nbytes + (Path(task.data_dir) / f"cubes/{task.name}-masks.npy").stat().st_size
        bytes_images = sum(len(j) for j in jpegs)
        rows = _subject_rows(task, batch.params, pool, sky, given, arc_refs, mask_refs, image_refs)
    secs["write"] = time.perf_counter() - t
    rejected = Counter(batch.rejected)
    rejected.update(skipped)
    return BatchResult(task.name, rows, dict(rejected), batch.n_draws, bytes_arcs, bytes_images, secs)


def _to_float16(arcs: np.ndarray) -> np.ndarray:
    """float16 nanomaggies (what ``cubes.load_cube`` adds to the background).

    Values below float16's smallest normal number (6.1e-5 nanomaggies, 2 % of the g-band sky
    sigma) become 0: converting subnormals is ~25x slower, and the noisy arcs lose at most
    0.5 % (median 0.04 %) of their flux this way.
    """
    out = np.empty(arcs.shape, np.float16)
    for s0 in range(0, len(arcs), 16):
        a = arcs[s0:s0 + 16]
        out[s0:s0 + 16] = np.where(np.abs(a) < _F16_TINY, np.float32(0), a)
    return out


def _subject_rows(task, params, pool, sky, given, arc_refs, mask_refs, image_refs) -> pd.DataFrame:
    out = []
    bg_index = params["background"].to_numpy(int)
    for k, (p, arc_ref, mask_ref, image_ref) in enumerate(zip(params.to_dict("records"), arc_refs, mask_refs,
                                                             image_refs)):
        i = bg_index[k]
        b = pool.iloc[i]
        d = {key: _json_value(v) for key, v in p.items() if key != "background"}
        d.update({f"sky_{band}_nmgy": round(float(sky[i, j]), 6) for j, band in enumerate(BANDS)})
        d.update({"background": b["subject"], "mask": mask_ref, "batch": task.name,
                  "seeing_from": "params" if given[i, 0] else "desi default",
                  "sky_from": "params" if given[i, 1] else "cube MAD"})
        out.append({"subject": task.ids[k], "label": 1, "kind": "mock", "ra": b["ra"], "dec": b["dec"],
                    "image": image_ref, "cube": cubes.mock_ref(arc_ref, b["cube"]), "params": json.dumps(d),
                    "source": SOURCE})
    return pd.DataFrame(out)


# ---------------------------------------------------------------- executors
def run_batches(fn: Callable, tasks: Iterable, *, scheduler=None, workers: int = 2) -> Iterator:
    """Run ``fn(task)`` for every task; yields results as they complete (any order).

    ``scheduler``: None for local processes (``workers`` of them; 1 or 0 runs in this
    process), a Dask scheduler address ``"tcp://host:port"``, or a ``distributed.Client``.
    """
    tasks = list(tasks)
    if not tasks:
        return
    if scheduler is not None:
        yield from _run_dask(fn, tasks, scheduler)
    elif workers <= 1 or len(tasks) == 1:
        for task in tasks:
            yield fn(task)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
            futures = [pool.submit(fn, task) for task in tasks]
            for fut in as_completed(futures):
                yield fut.result()


def _run_dask(fn, tasks, scheduler):
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(str(scheduler), set_as_default=False)
    try:
        futures = client.map(fn, tasks, pure=False)
        for fut in as_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        if client is not scheduler:
            client.close()


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
               ranges: dict | None = None, cuts: dict | None = None, supersampling: int = 2) -> list[SimulateTask]:
    """Cut a job of ``n`` mocks into batches; batch ``b`` depends only on (scale, seed, batch_size, b)."""
    if n < 0 or batch_size < 1:
        raise ValueError("n must be >= 0 and batch_size >= 1")
    run = f"{scale}-{seed}-{batch_size}"
    tasks = []
    for b, start in enumerate(range(0, n, batch_size)):
        k = min(batch_size, n - start)
        rng = np.random.default_rng([seed, b, 1])
        pick = np.sort(rng.choice(len(pool), size=min(len(pool), max(k, 64)), replace=False))
        tasks.append(SimulateTask(
            data_dir=str(data_dir), name=f"sim-{scale[0]}{seed}-{batch_size}-{b:05d}",
            ids=tuple(_subject_id(run, b, i) for i in range(k)), seed=(int(seed), b, 2), scale=scale,
            backgrounds=pool.iloc[pick].reset_index(drop=True), ranges=dict(ranges or {}), cuts=dict(cuts or {}),
            supersampling=supersampling))
    return tasks


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
    seed, batch_size : the run; the same values give the same mocks and subject ids, so
        re-running resumes (batches already in the store are skipped).
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
    tasks = plan_tasks(store.settings.data_dir, pool, n, scale=scale, seed=seed, batch_size=batch_size,
                       ranges=ranges, cuts=cuts, supersampling=supersampling)
    have = store.subject_ids(refresh=True)
    todo = [t for t in tasks if t.ids[0] not in have]
    report.batches_skipped = len(tasks) - len(todo)
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
