"""After painting: the arc's shot noise, its S/N and mask, quality cuts, and float16 packing for storage."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..imaging.survey import BANDS, ELECTRONS_PER_NMGY

__all__ = ["NOISE_FLOOR_NMGY", "MIN_SNR", "MIN_MAGNIFICATION", "LIGHT_CONFUSION", "add_arc_noise", "arc_snr",
           "arc_visible_snr", "arc_masks", "quality_cuts", "arcs_to_float16", "ARC_PACK_UNIT_NMGY", "pack_arcs",
           "unpack_arcs"]


#: arcs fainter than this (nanomaggies per pixel) get no shot noise (see :func:`add_arc_noise`).
NOISE_FLOOR_NMGY = 1e-6


def add_arc_noise(arcs: np.ndarray, seed: int | np.random.Generator,
                  electrons_per_nmgy=ELECTRONS_PER_NMGY) -> np.ndarray:
    """The arc's own shot noise added to noise-free arcs (the background already has sky noise).

    Parameters
    ----------
    arcs : array, shape (n, 3, ny, nx), nanomaggies, noise-free.
    seed : int or Generator.
    electrons_per_nmgy : three floats, electrons per nanomaggy (g, r, z).

    Returns
    -------
    float32 array, same shape: ``arcs + sqrt(arcs / g) * N(0, 1)`` per band gain ``g``
    (Gaussian approximation of Poisson counts, as lenstronomy does). Only pixels where the arc
    exceeds :data:`NOISE_FLOOR_NMGY` get noise (about a sixth of a 101 x 101 stamp): below it the
    shot noise is under 1e-5 nanomaggies, 0.3 % of the g-band sky sigma, and drawing it for every
    pixel was the slowest step of the noise.
    """
    rng = np.random.default_rng(seed)
    arcs = np.asarray(arcs, np.float32)
    n = arcs.shape[0]
    inv_gain = (1.0 / np.asarray(electrons_per_nmgy, np.float32))
    out = arcs.copy()
    flat = out.reshape(n, 3, out[0, 0].size if n else 0)
    step = 16  # mocks per step: a few MB, stays in cache
    for s0 in range(0, n, step):
        block = flat[s0:s0 + step]
        idx = np.flatnonzero(block > NOISE_FLOOR_NMGY)
        a = block.reshape(-1)[idx]
        band = (idx // block.shape[2]) % 3
        sigma = np.sqrt(a * inv_gain[band])
        noise = rng.standard_normal(idx.size, dtype=np.float32)
        block.reshape(-1)[idx] = a + noise * sigma
    return out


def _sky(sky_sigma_nmgy, n):
    return np.broadcast_to(np.asarray(sky_sigma_nmgy, np.float64), (n, 3))


def arc_snr(arcs: np.ndarray, sky_sigma_nmgy: np.ndarray) -> np.ndarray:
    """Sky-limited S/N of the arc per band, shape (n, 3).

    Definition (LensPop-like): over the pixels where the noise-free arc exceeds 1 sky sigma
    in that band, ``S/N_b = sum(arc_b) / (sigma_b * sqrt(N_pixels))``; 0 if no pixel qualifies.
    The arc's own shot noise is neglected (few per cent for these faint arcs).

    Parameters
    ----------
    arcs : (n, 3, ny, nx) noise-free arcs in nanomaggies.
    sky_sigma_nmgy : (3,) or (n, 3) sky noise per pixel.
    """
    n = arcs.shape[0]
    sky = _sky(sky_sigma_nmgy, n)
    signal = np.empty((n, 3))
    npx = np.empty((n, 3))
    for s0 in range(0, n, 32):
        a = arcs[s0:s0 + 32]
        above = a > sky[s0:s0 + 32, :, None, None].astype(a.dtype)
        npx[s0:s0 + 32] = np.count_nonzero(above, axis=(2, 3))
        signal[s0:s0 + 32] = (a * above).sum(axis=(2, 3), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(npx > 0, signal / (sky * np.sqrt(npx)), 0.0)
    return snr


#: share of the field's own light (the lens galaxy, neighbours) counted as noise when judging whether
#: an arc can be seen (:func:`arc_visible_snr`): an arc adding less than about a tenth to a galaxy's
#: light is lost in it, however deep the image
LIGHT_CONFUSION = 0.1


def arc_visible_snr(arcs: np.ndarray, sky_sigma_nmgy, fields: np.ndarray, which=None,
                    confusion: float = LIGHT_CONFUSION) -> np.ndarray:
    """S/N of the arc against the sky *and* the light it lies on, per band, shape (n, 3).

    :func:`arc_snr` with a noise per pixel of ``sqrt(sigma_b^2 + (confusion x L)^2)``, ``L`` the
    field's light there (the cutout the arc is painted on, negative pixels as 0): over the pixels
    where the noise-free arc exceeds that noise, ``sum(arc) / sqrt(sum(noise^2))``.  On an empty
    sky it equals :func:`arc_snr`; an arc inside a bright lens galaxy's core scores near 0, however
    high its sky-limited S/N (measured 2026-12-05: mocks on lens galaxies brighter than r = 18.5 in
    the central 9 x 9 pixels were, with their arcs, scored by the network as their own fields were).

    Parameters
    ----------
    arcs : (n, 3, ny, nx) noise-free arcs in nanomaggies.
    sky_sigma_nmgy : (3,) or (n, 3) sky noise per pixel.
    fields : (m, 3, ny, nx) the cutouts the arcs are painted on.
    which : (n,) index of each arc's field in ``fields``; None = arc i on field i.
    confusion : share of the field's light counted as noise (:data:`LIGHT_CONFUSION`).
    """
    n = arcs.shape[0]
    sky = _sky(sky_sigma_nmgy, n)
    which = np.arange(n) if which is None else np.asarray(which)
    out = np.zeros((n, 3))
    for s0 in range(0, n, 32):
        a = arcs[s0:s0 + 32].astype(np.float64)
        light = np.clip(fields[which[s0:s0 + 32]], 0, None).astype(np.float64)
        var = sky[s0:s0 + 32, :, None, None] ** 2 + (confusion * light) ** 2
        above = a * a > var
        signal = (a * above).sum(axis=(2, 3))
        noise = np.sqrt((var * above).sum(axis=(2, 3)))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[s0:s0 + 32] = np.where(noise > 0, signal / noise, 0.0)
    return out


def arc_masks(arcs: np.ndarray, sky_sigma_nmgy, nsigma: float = 1.0) -> np.ndarray:
    """Where the arc is visible: bool (n, ny, nx), True where any band's noise-free arc > nsigma x sky sigma."""
    sky = _sky(sky_sigma_nmgy, arcs.shape[0])
    return (arcs > nsigma * sky[:, :, None, None]).any(axis=1)


