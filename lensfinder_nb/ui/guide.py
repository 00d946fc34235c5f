"""The field guide: example pictures of lenses and look-alikes with a short text each."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w

from ..sim.guide import load_guide
from ..i18n import Translator
from .common import escape

__all__ = ["FieldGuide"]

_SECTIONS = ("lens", "lookalike", "artefact")


def _card(entry: dict, data_dir: Path, t: Translator) -> w.Widget:
    try:
        data = (data_dir / entry["image"]).read_bytes()
    except OSError:
        data = b""
    pic = w.Image(value=data, format="jpeg", layout=w.Layout(width="202px", height="202px"))
    pic.add_class("lf-image")
    extra = (f"<br><i>{escape(t('guide.theta_e', theta=entry['theta_e_arcsec']))}</i>"
             if "theta_e_arcsec" in entry else "")
    key = f"guide.{entry['id']}"
    text = w.HTML(f"<b>{escape(t(key + '.title'))}</b><br>{escape(t(key + '.text'))}{extra}",
                  layout=w.Layout(width="202px"))
    return w.VBox([pic, text], layout=w.Layout(margin="0 12px 12px 0"))


class FieldGuide(w.Accordion):
    """A collapsible guide (closed by default) built from ``data_dir/guide``."""

    def __init__(self, data_dir: str | Path, t: Translator, *, open_: bool = False) -> None:
        entries = load_guide(data_dir)
        if not entries:
            body: w.Widget = w.HTML(escape(t("guide.missing")))
        else:
            rows = []
            for section in _SECTIONS:
                cards = [_card(e, Path(data_dir), t) for e in entries if e["section"] == section]
                rows += [w.HTML(f"<h4>{escape(t(f'guide.section.{section}'))}</h4>"),
                         w.HBox(cards, layout=w.Layout(flex_flow="row wrap"))]
            body = w.VBox(rows)
        super().__init__(children=[body], selected_index=0 if open_ else None)
        self.set_title(0, t("guide.title"))
