"""Who lives in a synthetic field: lens galaxies, cluster cores, their satellites, field galaxies and stars.

Component rows for :func:`lensfinder_nb.sim.sky_draw.draw_fields`, drawn from simple empirical
relations rather than a full galaxy model:

* **Red galaxies by redshift.**  Massive early-type galaxies are placed at a redshift ``z``; their
  observed g-r and r-z follow a passive red sequence in DECam bands (:data:`RED_SEQUENCE`: g-r
  climbs as the 4000 A break crosses g to r by z ~ 0.4, r-z keeps climbing as it reaches r), and
  their effective radius is a physical size (kpc) turned into arcsec with a flat LambdaCDM
  cosmology (H0 = 70, Omega_m = 0.3; :data:`KPC_PER_ARCSEC`).
* **Lens galaxies** (:func:`lens_galaxies`): z from a mixture (:data:`LENS_Z_MIXTURE`: a fifth near
  z = 0.2 like spectroscopically selected SLACS lenses, the rest near 0.5 like imaging-selected ones) in
  [0.08, 0.9]; total r linear in z through SLACS (z 0.2, r 17) and BELLS (z 0.5, r 19.5) lenses,
  N(0, 0.45) scatter (Faber-Jackson over 200-300 km/s), clipped to [16, 21]; R_e 9 kpc (0.22 dex
  scatter); ellipticals with Sersic n ~ N(4, 0.6) in [2.5, 6] and, for a tenth (:data:`LATE_TYPE_SHARE`),
  bluer discy early-type spirals with n 1.5-3; q ~ N(0.8, 0.12) in [0.5, 1].  Sources: docs/realism.md.
* **Cluster cores** (:func:`cluster_cores`): a brightest cluster galaxy (0.9 mag brighter than a lens
  galaxy at its redshift, R_e 14 kpc, n 4-6) and 4-16 red-sequence members at the same redshift,
  slightly bluer when fainter, spread over the field.
* **Satellites** (:func:`satellites`) of each lens galaxy: massive galaxies live in groups, which is
  why real lens cutouts show several neighbours; a Poisson number (mean ~2.5 in a 101-pixel field,
  varying from field to field), 0.3-5 mag fainter, scattered around the host with a scale of 6-10", one
  in five hosts with a close (blended) companion.  Most share the host's red-sequence colour; a quarter
  (bright) to a half (faint) are blue star-forming discs (:data:`SATELLITE_BLUE_SHARE`).
* **Field galaxies** (:func:`field_galaxies`): galaxy number counts in r to r = 25 (cumulative about
  1.1e4 deg^-2 at r < 22, 5.5e4 at r < 24, 1.1e5 at r < 25; slopes 0.45 bright / 0.31 faint), sizes
  shrinking with magnitude (R_e 0.45" at r = 22), a red population (red-sequence colours at 0.2 < z <
  1.1) and a blue star-forming one.
* **Stars** (:func:`stars`): about 0.4 per 101-pixel field on average (2 arcmin^-2; a lognormal
  density from field to field, as the galactic latitude changes), r 14-23.5 with counts rising by
  0.18 dex per magnitude (about 1 % of fields hold a saturated star, r < 16), colours along the
  stellar locus.

Counts scale with the field's area (``npix``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..imaging.survey import CUTOUT_SIZE_PX, PIXSCALE_ARCSEC

__all__ = ["RED_SEQUENCE", "KPC_PER_ARCSEC", "LENS_Z_MIXTURE", "LENS_Z_RANGE", "LENS_MAG_ANCHORS", "LENS_MAG_SCATTER",
           "LATE_TYPE_SHARE", "SATELLITE_BLUE_SHARE", "red_sequence_colours", "kpc_per_arcsec", "rows",
           "lens_redshifts", "lens_galaxies", "cluster_cores", "satellites", "field_galaxies", "stars"]

#: (z, g-r, r-z) of a passive red galaxy in DECam g, r, z (observed frame)
RED_SEQUENCE = np.array([
    (0.05, 0.80, 0.55), (0.10, 0.95, 0.60), (0.20, 1.22, 0.70), (0.30, 1.48, 0.83), (0.40, 1.62, 1.00),
    (0.50, 1.70, 1.16), (0.60, 1.75, 1.33), (0.70, 1.78, 1.49), (0.80, 1.80, 1.63), (1.00, 1.85, 1.85),
    (1.20, 1.85, 1.95)])
#: (z, proper kpc per arcsec), flat LambdaCDM with H0 = 70 km/s/Mpc, Omega_m = 0.3
KPC_PER_ARCSEC = np.array([(0.05, 0.99), (0.10, 1.84), (0.20, 3.30), (0.30, 4.45), (0.40, 5.36), (0.50, 6.10),
                           (0.60, 6.69), (0.70, 7.16), (0.80, 7.53), (1.00, 8.03), (1.20, 8.32)])

_SHAPE = ["x_pix", "y_pix", "r_e_arcsec", "n_sersic", "q", "pa_deg"]


def red_sequence_colours(z, rng, scatter: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Observed (g-r, r-z) of passive galaxies at redshift ``z``, with a small intrinsic scatter."""
    z = np.asarray(z, float)
    g_r = np.interp(z, RED_SEQUENCE[:, 0], RED_SEQUENCE[:, 1]) + rng.normal(0, scatter, z.shape)
    r_z = np.interp(z, RED_SEQUENCE[:, 0], RED_SEQUENCE[:, 2]) + rng.normal(0, scatter, z.shape)
    return g_r, r_z


