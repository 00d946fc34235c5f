"""The mock-lens population: priors drawn as documented, sources placed as rings, arcs and doubles,
knotty sources whose clumps stay attached, and the detection cut down to faint arcs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

from lensfinder_nb.imaging import survey
from lensfinder_nb.sim import lensing as L
from lensfinder_nb.sim import priors
from lensfinder_nb.sim.galaxy import _galaxy_caustics
from lensfinder_nb.sim.params import BETA_OVER_THETA_E, DEFAULT_RANGES, SOURCE_SHARES, _inside
from lensfinder_nb.sim.source import MAX_CLUMPS, clump_arrays, component_fluxes, source_unit_flux

SKY = np.array([0.003, 0.006, 0.013])
SEEING = np.array([1.40, 1.28, 1.18])
DOCS = Path(__file__).resolve().parents[2] / "docs" / "realism.md"


@pytest.fixture(scope="module")
def draws():
    return L.draw_mock_params(3000, seed=21)


def _truncated_lognormal(median, sigma_ln, lo, hi):
    a, b = (np.log([lo, hi]) - np.log(median)) / sigma_ln
    return lambda x: stats.truncnorm(a, b, loc=np.log(median), scale=sigma_ln).cdf(np.log(x))


# ---------------------------------------------------------------- the prior specs
def test_prior_specs_draw_what_they_say():
    rng = np.random.default_rng(1)
    x = priors.draw(rng, priors.LogNormal(1.3, 0.35, 0.7, 3.2), 4000)
    assert stats.kstest(x, _truncated_lognormal(1.3, 0.35, 0.7, 3.2)).pvalue > 0.01
    assert 0.7 <= x.min() and x.max() <= 3.2
    assert np.median(x) == pytest.approx(priors.median(priors.LogNormal(1.3, 0.35, 0.7, 3.2)), abs=0.03)
    g = priors.draw(rng, priors.HalfNormal(0.05, 0.2), 4000)
    top = stats.norm.cdf(0.2 / 0.05)
    assert stats.kstest(g, lambda v: (stats.norm.cdf(v / 0.05) - 0.5) / (top - 0.5)).pvalue > 0.01
    assert g.min() >= 0 and g.max() <= 0.2
    k = priors.draw(rng, priors.Integers(1, 4), 4000)
    assert set(np.unique(k)) == {1, 2, 3, 4} and np.all(np.abs(np.bincount(k)[1:] / 4000 - 0.25) < 0.03)
    u = priors.draw(rng, (2.0, 2.5), 1000)
    assert u.min() >= 2.0 and u.max() <= 2.5
    assert priors.support(priors.LogNormal(1.3, 0.35, 0.7, 3.2)) == (0.7, 3.2)
    assert "lognormal" in priors.describe(DEFAULT_RANGES["galaxy"]["theta_e_arcsec"])


# ---------------------------------------------------------------- the galaxy-scale defaults
def test_einstein_radii_follow_the_observed_population(draws):
    te = draws["theta_e_arcsec"].to_numpy()
    assert 0.7 <= te.min() and te.max() <= 3.2
    assert 1.2 <= np.median(te) <= 1.4  # observed galaxy-scale lenses (docs/realism.md), not U(1, 3)'s 2.0
    assert 0.05 < np.mean(te < 0.9) < 0.2 and np.mean(te > 2.5) < 0.06
    assert stats.kstest(te, _truncated_lognormal(1.3, 0.35, 0.7, 3.2)).pvalue > 0.01


def test_lens_and_source_priors_follow_the_documented_distributions(draws):
    a = draws
    uniform = {"lens_q": (0.5, 1.0), "src_mag_r": (23.0, 26.0), "src_r_e_arcsec": (0.15, 0.5),
               "src_n_sersic": (0.5, 2.0), "src_q": (0.3, 1.0), "z_source": (1.0, 3.0)}
    values = {k: a[k] for k in uniform}
    values["g - r"], uniform["g - r"] = a["src_mag_g"] - a["src_mag_r"], (0.3, 1.3)
    values["r - z"], uniform["r - z"] = a["src_mag_r"] - a["src_mag_z"], (0.3, 1.1)
    for name, (lo, hi) in uniform.items():
        assert stats.kstest(values[name], stats.uniform(lo, hi - lo).cdf).pvalue > 0.01, name
    shear = np.hypot(a["gamma1"], a["gamma2"])
    assert shear.max() <= 0.2 and 0.025 < np.median(shear) < 0.04  # half-normal sigma 0.05: median 0.034
    assert stats.kstest(shear, lambda v: (stats.norm.cdf(v / 0.05) - 0.5) / (stats.norm.cdf(4) - 0.5)).pvalue > 0.01


def test_sources_are_rings_arcs_and_doubles_in_the_documented_shares(draws):
    a = draws
    shares = a["src_region"].value_counts(normalize=True)
    for kind, share in SOURCE_SHARES.items():
        assert abs(shares[kind] - share) < 3 * np.sqrt(share * (1 - share) / len(a)) + 0.005, kind
    b = a["src_beta_over_theta_e"].to_numpy()
    for kind, (lo, hi) in BETA_OVER_THETA_E.items():
        sel = (a["src_region"] == kind).to_numpy()
        assert lo - 1e-9 <= b[sel].min() and b[sel].max() <= hi + 1e-9, kind
    arcs = b[(a["src_region"] == "arc").to_numpy()]
    # uniform in area: (beta / theta_E)^2 is uniform over [0.1^2, 0.4^2]
    assert stats.kstest(arcs ** 2, stats.uniform(0.01, 0.15).cdf).pvalue > 0.01
    assert 0.6 < np.mean((b >= 0.1) & (b <= 0.4)) < 0.8  # mostly 0.1-0.4: arcs
    caustic, cut = _galaxy_caustics(a)
    px, py = a[["src_x_arcsec"]].to_numpy(), a[["src_y_arcsec"]].to_numpy()
    in_cut = _inside(px, py, *cut)[:, 0]
    in_caustic = _inside(px, py, *caustic)[:, 0]
    assert in_cut.all()  # every source is multiply imaged
    assert not in_caustic[(a["src_region"] == "double").to_numpy()].any()


def test_shares_can_be_changed_and_are_checked():
    rings = L.draw_mock_params(50, seed=2, source_shares={"ring": 1.0})
    assert (rings["src_region"] == "ring").all() and (rings["src_beta_over_theta_e"] <= 0.1).all()
    with pytest.raises(ValueError, match="source_shares"):
        L.draw_mock_params(5, seed=2, source_shares={"quad": 1.0})


# ---------------------------------------------------------------- knotty sources
def test_sources_have_one_to_four_clumps_with_the_documented_flux_share(draws):
    a = draws
    n = a["src_n_clumps"].to_numpy()
    assert set(np.unique(n)) == {1, 2, 3, 4}
    assert a["src_clump_frac"].between(0.1, 0.4).all()
    _, _, sigma, share = clump_arrays(a)
    present = np.arange(MAX_CLUMPS)[None, :] < n[:, None]
    np.testing.assert_array_equal(share > 0, present)
    np.testing.assert_allclose(share.sum(axis=1), 1.0, rtol=1e-12)
    assert (sigma[present] >= 0.06).all() and (sigma[present] <= 0.12).all()
    body, clumps = component_fluxes(a)
    total = 10 ** (-0.4 * (a[["src_mag_g", "src_mag_r", "src_mag_z"]].to_numpy() - 22.5))
    np.testing.assert_allclose(body + clumps, total, rtol=1e-12)
    assert (body > 0).all()
    np.testing.assert_allclose(clumps[:, 1] / total[:, 1], a["src_clump_frac"], rtol=1e-12)
    # clumps are bluer than the whole source: a larger share of g than of r, a smaller share of z
    assert (clumps[:, 0] / total[:, 0] >= clumps[:, 1] / total[:, 1] - 1e-12).all()
    assert (clumps[:, 2] / total[:, 2] <= clumps[:, 1] / total[:, 1] + 1e-12).all()


def test_clumps_stay_attached_to_the_body(draws):
    """Each clump lies inside the body's half-light ellipse, and the unlensed source is one blob."""
    a = draws.iloc[:200]
    dx, dy, sigma, share = clump_arrays(a)
    phi, q, r_e = (a[c].to_numpy()[:, None] for c in ("src_phi_rad", "src_q", "src_r_e_arcsec"))
    xr = np.cos(phi) * dx + np.sin(phi) * dy
    yr = -np.sin(phi) * dx + np.cos(phi) * dy
    radius = np.sqrt(q * xr ** 2 + yr ** 2 / q)
    assert (radius[share > 0] <= r_e.repeat(MAX_CLUMPS, 1)[share > 0] + 1e-12).all()
    body0, clump0 = component_fluxes(a)
    h = 0.02
    g = (np.arange(401) - 200) * h
    x, y = np.meshgrid(g, g)
    for k in range(len(a)):
        row = a.iloc[k]
        body, clumps = source_unit_flux(x, y, x0=0.0, y0=0.0, r_e=row["src_r_e_arcsec"],
                                        n_sersic=row["src_n_sersic"], q=row["src_q"], phi=row["src_phi_rad"],
                                        clump_dx=dx[k], clump_dy=dy[k], clump_sigma=sigma[k],
                                        clump_share=share[k], pixel_area_arcsec2=h * h)
        assert body.sum() == pytest.approx(1, abs=0.03) and clumps.sum() == pytest.approx(1, abs=1e-3)
        img = body * body0[k, 0] + clumps * clump0[k, 0]  # g band: the clumps' largest share
        _, blobs = ndimage.label(img > 0.02 * img.max())
        assert blobs == 1, (k, row["src_n_clumps"])


