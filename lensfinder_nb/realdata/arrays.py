"""Reading a cutout saved as a numpy ``.npz`` file, for :mod:`lensfinder_nb.realdata.ingest`.

What is accepted (``docs/real_data.md``):

* the image: the array under the first of the keys :data:`IMAGE_KEYS` present, or the file's
  only array; shape (H, W, 3) or (3, H, W), band order g, r, z, **north up** (row 0 is the
  north edge, as in a picture), fluxes in nanomaggies; integer or floating-point values, never
  8-bit picture values or pickled Python objects;
* optional ``bands`` (``"grz"``, ``"griz"`` or a list of names): the band of each plane when it is
  not g, r, z; the planes of other bands are dropped;
* optional ``ra``, ``dec`` (degrees): the position; optional ``pixscale`` (arcsec per pixel),
  checked like a FITS file's WCS.

The image then passes the same checks as a FITS cube (:func:`~lensfinder_nb.realdata.readers.finish_cube`).
"""

from __future__ import annotations

import math
import zipfile

import numpy as np

from ..imaging.survey import BANDS
from .readers import Checks, Cutout, Refused, missing_bands_reason, one_line, finish_cube

__all__ = ["IMAGE_KEYS", "NPZ_SUFFIX", "load_npz"]

#: Keys an ``.npz`` file's image may have, in the order they are looked for.
IMAGE_KEYS = ("cube", "image", "images", "data", "flux", "arr_0")

NPZ_SUFFIX = ".npz"

_META_KEYS = ("bands", "ra", "dec", "pixscale")


def load_npz(item: Cutout, checks: Checks = Checks()) -> None:
    """Fill ``item.cube`` (and its position) from a ``.npz`` file; raises :class:`Refused` with the reason."""
    arrays = _read(item)
    images = [k for k in arrays if k not in _META_KEYS]
    key = next((k for k in IMAGE_KEYS if k in arrays), images[0] if len(images) == 1 else None)
    if key is None:
        raise Refused(f"no image in the .npz file: expected one of the keys {', '.join(IMAGE_KEYS)} or a single "
                      f"array (found {', '.join(arrays) or 'no arrays'})")
    image = arrays[key]
    if image.dtype.kind not in "fiu":
        raise Refused(f"{key}: values of type {image.dtype}, expected numbers (fluxes in nanomaggies)")
    if image.dtype == np.uint8:
        raise Refused(f"{key}: 8-bit values (0-255) are a picture, not fluxes in nanomaggies; "
                      "save pictures as PNG or JPEG")
    bands = _bands(arrays)
    nb = len(bands)
    if image.ndim != 3 or nb not in (image.shape[0], image.shape[-1]):
        raise Refused(f"{key}: shape {image.shape}, expected (H, W, {nb}) or ({nb}, H, W) for bands "
                      f"{', '.join(bands)}")
    planes = image if image.shape[0] == nb and image.shape[-1] != nb else np.moveaxis(image, -1, 0)
    if any(b not in bands for b in BANDS):
        raise Refused(missing_bands_reason(bands, "the file has"))
    # north up (row 0 north) to the FITS orientation of every cube (row 0 south)
    cube = np.stack([planes[bands.index(b)] for b in BANDS])[:, ::-1, :]
    ra, dec = _scalar(arrays, "ra"), _scalar(arrays, "dec")
    if ra is not None and dec is not None and -90.0 <= dec <= 90.0:
        item.ra, item.dec, item.coords_from = ra % 360.0, dec, "npz"
    scale = _scalar(arrays, "pixscale")
    finish_cube(item, cube, [], [(scale, scale) if scale is not None and scale > 0 else None], checks)


def _read(item: Cutout) -> dict[str, np.ndarray]:
    try:
        with np.load(item.paths[0], allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise Refused("a single .npy array, not an .npz archive")
            return {k: z[k] for k in z.files}
    except Refused:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise Refused("the .npz file holds Python objects (pickled arrays are not loaded); "
                          "save plain numeric arrays") from None
        raise Refused(f"not a readable .npz file ({one_line(exc)})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise Refused(f"not a readable .npz file ({one_line(exc)})") from None


def _bands(arrays: dict[str, np.ndarray]) -> list[str]:
    if "bands" not in arrays:
        return list(BANDS)
    value = arrays["bands"]
    names = list(str(value.item())) if value.ndim == 0 else [str(v) for v in value.ravel()]
    names = [n.strip().lower() for n in names if n.strip()]
    if not names or len(set(names)) != len(names):
        raise Refused(f"bands entry {value.tolist()!r} does not name one band per plane")
    return names


def _scalar(arrays: dict[str, np.ndarray], key: str) -> float | None:
    if key not in arrays or arrays[key].size != 1 or arrays[key].dtype.kind not in "fiu":
        return None
    v = float(arrays[key].ravel()[0])
    return v if math.isfinite(v) else None
