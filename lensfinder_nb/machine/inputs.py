"""What the network sees: sky-subtracted central crops, two views, and augmentation on raw fluxes.

From a g, r, z cube (3, ny, nx) in nanomaggies:

1. :func:`crop_raw` keeps the central 96 x 96 pixels, subtracts each band's sky level (the median
   of the cube's outer pixels, so a survey's sky offsets do not matter) and sets NaN or infinite
   pixels (survey edges, masked pixels) to the sky, i.e. 0;
2. :func:`views` stacks two 48 x 48 views as six channels: the centre 48 pixels at full resolution
   (12.6", where galaxy-scale arcs lie) and the 96 pixels binned 2 x 2 (25", for cluster-scale
   arcs); each channel is ``asinh(flux / (3 sigma_band)) / 3`` with the survey's typical sky sigma
   per band, so colours and surface brightness keep their meaning across images.

Training augments the *raw* crops before the views (:func:`augment_raw`): one of the 8
flips/rotations, a wider PSF (other seeing, resampled surveys), extra sky noise (deeper and shallower surveys, correlated as in resampled
coadds), and small flux and colour changes (calibration differences between surveys).  The
network thus cannot use the noise level, the noise texture or the exact colour scale of our
simulated sky to tell lenses from non-lenses.

>>> import numpy as np
>>> x = prepare(np.zeros((2, 3, 101, 101), np.float32))
>>> x.shape, x.dtype.name
((2, 6, 48, 48), 'float32')
"""

from __future__ import annotations

import numpy as np

from ..imaging import survey as _survey

__all__ = ["CROP_PIX", "SCALES", "RAW_PIX", "SKY_SIGMA_NMGY", "crop_raw", "views", "prepare", "to_flux",
           "from_flux", "dihedral", "augment", "augment_raw"]

CROP_PIX = 48
SCALES = (1, 2)
RAW_PIX = CROP_PIX * max(SCALES)
#: the per-band noise unit of the scaling (the survey's typical sky sigma, g, r, z)
SKY_SIGMA_NMGY = np.asarray(_survey.SKY_SIGMA_NMGY, np.float32)
_SOFTENING = 3.0  # asinh softening in units of the band's sky sigma


def _outer_median(cubes: np.ndarray) -> np.ndarray:
    """Per cube and band, the median of the pixels outside 40 % of the width: (n, 3)."""
    n, nb, ny, nx = cubes.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    outer = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2) > 0.4 * min(ny, nx)
    return np.nanmedian(cubes[:, :, outer], axis=2)


def crop_raw(cubes: np.ndarray, size: int = RAW_PIX) -> np.ndarray:
    """Sky-subtracted central ``size`` x ``size`` crops, float32 (n, 3, size, size); NaN/inf become 0."""
    cubes = np.asarray(cubes, dtype=np.float32)
    if cubes.ndim != 4 or cubes.shape[1] != 3:
        raise ValueError(f"cubes must have shape (n, 3, ny, nx), got {cubes.shape}")
    n, _, ny, nx = cubes.shape
    if size > min(ny, nx):
        raise ValueError(f"a {size}-pixel view does not fit a {ny} x {nx} cube")
    finite = np.where(np.isfinite(cubes), cubes, np.nan)
    sky = np.nan_to_num(_outer_median(finite)).astype(np.float32)
    y0, x0 = (ny - size) // 2, (nx - size) // 2
    crop = finite[:, :, y0:y0 + size, x0:x0 + size] - sky[:, :, None, None]
    return np.nan_to_num(crop, nan=0.0).astype(np.float32)


