"""Training data for the lens scorer: cubes from the store, simulated or from a folder of real lenses.

Everything here holds *raw crops* (:func:`~lensfinder_nb.machine.inputs.crop_raw`: the central 96 x 96
pixels, sky subtracted, float16 to halve the memory); the network input (:func:`prepare`, the two
views) is made per batch, after augmentation on raw fluxes.

The arc must be the only difference between the classes.  So simulated training sets are built
in *pairs*: each mock lens comes with the very same cutout without its arc as a non-lens
(:func:`synthetic_chunks`), and the store's mock subjects bring their backgrounds too
(:func:`paired_backgrounds`).  Hard negatives - rings, spiral arms, blue companions, mergers,
satellite trails, bright stars - complete the non-lenses, as in the demo's label-0 mix.

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

from ..errors import InvalidInput
from ..imaging import files as cube_io
from ..imaging.survey import BANDS
from ..sim import sky
from .inputs import CROP_PIX, RAW_PIX, SCALES, augment, crop_raw, dihedral, prepare, views  # noqa: F401

__all__ = ["LabelledSet", "prepare", "augment", "dihedral", "store_training_set", "load_prepared", "load_raw",
           "paired_backgrounds", "real_lens_set", "synthetic_set", "synthetic_chunks", "data_hash", "CROP_PIX",
           "SCALES"]

_CHUNK = 256


@dataclass
class LabelledSet:
    """Images with labels: ``x`` raw crops float16 or float32 (n, 3, 96, 96) in nanomaggies (network input:
    :func:`views`), ``y`` float32 (n,) 1 = lens, ``ids`` (n,) subject ids (or ``""``), ``info`` one row per
    image (kind, theta_e_arcsec, src_mag_r, snr (best band), ...; NaN where unknown)."""

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


def data_hash(ids) -> str:
    """A short hash of a set of subject ids (order-free): the data snapshot of a model."""
    h = hashlib.sha256("\n".join(sorted(map(str, ids))).encode())
    return h.hexdigest()[:16]


def _load(data_dir, refs: list, transform, shape: tuple, dtype, progress, desc: str) -> np.ndarray:
    out = np.empty((len(refs), *shape), dtype)
    starts = range(0, len(refs), _CHUNK)
    if progress is not None:
        starts = progress(starts, total=len(starts), desc=desc, unit="chunk")
    for s in starts:
        part = np.stack([cube_io.load_cube(data_dir, r) for r in refs[s:s + _CHUNK]])
        out[s:s + len(part)] = transform(part)
    cube_io._open_npy.cache_clear()   # unmap the cube batches: they are not needed again here
    return out


def _cube_refs(frame: pd.DataFrame) -> list:
    refs = frame["cube"].tolist()
    if any(r is None or (isinstance(r, float) and np.isnan(r)) for r in refs):
        missing = frame.loc[frame["cube"].isna(), "subject"].head(3).tolist()
        raise InvalidInput(f"subjects without a cube cannot be scored: {missing}")
    return refs


def load_prepared(store, frame: pd.DataFrame, progress: Callable | None = None) -> np.ndarray:
    """Network inputs (n, 6, 48, 48) for the subjects of ``frame`` (column ``cube``), loaded in chunks."""
    return _load(store.settings.data_dir, _cube_refs(frame), prepare, (3 * len(SCALES), CROP_PIX, CROP_PIX),
                 np.float32, progress, "loading cubes")


def load_raw(store, frame: pd.DataFrame, progress: Callable | None = None) -> np.ndarray:
    """Raw crops float16 (n, 3, 96, 96) for the subjects of ``frame`` (column ``cube``)."""
    return _load(store.settings.data_dir, _cube_refs(frame), crop_raw, (3, RAW_PIX, RAW_PIX), np.float16,
                 progress, "loading cubes")


def paired_backgrounds(store, frame: pd.DataFrame, progress: Callable | None = None) -> LabelledSet:
    """The backgrounds of the mock subjects in ``frame`` (their cube without the arc) as non-lenses."""
    refs = [cube_io.mock_parts(r)[1] for r in frame["cube"] if isinstance(r, str) and cube_io.mock_parts(r)]
    if not refs:
        return LabelledSet(np.empty((0, 3, RAW_PIX, RAW_PIX), np.float16), np.empty(0, np.float32),
                           np.empty(0, object), pd.DataFrame(columns=["kind"]))
    x = _load(store.settings.data_dir, refs, crop_raw, (3, RAW_PIX, RAW_PIX), np.float16, progress,
              "loading mock backgrounds")
    return LabelledSet(x, np.zeros(len(refs), np.float32), np.array([""] * len(refs), object),
                       pd.DataFrame({"kind": ["mock background"] * len(refs)}))


def real_lens_set(folder, repeat: int = 8) -> LabelledSet:
    """Real lens cubes of a folder (:func:`~lensfinder_nb.realism.reference.load_real_lenses`) as lenses,
    each ``repeat`` times (training augments every copy differently)."""
    from ..realism.reference import load_real_lenses

    real = load_real_lenses(folder)
    x = np.repeat(crop_raw(real.cubes).astype(np.float16), repeat, axis=0)
    info = pd.DataFrame({"kind": "real lens", "theta_e_arcsec": np.repeat(real.table["theta_e_arcsec"], repeat)})
    return LabelledSet(x, np.ones(len(x), np.float32), np.array([""] * len(x), object), info.reset_index(drop=True))


def _params_info(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for kind, p in zip(frame["kind"], frame["params"]):
        d = json.loads(p) if isinstance(p, str) and p else {}
        snr = [d.get(f"snr_{b}") for b in BANDS]
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
        raise InvalidInput("training needs subjects with label 1 (mock lenses) and label 0 (non-lenses); "
                         "run `lensfinder demo` or ingest some")
    x = load_raw(store, frame, progress)
    info = _params_info(frame).assign(cube=frame["cube"].to_numpy(object))
    return LabelledSet(x, frame["y"].to_numpy(np.float32), frame["subject"].to_numpy(object), info)


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
                  nonlens_kinds: list[str] | None = None, dtype=np.float32, paired_share: float = 0.0,
                  arc_boost: float = 1.0) -> LabelledSet:
    """Freshly simulated training images as raw crops (nothing is written to disk or the store).

    Lenses: arcs from :func:`lensfinder_nb.sim.lensing.simulate_mocks` painted on red-galaxy fields
    (galaxy scale) or cluster cores (``cluster_share``), as the demo's mocks; a share ``paired_share``
    of them also gives its cutout without the arc as a non-lens; with ``arc_boost`` > 1 half the lenses
    have their arc brightened by a factor log-uniform in 1-``arc_boost`` (a brighter source: the
    network must not learn that a lens's arc is faint).  Non-lenses: the demo's label-0 mix
    (:data:`NONLENS_MIX`: plain fields, look-alikes, artefacts), or the field kinds in
    ``nonlens_kinds`` (cycled).  Made in chunks so memory stays ~``chunk`` cubes.
    """
    parts = list(synthetic_chunks(n_lenses, n_nonlenses, seed, progress, chunk, cluster_share, nonlens_kinds,
                                  dtype, paired_share, arc_boost))
    out = LabelledSet.concat(parts)
    out.ids = np.array([f"synthetic-{seed}-{i}" for i in range(len(out))], dtype=object)
    return out


def _nonlens_chunk(k: int, kinds: list[str], seed, dtype) -> LabelledSet:
    table = sky.draw_fields(k, seed, kind=kinds)
    x = crop_raw(sky.render_fields(table)).astype(dtype, copy=False)
    info = pd.DataFrame({"kind": sky.field_table(table)["kind"].to_numpy(), "theta_e_arcsec": np.nan,
                         "src_mag_r": np.nan, "snr": np.nan})
    return LabelledSet(x, np.zeros(k, np.float32), np.array([""] * k, object), info)


def _lens_chunk(want: int, scale: str, seed, paired_share: float, dtype, arc_boost: float = 1.0) -> LabelledSet:
    from ..sim.fresh import mock_lenses

    rng = np.random.default_rng(seed)
    made = mock_lenses(want, rng, scale)
    p = made.params
    snr = p[[f"snr_{b}" for b in BANDS]].max(axis=1).to_numpy()
    images = made.images
    # half the lenses with their arc up to arc_boost times brighter (a brighter source; the arc's own shot
    # noise is scaled with it, a little more than Poisson's and far below the sky's)
    if arc_boost > 1.0:
        boost = np.where(rng.random(len(p)) < 0.5, np.exp(rng.uniform(0, np.log(arc_boost), len(p))), 1.0)
        images = made.backgrounds + boost[:, None, None, None].astype(np.float32) * (images - made.backgrounds)
        snr = snr * boost
    x = crop_raw(images).astype(dtype, copy=False)
    info = pd.DataFrame({"kind": f"mock:{scale}", "theta_e_arcsec": p["theta_e_arcsec"].to_numpy(float),
                         "src_mag_r": p["src_mag_r"].to_numpy(float), "snr": snr})
    lenses = LabelledSet(x, np.ones(len(x), np.float32), np.array([""] * len(x), object), info)
    pick = np.flatnonzero(rng.random(len(p)) < paired_share)
    if len(pick) == 0:
        return lenses
    # the same cutouts without their arcs: the arc is then the only difference between the classes
    bg = crop_raw(made.backgrounds[pick]).astype(dtype, copy=False)
    pairs = LabelledSet(bg, np.zeros(len(pick), np.float32), np.array([""] * len(pick), object),
                        pd.DataFrame({"kind": f"mock background:{scale}", "theta_e_arcsec": np.nan,
                                      "src_mag_r": np.nan, "snr": np.nan}, index=range(len(pick))))
    return LabelledSet.concat([lenses, pairs])


def synthetic_chunks(n_lenses: int, n_nonlenses: int, seed: int, progress: Callable | None = None,
                     chunk: int = 250, cluster_share: float = CLUSTER_SHARE,
                     nonlens_kinds: list[str] | None = None, dtype=np.float32, paired_share: float = 0.0,
                     arc_boost: float = 1.0):
    """:func:`synthetic_set` chunk by chunk (a generator of :class:`LabelledSet`), to fill a preallocated array."""
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
            yield _nonlens_chunk(k, kinds, seeds[3 * j + 1], dtype)
            continue
        n_cl = int(rng.binomial(k, cluster_share))
        for scale, want, s in (("galaxy", k - n_cl, seeds[3 * j + 1]), ("cluster", n_cl, seeds[3 * j + 2])):
            if want > 0:
                yield _lens_chunk(want, scale, s, paired_share, dtype, arc_boost)
