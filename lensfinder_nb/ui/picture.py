"""The image controls the classify and grading views share: stretch/band and zoom buttons."""

from __future__ import annotations

import ipywidgets as w

from ..classify.picture import ZOOMS
from ..i18n import Translator
from ..imaging.render import STRETCHES

__all__ = ["view_buttons", "next_option", "main_image", "PictureSettings"]


def view_buttons(t: Translator) -> tuple[w.ToggleButtons, w.ToggleButtons]:
    """(stretch, zoom) buttons: every stretch and single band of :data:`STRETCHES`, zooms of :data:`ZOOMS`."""
    stretch = w.ToggleButtons(options=[(t(f"stretch.{s}"), s) for s in STRETCHES], value="viewer",
                              style={"button_width": "auto"})
    zoom = w.ToggleButtons(options=[(f"{z}×", z) for z in ZOOMS], value=1, style={"button_width": "3.5em"})
    return stretch, zoom


def next_option(buttons: w.ToggleButtons) -> None:
    """Select the option after the current one, wrapping round (the keyboard's "next stretch / zoom")."""
    values = [value for _, value in buttons.options]
    buttons.value = values[(values.index(buttons.value) + 1) % len(values)]


def main_image() -> w.Image:
    """The large north-up picture (pixelated scaling, ``lf-main`` for tests and CSS)."""
    image = w.Image(format="jpeg")
    image.add_class("lf-image")
    image.add_class("lf-main")
    return image


class PictureSettings:
    """The stretch and zoom a view shows its subject with (mixed into the classify and grading views,
    which define ``show_current``)."""

    stretch: str = "viewer"
    zoom: int = 1

    def set_view(self, stretch: str | None = None, zoom: int | None = None) -> None:
        """Show the current subject again in another stretch and/or zoom."""
        if stretch is not None:
            self.stretch = stretch
        if zoom is not None:
            self.zoom = zoom
        self.show_current()