def views(raw, crop_pix: int = CROP_PIX, scales: tuple[int, ...] = SCALES):
    """Network input (n, 3 * len(scales), crop, crop) from raw crops (n, 3, s, s); numpy or torch."""
    is_torch = hasattr(raw, "rot90")
    size = raw.shape[-1]
    n = raw.shape[0]
    out = []
    for s in scales:
        width = s * crop_pix
        o = (size - width) // 2
        v = raw[:, :, o:o + width, o:o + width]
        if s > 1:
            v = v.reshape(n, 3, crop_pix, s, crop_pix, s).mean(axis=(3, 5)) if not is_torch else \
                v.reshape(n, 3, crop_pix, s, crop_pix, s).mean(dim=(3, 5))
        out.append(v)
    if is_torch:
        import torch
        return torch.cat([from_flux(v.float()) for v in out], dim=1)
    scale = (_SOFTENING * SKY_SIGMA_NMGY).reshape(1, 3, 1, 1)
    return np.ascontiguousarray(np.concatenate([np.arcsinh(v / scale) / 3.0 for v in out], axis=1),
                                dtype=np.float32)


def _scale_t(like):
    import torch
    return torch.from_numpy((_SOFTENING * SKY_SIGMA_NMGY).reshape(1, 3, 1, 1)).to(like.dtype)


def to_flux(v):
    """The fluxes (nanomaggies) of scaled view channels (n, 3, h, w), torch: the inverse of the scaling."""
    import torch
    return torch.sinh(3.0 * v) * _scale_t(v)


def from_flux(f):
    """Fluxes (n, 3, h, w), torch, scaled as the views are: ``asinh(f / (3 sigma_band)) / 3``."""
    import torch
    return torch.asinh(f / _scale_t(f)) / 3.0


def prepare(cubes: np.ndarray) -> np.ndarray:
    """:func:`views` of :func:`crop_raw`: float32 (n, 6, 48, 48) network input from cubes (n, 3, ny, nx)."""
    return views(crop_raw(cubes))


def dihedral(x, k: int):
    """One of the 8 symmetries of the square (k = 0..7) on the last two axes; numpy or torch."""
    if hasattr(x, "rot90"):  # torch
        out = x.rot90(k % 4, dims=(-2, -1))
        return out.flip(-1) if k >= 4 else out
    out = np.rot90(x, k % 4, axes=(-2, -1))
    return out[..., ::-1] if k >= 4 else out


def augment(x, rng: np.random.Generator):
    """A random flip/90-degree rotation per image of a torch batch (n, c, h, w); returns a new tensor."""
    k = rng.integers(0, 8, len(x))
    out = x.clone()
    for g in range(1, 8):
        idx = np.flatnonzero(k == g)
        if len(idx):
            out[idx] = dihedral(x[idx], g)
    return out


