"""The image controls the classify and grading views share: stretch/band and zoom buttons."""

from __future__ import annotations

import ipywidgets as w

from ..classify.picture import ZOOMS
from ..i18n import Translator
from ..imaging.render import STRETCHES

__all__ = ["view_buttons", "main_image"]


def view_buttons(t: Translator) -> tuple[w.ToggleButtons, w.ToggleButtons]:
    """(stretch, zoom) buttons: every stretch and single band of :data:`STRETCHES`, zooms of :data:`ZOOMS`."""
    stretch = w.ToggleButtons(options=[(t(f"stretch.{s}"), s) for s in STRETCHES], value="viewer",
                              style={"button_width": "auto"})
    zoom = w.ToggleButtons(options=[(f"{z}×", z) for z in ZOOMS], value=1, style={"button_width": "3.5em"})
    return stretch, zoom


def main_image() -> w.Image:
    """The large north-up picture (pixelated scaling, ``lf-main`` for tests and CSS)."""
    image = w.Image(format="jpeg")
    image.add_class("lf-image")
    image.add_class("lf-main")
    return image
