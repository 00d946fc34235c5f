"""Prior distributions of the mock-lens parameters: small frozen specs and one seeded, vectorised draw.

A prior in :data:`~lensfinder_nb.sim.params.DEFAULT_RANGES` is one of these specs, or a plain
``(low, high)`` tuple meaning :class:`Uniform` (so ``theta_e_arcsec=(2.0, 2.5)`` still overrides a
default). Truncated distributions are drawn by inverting the CDF over the kept interval, so no
draw is rejected and one draw uses exactly one uniform number per row (seeds stay reproducible).

>>> import numpy as np
>>> x = draw(np.random.default_rng(0), LogNormal(1.3, 0.35, 0.7, 3.2), 20_000)
>>> bool(0.7 <= x.min() and x.max() <= 3.2), round(float(np.median(x)), 1)
(True, 1.3)
>>> support(HalfNormal(0.05, 0.2)), support((1, 3))
((0.0, 0.2), (1.0, 3.0))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Uniform", "LogNormal", "HalfNormal", "Integers", "draw", "support", "median", "describe"]


@dataclass(frozen=True)
class Uniform:
    """Uniform on [lo, hi]."""

    lo: float
    hi: float


@dataclass(frozen=True)
class LogNormal:
    """ln(x) normal with median ``median`` and spread ``sigma_ln``, truncated to [lo, hi]."""

    median: float
    sigma_ln: float
    lo: float
    hi: float


@dataclass(frozen=True)
class HalfNormal:
    """|N(0, sigma)| truncated to [0, hi] (e.g. the external shear's strength)."""

    sigma: float
    hi: float


@dataclass(frozen=True)
class Integers:
    """Integers lo..hi inclusive, equally likely."""

    lo: int
    hi: int


def _spec(spec):
    if isinstance(spec, (Uniform, LogNormal, HalfNormal, Integers)):
        return spec
    lo, hi = spec
    return Uniform(float(lo), float(hi))


def draw(rng: np.random.Generator, spec, n: int) -> np.ndarray:
    """``n`` values of the prior ``spec`` (a spec above or a ``(low, high)`` tuple: uniform)."""
    from scipy.special import ndtr, ndtri

    s = _spec(spec)
    if isinstance(s, Uniform):
        return rng.uniform(s.lo, s.hi, n)
    if isinstance(s, Integers):
        return rng.integers(int(s.lo), int(s.hi) + 1, n)
    u = rng.random(n)
    if isinstance(s, LogNormal):
        a, b = ndtr((np.log([s.lo, s.hi]) - np.log(s.median)) / s.sigma_ln)
        return np.clip(s.median * np.exp(s.sigma_ln * ndtri(a + u * (b - a))), s.lo, s.hi)
    top = ndtr(s.hi / s.sigma)  # HalfNormal: the upper half of N(0, sigma) up to hi
    return np.clip(s.sigma * ndtri(0.5 + u * (top - 0.5)), 0.0, s.hi)


def support(spec) -> tuple[float, float]:
    """The smallest and largest value the prior can give."""
    s = _spec(spec)
    if isinstance(s, HalfNormal):
        return 0.0, float(s.hi)
    return float(s.lo), float(s.hi)


def median(spec) -> float:
    """The prior's median (of the truncated distribution)."""
    from scipy.special import ndtr, ndtri

    s = _spec(spec)
    if isinstance(s, (Uniform, Integers)):
        return 0.5 * (s.lo + s.hi)
    if isinstance(s, LogNormal):
        a, b = ndtr((np.log([s.lo, s.hi]) - np.log(s.median)) / s.sigma_ln)
        return float(s.median * np.exp(s.sigma_ln * ndtri(0.5 * (a + b))))
    return float(s.sigma * ndtri(0.5 + 0.5 * (ndtr(s.hi / s.sigma) - 0.5)))


def describe(spec) -> str:
    """One line for tables and error messages, e.g. ``lognormal(median 1.3, sigma_ln 0.35) in [0.7, 3.2]``."""
    s = _spec(spec)
    if isinstance(s, Uniform):
        return f"uniform [{s.lo:g}, {s.hi:g}]"
    if isinstance(s, Integers):
        return f"integers {s.lo}-{s.hi}"
    if isinstance(s, LogNormal):
        return f"lognormal(median {s.median:g}, sigma_ln {s.sigma_ln:g}) in [{s.lo:g}, {s.hi:g}]"
    return f"half-normal(sigma {s.sigma:g}) in [0, {s.hi:g}]"
