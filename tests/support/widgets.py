"""Reading a widget tree as the browser would receive it."""

from __future__ import annotations

import ipywidgets as w

__all__ = ["widget_texts"]


def widget_texts(widget: w.Widget, *, buttons: bool = False, tooltips: bool = False) -> str:
    """All HTML and label text of a widget tree, one per line; with ``buttons`` the buttons'
    descriptions too (and their tooltips with ``tooltips``)."""
    out, stack = [], [widget]
    while stack:
        x = stack.pop()
        if isinstance(x, (w.HTML, w.Label)):
            out.append(x.value)
        if buttons and isinstance(x, w.Button):
            out.append(x.description + (" " + x.tooltip if tooltips else ""))
        stack.extend(getattr(x, "children", ()))
    return "\n".join(out)