def kpc_per_arcsec(z) -> np.ndarray:
    """Proper kpc per arcsec at redshift ``z`` (flat LambdaCDM, H0 = 70, Omega_m = 0.3)."""
    return np.interp(np.asarray(z, float), KPC_PER_ARCSEC[:, 0], KPC_PER_ARCSEC[:, 1])


def rows(fields, component, profile, mag_r, g_r, r_z, **shape) -> pd.DataFrame:
    """Component rows: magnitudes from r and two colours, shape columns broadcast to the rows."""
    mag_r = np.asarray(mag_r, dtype=float)
    df = pd.DataFrame({"field": np.asarray(fields, dtype=np.int64), "component": component, "profile": profile,
                       "mag_g": mag_r + g_r, "mag_r": mag_r, "mag_z": mag_r - r_z})
    for k, v in shape.items():
        df[k] = np.broadcast_to(np.asarray(v, dtype=float), len(df))
    return df


def _area(npix: int) -> float:
    return (npix / CUTOUT_SIZE_PX) ** 2


#: total r of a lens galaxy at redshift z: (z, r) anchors, linear between and beyond them (SLACS lenses at
#: z ~ 0.2 have r ~ 17, BELLS lenses at z ~ 0.5 r ~ 19.5: distance and k-correction dim a massive galaxy by
#: about 2.5 mag over that range); the scatter at fixed redshift: lens velocity dispersions of 200-300 km/s
#: span about 1.8 mag in luminosity (Faber-Jackson, L ~ sigma^4)
LENS_MAG_ANCHORS, LENS_MAG_SCATTER = ((0.2, 17.0), (0.5, 19.5)), 0.45


def _lens_mag(z, rng):
    (z0, m0), (z1, m1) = LENS_MAG_ANCHORS
    return m0 + (m1 - m0) / (z1 - z0) * (np.asarray(z) - z0) + rng.normal(0, LENS_MAG_SCATTER, np.shape(z))


#: lens redshifts: (share, mean, sigma) of a mixture of normals; known galaxy-scale lenses come from
#: spectroscopic selections at low redshift (SLACS: z_l 0.06-0.5, median ~0.2) and from imaging searches
#: farther out (SL2S, BELLS, DES, DECaLS: ~0.3-0.8)
LENS_Z_MIXTURE = ((0.2, 0.2, 0.07), (0.8, 0.5, 0.13))
#: lens redshifts are kept within this range
LENS_Z_RANGE = (0.08, 0.9)
#: share of lens galaxies that are early-type spirals or discy S0s rather than ellipticals (SLACS: about a
#: tenth of the lenses, Bolton et al. 2008 / Auger et al. 2009): bluer, lower Sersic index
LATE_TYPE_SHARE = 0.1


def lens_redshifts(rng, k: int) -> np.ndarray:
    """``k`` lens redshifts from :data:`LENS_Z_MIXTURE`, clipped to :data:`LENS_Z_RANGE`."""
    shares, means, sigmas = (np.array(c, float) for c in zip(*LENS_Z_MIXTURE))
    which = rng.choice(len(shares), size=k, p=shares / shares.sum())
    return np.clip(rng.normal(means[which], sigmas[which]), *LENS_Z_RANGE)


def lens_galaxies(rng, fields, c: float) -> pd.DataFrame:
    """A massive galaxy at the centre of each field (the would-be lens): mostly red ellipticals, a tenth
    bluer discy early-type spirals."""
    k = len(fields)
    z = lens_redshifts(rng, k)
    mag_r = np.clip(_lens_mag(z, rng), 16.0, 21.0)
    g_r, r_z = red_sequence_colours(z, rng)
    late = rng.random(k) < LATE_TYPE_SHARE
    # a star-forming disc adds blue light: g - r 0.15-0.45 and r - z 0.05-0.2 bluer than the red sequence
    g_r = g_r - late * rng.uniform(0.15, 0.45, k)
    r_z = r_z - late * rng.uniform(0.05, 0.2, k)
    r_e = 9.0 * 10 ** rng.normal(0, 0.22, k) / kpc_per_arcsec(z)
    n = np.where(late, rng.uniform(1.5, 3.0, k), np.clip(rng.normal(4.0, 0.6, k), 2.5, 6.0))
    return rows(fields, "central", "sersic", mag_r, g_r, r_z, x_pix=c + rng.normal(0, 0.4, k),
                y_pix=c + rng.normal(0, 0.4, k), r_e_arcsec=np.clip(r_e, 0.6, 5.0),
                n_sersic=n, q=np.clip(rng.normal(0.8, 0.12, k), 0.5, 1.0),
                pa_deg=rng.uniform(0, 180, k), z=z)


