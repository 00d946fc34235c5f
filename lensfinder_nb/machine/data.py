"""Training data for the lens scorer: cubes from the store or freshly simulated, scaled for the network.

Input of the network (:func:`prepare`): from a g, r, z cube (3, 101, 101) in nanomaggies two
views of 48 x 48 pixels are stacked as channels:

* the centre 48 x 48 pixels at full resolution (12.6", where galaxy-scale arcs lie, theta_E 1-3");
* the centre 96 x 96 pixels binned 2 x 2 (25", so cluster-scale arcs at 4-10" stay in view).

Each channel is ``asinh(flux / (3 sigma_band)) / 3`` with fixed per-band sky sigmas
(:data:`lensfinder_nb.sim.sky.SKY_SIGMA_NMGY`), so colours and surface brightness keep their
meaning across images (no per-image normalisation).  Result: float32 (n, 6, 48, 48).

Augmentation (:func:`augment`): each image gets one of the 8 flips/90-degree rotations.

Example
-------
>>> import numpy as np
>>> x = prepare(np.zeros((2, 3, 101, 101), np.float32))
>>> x.shape, x.dtype.name
((2, 6, 48, 48), 'float32')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..imaging import files as cube_io
from ..sim import sky

__all__ = ["LabelledSet", "prepare", "augment", "dihedral", "store_training_set", "load_prepared",
           "synthetic_set", "synthetic_chunks", "data_hash", "CROP_PIX", "SCALES"]

CROP_PIX = 48
SCALES = (1, 2)
_SOFTENING = 3.0  # asinh softening in units of the band's sky sigma
_CHUNK = 256


@dataclass
class LabelledSet:
    """Prepared images with labels: ``x`` float32 (n, channel, 48, 48), ``y`` float32 (n,) 1 = lens,
    ``ids`` (n,) subject ids (or ``synthetic-<k>``), ``info`` one row per image (kind, theta_e_arcsec,
    src_mag_r, snr (best band), ...; NaN where unknown)."""

    x: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    info: pd.DataFrame

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index) -> LabelledSet:
        index = np.asarray(index)
        return LabelledSet(self.x[index], self.y[index], self.ids[index], self.info.iloc[index].reset_index(drop=True))

    @staticmethod
    def concat(parts: list[LabelledSet]) -> LabelledSet:
        parts = [p for p in parts if len(p)]
        return LabelledSet(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]),
                           np.concatenate([p.ids for p in parts]),
                           pd.concat([p.info for p in parts], ignore_index=True))


def prepare(cubes: np.ndarray, crop_pix: int = CROP_PIX, scales: tuple[int, ...] = SCALES) -> np.ndarray:
    """Network input from cubes (n, 3, ny, nx) in nanomaggies (g, r, z): float32 (n, 3 * len(scales), crop, crop).

    View ``s`` is the centre ``s * crop_pix`` pixels binned ``s x s``; every view is asinh-scaled
    per band with the survey's typical sky sigma.
    """
    cubes = np.asarray(cubes, dtype=np.float32)
    if cubes.ndim != 4 or cubes.shape[1] != 3:
        raise ValueError(f"cubes must have shape (n, 3, ny, nx), got {cubes.shape}")
    n, _, ny, nx = cubes.shape
    scale = (_SOFTENING * np.asarray(sky.SKY_SIGMA_NMGY, np.float32)).reshape(1, 3, 1, 1)
    views = []
    for s in scales:
        size = s * crop_pix
        if size > min(ny, nx):
            raise ValueError(f"a {size}-pixel view does not fit a {ny} x {nx} cube")
        y0, x0 = (ny - size) // 2, (nx - size) // 2
        v = cubes[:, :, y0:y0 + size, x0:x0 + size]
        if s > 1:
            v = v.reshape(n, 3, crop_pix, s, crop_pix, s).mean(axis=(3, 5))
        views.append(np.arcsinh(v / scale) / 3.0)
    return np.ascontiguousarray(np.concatenate(views, axis=1), dtype=np.float32)


def dihedral(x, k: int):
    """One of the 8 symmetries of the square (k = 0..7) on the last two axes; numpy or torch."""
    if hasattr(x, "rot90"):  # torch
        out = x.rot90(k % 4, dims=(-2, -1))
        return out.flip(-1) if k >= 4 else out
    out = np.rot90(x, k % 4, axes=(-2, -1))
    return out[..., ::-1] if k >= 4 else out


def augment(x, rng: np.random.Generator):
    """A random flip/90-degree rotation per image of a torch batch (n, c, h, w); returns a new tensor."""
    k = rng.integers(0, 8, len(x))
    out = x.clone()
    for g in range(1, 8):
        idx = np.flatnonzero(k == g)
        if len(idx):
            out[idx] = dihedral(x[idx], g)
    return out


def data_hash(ids) -> str:
    """A short hash of a set of subject ids (order-free): the data snapshot of a model."""
    h = hashlib.sha256("\n".join(sorted(map(str, ids))).encode())
    return h.hexdigest()[:16]


def load_prepared(store, frame: pd.DataFrame, progress: Callable | None = None) -> np.ndarray:
    """Prepared inputs for the subjects of ``frame`` (column ``cube``), loaded in chunks."""
    data_dir = store.settings.data_dir
    refs = frame["cube"].tolist()
    if any(r is None or (isinstance(r, float) and np.isnan(r)) for r in refs):
        missing = frame.loc[frame["cube"].isna(), "subject"].head(3).tolist()
        raise ValueError(f"subjects without a cube cannot be scored: {missing}")
    out = np.empty((len(refs), 3 * len(SCALES), CROP_PIX, CROP_PIX), np.float32)
    starts = range(0, len(refs), _CHUNK)
    if progress is not None:
        starts = progress(starts, total=len(starts), desc="loading cubes", unit="chunk")
    for s in starts:
        part = np.stack([cube_io.load_cube(data_dir, r) for r in refs[s:s + _CHUNK]])
        out[s:s + len(part)] = prepare(part)
    cube_io._open_npy.cache_clear()   # unmap the cube batches: they are not needed again here
    return out


def _params_info(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for kind, p in zip(frame["kind"], frame["params"]):
        d = json.loads(p) if isinstance(p, str) and p else {}
        snr = [d.get(f"snr_{b}") for b in sky.BANDS]
        snr = [v for v in snr if v is not None]
        rows.append({"kind": kind, "theta_e_arcsec": d.get("theta_e_arcsec", np.nan),
                     "src_mag_r": d.get("src_mag_r", np.nan), "snr": max(snr) if snr else np.nan})
    return pd.DataFrame(rows, columns=["kind", "theta_e_arcsec", "src_mag_r", "snr"])


def store_training_set(store, include_confirmed: bool = False, progress: Callable | None = None) -> LabelledSet:
    """Label 1 (mock lenses) and label 0 (non-lenses) subjects of ``store``, prepared.

    With ``include_confirmed``, unknown subjects that the crowd detected (online SWAP status
    ``detected``) are added as lenses.
    """
    subjects = store.subjects()
    frame = subjects[subjects["label"].isin([0, 1])].copy()
    frame["y"] = frame["label"].astype(np.float32)
    if include_confirmed:
        from ..scoring import load_votes, swap
        scores = swap(load_votes(store))
        confirmed = set(scores.loc[scores["status"] == "detected", "subject"])
        extra = subjects[(subjects["label"] == -1) & subjects["subject"].isin(confirmed)].copy()
        extra["y"] = np.float32(1.0)
        frame = pd.concat([frame, extra], ignore_index=True)
    frame = frame.sort_values("subject", ignore_index=True)
    if frame["y"].nunique() < 2:
        raise ValueError("training needs subjects with label 1 (mock lenses) and label 0 (non-lenses); "
                         "run `lensfinder demo` or ingest some")
    x = load_prepared(store, frame, progress)
    return LabelledSet(x, frame["y"].to_numpy(np.float32), frame["subject"].to_numpy(object), _params_info(frame))


# ---------------------------------------------------------------------- synthetic sets
#: shares of the non-lenses drawn by :func:`synthetic_set` (as the demo's label-0 subjects)
NONLENS_MIX = {"background": 0.40, "lookalike": 0.50, "artefact": 0.10}
CLUSTER_SHARE = 0.3


def _draw_nonlens_kinds(n: int, rng) -> list[str]:
    group = rng.choice(list(NONLENS_MIX), size=n, p=list(NONLENS_MIX.values()))
    out = []
    for g in group:
        if g == "background":
            out.append("galaxy" if rng.random() < 0.75 else "cluster")
        else:
            pool = sky.LOOKALIKE_KINDS if g == "lookalike" else sky.ARTEFACT_KINDS
            out.append(str(pool[rng.integers(len(pool))]))
    return out


def synthetic_set(n_lenses: int, n_nonlenses: int, seed: int, progress: Callable | None = None,
                  chunk: int = 250, cluster_share: float = CLUSTER_SHARE,
                  nonlens_kinds: list[str] | None = None, dtype=np.float32) -> LabelledSet:
    """Freshly simulated, prepared training images (nothing is written to disk or the store).

    Lenses: arcs from :func:`lensfinder_nb.sim.lensing.simulate_mocks` painted on red-galaxy fields
    (galaxy scale) or cluster cores (``cluster_share``), as the demo's mocks.  Non-lenses: the
    demo's label-0 mix (:data:`NONLENS_MIX`: plain fields, look-alikes, artefacts), or the
    field kinds in ``nonlens_kinds`` (cycled).  Made in chunks so memory stays ~``chunk`` cubes;
    ``dtype=np.float16`` halves the memory of the prepared images (training converts per batch).
    """
    parts = list(synthetic_chunks(n_lenses, n_nonlenses, seed, progress, chunk, cluster_share, nonlens_kinds,
                                  dtype))
    out = LabelledSet.concat(parts)
    out.ids = np.array([f"synthetic-{seed}-{i}" for i in range(len(out))], dtype=object)
    return out


def synthetic_chunks(n_lenses: int, n_nonlenses: int, seed: int, progress: Callable | None = None,
                     chunk: int = 250, cluster_share: float = CLUSTER_SHARE,
                     nonlens_kinds: list[str] | None = None, dtype=np.float32):
    """:func:`synthetic_set` chunk by chunk (a generator of :class:`LabelledSet`), to fill a preallocated array."""
    import warnings

    from ..sim import lensing

    rng = np.random.default_rng(seed)
    jobs = []
    for s in range(0, n_lenses, chunk):
        jobs.append(("lens", min(chunk, n_lenses - s)))
    for s in range(0, n_nonlenses, chunk):
        jobs.append(("nonlens", min(chunk, n_nonlenses - s)))
    order = rng.permutation(len(jobs))
    jobs = [jobs[i] for i in order]
    seeds = np.random.SeedSequence(seed).spawn(len(jobs) * 3)
    it = enumerate(jobs)
    if progress is not None:
        it = progress(it, total=len(jobs), desc="simulating training images", unit="chunk")
    for j, (what, k) in it:
        if what == "nonlens":
            if nonlens_kinds is None:
                kinds = _draw_nonlens_kinds(k, np.random.default_rng(seeds[3 * j]))
            else:
                kinds = [nonlens_kinds[i % len(nonlens_kinds)] for i in range(k)]
            table = sky.draw_fields(k, seeds[3 * j + 1], kind=kinds)
            x = prepare(sky.render_fields(table)).astype(dtype, copy=False)
            info = pd.DataFrame({"kind": sky.field_table(table)["kind"].to_numpy(), "theta_e_arcsec": np.nan,
                                 "src_mag_r": np.nan, "snr": np.nan})
            yield LabelledSet(x, np.zeros(k, np.float32), np.array([""] * k, object), info)
            continue
        n_cl = int(rng.binomial(k, cluster_share))
        for scale, want, s in (("galaxy", k - n_cl, seeds[3 * j + 1]), ("cluster", n_cl, seeds[3 * j + 2])):
            if want == 0:
                continue
            table = sky.draw_fields(want, np.random.default_rng(s), kind=scale)
            backgrounds = sky.render_fields(table)
            seeing, sigma = sky.conditions(table)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a rare shortfall just gives fewer mocks
                batch = lensing.simulate_mocks(backgrounds, seeing, sigma, want, np.random.default_rng(s),
                                               scale=scale)
            x = prepare(batch.images(backgrounds)).astype(dtype, copy=False)
            p = batch.params
            snr = p[[f"snr_{b}" for b in sky.BANDS]].max(axis=1).to_numpy()
            info = pd.DataFrame({"kind": f"mock:{scale}", "theta_e_arcsec": p["theta_e_arcsec"].to_numpy(float),
                                 "src_mag_r": p["src_mag_r"].to_numpy(float), "snr": snr})
            yield LabelledSet(x, np.ones(len(x), np.float32), np.array([""] * len(x), object), info)
            del backgrounds