#: default cuts of :func:`quality_cuts`: arcs down to the detection limit (see docs/realism.md)
MIN_SNR = 10.0
MIN_MAGNIFICATION = 2.0


def quality_cuts(info: pd.DataFrame, min_magnification: float = MIN_MAGNIFICATION, min_snr: float = MIN_SNR,
                 snr_band: str = "best") -> tuple[np.ndarray, Counter]:
    """Keep mocks whose arc is detectable in the survey, faint ones included.

    The defaults reach down to the detection limit: best-band arc S/N >= 10 (:func:`arc_snr`;
    LensPop kept S/N > 20, which leaves only the bright arcs few real lenses have), the same
    against the light the arc lies on where ``info`` has ``snr_visible`` (:func:`arc_visible_snr`,
    best band: an arc hidden in its lens galaxy's light is not a detectable lens), and a total
    magnification >= 2 (as paltas; doubles far from the caustic are magnified 2-5 times).

    Parameters
    ----------
    info : DataFrame with ``magnification`` and ``snr_g, snr_r, snr_z`` (see :func:`arc_snr`), optionally
        ``snr_visible``.
    min_magnification : lensed / unlensed source flux must be at least this.
    min_snr : arc S/N must be at least this in ``snr_band``, and ``snr_visible`` too.
    snr_band : "g", "r", "z" or "best" (the highest of the three; default).

    Returns
    -------
    mask : bool array (n,), True = kept.
    reasons : Counter, reason -> number of rejected mocks (a mock failing both counts under both).
    """
    if snr_band == "best":
        snr = info[[f"snr_{b}" for b in BANDS]].max(axis=1).to_numpy()
    elif snr_band in BANDS:
        snr = info[f"snr_{snr_band}"].to_numpy()
    else:
        raise ValueError(f"snr_band must be one of g, r, z, best; not {snr_band!r}")
    low_mu = info["magnification"].to_numpy() < min_magnification
    low_snr = snr < min_snr
    hidden = (info["snr_visible"].to_numpy() < min_snr) & ~low_snr if "snr_visible" in info else np.zeros(len(info), bool)
    reasons = Counter()
    if low_mu.any():
        reasons[f"magnification < {min_magnification:g}"] = int(low_mu.sum())
    if low_snr.any():
        reasons[f"S/N({snr_band}) < {min_snr:g}"] = int(low_snr.sum())
    if hidden.any():
        reasons[f"S/N against the field's light < {min_snr:g}"] = int(hidden.sum())
    return ~(low_mu | low_snr | hidden), reasons


