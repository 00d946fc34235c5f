"""Constants and small random helpers shared by the mock-lens modules (see :mod:`lensfinder_nb.sim.lensing`)."""

from __future__ import annotations

import numpy as np

BANDS = ("g", "r", "z")
ZERO_POINT_MAG = 22.5
#: electrons per nanomaggy used for the arc's shot noise (g, r, z), DECaLS-like.
E_PER_NMGY = (1.1e4, 1.0e4, 1.2e4)
H0, OM0 = 70.0, 0.3
Q_MAX = 0.9999  # SIE axis ratio cap (the q -> 1 limit is 0/0 in closed form)
S_CORE = 1e-10  # lenstronomy's SIE core, keeps the centre finite


def _uniform(rng, rng_range, n):
    lo, hi = rng_range
    return rng.uniform(lo, hi, n)


def _shear(rng, rng_range, n):
    g = _uniform(rng, rng_range, n)
    ang = rng.uniform(0, np.pi, n)
    return g * np.cos(2 * ang), g * np.sin(2 * ang)
