"""The automatic guess's pieces on a synthetic cutout: a red lens, a blue ring, a neighbour."""

from __future__ import annotations

import numpy as np
import pytest

from lensfinder_nb.imaging.survey import PIXSCALE_ARCSEC
from lensfinder_nb.modelling.guess import automatic_guess, bright_companions, colour_theta_e, neighbour_mask


def _cutout(theta_e: float, seed: int = 0, lens_r_e: float = 1.2, arc_amp: float = 0.08,
            lens_amp: float = 2.0) -> np.ndarray:
    """101 x 101 pixels, g r z: a red de Vaucouleurs-like lens, a blue Gaussian ring of radius ``theta_e``
    (two arcs), a red neighbour 7" away, and sky noise."""
    rng = np.random.default_rng(seed)
    n = 101
    yy, xx = np.mgrid[0:n, 0:n]
    x, y = (xx - 50) * PIXSCALE_ARCSEC, (yy - 50) * PIXSCALE_ARCSEC
    r = np.hypot(x, y)
    # the same central brightness for any size (the default, 1.2", as before)
    lens = lens_amp * np.exp(-7.67 * (((r + 0.05) / lens_r_e) ** 0.25 - (0.05 / lens_r_e) ** 0.25 + (0.05 / 1.2) ** 0.25))
    angle = np.arctan2(y, x)
    arcs = arc_amp * np.exp(-0.5 * ((r - theta_e) / 0.3) ** 2) * (np.cos(angle) ** 2)
    neighbour = 0.6 * np.exp(-0.5 * (np.hypot(x - 5.0, y - 5.0) / 0.5) ** 2)
    colours = {"lens": (0.3, 1.0, 1.6), "arcs": (1.0, 0.8, 0.6), "neighbour": (0.4, 1.0, 1.5)}
    cube = np.stack([colours["lens"][b] * lens + colours["arcs"][b] * arcs + colours["neighbour"][b] * neighbour
                     for b in range(3)])
    return cube + rng.normal(0, 0.004, cube.shape) + 0.01


@pytest.mark.parametrize("theta_e", [1.0, 1.6, 2.4])
def test_colour_subtraction_finds_the_ring_radius_under_a_bright_lens(theta_e):
    cube = _cutout(theta_e)
    assert colour_theta_e(cube, (50.0, 50.0)) == pytest.approx(theta_e, rel=0.1)
    assert automatic_guess(cube)["theta_e_arcsec"] == pytest.approx(theta_e, rel=0.1)


def test_no_blue_light_gives_no_radius():
    cube = _cutout(1.5)
    red_only = cube.copy()
    rng = np.random.default_rng(1)
    red_only[0] = 0.3 * (cube[1] - 0.01) + 0.01 + rng.normal(0, 0.004, cube[0].shape)  # g is r scaled: no colour
    assert np.isnan(colour_theta_e(red_only, (50.0, 50.0)))


def test_neighbour_mask_hides_the_neighbour_and_keeps_the_arcs():
    cube = _cutout(1.6)
    keep = neighbour_mask(cube)
    neighbour_px = (50 + round(5.0 / PIXSCALE_ARCSEC), 50 + round(5.0 / PIXSCALE_ARCSEC))
    arc_px = (50, 50 + round(1.6 / PIXSCALE_ARCSEC))
    assert not keep[neighbour_px] and keep[arc_px] and keep[50, 50]
    assert keep.mean() > 0.9  # only the neighbour goes


def test_the_lens_light_size_starts_near_the_half_light_radius():
    # lenses as bright as real ones (r ~ 18-19): the light within 5" is the lens's, not the noise's
    small = automatic_guess(_cutout(1.6, lens_r_e=0.6, arc_amp=0.0, lens_amp=100.0))
    big = automatic_guess(_cutout(1.6, lens_r_e=2.0, arc_amp=0.0, lens_amp=100.0))
    assert 0.3 <= small["light_r_e_arcsec"] < big["light_r_e_arcsec"] <= 5.0
    assert big["light_r_e_arcsec"] > 1.5 * small["light_r_e_arcsec"]


@pytest.mark.parametrize("radius", [0.9, 1.6, 2.5])
def test_residual_arc_radius_finds_a_ring_and_ignores_noise(radius):
    from lensfinder_nb.sim.lenstronomy_adapter import residual_arc_radius

    rng = np.random.default_rng(3)
    n = 41
    yy, xx = np.mgrid[0:n, 0:n]
    r = np.hypot(xx - 20, yy - 20) * PIXSCALE_ARCSEC
    noise = rng.normal(0, 1, (n, n))
    ring = 4.0 * np.exp(-0.5 * ((r - radius) / 0.25) ** 2)
    assert residual_arc_radius(noise + ring, (0.0, 0.0), PIXSCALE_ARCSEC) == pytest.approx(radius, rel=0.1)
    # the centre is where the radius is measured from
    shifted = np.roll(noise + ring, 4, axis=1)
    assert residual_arc_radius(shifted, (4 * PIXSCALE_ARCSEC, 0.0), PIXSCALE_ARCSEC) == pytest.approx(radius, rel=0.1)
    assert np.isnan(residual_arc_radius(noise * 0.3, (0.0, 0.0), PIXSCALE_ARCSEC))


def test_bright_companions_finds_satellites_not_the_lens_its_ring_or_faint_spots():
    cube = _cutout(1.5)
    assert bright_companions(cube) == []  # the lens, its ring of arcs, the neighbour 7" out
    yy, xx = np.mgrid[0:101, 0:101]
    x, y = (xx - 50) * PIXSCALE_ARCSEC, (yy - 50) * PIXSCALE_ARCSEC
    spot = lambda x0, y0, a: a * np.exp(-0.5 * ((x - x0) ** 2 + (y - y0) ** 2) / 0.4 ** 2)  # noqa: E731
    red = np.array([0.4, 1.0, 1.5])[:, None, None]
    busy = cube + red * (spot(-2.0, 1.0, 0.3) + spot(1.5, -2.5, 0.6))
    found = bright_companions(busy)
    assert len(found) == 2
    # brightest first, each within a pixel and a half of its spot
    assert np.hypot(found[0][0] - 1.5, found[0][1] + 2.5) < 0.4 and np.hypot(found[1][0] + 2.0, found[1][1] - 1.0) < 0.4
    # a spot as faint as an arc's brightest pixel is not a companion
    assert bright_companions(cube + red * spot(-2.0, 1.0, 0.02)) == []
