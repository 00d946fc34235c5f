"""A lens model as people and the fit share it: SIE + external shear, a Sersic source, a Sersic lens light.

Angles in arcsec with x along the cube's columns and y along its rows, both from the cutout centre
(north up, east to the left on the rendered images); position angles in radians from +x towards +y,
the conventions of :mod:`lensfinder_nb.sim.paint`.  Keys are the mock parameter columns, so a model
paints with :func:`~lensfinder_nb.sim.paint.paint_arcs` as it is.

>>> m = checked_model({"theta_e_arcsec": 1.5})
>>> m["lens_q"], m["src_r_e_arcsec"]
(1.0, 0.3)
>>> checked_model({"theta_e_arcsec": -1})
Traceback (most recent call last):
...
lensfinder_nb.errors.InvalidInput: theta_e_arcsec must be in [0.1, 30] (got -1.0)
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..errors import InvalidInput

__all__ = ["PERSON_KEYS", "MODEL_KEYS", "DEFAULT_MODEL", "RANGES", "checked_model"]

#: what a person sets on the modelling page
PERSON_KEYS = ("theta_e_arcsec", "lens_q", "lens_phi_rad", "lens_x_arcsec", "lens_y_arcsec", "gamma1", "gamma2",
               "src_x_arcsec", "src_y_arcsec")

#: every parameter of a full model (the fit's)
MODEL_KEYS = PERSON_KEYS + ("src_r_e_arcsec", "src_n_sersic", "src_q", "src_phi_rad",
                            "light_r_e_arcsec", "light_n_sersic", "light_q", "light_phi_rad")

#: values of a parameter nobody set: a round lens without shear, a small disc-like source behind its
#: centre, a de Vaucouleurs-like lens light of 1"
DEFAULT_MODEL = {"theta_e_arcsec": 1.5, "lens_q": 1.0, "lens_phi_rad": 0.0, "lens_x_arcsec": 0.0,
                 "lens_y_arcsec": 0.0, "gamma1": 0.0, "gamma2": 0.0, "src_x_arcsec": 0.05, "src_y_arcsec": 0.0,
                 "src_r_e_arcsec": 0.3, "src_n_sersic": 1.0, "src_q": 1.0, "src_phi_rad": 0.0,
                 "light_r_e_arcsec": 1.0, "light_n_sersic": 4.0, "light_q": 1.0, "light_phi_rad": 0.0}

#: accepted range of each parameter (inclusive); positions are limited to a 101-pixel cutout's half side
RANGES = {"theta_e_arcsec": (0.1, 30.0), "lens_q": (0.2, 1.0), "lens_phi_rad": (-2 * math.pi, 2 * math.pi),
          "lens_x_arcsec": (-15.0, 15.0), "lens_y_arcsec": (-15.0, 15.0), "gamma1": (-0.5, 0.5),
          "gamma2": (-0.5, 0.5), "src_x_arcsec": (-30.0, 30.0), "src_y_arcsec": (-30.0, 30.0),
          "src_r_e_arcsec": (0.01, 10.0), "src_n_sersic": (0.3, 10.0), "src_q": (0.1, 1.0),
          "src_phi_rad": (-2 * math.pi, 2 * math.pi), "light_r_e_arcsec": (0.01, 30.0),
          "light_n_sersic": (0.3, 10.0), "light_q": (0.1, 1.0), "light_phi_rad": (-2 * math.pi, 2 * math.pi)}


def checked_model(values: Mapping[str, Any]) -> dict[str, float]:
    """A full model from ``values`` (missing keys take :data:`DEFAULT_MODEL`); unknown keys, values that
    are not finite numbers or out of :data:`RANGES` raise :class:`InvalidInput`."""
    unknown = set(values) - set(MODEL_KEYS)
    if unknown:
        raise InvalidInput(f"unknown lens-model parameter(s) {sorted(unknown)}; known: {list(MODEL_KEYS)}")
    out = {}
    for key in MODEL_KEYS:
        raw = values.get(key, DEFAULT_MODEL[key])
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise InvalidInput(f"{key} must be a number (got {raw!r})") from None
        lo, hi = RANGES[key]
        if not (math.isfinite(v) and lo <= v <= hi):
            raise InvalidInput(f"{key} must be in [{lo:g}, {hi:g}] (got {v!r})")
        out[key] = v
    return out