# ---------------------------------------------------------------- detection cut and conditions
@pytest.fixture(scope="module")
def accepted():
    rng = np.random.default_rng(0)
    backgrounds = rng.normal(0, 0.005, (4, 3, 101, 101)).astype(np.float32)
    seeing = np.array([[1.3, 1.2, 1.1], [1.6, 1.45, 1.3], [1.4, 1.3, 1.2], [1.2, 1.1, 1.0]])
    sky = SKY * np.array([[1.0], [1.5], [0.8], [1.2]])
    return L.simulate_mocks(backgrounds, seeing, sky, n=300, seed=5), seeing, sky


def test_snr_cut_is_honoured_and_many_accepted_arcs_are_faint(accepted):
    batch, _, _ = accepted
    p = batch.params
    best = p[["snr_g", "snr_r", "snr_z"]].max(axis=1)
    assert len(p) == 300 and (best >= 10).all() and (p["magnification"] >= 2).all()
    assert any(k.startswith("S/N(best) < 10") for k in batch.rejected)  # the cut does reject faint draws
    assert np.median(best) < 40 and np.mean(best < 20) > 0.25  # not the bright S/N 100-150 arcs of before
    assert 1.1 <= np.median(p["theta_e_arcsec"]) <= 1.6
    assert p["src_mag_r"].between(23, 26).all() and np.median(p["src_mag_r"]) < 24.5


