"""What a mock lens is painted into: label-0 cutouts, their observing conditions and central galaxy.

A background's params (a JSON object in the store) may give its seeing and sky noise
(``seeing_{g,r,z}_arcsec``, ``sky_{g,r,z}_nmgy``) and its central galaxy (``central_x_pix``,
``central_y_pix``, ``central_pa_deg``, ``central_q``; for clusters ``z_lens`` and a mass); what
is missing falls back on the survey's typical seeing and the cube's own sky noise.  Synthetic
fields carry all of them (:func:`synthetic_background_rows`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..imaging import files as cubes
from ..imaging.survey import BANDS, CUTOUT_SIZE_PX, PIXSCALE_ARCSEC, TYPICAL_SEEING_ARCSEC

__all__ = ["CONDITION_COLUMNS", "LENS_COLUMNS", "estimate_sky_sigma", "lens_overrides", "central_lens_rows", "lens_rows",
           "background_conditions", "central_galaxy_params", "synthetic_background_rows"]

#: a background's conditions, read from its params (NaN when absent)
CONDITION_COLUMNS = [f"seeing_{b}_arcsec" for b in BANDS] + [f"sky_{b}_nmgy" for b in BANDS]
#: per-background lens overrides passed to :func:`lensfinder_nb.sim.lensing.simulate_mocks`
LENS_COLUMNS = ["lens_x_arcsec", "lens_y_arcsec", "lens_phi_rad", "lens_q", "z_lens", "m500_msun", "m200_msun"]


def estimate_sky_sigma(cube: np.ndarray) -> np.ndarray:
    """Robust sky noise per band (nanomaggies per pixel): the median absolute deviation scaled to a
    Gaussian sigma (astropy's ``mad_std``).

    Galaxies cover a small part of a cutout, so the MAD follows the sky; NaN pixels are ignored.
    Returns shape (3,).
    """
    from astropy.stats import mad_std

    c = np.asarray(cube, np.float64).reshape(cube.shape[0], -1)
    return np.asarray(mad_std(c, axis=1, ignore_nan=True), np.float64)


def lens_overrides(params: dict, npix: int, pixscale_arcsec: float) -> dict:
    """Lens overrides from a background's params: the central galaxy lines up light and mass.

    Keys read: ``central_x_pix, central_y_pix`` (0-based FITS pixels, y to the north),
    ``central_pa_deg`` (east of north), ``central_q``; for clusters ``z_lens`` (or ``z``) and
    ``m500_msun`` / ``m200_msun`` from a catalogue.  Missing keys give NaN (keep the draw).
    """
    c = (npix - 1) / 2.0
    out = dict.fromkeys(LENS_COLUMNS, np.nan)
    if "central_x_pix" in params and "central_y_pix" in params:
        out["lens_x_arcsec"] = (float(params["central_x_pix"]) - c) * pixscale_arcsec
        out["lens_y_arcsec"] = (float(params["central_y_pix"]) - c) * pixscale_arcsec
    if params.get("central_pa_deg") is not None:
        # position angle east of north -> major-axis angle from +x (columns; west in FITS orientation)
        out["lens_phi_rad"] = math.radians((float(params["central_pa_deg"]) + 90.0) % 180.0)
    if params.get("central_q") is not None:
        out["lens_q"] = float(params["central_q"])
    z = params.get("z_lens", params.get("z"))
    if z is not None:
        out["z_lens"] = float(z)
    for key in ("m500_msun", "m200_msun"):
        if params.get(key) is not None:
            out[key] = float(params[key])
    return out


def background_conditions(backgrounds: np.ndarray, pool: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeing FWHM (arcsec) and sky sigma (nanomaggies), each (m, 3), and where they came from.

    From the pool's condition columns where given, else the survey's typical seeing and the
    cube's MAD sky sigma.  The third array, bool (m, 2), says whether seeing and sky were given.
    """
    seeing = np.array(pool[CONDITION_COLUMNS[:3]], dtype=float)
    sky = np.array(pool[CONDITION_COLUMNS[3:]], dtype=float)
    seeing_given = np.isfinite(seeing).all(axis=1)
    sky_given = np.isfinite(sky).all(axis=1) & (sky > 0).all(axis=1)
    seeing[~seeing_given] = TYPICAL_SEEING_ARCSEC
    for i in np.flatnonzero(~sky_given):
        sky[i] = estimate_sky_sigma(backgrounds[i])
    return seeing, sky, np.stack([seeing_given, sky_given], 1)


def central_galaxy_params(table: pd.DataFrame) -> pd.DataFrame:
    """Per field of a :func:`sky.draw_fields` table, the params keys that align lens mass and light.

    Returns one row per field (sorted) with ``central_x_pix, central_y_pix, central_pa_deg,
    central_q`` (NaN where a field has no central galaxy); add them to a background's params.
    """
    fields = np.sort(table["field"].unique())
    central = table[table["component"] == "central"].drop_duplicates("field").set_index("field")
    out = pd.DataFrame(index=pd.Index(fields, name="field"))
    for src, dst in (("x_pix", "central_x_pix"), ("y_pix", "central_y_pix"), ("pa_deg", "central_pa_deg"),
                     ("q", "central_q")):
        out[dst] = central[src].reindex(fields).to_numpy(float)
    return out.reset_index(drop=True)


def central_lens_rows(table: pd.DataFrame, pixscale_arcsec: float = PIXSCALE_ARCSEC) -> pd.DataFrame:
    """Per field of a :func:`sky.draw_fields` table (sorted), the lens overrides of its central galaxy
    (:func:`lens_overrides` of :func:`central_galaxy_params`): what ``lensing.simulate_mocks(lens_light=)``
    takes so that the mass of a mock painted on a synthetic field sits on its lens galaxy and follows
    its shape."""
    npix = int(table["npix"].iloc[0]) if "npix" in table.columns and len(table) else CUTOUT_SIZE_PX
    return lens_rows(central_galaxy_params(table), npix, pixscale_arcsec)


def lens_rows(central: pd.DataFrame, npix: int = CUTOUT_SIZE_PX,
              pixscale_arcsec: float = PIXSCALE_ARCSEC) -> pd.DataFrame:
    """:func:`lens_overrides` of each row of ``central`` (:func:`central_galaxy_params` rows), one row each."""
    return pd.DataFrame([lens_overrides(row, npix, pixscale_arcsec) for row in central.to_dict("records")],
                        columns=LENS_COLUMNS)


def synthetic_background_rows(data_dir: str | Path, table: pd.DataFrame, name: str, prefix: str,
                              source: str, ra0: float = 150.0) -> list[dict]:
    """Subject rows (label 0) for the fields of a :func:`sky.draw_fields` table: cubes written as batch
    ``name``, params with each field's conditions and central galaxy (what the mock pipeline reads)."""
    from . import sky
    fields = sky.field_table(table)
    central = central_galaxy_params(table)
    refs = cubes.write_batch(data_dir, name, sky.render_fields(table))
    rows = []
    for i, ref in enumerate(refs):
        p = {c: float(fields[c].iloc[i]) for c in fields.columns if c.startswith(("seeing_", "sky_"))}
        p.update(central.iloc[i].to_dict(), field=str(fields["kind"].iloc[i]))
        rows.append({"subject": f"{prefix}{i:05d}", "label": 0, "kind": "nonlens", "ra": ra0 + i * 1e-3, "dec": 2.0,
                     "cube": ref, "params": json.dumps(p), "source": source})
    return rows