def _members(rng, hosts: pd.DataFrame, counts, dmag, radius_pix, colour_slope: float):
    """Red galaxies around each host row: ``counts`` each, ``dmag`` fainter, at ``radius_pix``."""
    owner = np.repeat(np.arange(len(hosts)), counts)
    m = len(owner)
    z = hosts["z"].to_numpy(float)[owner]
    g_r, r_z = red_sequence_colours(z, rng, 0.06)
    ang = rng.uniform(0, 2 * np.pi, m)
    host_re = hosts["r_e_arcsec"].to_numpy(float)[owner]
    r_e = host_re * 10 ** (-0.22 * dmag + rng.normal(0, 0.15, m))  # R_e ~ L^0.55
    return rows(hosts["field"].to_numpy()[owner], "member", "sersic", hosts["mag_r"].to_numpy(float)[owner] + dmag,
                g_r - colour_slope * dmag, r_z - 0.5 * colour_slope * dmag,
                x_pix=hosts["x_pix"].to_numpy(float)[owner] + radius_pix * np.cos(ang),
                y_pix=hosts["y_pix"].to_numpy(float)[owner] + radius_pix * np.sin(ang),
                r_e_arcsec=np.clip(r_e, 0.2, 3.0), n_sersic=rng.uniform(2.5, 4.5, m),
                q=np.clip(rng.normal(0.75, 0.15, m), 0.35, 1.0), pa_deg=rng.uniform(0, 180, m), z=z)


def cluster_cores(rng, fields, c: float, npix: int) -> list[pd.DataFrame]:
    """A brightest cluster galaxy at the centre and red-sequence members over the field."""
    k = len(fields)
    if k == 0:
        return []
    z = rng.uniform(0.15, 0.6, k)
    mag_r = np.clip(_lens_mag(z, rng) - 0.9, 15.0, 20.0)
    g_r, r_z = red_sequence_colours(z, rng)
    r_e = 14.0 * 10 ** rng.normal(0, 0.2, k) / kpc_per_arcsec(z)
    bcg = rows(fields, "central", "sersic", mag_r, g_r, r_z, x_pix=c + rng.normal(0, 0.4, k),
               y_pix=c + rng.normal(0, 0.4, k), r_e_arcsec=np.clip(r_e, 1.5, 8.0),
               n_sersic=rng.uniform(4.0, 6.0, k), q=rng.uniform(0.5, 0.95, k), pa_deg=rng.uniform(0, 180, k), z=z)
    # richer at low z (more of the cluster falls in the field's few hundred kpc), more in a bigger field
    counts = rng.poisson(np.clip(9.0 - 8.0 * (z - 0.15), 4.0, 9.0) * _area(npix)) + 1
    m = int(counts.sum())
    dmag = 0.5 + rng.exponential(1.6, m).clip(0, 4.5)
    radius = np.minimum(rng.exponential(0.22 * npix, m) + 6.0, 0.7 * npix)
    return [bcg, _members(rng, bcg, counts, dmag, radius, colour_slope=0.03)]


#: share of a group's satellites that are blue (star-forming), at the bright and the faint end of the
#: satellites (0.3 and 4.8 mag below the host): groups' red fraction falls towards faint satellites and
#: about a third to a half of satellites in galaxy groups are blue (Weinmann et al. 2006, SDSS groups)
SATELLITE_BLUE_SHARE = (0.25, 0.5)


