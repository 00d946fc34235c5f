"""One batch of mock lenses, run on a worker: simulate, inject, render, write files, return subject rows.

A batch is a small picklable :class:`SimulateTask` (background references and conditions, a
seed, subject ids, ranges and cuts).  :func:`run_simulate_task` loads its backgrounds with
:func:`files.load_cube`, simulates (:func:`lensing.simulate_mocks`), injects and renders the
viewer JPEGs, and writes its own files under the data folder with names unique to the batch:
``cubes/<batch>-arcs.npy`` (float16 arcs, nanomaggies; the background is *not* copied),
``cubes/<batch>-masks.npy`` (bit-packed arc masks) and ``images/<batch>.jpgs`` (the batch's
JPEGs back to back, see :func:`files.read_image`).  It never touches the store: the client adds
the returned rows.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..imaging import files as cubes
from ..imaging.survey import BANDS, PIXSCALE_ARCSEC
from .backgrounds import background_conditions, lens_overrides

__all__ = ["SOURCE", "SimulateTask", "BatchResult", "run_simulate_task"]

#: the ``source`` of the subjects ``lensfinder simulate`` adds
SOURCE = "simulate"


@dataclass(frozen=True)
class SimulateTask:
    """One batch: everything a worker needs, small enough to ship to a Dask worker."""

    data_dir: str
    name: str                      # unique file stem of the batch, e.g. "sim-g0-500-00003"
    ids: tuple[str, ...]           # subject ids for up to len(ids) accepted mocks
    seed: tuple[int, ...]          # entropy for numpy.random.default_rng
    scale: str
    backgrounds: pd.DataFrame      # rows of batches.background_pool()
    ranges: dict = field(default_factory=dict)
    cuts: dict = field(default_factory=dict)
    supersampling: int = 2
    pixscale_arcsec: float = PIXSCALE_ARCSEC


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


def run_simulate_task(task: SimulateTask) -> BatchResult:
    """Simulate, inject, render and write one batch; returns the subject rows (no store access)."""
    from . import lensing
    from ..imaging import render
    from .arcs import arcs_to_float16

    t0 = time.perf_counter()
    secs = {}
    backgrounds, pool, skipped = _load_backgrounds(task)
    m = len(pool)
    if m == 0:
        return BatchResult(task.name, pd.DataFrame(), dict(skipped), 0, 0, 0, {"load": time.perf_counter() - t0})
    npix = backgrounds.shape[-1]
    seeing, sky, given = background_conditions(backgrounds, pool)
    lens = pd.DataFrame([lens_overrides(p, npix, task.pixscale_arcsec) for p in pool["params"]])
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
        arcs16 = arcs_to_float16(batch.arcs)
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
