"""The frame every page shares: title, language switch, navigation, the error line, and sign-in.

A page starts with :func:`open_page`, the page's entry point: it builds the page's one
:class:`~lensfinder_nb.settings.Settings` (environment, then the teacher's class settings from
the store), opens the store and makes a :class:`PageFrame`, which fills ``frame.body`` from a
``render(frame)`` callback.  Switching language calls ``render`` again with the new translator,
so pages keep all their text in the catalogues (``lensfinder_nb/locales``) and none in code.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from ..i18n import DEFAULT_LANGUAGE, LANGUAGES, Translator
from ..classify.identity import Identity, IdentityError, identify, parse_query, personal_link, sign_up
from ..settings import Settings
from ..store import Store
from .common import ErrorArea, escape, guarded

__all__ = ["PageFrame", "PAGES", "STYLE", "open_page", "request_query_string"]

#: navigation order: (page notebook name, catalogue key of its title)
PAGES = (("tutorial", "nav.tutorial"), ("classify", "nav.classify"), ("me", "nav.me"))

STYLE = """<style>
.lf-error { color: #8b0000; font-weight: bold; }
.lf-nav a { margin-right: 1.2em; }
img.lf-image { image-rendering: pixelated; }
.lf-right { color: #006400; font-weight: bold; } .lf-wrong { color: #8b0000; font-weight: bold; }
</style>"""


def request_query_string(settings: Settings) -> str:
    """The page's query string (untrusted): set by Voilà per request, or awaited in a pre-heated kernel."""
    if settings.query_string is not None:
        return settings.query_string
    try:
        from voila.utils import get_query_string
    except ImportError:  # plain JupyterLab without Voilà
        return ""
    return get_query_string() or ""


def open_page(page: str, render: Callable[["PageFrame"], None], *, query_string: str | None = None,
              store: Store | None = None, settings: Settings | None = None,
              identify_person: bool = True) -> PageFrame:
    """A page's entry point: settings, store, frame, the person, then the first render.

    ``settings`` default to the environment's (for the store ``store`` when one is given);
    ``query_string`` to the request's.  ``identify_person`` False leaves identity to the page
    (the teacher's dashboard checks its own key).
    """
    if settings is None:
        settings = Settings.from_env(db_path=None if store is None else store.path)
    if store is None:
        from ..store import open_store
        store = open_store(settings=settings)
    query = request_query_string(settings) if query_string is None else query_string
    frame = PageFrame(page, store, settings=settings, query_string=query, render=render)
    if identify_person:
        frame.resolve_identity()
    frame.refresh()
    return frame


class PageFrame(w.VBox):
    """Header + error line + body for page ``page`` ("classify", "me", "teacher", "tutorial").

    ``settings`` (default: the store's) are the page's; :meth:`refresh` reloads their class
    settings from the store, so a render always sees the teacher's latest choices.
    """

    def __init__(self, page: str, store: Store, *, settings: Settings | None = None,
                 query_string: str | None = None, render: Callable[["PageFrame"], None] | None = None) -> None:
        self.page = page
        self.store = store
        self.settings = store.settings if settings is None else settings
        self.query_string = (self.settings.query_string or "") if query_string is None else query_string
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
        base = self.settings.hub_prefix.rstrip("/")  # on JupyterHub each person's pages live under /user/<name>/
        if self.identity is None:
            return f"{base}/voila/render/{page}.ipynb?lang={self.t.lang}"
        return personal_link(page, self.identity, base=base, lang=self.t.lang, **extra)

    def refresh(self) -> None:
        """Reload the class settings and re-run the page's render callback (start, sign-in, language change)."""
        self.settings = self.settings.with_classroom(self.store)
        self._label()
        if self._render is not None:
            self._render(self)

    # ------------------------------------------------------------------ identity
    def resolve_identity(self) -> Identity | None:
        """Identify from JupyterHub or the query string; shows a clear message on a bad key."""
        try:
            self.identity = identify(self.store, self.query_string, hub_user=self.settings.hub_user)
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
