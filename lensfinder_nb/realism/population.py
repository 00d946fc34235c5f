"""Fresh mock lenses for realism checks: the same simulator as the demo, nothing written to disk."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Mocks", "mock_lenses", "match_noise"]


@dataclass
class Mocks:
    """Mock lenses (n, 3, ny, nx) float32 nanomaggies, the same cutouts without their arc, and one
    parameter row per mock (``theta_e_arcsec``, ``snr_g/r/z``, ``src_mag_r``, ...)."""

    images: np.ndarray
    backgrounds: np.ndarray
    params: pd.DataFrame


def mock_lenses(n: int, seed: int = 0, scale: str = "galaxy") -> Mocks:
    """``n`` mock lenses painted on fresh demo backgrounds (as the demo makes them)."""
    from ..sim import lensing, sky

    rng = np.random.default_rng(seed)
    table = sky.draw_fields(n, rng, kind=scale)
    backgrounds = sky.render_fields(table)
    seeing, sigma = sky.conditions(table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a rare shortfall just gives fewer mocks
        batch = lensing.simulate_mocks(backgrounds, seeing, sigma, n, rng, scale=scale)
    return Mocks(batch.images(backgrounds), backgrounds[batch.params["background"].to_numpy()],
                 batch.params.reset_index(drop=True))


def match_noise(cubes: np.ndarray, sigma_now: np.ndarray, sigma_target: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise so each cube's per-band sky sigma becomes ``sigma_target``.

    ``sigma_now`` (n, 3) and ``sigma_target`` (n, 3) or (3,); bands already noisier are left as they are.
    """
    extra = np.sqrt(np.clip(np.asarray(sigma_target, float) ** 2 - np.asarray(sigma_now, float) ** 2, 0, None))
    extra = np.broadcast_to(extra, (len(cubes), 3))
    noise = rng.standard_normal(cubes.shape).astype(np.float32)
    return (cubes + noise * extra[:, :, None, None].astype(np.float32)).astype(np.float32)
