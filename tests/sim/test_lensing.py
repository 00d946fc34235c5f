"""Mock-lens physics: our fast arcs against lenstronomy itself, cuts, noise and the end-to-end batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.imaging import survey
from lensfinder_nb.sim import lensing as L
from lensfinder_nb.sim import lenstronomy_adapter as adapter
from lensfinder_nb.sim import priors
from lensfinder_nb.sim.galaxy import _galaxy_beta

SEEING = np.array([1.40, 1.28, 1.18])  # FWHM arcsec, g r z
SKY = np.array([0.003, 0.006, 0.013])  # nanomaggies per pixel, g r z


@pytest.fixture(scope="module")
def galaxy_params():
    return L.draw_mock_params(4, seed=11)


@pytest.fixture(scope="module")
def cluster_params():
    return L.draw_mock_params(2, seed=12, scale="cluster")


def _l1(a, b):
    return np.abs(a - b).sum() / np.abs(b).sum()


# ---------------------------------------------------------------- parameters
def test_draws_are_seeded():
    a, b = L.draw_mock_params(300, seed=3), L.draw_mock_params(300, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(L.draw_mock_params(300, seed=4))
    assert np.isfinite(a[["src_x_arcsec", "src_y_arcsec"]].to_numpy()).all()
    # the distributions themselves: tests/sim/test_priors.py


def test_ranges_are_overridable_and_checked():
    p = L.draw_mock_params(50, seed=1, theta_e_arcsec=(2.0, 2.5), src_mag_r=(22.0, 22.0))
    assert p["theta_e_arcsec"].between(2.0, 2.5).all() and (p["src_mag_r"] == 22.0).all()
    with pytest.raises(TypeError, match="unknown range"):
        L.draw_mock_params(2, seed=1, theta_e=(1, 2))
    with pytest.raises(ValueError, match="scale"):
        L.draw_mock_params(2, seed=1, scale="group")


def test_theta_e_from_velocity_dispersion():
    p = L.draw_mock_params(5, seed=2, sigma_v_kms=(250.0, 250.0))
    # theta_E = 4 pi (sigma_v / c)^2 D_ls / D_s, with astropy's distances (flat LCDM, H0 70, Om0 0.3)
    from astropy import constants, units
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    z_l, z_s = p["z_lens"].iloc[0], p["z_source"].iloc[0]
    ratio = cosmo.angular_diameter_distance(z_l, z_s) / cosmo.angular_diameter_distance(z_s)
    expected = (4 * np.pi * (250 * units.km / units.s / constants.c) ** 2 * ratio).decompose().value * 206264.806
    assert p["theta_e_arcsec"].iloc[0] == pytest.approx(expected, rel=1e-4)
    assert p["theta_e_arcsec"].between(0.3, 2.5).all() and p["theta_e_arcsec"].nunique() == 5


def test_cluster_draws_have_cluster_einstein_radii(cluster_params):
    p = cluster_params
    assert p["theta_e_arcsec"].between(4, 20).all()
    assert p["m200_msun"].between(1e14, 1e15).all() and p["c200"].between(4, 5).all()
    assert (p["nfw_rs_arcsec"] > 0).all() and (p["bcg_theta_e_arcsec"] > 0).all()


# ---------------------------------------------------------------- physics against lenstronomy
def test_own_sie_shear_ray_tracing_matches_lenstronomy(galaxy_params):
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-13, 13, (2, 2000))
    for _, row in galaxy_params.iterrows():
        ax, ay = adapter.deflection(row, x, y)
        cols = {k: np.float64(v) for k, v in row.items() if k not in ("scale", "src_region")}
        bx, by = _galaxy_beta(x, y, cols)
        np.testing.assert_allclose(bx, x - ax, atol=1e-6)
        np.testing.assert_allclose(by, y - ay, atol=1e-6)


def _n_images(row):
    x, _ = adapter.image_positions(row, row["src_x_arcsec"], row["src_y_arcsec"],
                                   search_window_arcsec=3 * row["theta_e_arcsec"],
                                   min_distance_arcsec=row["theta_e_arcsec"] / 20)
    return len(x)


@pytest.mark.parametrize("which", ["galaxy_caustic", "cluster_params"])
def test_caustic_sources_lie_inside_the_caustic(which, request):
    """With ``source_region="caustic"`` (the cluster default) the source centre has at least 3 images."""
    params = (L.draw_mock_params(2, seed=13, source_region="caustic") if which == "galaxy_caustic"
              else request.getfixturevalue(which))
    assert (params["src_region"] == "caustic").all()
    for _, row in params.iloc[:2].iterrows():
        assert _n_images(row) >= 3, (which, row["theta_e_arcsec"])


def test_population_sources_are_multiply_imaged():
    """Rings, arcs and doubles (the galaxy default) all lie inside the cut: at least 2 images."""
    p = L.draw_mock_params(60, seed=14)
    picks = [p.index[p["src_region"] == kind][0] for kind in ("ring", "arc", "double")]
    for k in picks:
        assert _n_images(p.loc[k]) >= 2, p.loc[k, ["src_region", "src_beta_over_theta_e"]].to_dict()


@pytest.mark.parametrize("which", ["galaxy_params", "cluster_params"])
def test_arcs_match_lenstronomy_reference(which, request):
    params = request.getfixturevalue(which)
    seeing = np.tile(SEEING, (len(params), 1)) * np.linspace(0.9, 1.1, len(params))[:, None]
    arcs, info = L.paint_arcs(params, seeing)
    assert arcs.dtype == np.float32 and arcs.shape == (len(params), 3, 101, 101)
    for k in range(len(params)):
        ref = L.lenstronomy_reference_arc(params.iloc[k], seeing[k], supersampling=2)
        np.testing.assert_allclose(arcs[k].sum(axis=(1, 2)), ref.sum(axis=(1, 2)), rtol=0.01)
        assert _l1(arcs[k], ref) < 0.02
        assert _l1(arcs[k], ref) < 1e-4  # same numerics: only float32 round-off differs


def test_knotty_and_smooth_sources_match_lenstronomy():
    """Four bright, bluer clumps (SERSIC_ELLIPSE + 4 GAUSSIAN in lenstronomy) and a smooth Sersic alike."""
    knotty = L.draw_mock_params(2, seed=15, src_n_clumps=priors.Integers(4, 4), src_clump_frac=(0.4, 0.4),
                                src_clump_dgr=(-0.4, -0.4))
    smooth = knotty.assign(src_n_clumps=0, src_clump_frac=0.0,
                           **{f"src_clump{k}_share": 0.0 for k in range(4)})
    a_knotty, _ = L.paint_arcs(knotty, SEEING)
    a_smooth, _ = L.paint_arcs(smooth, SEEING)
    for k in range(2):
        assert _l1(a_knotty[k], a_smooth[k]) > 0.05  # the clumps change the arc
        for arcs, params in ((a_knotty, knotty), (a_smooth, smooth)):
            ref = L.lenstronomy_reference_arc(params.iloc[k], SEEING, supersampling=2)
            assert _l1(arcs[k], ref) < 1e-4
            np.testing.assert_allclose(arcs[k].sum(axis=(1, 2)), ref.sum(axis=(1, 2)), rtol=1e-4)


def test_supersampling_2_is_converged_against_a_fine_reference(galaxy_params):
    row = galaxy_params.iloc[[0]]
    arcs, _ = L.paint_arcs(row, SEEING)
    fine = L.lenstronomy_reference_arc(row.iloc[0], SEEING, supersampling=6)
    np.testing.assert_allclose(arcs[0].sum(axis=(1, 2)), fine.sum(axis=(1, 2)), rtol=0.01)
    assert _l1(arcs[0], fine) < 0.02


def test_colour_is_a_flux_ratio_and_psf_shapes_broadcast(galaxy_params):
    a1, info = L.paint_arcs(galaxy_params, SEEING)
    a2, _ = L.paint_arcs(galaxy_params, np.tile(SEEING, (len(galaxy_params), 1)))
    np.testing.assert_array_equal(a1, a2)

    def ratio(params, info):
        unlensed = 10 ** (-0.4 * (params[["src_mag_g", "src_mag_r", "src_mag_z"]].to_numpy() - 22.5))
        return info[["flux_g", "flux_r", "flux_z"]].to_numpy() / unlensed

    # knotty sources: magnification is the r band's (clumps and body are magnified differently)
    np.testing.assert_allclose(ratio(galaxy_params, info)[:, 1], info["magnification"], rtol=0.01)
    assert (info["magnification"] > 2).all()
    # a smooth source has one shape in all bands: its colour is exactly a flux ratio
    smooth = L.draw_mock_params(4, seed=11, src_n_clumps=(0, 0))
    assert (smooth["src_clump_frac"] == 0).all()
    _, info_s = L.paint_arcs(smooth, SEEING)
    np.testing.assert_allclose(ratio(smooth, info_s), np.repeat(info_s[["magnification"]].to_numpy(), 3, 1),
                               rtol=0.01)


# ---------------------------------------------------------------- noise, S/N, masks, cuts
def test_arc_noise_is_the_arcs_shot_noise_only():
    arcs = np.zeros((2, 3, 64, 64), np.float32)
    arcs[1] = 0.5
    noisy = L.add_arc_noise(arcs, seed=5)
    assert noisy.dtype == np.float32
    np.testing.assert_array_equal(noisy[0], 0)
    gain = np.array(survey.ELECTRONS_PER_NMGY)
    np.testing.assert_allclose(noisy[1].std(axis=(1, 2)), np.sqrt(0.5 / gain), rtol=0.05)
    np.testing.assert_array_equal(noisy, L.add_arc_noise(arcs, seed=5))


def test_arc_snr_definition_and_masks():
    arcs = np.zeros((1, 3, 20, 20), np.float32)
    arcs[0, :, 5, 5:9] = 0.01  # 4 pixels above 1 sigma in g and r, below in z
    snr = L.arc_snr(arcs, SKY)
    np.testing.assert_allclose(snr[0], [0.04 / (0.003 * 2), 0.04 / (0.006 * 2), 0.0], rtol=1e-5)
    masks = L.arc_masks(arcs, SKY)
    assert masks.shape == (1, 20, 20) and masks.dtype == bool and masks.sum() == 4
    assert L.arc_masks(arcs, SKY, nsigma=2.0).sum() == 4 and L.arc_masks(arcs, SKY, nsigma=4.0).sum() == 0


def test_arc_visible_snr_counts_the_light_the_arc_lies_on():
    arcs = np.zeros((2, 3, 20, 20), np.float32)
    arcs[:, :, 5, 5:9] = 0.01
    empty = np.zeros((1, 3, 20, 20), np.float32)
    np.testing.assert_allclose(L.arc_visible_snr(arcs[:1], SKY, empty), L.arc_snr(arcs[:1], SKY), rtol=1e-6)
    galaxy = empty.copy()
    galaxy[0, :, 3:8, 3:12] = 0.5   # a core 50x brighter than the arc where two of its pixels lie
    snr = L.arc_visible_snr(arcs, SKY, np.concatenate([empty, galaxy]), which=[0, 1])
    assert snr[0, 0] == pytest.approx(0.04 / (0.003 * 2), rel=1e-5)
    assert snr[1, 0] == 0.0            # every pixel of the arc lies on 0.5 nmgy: 0.1 x 0.5 > 0.01
    galaxy[0, :, 3:8, 3:7] = 0.0        # two pixels now on the empty sky
    snr = L.arc_visible_snr(arcs[:1], SKY, galaxy)
    assert snr[0, 0] == pytest.approx(0.02 / (0.003 * np.sqrt(2)), rel=1e-5)
    np.testing.assert_allclose(L.arc_visible_snr(arcs[:1], SKY, galaxy, confusion=0.0), L.arc_snr(arcs[:1], SKY),
                               rtol=1e-6)   # no confusion: the sky-limited S/N


def test_quality_cuts_count_reasons():
    info = pd.DataFrame({"magnification": [10.0, 2.0, 2.0, 5.0], "snr_g": [30.0, 30.0, 5.0, 5.0],
                         "snr_r": [10.0, 10.0, 5.0, 25.0], "snr_z": [1.0, 1.0, 1.0, 1.0]})
    mask, why = L.quality_cuts(info)  # defaults: magnification >= 2, best-band S/N >= 10
    assert mask.tolist() == [True, True, False, True]
    assert why == {"S/N(best) < 10": 1}
    mask, why = L.quality_cuts(info, min_magnification=3, min_snr=20)
    assert mask.tolist() == [True, False, False, True]
    assert why == {"magnification < 3": 2, "S/N(best) < 20": 1}
    mask, why = L.quality_cuts(info, min_magnification=1.5, min_snr=20, snr_band="g")
    assert mask.tolist() == [True, True, False, False] and why == {"S/N(g) < 20": 2}
    info["snr_visible"] = [30.0, 4.0, 5.0, 12.0]   # the second arc is lost in its galaxy's light
    mask, why = L.quality_cuts(info)
    assert mask.tolist() == [True, False, False, True]
    assert why == {"S/N(best) < 10": 1, "S/N against the field's light < 10": 1}


# ---------------------------------------------------------------- end to end
def test_simulate_mocks_end_to_end():
    backgrounds = np.random.default_rng(0).normal(0, 0.005, (3, 3, 101, 101)).astype(np.float32)
    seeing = np.array([[1.3, 1.2, 1.1], [1.5, 1.4, 1.3], [1.4, 1.3, 1.2]])
    batch = L.simulate_mocks(backgrounds, seeing, SKY, n=12, seed=7, min_snr=30)
    p = batch.params
    assert len(p) == 12 and batch.arcs.shape == (12, 3, 101, 101) and batch.masks.shape == (12, 101, 101)
    assert batch.arcs.dtype == np.float32 and batch.masks.dtype == bool
    assert (p["magnification"] >= 2).all() and (p[["snr_g", "snr_r", "snr_z"]].max(axis=1) >= 30).all()
    assert p["background"].between(0, 2).all()
    np.testing.assert_array_equal(p[["psf_fwhm_g", "psf_fwhm_r", "psf_fwhm_z"]].to_numpy(), seeing[p["background"]])
    assert 12 <= batch.n_draws <= 12 + sum(batch.rejected.values())
    assert batch.n_draws > 12 and batch.rejected  # some draws fail S/N >= 30
    images = batch.images(backgrounds)
    np.testing.assert_allclose(images[0], backgrounds[p["background"].iloc[0]] + batch.arcs[0], rtol=1e-6)
    again = L.simulate_mocks(backgrounds, seeing, SKY, n=12, seed=7, min_snr=30)
    np.testing.assert_array_equal(again.arcs, batch.arcs)


def test_the_cuts_select_arcs_not_fields():
    """On a bright galaxy only the arcs that show are kept, and the field keeps its share of mocks."""
    rng = np.random.default_rng(3)
    backgrounds = rng.normal(0, 0.005, (2, 3, 101, 101)).astype(np.float32)
    yy, xx = np.mgrid[:101, :101]
    backgrounds[1] += (3.0 * np.exp(-np.hypot(xx - 50, yy - 50) / 3.0)).astype(np.float32)  # a bright core
    batch = L.simulate_mocks(backgrounds, SEEING, SKY, n=60, seed=9)
    p = batch.params
    assert len(p) == 60 and (p["snr_visible"] >= 10).all()
    on_galaxy = p["background"].to_numpy() == 1
    assert 15 <= on_galaxy.sum() <= 45                      # about half: the fields were drawn evenly
    assert batch.rejected.get("S/N against the field's light < 10", 0) > 0
    # what survives on the galaxy lies outside its core: wider than the arcs on the empty field
    assert p.loc[on_galaxy, "theta_e_arcsec"].median() > p.loc[~on_galaxy, "theta_e_arcsec"].median()


def test_simulate_mocks_warns_on_shortfall():
    backgrounds = np.zeros((1, 3, 101, 101), np.float32)
    with pytest.warns(RuntimeWarning, match="passed the cuts"):
        batch = L.simulate_mocks(backgrounds, SEEING, SKY, n=4, seed=1, max_draws_factor=2, min_magnification=1e6,
                                 min_snr=0)
    assert len(batch.params) == 0 and batch.n_draws == 8
    assert batch.rejected == {"magnification < 1e+06": 8}


def test_lenstronomy_is_imported_lazily():
    import subprocess
    import sys

    code = "import sys, lensfinder_nb.sim.lensing; print(any(m.startswith('lenstronomy') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_pack_arcs_float16_round_trip():
    arcs, _ = L.paint_arcs(L.draw_mock_params(2, seed=9), SEEING)
    noisy = L.add_arc_noise(arcs, seed=1)
    packed = L.pack_arcs(noisy)
    assert packed.dtype == np.float16 and packed.shape == noisy.shape and np.isfinite(packed).all()
    back = L.unpack_arcs(packed)
    np.testing.assert_allclose(back.sum(axis=(2, 3)), noisy.sum(axis=(2, 3)), rtol=1e-3)
    np.testing.assert_allclose(back, noisy, rtol=1e-3, atol=1e-7)


def test_given_light_orients_the_mass_with_the_lens_scatter():
    """With the light's shape given (``lens=``), the mass follows it within SLACS' scatter (10 deg,
    11 % in q); without it, the orientation is drawn uniform."""
    n = 2000
    lens = pd.DataFrame({"lens_phi_rad": np.full(n, 0.4), "lens_q": np.full(n, 0.7),
                         "lens_x_arcsec": np.full(n, 0.05), "lens_y_arcsec": np.full(n, np.nan)})
    p = L.draw_mock_params(n, 11, lens=lens)
    dphi = np.degrees((p["lens_phi_rad"] - 0.4 + np.pi / 2) % np.pi - np.pi / 2)
    assert abs(dphi.mean()) < 1.0 and 8.5 < dphi.std() < 11.5
    assert p["lens_q"].median() == pytest.approx(0.7, abs=0.01) and 0.06 < p["lens_q"].std() < 0.09
    assert (p["lens_q"] <= 1.0).all() and (p["lens_x_arcsec"] == 0.05).all()
    assert p["lens_y_arcsec"].std() > 0.01  # NaN keeps the draw
    free = L.draw_mock_params(n, 11)
    assert np.degrees(free["lens_phi_rad"]).std() > 40  # uniform on 0-180 deg


def test_fresh_mocks_put_the_mass_on_the_lens_galaxy():
    """Fresh mocks (validation, realism, benchmarks) paint the mass on the field's central galaxy and
    along its major axis, as the demo does."""
    from lensfinder_nb.sim import sky
    from lensfinder_nb.sim.backgrounds import central_lens_rows
    from lensfinder_nb.sim.fresh import mock_lenses

    m = mock_lenses(16, seed=7)
    # the fields mock_lenses drew: the same generator, the same first draw
    light = central_lens_rows(sky.draw_fields(16, np.random.default_rng(7), kind="galaxy"))
    light = light.iloc[m.params["background"].to_numpy()].reset_index(drop=True)
    np.testing.assert_allclose(m.params["lens_x_arcsec"], light["lens_x_arcsec"], atol=1e-9)
    np.testing.assert_allclose(m.params["lens_y_arcsec"], light["lens_y_arcsec"], atol=1e-9)
    dphi = np.degrees((m.params["lens_phi_rad"] - light["lens_phi_rad"] + np.pi / 2) % np.pi - np.pi / 2)
    assert np.median(np.abs(dphi)) < 15 and np.abs(dphi).max() < 45
    assert np.all(np.abs(m.params["lens_q"] / light["lens_q"] - 1) < 0.5)


def test_lens_only_mocks_keep_the_arcs_and_noise_and_drop_the_other_light():
    from lensfinder_nb.sim.fresh import mock_lenses

    full, bare = mock_lenses(8, seed=11), mock_lenses(8, seed=11, lens_only=True)
    pd.testing.assert_frame_equal(full.params, bare.params)
    # the same arcs on both (image - background), the same noise (the difference is noise-free light)
    np.testing.assert_allclose(full.images - full.backgrounds, bare.images - bare.backgrounds, atol=1e-5)
    other = (full.images - bare.images).astype(np.float64)
    assert other.max() > 0.05  # some field holds a neighbour or a star
    assert np.median(np.abs(other)) < 1e-3  # and most pixels hold only faint wings, far below the sky noise
