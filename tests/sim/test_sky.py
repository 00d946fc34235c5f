"""Synthetic DESI-like fields: seeded, realistic noise and seeing, calibrated fluxes, every kind renders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.imaging import survey
from lensfinder_nb.sim import sky, sky_draw


def _one_source(profile="sersic", mag=18.0, x=50.0, y=50.0, seeing=(1.4, 1.25, 1.15), **shape) -> pd.DataFrame:
    """A hand-made table: one component in one field (the table is the public input of render_fields)."""
    row = {"field": 0, "kind": "galaxy", "component": "test", "profile": profile, "mag_g": mag, "mag_r": mag,
           "mag_z": mag, "x_pix": x, "y_pix": y, "r_e_arcsec": 0.05, "n_sersic": 1.0, "q": 1.0, "pa_deg": 0.0,
           "noise_seed": 1}
    row.update(shape)
    for band, fwhm, sigma in zip(survey.BANDS, seeing, survey.SKY_SIGMA_NMGY):
        row[f"seeing_{band}_arcsec"], row[f"sky_{band}_nmgy"] = fwhm, sigma
    return pd.DataFrame([row])


def _fwhm_arcsec(image: np.ndarray) -> float:
    """FWHM along the row through the peak, by linear interpolation at half maximum."""
    y, x = np.unravel_index(image.argmax(), image.shape)
    cut = image[y] / image[y, x]
    above = np.flatnonzero(cut >= 0.5)
    lo, hi = above[0], above[-1]
    left = lo - (cut[lo] - 0.5) / (cut[lo] - cut[lo - 1])
    right = hi + (cut[hi] - 0.5) / (cut[hi] - cut[hi + 1])
    return (right - left) * survey.PIXSCALE_ARCSEC


def test_same_seed_same_fields_other_seed_other_fields():
    a, b, c = (sky.draw_fields(6, seed=s, kind="background") for s in (3, 3, 4))
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(sky.render_fields(a), sky.render_fields(b))
    assert not a["mag_r"].head(6).equals(c["mag_r"].head(6))


def test_a_subset_of_fields_renders_the_same_pixels():
    table = sky.draw_fields(5, seed=8, kind="lookalike")
    full = sky.render_fields(table, chunk=2)
    part = sky.render_fields(table[table["field"].isin([1, 4])])
    np.testing.assert_array_equal(part, full[[1, 4]])


def test_sky_noise_per_pixel_is_the_field_sigma():
    table = sky.draw_fields(8, seed=11, kind="galaxy")
    table = table[~table["profile"].isin(["mask", "column"])]  # the survey's defects are tested on their own
    noisy, clean = sky.render_fields(table), sky.render_fields(table, noise=False)
    _, sigma = sky.conditions(table)
    lo, hi = sky_draw.SKY_NOISE_RANGE
    for b in range(3):
        target = sigma[:, b]
        assert ((target >= lo * survey.SKY_SIGMA_NMGY[b]) & (target <= hi * survey.SKY_SIGMA_NMGY[b])).all()
        empty = clean[:, b] < target[:, None, None]  # faint pixels: the sources add no shot noise there
        measured = np.array([(noisy[i, b] - clean[i, b])[empty[i]].std() for i in range(len(target))])
        np.testing.assert_allclose(measured, target, rtol=0.06)


def test_seeing_is_drawn_in_the_desi_ranges():
    seeing, _ = sky.conditions(sky.draw_fields(200, seed=2))
    for b, (lo, hi) in enumerate(survey.SEEING_RANGE_ARCSEC):
        assert seeing[:, b].min() >= lo and seeing[:, b].max() <= hi
    assert (seeing[:, 0] > seeing[:, 2]).mean() > 0.95  # g is blurrier than z


@pytest.mark.parametrize("profile", ["sersic", "star"])
def test_a_point_source_has_the_seeing_of_its_band(profile):
    seeing = (1.45, 1.25, 1.12)
    cube = sky.render_fields(_one_source(profile, seeing=seeing), noise=False)[0]
    for b in range(3):
        assert _fwhm_arcsec(cube[b]) == pytest.approx(seeing[b], rel=0.06)


def test_magnitudes_are_calibrated_nanomaggies():
    cube = sky.render_fields(_one_source(mag=18.0, r_e_arcsec=0.6, n_sersic=1.0), noise=False)[0]
    assert cube.sum(axis=(1, 2)) == pytest.approx([10 ** (0.4 * 4.5)] * 3, rel=0.03)  # 63.1 nmgy
    assert survey.mag_to_nmgy([22.5, np.inf, np.nan]).tolist() == [1.0, 0.0, 0.0]


def test_cubes_are_in_fits_orientation():
    cube = sky.render_fields(_one_source(x=30.0, y=90.0), noise=False)[0]
    assert np.unravel_index(cube[1].argmax(), cube[1].shape) == (90, 30)  # row = y (north), column = x


@pytest.mark.parametrize("kind", sky.KINDS)
def test_every_kind_renders_a_red_centre_or_its_look_alike(kind):
    table = sky.draw_fields(3, seed=21, kind=kind)
    cubes = sky.render_fields(table)
    assert cubes.shape == (3, 3, 101, 101) and cubes.dtype == np.float32 and np.isfinite(cubes).all()
    assert set(table["kind"]) == {kind}
    centre = cubes[:, :, 45:56, 45:56].sum(axis=(2, 3))
    assert (centre[:, 1] > 0.5).all()  # a galaxy sits in the middle
    if kind not in ("spiral",):
        assert (centre[:, 2] > centre[:, 0]).all()  # and it is red: more z than g flux


def test_look_alikes_carry_their_feature_and_unknown_kinds_are_refused():
    comps = sky.draw_fields(10, seed=1, kind=list(sky.KINDS) + ["galaxy"]).groupby("kind")["component"].apply(set)
    assert "ring" in comps["ring"] and "arms" in comps["spiral"] and "tidal" in comps["merger"]
    assert "member" in comps["cluster"] and "trail" in comps["trail"] and "spikes" in comps["bright_star"]
    with pytest.raises(ValueError, match="unknown field kind"):
        sky.draw_fields(2, seed=0, kind="quasar")
    with pytest.raises(ValueError, match="3 entries for 2"):
        sky.draw_fields(2, seed=0, kind=["galaxy"] * 3)