def augment_raw(raw, rng: np.random.Generator, *, noise_prob: float = 0.6, max_noise_factor: float = 2.5,
                flux_sigma_mag: float = 0.15, colour_sigma_mag: float = 0.05, blur_prob: float = 0.5,
                max_blur_px: float = 0.8, snr=None, y=None, snr_floor: float = 8.0, band_jitter: float = 0.0):
    """Augment a torch batch of raw crops (n, 3, s, s): flips/rotations, a wider PSF (with probability
    ``blur_prob`` a Gaussian blur of sigma uniform in 0..``max_blur_px`` pixels, as worse seeing or a
    resampled survey gives), extra correlated sky noise (with probability ``noise_prob`` the noise
    grows by a factor log-uniform in 1..``max_noise_factor``), an overall flux scale
    (``flux_sigma_mag``) and per-band colour changes (``colour_sigma_mag``).

    With ``snr`` (best-band arc S/N per image, NaN where unknown) and ``y`` (1 = lens), a lens's noise
    factor is capped so its arc keeps S/N >= ``snr_floor`` (a lens whose arc drowns in the added noise
    would teach "a big red galaxy is a lens"; a lens of unknown S/N gets no extra noise), and the
    non-lenses of the batch draw their factors from the lenses' capped factors, so the noise level
    says nothing about the class.  ``band_jitter`` (natural log) varies the factor per band, as
    surveys differ in relative depth (Pan-STARRS g is ~2.6x noisier than DESI, z ~1.3x)."""
    import torch

    x = augment(raw.float(), rng)
    n = len(x)
    sigma = np.where(rng.random(n) < blur_prob, rng.uniform(0.0, max_blur_px, n), 0.0)
    blurred = np.flatnonzero(sigma > 0.05)
    if len(blurred):
        x[blurred] = _gaussian_blur(x[blurred], sigma[blurred])
    factor = np.where(rng.random(n) < noise_prob, np.exp(rng.uniform(0, np.log(max_noise_factor), n)), 1.0)
    if snr is not None and y is not None:
        factor = _detectable_factors(factor, np.asarray(snr, float), np.asarray(y) > 0.5, snr_floor, rng)
    factor_b = np.repeat(factor[:, None], 3, axis=1)
    if band_jitter > 0:   # drawn only when asked, so runs without it repeat those of earlier versions
        factor_b = factor_b * np.exp(rng.uniform(-band_jitter, band_jitter, (n, 3)))
        factor_b = np.where(factor[:, None] > 1, np.maximum(factor_b, 1.0), 1.0)
    extra = np.sqrt(factor_b ** 2 - 1) * SKY_SIGMA_NMGY[None, :]          # (n, 3) nanomaggies
    noisy = np.flatnonzero(factor > 1)
    if len(noisy):
        g = torch.from_numpy(rng.standard_normal((len(noisy), 3) + tuple(x.shape[-2:]), dtype=np.float32))
        # neighbour correlation as in resampled coadds: a 3x3 kernel of random strength, unit variance
        w = torch.from_numpy(rng.uniform(0.0, 0.5, len(noisy)).astype(np.float32))[:, None, None, None]
        smooth = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(g, (1, 1, 1, 1), mode="reflect"), 3, 1)
        g = (1 - w) * g + w * 3.0 * smooth
        g = g / torch.sqrt((1 - w) ** 2 + w ** 2 + 2 * (1 - w) * w / 3)  # 3 * mean of 9 covaries 1/3 with g
        x[noisy] += g * torch.from_numpy(extra[noisy].astype(np.float32))[:, :, None, None]
    mag = rng.normal(0, flux_sigma_mag, (n, 1)) + rng.normal(0, colour_sigma_mag, (n, 3))
    x *= torch.from_numpy((10 ** (-0.4 * mag)).astype(np.float32))[:, :, None, None]
    return x


def _detectable_factors(factor: np.ndarray, snr: np.ndarray, lens: np.ndarray, floor: float,
                        rng: np.random.Generator) -> np.ndarray:
    """Noise factors with each lens's capped at max(1, snr / floor) (1 where its S/N is unknown) and the
    non-lenses' drawn from those capped lens factors (both classes then share one distribution)."""
    out = factor.copy()
    cap = np.where(np.isfinite(snr), np.maximum(1.0, snr / floor), 1.0)
    out[lens] = np.minimum(factor[lens], cap[lens])
    if lens.any() and (~lens).any():
        out[~lens] = rng.choice(out[lens], size=int((~lens).sum()))
    return out


def _gaussian_blur(x, sigma_px: np.ndarray):
    """Each image of a torch batch (k, c, h, w) convolved with its own Gaussian (sigma in pixels, (k,))."""
    import torch

    k, c, h, w = x.shape
    half = int(np.ceil(3 * sigma_px.max()))
    t = np.arange(-half, half + 1, dtype=np.float64)
    kern = np.exp(-0.5 * (t[None, :] / sigma_px[:, None]) ** 2)
    kern /= kern.sum(axis=1, keepdims=True)
    kern = torch.from_numpy(np.repeat(kern, c, axis=0).astype(np.float32))      # (k*c, taps)
    flat = x.reshape(1, k * c, h, w)
    pad = torch.nn.functional.pad(flat, (half, half, half, half), mode="reflect")
    out = torch.nn.functional.conv2d(pad, kern[:, None, :, None], groups=k * c)   # along y
    out = torch.nn.functional.conv2d(out, kern[:, None, None, :], groups=k * c)   # along x
    return out.reshape(k, c, h, w)