def test_psf_and_snr_follow_each_mocks_background(accepted):
    """The arc is painted with its background's seeing, and its S/N is measured against that sky."""
    batch, seeing, sky = accepted
    p = batch.params.iloc[:40]
    bg = p["background"].to_numpy()
    assert len(set(bg)) > 1
    np.testing.assert_array_equal(p[["psf_fwhm_g", "psf_fwhm_r", "psf_fwhm_z"]].to_numpy(), seeing[bg])
    arcs, _ = L.paint_arcs(p, seeing[bg])
    np.testing.assert_allclose(L.arc_snr(arcs, sky[bg]), p[["snr_g", "snr_r", "snr_z"]].to_numpy(), rtol=1e-4)
    # the stored (noisy) arc is that arc plus its own shot noise only
    resid = batch.arcs[:40] - arcs
    gain = np.array(survey.ELECTRONS_PER_NMGY)
    bright = arcs > 0.05
    expected = np.sqrt(arcs / gain[None, :, None, None])
    assert 0.8 < np.std(resid[bright] / expected[bright]) < 1.2


# ---------------------------------------------------------------- the documentation
def test_every_default_prior_is_documented():
    text = DOCS.read_text()
    for scale in ("galaxy", "cluster"):
        for key, spec in DEFAULT_RANGES[scale].items():
            assert f"`{key}`" in text, f"{key} is not in docs/realism.md"
    for key, spec in DEFAULT_RANGES["galaxy"].items():
        if isinstance(spec, (tuple, priors.LogNormal, priors.HalfNormal, priors.Integers)):
            lo, hi = priors.support(spec)
            line = next(ln for ln in text.splitlines() if ln.startswith(f"| `{key}`"))
            assert all(re.search(rf"(?<![\d.]){re.escape(f'{v:g}')}(?![\d])", line) for v in (lo, hi)), (key, line)
