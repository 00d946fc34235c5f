"""Picture grids for the notebooks: subjects in the Legacy Survey viewer's colours, with captions."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from ..imaging import files as cube_io
from ..imaging.render import viewer_rgb

__all__ = ["gallery"]


def gallery(store, subjects, captions=None, ncol: int = 6, zoom: int = 2) -> Image.Image:
    """A grid of the subjects' cubes (north up), ``zoom`` x enlarged, one caption line under each.

    ``subjects``: subject ids; ``captions``: one string per subject (default: the id).
    Returns a PIL image (shown inline by Jupyter); an empty list gives a small blank image.
    """
    subjects = list(subjects)
    captions = list(captions) if captions is not None else subjects
    if not subjects:
        return Image.new("RGB", (200, 20), "white")
    frame = store.subjects().set_index("subject")
    data_dir = store.settings.data_dir
    tiles = [Image.fromarray(viewer_rgb(cube_io.load_cube(data_dir, frame.loc[s, "cube"]))) for s in subjects]
    w, h = tiles[0].size[0] * zoom, tiles[0].size[1] * zoom
    ncol = max(1, min(ncol, len(tiles)))
    nrow = int(np.ceil(len(tiles) / ncol))
    out = Image.new("RGB", (ncol * (w + 4), nrow * (h + 18)), "white")
    draw = ImageDraw.Draw(out)
    for k, (tile, text) in enumerate(zip(tiles, captions)):
        x, y = (k % ncol) * (w + 4), (k // ncol) * (h + 18)
        out.paste(tile.resize((w, h), Image.NEAREST), (x, y))
        draw.text((x + 2, y + h + 3), str(text)[:32], fill="black")
    return out
