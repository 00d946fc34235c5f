"""Mocks for realism checks: the demo's simulator (:func:`~lensfinder_nb.sim.fresh.mock_lenses`) and noise matching."""

from __future__ import annotations

import numpy as np

from ..sim.fresh import Mocks, mock_lenses

__all__ = ["Mocks", "mock_lenses", "match_noise"]


def match_noise(cubes: np.ndarray, sigma_now: np.ndarray, sigma_target: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise so each cube's per-band sky sigma becomes ``sigma_target``.

    ``sigma_now`` (n, 3) and ``sigma_target`` (n, 3) or (3,); bands already noisier are left as they are.
    """
    extra = np.sqrt(np.clip(np.asarray(sigma_target, float) ** 2 - np.asarray(sigma_now, float) ** 2, 0, None))
    extra = np.broadcast_to(extra, (len(cubes), 3))
    noise = rng.standard_normal(cubes.shape).astype(np.float32)
    return (cubes + noise * extra[:, :, None, None].astype(np.float32)).astype(np.float32)
