"""The demo sky's population and survey effects, within the bounds docs/realism.md ("Demo sky") documents."""

from __future__ import annotations

import numpy as np
import pytest

from lensfinder_nb.imaging import survey
from lensfinder_nb.sim import sky, sky_defects, sky_draw, sky_galaxies


@pytest.fixture(scope="module")
def galaxy_table():
    return sky.draw_fields(3000, seed=101, kind="galaxy")


def _central(table):
    return table[table["component"] == "central"]


def test_lens_galaxies_are_massive_red_galaxies(galaxy_table):
    c = _central(galaxy_table)
    assert len(c) == 3000
    mag = c["mag_r"].to_numpy()
    assert mag.min() >= 16.0 and mag.max() <= 21.0
    # low-redshift (SLACS-like) and imaging-selected lenses: a wide spread, as the DR10 lens pictures
    # (16.3-19.9 for 5-95 %)
    assert 18.8 < np.median(mag) < 19.3 and 1.0 < mag.std() < 1.6
    g_r, r_z = (c["mag_g"] - c["mag_r"]).to_numpy(), (c["mag_r"] - c["mag_z"]).to_numpy()
    assert 1.5 < np.median(g_r) < 1.8 and np.percentile(g_r, 2) > 0.7 and np.percentile(g_r, 98) < 2.0
    assert 0.9 < np.median(r_z) < 1.2 and np.percentile(r_z, 2) > 0.45 and np.percentile(r_z, 98) < 1.7
    r_e = c["r_e_arcsec"].to_numpy()
    assert 1.2 < np.median(r_e) < 2.0 and np.percentile(r_e, 16) > 0.8 and np.percentile(r_e, 84) < 3.6
    assert 3.5 < np.median(c["n_sersic"]) < 4.5 and c["q"].between(0.5, 1.0).all()
    z = c["z"].to_numpy()
    lo, hi = sky_galaxies.LENS_Z_RANGE
    assert z.min() >= lo and z.max() <= hi
    # a mixture: about a fifth spectroscopically selected lenses near z = 0.2, the rest near z = 0.5
    assert 0.12 < (z < 0.3).mean() < 0.35 and 0.4 < np.median(z) < 0.5
    # colours and brightness follow the redshift: redder and fainter farther away
    assert np.corrcoef(z, r_z)[0, 1] > 0.8 and np.corrcoef(z, g_r)[0, 1] > 0.6
    assert np.corrcoef(z, mag)[0, 1] > 0.8


def test_a_tenth_of_lens_galaxies_are_bluer_discy_early_type_spirals(galaxy_table):
    c = _central(galaxy_table)
    z = c["z"].to_numpy()
    red_gr = np.interp(z, sky_galaxies.RED_SEQUENCE[:, 0], sky_galaxies.RED_SEQUENCE[:, 1])
    bluer = (c["mag_g"] - c["mag_r"]).to_numpy() < red_gr - 0.15 - 3 * 0.05  # beyond the red sequence's scatter
    assert 0.03 < bluer.mean() < sky_galaxies.LATE_TYPE_SHARE + 0.02
    assert np.median(c["n_sersic"].to_numpy()[bluer]) < 3.0 < np.median(c["n_sersic"].to_numpy()[~bluer])


def test_lens_galaxy_centres_are_not_too_bright():
    """The central 11 x 11 pixels hold what real lens galaxies do there (tens of nanomaggies at most)."""
    table = sky.draw_fields(200, seed=7, kind="galaxy")
    cubes = sky.render_fields(table[table["component"] == "central"], noise=False)
    centre = cubes[:, 1, 45:56, 45:56].sum(axis=(1, 2))
    assert 8.0 < np.median(centre) < 20.0  # real PS1 lens cubes: median 8; the old demo: 30
    # the brightest are low-redshift lenses (real PS1 calibration lenses: 95 % below 64, 98 % below 86)
    assert np.percentile(centre, 95) < 100.0


