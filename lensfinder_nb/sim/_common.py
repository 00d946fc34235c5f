"""Lens-model constants and small random helpers shared by the mock-lens modules (survey constants
live in :mod:`lensfinder_nb.imaging.survey`)."""

from __future__ import annotations

import numpy as np

H0_KM_S_MPC, OMEGA_M0 = 70.0, 0.3  # flat LCDM for angles from masses and velocity dispersions
Q_MAX = 0.9999  # SIE axis ratio cap (the q -> 1 limit is 0/0 in closed form)
S_CORE = 1e-10  # lenstronomy's SIE core, keeps the centre finite


def _uniform(rng, spec, n):
    """``n`` draws of a prior: a ``(low, high)`` tuple (uniform) or a :mod:`~lensfinder_nb.sim.priors` spec."""
    from .priors import draw

    return draw(rng, spec, n)


def _shear(rng, spec, n):
    """External shear (gamma1, gamma2): strength from ``spec``, orientation uniform."""
    g = _uniform(rng, spec, n)
    ang = rng.uniform(0, np.pi, n)
    return g * np.cos(2 * ang), g * np.sin(2 * ang)
