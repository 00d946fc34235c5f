"""What every page shares: handlers that never fail silently, and the page's store."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..i18n import Translator

__all__ = ["ErrorArea", "guarded", "escape"]

log = logging.getLogger("lensfinder.ui")

escape = html.escape


class ErrorArea(w.HTML):
    """A line at the top of a page that tells the person, in plain words, that something failed."""

    def show(self, message: str) -> None:
        self.value = f'<div class="lf-error" role="alert">{escape(message)}</div>'

    def clear(self) -> None:
        self.value = ""


def guarded(errors: ErrorArea, what_key: str, t: Callable[..., str] | None = None
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a widget handler: an exception is logged and shown to the person, never swallowed.

    ``what_key`` names the action in the catalogues (e.g. ``"what.vote"``); ``t`` is the
    page's translator (English when omitted).
    """
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # shown and logged: the page goes on
                log.exception("%s failed", what_key)
                tr = t or Translator()
                errors.show(tr("error.generic", what=tr(what_key), detail=f"{type(exc).__name__}: {exc}"))
                return None
        return handler
    return wrap
