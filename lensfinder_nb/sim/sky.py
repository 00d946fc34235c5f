"""Synthetic DESI Legacy Surveys-like g, r, z cutouts: a parameter table first, images second.

Each field is a square stamp (101 pixels by default, any size with ``npix=``) at 0.262
arcsec/pixel in nanomaggies (AB zero point 22.5; constants in :mod:`lensfinder_nb.imaging.survey`),
centred on a massive red galaxy or on the core of a galaxy cluster, with field galaxies and
stars around it; look-alikes and artefacts add what volunteers mistake for lensed arcs.

Two steps, as in photutils' simulations:

1. :func:`draw_fields` (:mod:`~lensfinder_nb.sim.sky_draw`) draws a table with one row per light
   component (seeded, cheap, easy to inspect or edit);
2. :func:`render_fields` (:mod:`~lensfinder_nb.sim.sky_render`) turns the table into cubes of
   shape (field, band, ny, nx), band order g, r, z, FITS orientation (row 0 is the south edge).

Example
-------
>>> table = draw_fields(2, seed=1, kind="cluster")
>>> cubes = render_fields(table)
>>> cubes.shape, cubes.dtype.name
((2, 3, 101, 101), 'float32')
>>> seeing, sky = conditions(table)
>>> seeing.shape, bool((seeing > 1.0).all() and (seeing < 1.6).all())
((2, 3), True)
>>> render_fields(draw_fields(1, seed=1, npix=201)).shape
(1, 3, 201, 201)
"""

from __future__ import annotations

from .sky_draw import ARTEFACT_KINDS, BACKGROUND_KINDS, KINDS, LOOKALIKE_KINDS, draw_fields
from .sky_render import conditions, field_table, render_fields

__all__ = ["BACKGROUND_KINDS", "LOOKALIKE_KINDS", "ARTEFACT_KINDS", "KINDS", "draw_fields", "render_fields",
           "conditions", "field_table"]
