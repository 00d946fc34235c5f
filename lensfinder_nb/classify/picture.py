"""A subject's picture in every stretch, band and zoom of the viewer: shared by the classify and grading pages.

:class:`SubjectPictures` is a mixin for a session that shows one subject at a time (``current``)
and knows each subject's (image, cube) references (``_refs``) and the data folder (``data_dir``).
The stored JPEG is the "viewer" look at zoom 1; other stretches and single bands are rendered from
the cube with numpy (:mod:`lensfinder_nb.imaging.render`), cached per subject shown.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Shown", "SubjectPictures", "ZOOMS", "zoom_window"]

log = logging.getLogger(__name__)

ZOOMS = (1, 2, 4)


def zoom_window(ny: int, nx: int, zoom: int) -> tuple[int, int, int, int]:
    """The centred crop shown at ``zoom`` of a (ny, nx) picture: (x0, y0, width, height) in pixels.

    About 1/zoom of each side, with the side's parity so that the crop is exactly centred.

    >>> zoom_window(101, 101, 2), zoom_window(201, 201, 2), zoom_window(201, 201, 4)
    ((25, 25, 51, 51), (50, 50, 101, 101), (75, 75, 51, 51))
    """
    def side(n: int) -> int:
        k = max(1, n // max(int(zoom), 1))
        return min(n, k + (n - k) % 2)

    width, height = side(nx), side(ny)
    return (nx - width) // 2, (ny - height) // 2, width, height


@dataclass
class Shown:
    """A subject on screen; ``image`` is the stored JPEG or None when it cannot be read.

    ``shape`` is the full picture's (ny, nx) in pixels, known once the picture or cube was read.
    """

    subject: str
    image: bytes | None
    shown_at: float = 0.0
    shape: tuple[int, int] | None = None
    _renders: dict = field(default_factory=dict, repr=False)


class SubjectPictures:
    """Pictures of the subject on screen; the session sets ``data_dir``, ``_refs`` and ``current``."""

    data_dir: Path
    _refs: dict[str, tuple[str | None, str | None]]
    current: Shown | None

    def _read_image(self, subject: str) -> bytes | None:
        ref = self._refs.get(subject, (None, None))[0]
        if not isinstance(ref, str) or not ref:  # no picture (a missing value comes back as NaN)
            return None
        from ..imaging.files import read_image
        try:
            data = read_image(self.data_dir, ref)
        except (OSError, ValueError):
            log.warning("image of subject %s cannot be read (%s)", subject, ref)
            return None
        return data if data[:2] == b"\xff\xd8" or data[:4] == b"\x89PNG" else None

    # ------------------------------------------------------------------ pictures
    def picture(self, stretch: str = "viewer", zoom: int = 1, shown: Shown | None = None) -> bytes | None:
        """JPEG of the current subject in a stretch (see ``STRETCHES``) and zoom (centre crop,
        :func:`zoom_window`), for cutouts of any size."""
        shown = shown or self.current
        if shown is None:
            return None
        if stretch == "viewer" and zoom == 1:
            return shown.image
        key = (stretch, zoom)
        if key not in shown._renders:
            rgb = self._full_rgb(shown, stretch)
            if rgb is None:
                return None
            from ..imaging import render
            x0, y0, width, height = zoom_window(*rgb.shape[:2], zoom)
            shown._renders[key] = render.encode_jpeg(np.ascontiguousarray(rgb[y0:y0 + height, x0:x0 + width]))
        return shown._renders[key]

    def _full_rgb(self, shown: Shown, stretch: str) -> np.ndarray | None:
        """The whole picture (ny, nx, 3) north up in a stretch: from the cube, or for a subject with
        only a picture, the stored picture itself in the viewer stretch."""
        from ..imaging import files as cubes  # numpy-only modules; imported on first use
        from ..imaging import render
        cube_ref = self._refs.get(shown.subject, (None, None))[1]
        if not isinstance(cube_ref, str) or not cube_ref:
            if stretch != "viewer" or shown.image is None:
                return None
            from PIL import Image
            try:
                rgb = np.asarray(Image.open(io.BytesIO(shown.image)).convert("RGB"))
            except OSError:
                log.warning("picture of subject %s cannot be decoded", shown.subject)
                return None
        else:
            try:
                cube = cubes.load_cube(self.data_dir, cube_ref)
            except (OSError, ValueError):
                log.warning("cube of subject %s cannot be read (%s)", shown.subject, cube_ref)
                return None
            rgb = render.render(cube, stretch)
        shown.shape = shown.shape or rgb.shape[:2]
        return rgb

    def view_window(self, zoom: int, shown: Shown | None = None) -> tuple[int, int, int, int]:
        """What the picture at ``zoom`` shows of the full picture: (x0, y0, width, height) in its pixels.

        The full size is the subject's own (its picture, else its cube); marks are in these pixels.
        """
        shown = shown or self.current
        shape = self._shape(shown) if shown is not None else None
        if shape is None:
            from ..imaging.survey import CUTOUT_SIZE_PX  # nothing shown: any size will do
            shape = (CUTOUT_SIZE_PX, CUTOUT_SIZE_PX)
        return zoom_window(*shape, zoom)

    def _shape(self, shown: Shown) -> tuple[int, int] | None:
        if shown.shape is None and shown.image is not None:
            from PIL import Image
            try:
                with Image.open(io.BytesIO(shown.image)) as im:  # reads the header only
                    shown.shape = (im.height, im.width)
            except OSError:
                pass
        if shown.shape is None:
            self._full_rgb(shown, "viewer")
        return shown.shape
