"""The stretch and zoom buttons both pages share (``ui.picture``)."""

from __future__ import annotations

from lensfinder_nb.classify.picture import ZOOMS
from lensfinder_nb.i18n import Translator
from lensfinder_nb.imaging.render import STRETCHES
from lensfinder_nb.ui.picture import next_option, view_buttons


def test_next_option_steps_through_every_stretch_and_zoom_and_wraps_round():
    stretch, zoom = view_buttons(Translator("en"))
    seen = [stretch.value]
    for _ in STRETCHES:
        next_option(stretch)
        seen.append(stretch.value)
    assert sorted(seen[:-1]) == sorted(STRETCHES) and seen[-1] == seen[0]
    assert [zoom.value] + [next_option(zoom) or zoom.value for _ in ZOOMS] == [*ZOOMS, ZOOMS[0]]