# float16's smallest normal number and largest value: converting subnormals is ~25x slower
_F16_TINY = float(np.finfo(np.float16).smallest_normal)
_F16_MAX = float(np.finfo(np.float16).max)


def arcs_to_float16(arcs: np.ndarray) -> np.ndarray:
    """float16 nanomaggies, how ``lensfinder simulate`` stores arcs (``files.load_cube`` adds them
    to the background).

    Values below float16's smallest normal number (6.1e-5 nanomaggies, 2 % of the g-band sky
    sigma) become 0: converting subnormals is ~25x slower, and the noisy arcs lose at most
    0.5 % (median 0.04 %) of their flux this way.
    """
    out = np.empty(arcs.shape, np.float16)
    for s0 in range(0, len(arcs), 16):
        a = arcs[s0:s0 + 16]
        out[s0:s0 + 16] = np.where(np.abs(a) < _F16_TINY, np.float32(0), a)
    return out


#: :func:`pack_arcs` stores float16 in units of 1e-3 nanomaggies: the arc's faint wings stay in
#: float16's normal range (subnormal float16 conversion is ~25x slower and loses precision).
ARC_PACK_UNIT_NMGY = 1e-3


def pack_arcs(arcs: np.ndarray) -> np.ndarray:
    """Arcs (n, 3, ny, nx) nanomaggies -> float16 in units of :data:`ARC_PACK_UNIT_NMGY`.

    Pixels fainter than 6e-8 nanomaggies (2e-5 of the g-band sky sigma) become 0; values are
    clipped to float16's range (65 nanomaggies per pixel, far above any arc).
    """
    arcs = np.asarray(arcs, np.float32)
    out = np.empty(arcs.shape, np.float16)
    for s0 in range(0, arcs.shape[0], 16):
        y = arcs[s0:s0 + 16] * np.float32(1.0 / ARC_PACK_UNIT_NMGY)
        y[np.abs(y) < _F16_TINY] = 0
        np.clip(y, -_F16_MAX, _F16_MAX, out=y)
        out[s0:s0 + 16] = y
    return out


def unpack_arcs(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_arcs`: float32 nanomaggies."""
    return np.asarray(packed, np.float32) * np.float32(ARC_PACK_UNIT_NMGY)
