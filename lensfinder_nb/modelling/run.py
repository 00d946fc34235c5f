"""One subject from the store: its cube, the automatic fit (``lensfinder model``), and the page's Refine
in a separate process (so lenstronomy never loads in a page kernel and the page stays responsive)."""

from __future__ import annotations

import json
import math
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from ..errors import UserError
from ..imaging.survey import TYPICAL_SEEING_ARCSEC
from .fit import AUTOMATIC_SPREAD, PSO_ITERATIONS, PSO_PARTICLES, automatic_start, refine

__all__ = ["ModelError", "model_subject", "load_subject", "subject_psf", "refine_summary", "refine_in_background"]


class ModelError(UserError):
    """A subject that cannot be modelled: unknown, or without a readable cube."""


def model_subject(store, subject: str, *, n_particles: int = PSO_PARTICLES, n_iterations: int = PSO_ITERATIONS,
                  seed: int = 0) -> dict:
    """Start automatically (:func:`.fit.automatic_start`) and refine the lens model of ``subject``; returns the
    start, the fit's summary and the subject."""
    cube, row = load_subject(store, subject)
    psf = subject_psf(row)
    start = automatic_start(cube)
    fit = refine(cube, start, psf, n_particles=n_particles, n_iterations=n_iterations, seed=seed,
                 theta_e_spread=AUTOMATIC_SPREAD)
    return {"subject": subject, "start": start, **fit.summary()}


def load_subject(store, subject: str) -> tuple[np.ndarray, dict]:
    """The cube (3, ny, nx) of ``subject`` and its subjects row (a dict); :class:`ModelError` when the
    subject is unknown or has no readable cube."""
    from ..imaging import files as cubes

    frame = store.subjects().set_index("subject")
    if subject not in frame.index:
        raise ModelError(f"no subject {subject!r} in the store (see `lensfinder data` to load subjects)")
    row = frame.loc[subject].to_dict()
    ref = row.get("cube")
    if not isinstance(ref, str) or not ref:
        raise ModelError(f"subject {subject!r} has no cube (only a picture): a model needs the g, r, z cube")
    try:
        cube = cubes.load_cube(store.settings.data_dir, ref)
    except (OSError, ValueError, IndexError) as exc:
        raise ModelError(f"the cube of subject {subject!r} cannot be read ({ref}): {exc}") from None
    return np.asarray(cube, np.float64), row


def subject_psf(row: dict) -> np.ndarray:
    """PSF FWHM (g, r, z) arcsec from a subject's params (mocks keep ``psf_fwhm_<band>``), else the typical seeing per band."""
    params = row.get("params")
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            params = None
    out = []
    for band, typical in zip("grz", TYPICAL_SEEING_ARCSEC):
        v = params.get(f"psf_fwhm_{band}") if isinstance(params, dict) else None
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = math.nan
        out.append(v if math.isfinite(v) and v > 0 else typical)
    return np.array(out)


def refine_summary(cube: np.ndarray, start: dict, psf_fwhm_arcsec, n_particles: int, n_iterations: int) -> dict:
    """:func:`.fit.refine` from a person's model, as plain data: the summary plus the data, model and
    residual images (what the page shows).  Runs in the worker process."""
    fit = refine(cube, start, psf_fwhm_arcsec, n_particles=n_particles, n_iterations=n_iterations)
    return {**fit.summary(), "data": fit.data, "model_image": fit.model_image, "residual": fit.residual}


_POOL: ProcessPoolExecutor | None = None


def refine_in_background(cube: np.ndarray, start: dict, psf_fwhm_arcsec, *, n_particles: int = PSO_PARTICLES,
                         n_iterations: int = PSO_ITERATIONS) -> Future:
    """Run :func:`refine_summary` in this kernel's one worker process (spawned once, so lenstronomy
    loads there once); returns the future."""
    import multiprocessing as mp

    global _POOL
    if _POOL is not None and getattr(_POOL, "_broken", False):
        _POOL = None  # a worker died (killed, out of memory): start a fresh one
    if _POOL is None:
        _POOL = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    return _POOL.submit(refine_summary, np.asarray(cube), dict(start), np.asarray(psf_fwhm_arcsec, float),
                        int(n_particles), int(n_iterations))
