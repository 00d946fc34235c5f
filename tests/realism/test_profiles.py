"""Radial profiles, concentration, the radial probe and the pixel probe's recentring."""

from __future__ import annotations

import numpy as np

from lensfinder_nb.realism import profiles as pr
from lensfinder_nb.realism.probe import probe_auc, recentre_on_lens


def _lenses(rng, n, dy=0.0, dx=0.0, scale_px=3.0):
    """Exponential galaxies (r band brightest), centred at (50 + dy, 50 + dx), in white noise."""
    yy, xx = np.mgrid[0:101, 0:101].astype(float)
    cubes = rng.normal(0, 0.006, (n, 3, 101, 101)).astype(np.float32)
    for i in range(n):
        gal = np.exp(-np.hypot(yy - 50 - dy, xx - 50 - dx) / scale_px)
        flux = rng.uniform(5, 20)
        cubes[i] += (flux * np.array([0.3, 1.0, 2.0])[:, None, None] * gal / gal.sum()).astype(np.float32)
    return cubes


def test_profiles_are_flux_normalised_and_concentration_follows_the_size():
    rng = np.random.default_rng(0)
    small, big = _lenses(rng, 10, scale_px=2.0), _lenses(rng, 10, scale_px=5.0)
    p_small, p_big = pr.radial_profiles(small), pr.radial_profiles(big)
    edges = pr.RADII_ARCSEC
    area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    inside = edges[1:] <= 4.5 + 1e-9
    norm = pr.normalised_profiles(p_small)
    assert np.allclose((norm[:, :, inside] * area[inside]).sum(axis=2), 1.0)
    c_small, c_big = pr.concentration(p_small), pr.concentration(p_big)
    assert (c_small[:, 1] > c_big[:, 1] + 0.1).all()


def test_recentring_removes_a_systematic_offset_the_probe_would_see():
    rng = np.random.default_rng(1)
    centred, offset = _lenses(rng, 80), _lenses(rng, 80, dy=1.0, dx=0.6)
    moved = recentre_on_lens(offset)
    yy, xx = np.mgrid[0:101, 0:101]
    for cube in moved[:5]:
        w = np.clip(cube[1], 0, None) * (np.hypot(yy - 50, xx - 50) < 4)
        assert abs((w * yy).sum() / w.sum() - 50) < 0.15 and abs((w * xx).sum() / w.sum() - 50) < 0.15
    assert np.isfinite(moved).all()
    assert abs(np.std(moved[:, 0, :20, :20]) / np.std(offset[:, 0, :20, :20]) - 1) < 0.05  # noise kept
    as_cut = probe_auc(centred, offset, seed=2, recentre=False)
    recentred = probe_auc(centred, offset, seed=2)
    assert as_cut > 0.8 and abs(recentred - 0.5) < 0.15


def test_radial_probe_tells_sizes_apart_but_not_a_population_from_itself():
    rng = np.random.default_rng(3)
    a, b, big = _lenses(rng, 80), _lenses(rng, 80), _lenses(rng, 80, scale_px=5.0)
    assert abs(pr.radial_probe_auc(a, b, seed=1) - 0.5) < 0.15
    assert pr.radial_probe_auc(big, b, seed=1, normalise=True) > 0.9