def _blue_field_colours(rng, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Observed (g-r, r-z) of star-forming galaxies (the blue population of :func:`field_galaxies`)."""
    return np.clip(rng.normal(0.55, 0.2, k), -0.1, 1.2), np.clip(rng.normal(0.7, 0.25, k), -0.2, 1.5)


def _make_blue(rng, sats: pd.DataFrame, dmag: np.ndarray) -> pd.DataFrame:
    """Turn a share of satellites (growing with ``dmag``) into blue discs: star-forming colours, n ~ 1."""
    lo, hi = SATELLITE_BLUE_SHARE
    blue = rng.random(len(sats)) < np.interp(dmag, [0.3, 4.8], [lo, hi])
    k = int(blue.sum())
    g_r, r_z = _blue_field_colours(rng, k)
    r = sats.loc[blue, "mag_r"].to_numpy(float)
    sats.loc[blue, "mag_g"], sats.loc[blue, "mag_z"] = r + g_r, r - r_z
    sats.loc[blue, "n_sersic"] = rng.uniform(0.6, 1.6, k)
    sats.loc[blue, "q"] = rng.uniform(0.25, 1.0, k)
    return sats


def satellites(rng, hosts: pd.DataFrame, npix: int) -> pd.DataFrame:
    """Group members around galaxy-scale lens galaxies, and now and then a blended companion; red
    early-types and, more often among the faint ones, blue star-forming discs."""
    k = len(hosts)
    if k == 0:
        return pd.DataFrame()
    richness = 5.5 * np.exp(rng.normal(0, 0.6, k) - 0.18)  # mean 5.5 per 101-pixel field
    scale = rng.uniform(6.0, 10.0, k) / PIXSCALE_ARCSEC
    counts = rng.poisson(richness * _area(npix) ** 0.7)
    owner = np.repeat(np.arange(k), counts)
    radius = rng.gamma(2.0, scale[owner] / 2.0) + 4.0
    dmag = rng.uniform(0.3, 4.8, len(owner))
    close = rng.random(k) < 0.2
    sats = _make_blue(rng, _members(rng, hosts, counts, dmag, radius, colour_slope=0.03), dmag)
    pair_dmag = rng.uniform(0.5, 3.0, int(close.sum()))
    pairs = _members(rng, hosts[close], 1, pair_dmag,
                     rng.uniform(1.5, 4.0, int(close.sum())) / PIXSCALE_ARCSEC, colour_slope=0.03)
    return pd.concat([sats, pairs], ignore_index=True)


def _counts_mags(rng, k: int, lo: float, hi: float) -> np.ndarray:
    """r magnitudes following galaxy number counts: slope 0.45 below r = 21, 0.31 above."""
    m = np.linspace(lo, hi, 200)
    dens = np.where(m < 21.0, 10 ** (0.45 * (m - 21.0)), 10 ** (0.31 * (m - 21.0)))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(m))])
    return np.interp(rng.random(k) * cdf[-1], cdf, m)


#: galaxies per 101-pixel field (0.194 arcmin^2) with 18 < r < 25, from the counts above
FIELD_GALAXIES_PER_CUTOUT = 6.0


def field_galaxies(rng, fields, npix: int) -> pd.DataFrame:
    """Unrelated galaxies in front of and behind the lens, from r = 18 to r = 25."""
    owner = np.repeat(fields, rng.poisson(FIELD_GALAXIES_PER_CUTOUT * _area(npix), len(fields)))
    k = len(owner)
    mag_r = _counts_mags(rng, k, 18.0, 25.0)
    red = rng.random(k) < np.interp(mag_r, [19.0, 25.0], [0.4, 0.15])
    rg_r, rr_z = red_sequence_colours(rng.uniform(0.2, 1.1, k), rng, 0.08)
    bg_r, br_z = _blue_field_colours(rng, k)
    r_e = 0.45 * 10 ** (-0.1 * (mag_r - 22.0) + rng.normal(0, 0.18, k))
    return rows(owner, "field", "sersic", mag_r, np.where(red, rg_r, bg_r), np.where(red, rr_z, br_z),
                x_pix=rng.uniform(-8, npix + 7, k), y_pix=rng.uniform(-8, npix + 7, k),
                r_e_arcsec=np.clip(r_e, 0.1, 3.0),
                n_sersic=np.where(red, rng.uniform(2.5, 4.5, k), rng.uniform(0.6, 1.6, k)),
                q=np.where(red, rng.uniform(0.5, 1.0, k), rng.uniform(0.2, 1.0, k)), pa_deg=rng.uniform(0, 180, k))


#: stars per 101-pixel field (0.194 arcmin^2), 14 < r < 23.5, on average over the survey's sky
STARS_PER_CUTOUT = 0.4


def stars(rng, fields, npix: int) -> pd.DataFrame:
    """Stars along the stellar locus; the density changes from field to field (galactic latitude)."""
    density = STARS_PER_CUTOUT * np.exp(rng.normal(0, 0.8, len(fields)) - 0.32)
    owner = np.repeat(fields, rng.poisson(density * _area(npix)))
    k = len(owner)
    a, b = 10 ** (0.18 * 14.0), 10 ** (0.18 * 23.5)
    mag_r = np.log10(a + rng.random(k) * (b - a)) / 0.18
    g_r = rng.uniform(0.25, 1.55, k)
    r_z = np.where(g_r < 1.3, 0.45 * g_r, 0.6 + 2.5 * (g_r - 1.3)) + rng.normal(0, 0.05, k)
    return rows(owner, "star", "star", mag_r, g_r, r_z, x_pix=rng.uniform(-3, npix + 2, k),
                y_pix=rng.uniform(-3, npix + 2, k))
