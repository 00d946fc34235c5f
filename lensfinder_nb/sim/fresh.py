"""Fresh mock lenses on fresh synthetic backgrounds, in memory (nothing written to disk or the store)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Mocks", "mock_lenses"]


@dataclass
class Mocks:
    """Mock lenses (n, 3, ny, nx) float32 nanomaggies, the same cutouts without their arc, and one
    parameter row per mock (``theta_e_arcsec``, ``snr_g/r/z``, ``src_mag_r``, ...)."""

    images: np.ndarray
    backgrounds: np.ndarray
    params: pd.DataFrame


def mock_lenses(n: int, seed=0, scale: str = "galaxy", lens_only: bool = False) -> Mocks:
    """``n`` mock lenses painted on fresh demo backgrounds (as the demo makes them: mass on the lens
    galaxy, :func:`~lensfinder_nb.sim.backgrounds.central_lens_rows`); ``seed``: int,
    SeedSequence or Generator.  A rare shortfall of the quality cuts gives fewer than ``n``.
    ``lens_only``: the same mocks (same arcs, same noise) with the fields' other light left out
    (satellites, neighbours, stars, artefacts): a diagnostic of what that light costs a fit."""
    from . import lensing, sky
    from .backgrounds import central_lens_rows

    rng = np.random.default_rng(seed)
    table = sky.draw_fields(n, rng, kind=scale)
    backgrounds = sky.render_fields(table)
    seeing, sigma = sky.conditions(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a rare shortfall just gives fewer mocks
        # the mass sits on the field's lens galaxy and follows its shape, as on real cutouts
        batch = lensing.simulate_mocks(backgrounds, seeing, sigma, n, rng, scale=scale,
                                       lens_light=central_lens_rows(table))
    if lens_only:  # each field's noise has its own seed, so only the other light goes
        backgrounds = sky.render_fields(table[table["component"] == "central"])
    return Mocks(batch.images(backgrounds), backgrounds[batch.params["background"].to_numpy()],
                 batch.params.reset_index(drop=True))