def test_satellites_are_red_and_blue_group_members_and_cluster_members_share_the_redshift(galaxy_table):
    members = galaxy_table[galaxy_table["component"] == "member"]
    per_field = members.groupby("field").size().reindex(range(3000), fill_value=0)
    assert 3.5 < per_field.mean() < 6.0 and per_field.var() > per_field.mean()  # richer and poorer groups
    hosts = _central(galaxy_table).set_index("field")
    assert np.allclose(members["z"].to_numpy(), hosts.loc[members["field"], "z"].to_numpy())
    dmag = members["mag_r"].to_numpy() - hosts.loc[members["field"], "mag_r"].to_numpy()
    assert (dmag > 0).all()
    # red members share the host's colour; a quarter (bright) to a half (faint) are blue star-forming discs
    g_r = (members["mag_g"] - members["mag_r"]).to_numpy()
    host_gr = (hosts["mag_g"] - hosts["mag_r"]).loc[members["field"]].to_numpy()
    blue = g_r < host_gr - 0.4
    assert 0.25 < blue.mean() < 0.5
    assert blue[dmag > 3.5].mean() > blue[dmag < 1.5].mean() + 0.1
    assert np.median(members["n_sersic"].to_numpy()[blue]) < 1.5 < np.median(members["n_sersic"].to_numpy()[~blue])
    assert np.median(np.abs(g_r - host_gr)[~blue]) < 0.15
    clusters = sky.draw_fields(200, seed=3, kind="cluster")
    rich = clusters[clusters["component"] == "member"].groupby("field").size()
    assert rich.mean() > 5
    bcg = _central(clusters).set_index("field")
    assert (bcg["r_e_arcsec"] >= 1.5).all() and bcg["mag_r"].median() < np.median(_central(galaxy_table)["mag_r"])


def test_field_galaxies_follow_number_counts_and_scale_with_the_area(galaxy_table):
    field = galaxy_table[galaxy_table["component"] == "field"]
    per = len(field) / 3000
    assert per == pytest.approx(sky_galaxies.FIELD_GALAXIES_PER_CUTOUT, rel=0.05)
    mag = field["mag_r"].to_numpy()
    # cumulative counts: about 12 % brighter than r = 22, about half brighter than r = 24
    assert 0.08 < (mag < 22).mean() < 0.17 and 0.4 < (mag < 24).mean() < 0.6
    # smaller when fainter
    assert field.loc[mag > 24, "r_e_arcsec"].median() < field.loc[mag < 22, "r_e_arcsec"].median()
    big = sky.draw_fields(500, seed=4, kind="galaxy", npix=201)
    assert (big["component"] == "field").sum() / 500 == pytest.approx(4 * per, rel=0.1)


def test_stars_are_sparse_and_bright_ones_saturate():
    table = sky.draw_fields(6000, seed=5, kind="galaxy")
    stars = table[table["component"] == "star"]
    assert len(stars) / 6000 == pytest.approx(sky_galaxies.STARS_PER_CUTOUT, rel=0.15)
    saturated = stars[stars["mag_r"] < sky_defects.SATURATION_MAG_R]
    assert 0.003 < len(saturated) / 6000 < 0.03  # occasional
    spikes = table[table["component"] == "spikes"]
    assert set(spikes["field"]) == set(saturated["field"])
    bleed = table[table["component"] == "bleed"]
    assert set(bleed["field"]) <= set(saturated["field"]) and len(bleed) > 0.4 * len(saturated)


def test_stars_have_moffat_wings():
    table = sky.draw_fields(1, seed=0, kind="galaxy")
    star = table.iloc[[0]].copy()
    star[["component", "profile", "mag_g", "mag_r", "mag_z", "x_pix", "y_pix"]] = ["star", "star", 17, 17, 17, 50, 50]
    img = sky.render_fields(star, noise=False)[0, 1]
    fwhm_px = star["seeing_r_arcsec"].iat[0] / survey.PIXSCALE_ARCSEC
    sigma = fwhm_px / 2.3548
    gauss_at_4fwhm = img[50, 50] * np.exp(-0.5 * (4 * fwhm_px / sigma) ** 2)
    assert img[50, 50 + int(round(4 * fwhm_px))] > 1000 * gauss_at_4fwhm
    assert img.sum() == pytest.approx(10 ** (0.4 * (22.5 - 17)), rel=0.03)


def test_depth_varies_from_field_to_field():
    _, sigma = sky.conditions(sky.draw_fields(2000, seed=6, kind="galaxy"))
    for b in range(3):
        ratio = sigma[:, b] / survey.SKY_SIGMA_NMGY[b]
        assert 0.15 < np.log(ratio).std() < 0.35
        lo, hi = sky_draw.SKY_NOISE_RANGE
        assert ratio.min() >= lo and ratio.max() <= hi
    deep = sigma[:, 1] / sigma[:, 2]  # the deep footprint is deeper in r than in z
    assert np.percentile(deep, 90) / np.percentile(deep, 10) > 1.3


