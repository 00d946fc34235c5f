"""The frame every page shares: title, language switch, navigation, the error line, and sign-in.

A page builds a :class:`PageFrame`, then fills ``frame.body`` from a ``render(frame)``
callback.  Switching language calls ``render`` again with the new translator, so pages
keep all their text in the catalogues (``lensfinder_nb/locales``) and none in code.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import ipywidgets as w

from ..i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator
from ..classify.identity import Identity, IdentityError, identify, parse_query, personal_link, sign_up
from ..store import Store
from .common import ErrorArea, escape, guarded

__all__ = ["PageFrame", "PAGES", "STYLE"]

#: navigation order: (page notebook name, catalogue key of its title)
PAGES = (("tutorial", "nav.tutorial"), ("classify", "nav.classify"), ("me", "nav.me"))

STYLE = """<style>
.lf-error { color: #8b0000; font-weight: bold; }
.lf-nav a { margin-right: 1.2em; }
img.lf-image { image-rendering: pixelated; }
.lf-right { color: #006400; font-weight: bold; } .lf-wrong { color: #8b0000; font-weight: bold; }
</style>"""


class PageFrame(w.VBox):
    """Header + error line + body for page ``page`` ("classify", "me", "teacher", "tutorial")."""

    def __init__(self, page: str, store: Store, *, query_string: str | None = None,
                 render: Callable[["PageFrame"], None] | None = None) -> None:
        self.page = page
        self.store = store
        self.query_string = os.environ.get("QUERY_STRING", "") if query_string is None else query_string
        self.params = parse_query(self.query_string)
        lang = self.params.get("lang", DEFAULT_LANGUAGE)
        self.t = Translator(lang)
        self.identity: Identity | None = None
        self.errors = ErrorArea()
        self.title = w.HTML()
        self.nav = w.HTML()
        self.nav.add_class("lf-nav")
        self.language = w.Dropdown(options=[(name, code) for code, name in LANGUAGES.items()],
                                   value=self.t.lang, layout=w.Layout(width="9em"))
        self.body = w.VBox()
        self._render = render
        self.language.observe(self._on_language, names="value")
        super().__init__([w.HTML(STYLE), w.HBox([self.title, self.language]), self.nav, self.errors, self.body])
        self._label()

    # ------------------------------------------------------------------ helpers for pages
    def guard(self, what_key: str) -> Callable:
        """Decorator for handlers: errors are shown in this page's language and logged."""
        return guarded(self.errors, what_key, self.t)

    def link(self, page: str, **extra: str) -> str:
        """A link to another page that carries this person's identity and language."""
        if self.identity is None:
            return f"/voila/render/{page}.ipynb?lang={self.t.lang}"
        return personal_link(page, self.identity, lang=self.t.lang, **extra)

    def refresh(self) -> None:
        """Re-run the page's render callback (after sign-in or a language change)."""
        self._label()
        if self._render is not None:
            self._render(self)

    # ------------------------------------------------------------------ identity
    def resolve_identity(self) -> Identity | None:
        """Identify from JupyterHub or the query string; shows a clear message on a bad key."""
        try:
            self.identity = identify(self.store, self.query_string)
        except IdentityError as exc:
            self.errors.show(self.t(f"signin.{exc}"))
            self.identity = None
        return self.identity

    def sign_in_form(self, on_signed_in: Callable[[Identity], None]) -> w.Widget:
        """Name box + Start button; a new person gets a personal link with their key."""
        name = w.Text(placeholder=self.t("signin.placeholder"), description=self.t("signin.name"),
                      continuous_update=False)
        go = w.Button(description=self.t("signin.start"), button_style="primary")

        @self.guard("what.signin")
        def submit(_=None) -> None:
            if self.identity is not None or not name.value.strip():
                return  # Enter and the button can both fire; an empty box is not a name
            try:
                who = sign_up(self.store, name.value)
            except IdentityError as exc:
                self.errors.show(self.t(f"signin.{exc}"))
                return
            self.errors.clear()
            self.identity = who
            self._label()
            on_signed_in(who)

        go.on_click(submit)
        name.observe(submit, names="value")  # Enter in the box
        return w.HBox([name, go])

    def signed_in_banner(self) -> w.HTML:
        who = self.identity
        text = self.t("signin.signed_in_as", name=escape(who.display_name))
        if who.key:
            link = escape(self.link(self.page))
            text += "<br>" + self.t("signin.your_link", link=link)
        return w.HTML(text)

    # ------------------------------------------------------------------ internals
    def _label(self) -> None:
        self.title.value = f"<h2>{escape(self.t('app.title'))} · {escape(self.t('nav.' + self.page))}</h2>"
        links = [f'<a href="{escape(self.link(p))}">{escape(self.t(k))}</a>' for p, k in PAGES]
        self.nav.value = " ".join(links)

    def _on_language(self, change) -> None:
        self.t = Translator(change["new"])
        guarded(self.errors, "what.page", self.t)(self.refresh)()
