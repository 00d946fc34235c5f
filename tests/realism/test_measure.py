"""Realism statistics measured on cubes whose answer is known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lensfinder_nb.realism.measure import measure_cube, noise_correlation, sky_and_noise

PIX = 0.262


def _grid(n=101):
    yy, xx = np.mgrid[0:n, 0:n]
    return yy - (n - 1) / 2, xx - (n - 1) / 2


def _galaxy(flux_r=20.0, colours=(1.5, 0.9), r_e_pix=5.0):
    dy, dx = _grid()
    prof = np.exp(-np.hypot(dy, dx) / (r_e_pix / 1.678))
    prof /= prof.sum()
    g = flux_r * 10 ** (-0.4 * colours[0])
    z = flux_r * 10 ** (0.4 * colours[1])
    return np.stack([g * prof, flux_r * prof, z * prof])


def _arc(radius_arcsec, span_rad, flux_r, colours=(0.4, 0.2), centre_angle=0.0):
    dy, dx = _grid()
    r = np.hypot(dy, dx) * PIX
    ang = np.angle(np.exp(1j * (np.arctan2(dy, dx) - centre_angle)))
    prof = np.exp(-0.5 * ((r - radius_arcsec) / 0.25) ** 2) * (np.abs(ang) <= span_rad / 2)
    prof /= prof.sum()
    g = flux_r * 10 ** (-0.4 * colours[0])
    z = flux_r * 10 ** (0.4 * colours[1])
    return np.stack([g * prof, flux_r * prof, z * prof])


def _noise(rng, sigma=(0.003, 0.006, 0.013)):
    return rng.standard_normal((3, 101, 101)) * np.array(sigma)[:, None, None]


def test_sky_and_noise_ignore_sources_and_find_the_offset():
    rng = np.random.default_rng(1)
    cube = _noise(rng) + np.array([0.01, 0.02, 0.03])[:, None, None]
    cube[:, 5:9, 5:9] += 5.0   # a bright neighbour in the outer region
    sky, sigma = sky_and_noise(cube)
    np.testing.assert_allclose(sky, [0.01, 0.02, 0.03], atol=0.002)
    np.testing.assert_allclose(sigma, [0.003, 0.006, 0.013], rtol=0.08)


def test_noise_correlation_of_white_and_smoothed_noise():
    rng = np.random.default_rng(2)
    white = _noise(rng)
    assert abs(noise_correlation(white)) < 0.05
    # a [1, 2, 1] / 4 kernel along both axes: neighbour correlation (1/4*1/2*2) / (1/16*2 + 1/4) = 2/3
    w = rng.standard_normal((3, 103, 103))
    w = 0.25 * w[:, :-2] + 0.5 * w[:, 1:-1] + 0.25 * w[:, 2:]
    w = 0.25 * w[:, :, :-2] + 0.5 * w[:, :, 1:-1] + 0.25 * w[:, :, 2:]
    assert noise_correlation(w) == pytest.approx(2 / 3, abs=0.05)


def test_lens_photometry_recovers_magnitude_and_colours():
    cube = _galaxy(flux_r=10.0, colours=(1.5, 0.9)) + _noise(np.random.default_rng(3))
    s = measure_cube(cube)
    # nearly all of an exponential with r_e 1.3" lies inside 2"? no: about 80 %; the colours are exact
    assert 22.5 - 2.5 * math.log10(10.0) < s["lens_mag_r"] < 22.5 - 2.5 * math.log10(10.0) + 0.5
    assert s["lens_g_r"] == pytest.approx(1.5, abs=0.05)
    assert s["lens_r_z"] == pytest.approx(0.9, abs=0.05)
    assert s["lens_r_half_arcsec"] == pytest.approx(5.0 * PIX, abs=0.3)


def test_arc_radius_colour_and_completeness_follow_the_painted_arc():
    rng = np.random.default_rng(4)
    lens = _galaxy(flux_r=10.0)
    half = measure_cube(lens + _arc(1.8, math.pi, 1.5, (0.4, 0.2)) + _noise(rng))
    most = measure_cube(lens + _arc(1.8, 1.25 * math.pi, 1.5, (0.4, 0.2)) + _noise(rng))
    bare = measure_cube(lens + _noise(rng))
    assert half["theta_e_arcsec"] == pytest.approx(1.8, abs=0.3)
    assert half["arc_g_r"] == pytest.approx(0.4, abs=0.25)
    assert half["arc_snr"] > 8 > 3 > bare["arc_snr"]
    quarter = measure_cube(lens + _arc(1.8, 0.5 * math.pi, 1.5, (0.4, 0.2)) + _noise(rng))
    assert bare["ring_completeness"] <= 1 / 12 < quarter["ring_completeness"] < half["ring_completeness"]
    assert half["ring_completeness"] <= most["ring_completeness"]


def test_given_einstein_radius_sets_where_the_arc_is_looked_for():
    cube = _galaxy() + _arc(2.5, math.pi / 2, 1.0) + _noise(np.random.default_rng(5))
    right = measure_cube(cube, theta_e_arcsec=2.5)
    wrong = measure_cube(cube, theta_e_arcsec=0.6)     # looks at 0.5-1.46": the arc at 2.5" is outside
    assert right["theta_e_arcsec"] == 2.5 and wrong["theta_e_arcsec"] == 0.6
    assert right["arc_snr"] > 15 > 5 > wrong["arc_snr"]
    assert right["ring_completeness"] > wrong["ring_completeness"]
    # NaN means "not known": estimated from the image, as without the argument
    assert measure_cube(cube, theta_e_arcsec=math.nan)["theta_e_arcsec"] == pytest.approx(2.5, abs=0.3)