def _blank(table):
    """The same fields without any light or defect: the sky noise alone."""
    blank = table.drop_duplicates("field").copy()
    blank[["mag_g", "mag_r", "mag_z"]] = np.inf
    blank["profile"] = "sersic"
    return blank


def _lag1(img):
    img = img - img.mean()
    num = (img[:, :-1] * img[:, 1:]).sum() + (img[:-1] * img[1:]).sum()
    den = 0.5 * ((img[:, :-1] ** 2 + img[:, 1:] ** 2).sum() + (img[:-1] ** 2 + img[1:] ** 2).sum())
    return num / den


def test_noise_correlation_is_the_drawn_one_in_the_documented_range():
    table = sky.draw_fields(60, seed=8, kind="galaxy")
    cubes = sky.render_fields(_blank(table))
    drawn = sky.field_table(table)["noise_corr"].to_numpy()
    lo, hi = sky_draw.NOISE_CORR_RANGE
    assert drawn.min() >= lo and drawn.max() <= hi and drawn.max() - drawn.min() > 0.2
    for b in range(3):
        measured = np.array([_lag1(c[b].astype(np.float64)) for c in cubes])
        np.testing.assert_allclose(measured, drawn, atol=0.04)
    # and the per-pixel noise is still the field's sigma
    _, sigma = sky.conditions(table)
    np.testing.assert_allclose(cubes.std(axis=(2, 3)), sigma, rtol=0.06)


def test_survey_edges_are_masked_with_zeros_at_the_documented_rate():
    table = sky.draw_fields(4000, seed=9, kind="background")
    edges = table[table["component"] == "edge"]
    rate = edges["field"].nunique() / 4000
    assert rate == pytest.approx(sky_defects.EDGE_MASK_RATE, abs=4 * np.sqrt(0.03 * 0.97 / 4000))
    some = edges["field"].unique()[:12]
    cubes = sky.render_fields(table[table["field"].isin(some)])
    yy, xx = np.mgrid[0:101, 0:101]
    centre = np.hypot(yy - 50, xx - 50) * survey.PIXSCALE_ARCSEC < 7.5
    for cube, (_, edge) in zip(cubes, edges[edges["field"].isin(some)].drop_duplicates("field").iterrows()):
        for b, band in enumerate(survey.BANDS):
            zeros = cube[b] == 0
            if band in edge["bands"]:
                assert zeros.sum() > 50 and not zeros[centre].any()
            else:
                assert zeros.sum() == 0


def test_bad_columns_are_offset_by_a_few_sky_sigma():
    table = sky.draw_fields(3000, seed=10, kind="galaxy")
    cols = table[table["component"] == "bad_column"]
    assert cols["field"].nunique() / 3000 == pytest.approx(sky_defects.BAD_COLUMN_RATE, abs=0.015)
    assert cols["amp"].abs().between(1.5, 4.0).all() and (cols["bands"].str.len() == 1).all()
    one = cols.iloc[0]
    b = survey.BANDS.index(one["bands"])
    f = table[table["field"] == one["field"]]
    with_col = sky.render_fields(f)[0, b]
    without = sky.render_fields(f[f["component"] != "bad_column"])[0, b]
    diff = with_col - without
    x = int(one["x_pix"])
    assert np.all(np.isclose(diff[:, x], 0) | np.isclose(diff[:, x], one["amp"] * f["sky_" + one["bands"] + "_nmgy"].iat[0],
                                                          rtol=1e-3))
    assert np.count_nonzero(diff) >= 10


def test_bright_star_fields_keep_spikes_bleed_and_a_ghost():
    table = sky.draw_fields(20, seed=12, kind="bright_star")
    comps = table.groupby("field")["component"].apply(set)
    assert all({"bright_star", "spikes", "bleed", "ghost"} <= c for c in comps)


def test_the_same_seed_draws_the_same_conditions_and_defects():
    a, b = sky.draw_fields(300, seed=13, kind="background"), sky.draw_fields(300, seed=13, kind="background")
    assert a.equals(b)
    c = sky.draw_fields(300, seed=14, kind="background")
    assert not np.array_equal(sky.field_table(a)["noise_corr"], sky.field_table(c)["noise_corr"])
