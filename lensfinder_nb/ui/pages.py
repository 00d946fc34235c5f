"""Page entry points: each Voilà notebook in ``apps/`` calls one of these and nothing else."""

from __future__ import annotations

import os
import re
import uuid

import ipywidgets as w

from .common import ErrorArea, escape, guarded

__all__ = ["classify_page"]

_NAME = re.compile(r"^[\w .'-]{1,40}$", re.UNICODE)


def _open_store():
    from ..store import open_store
    return open_store()


def classify_page() -> w.Widget:
    """Sign in with a display name (or the JupyterHub user), then classify."""
    errors = ErrorArea()
    store = _open_store()
    body = w.VBox()
    page = w.VBox([w.HTML("<h2>lensfinder: is there a strong lens?</h2>"), errors, body])

    def start(user: str) -> None:
        from ..session import ClassifySession
        from .classify import ClassifyView
        session = ClassifySession(store, user, session_id=uuid.uuid4().hex[:12])
        body.children = [w.HTML(f"Signed in as <b>{escape(user)}</b>"), ClassifyView(session)]

    hub_user = os.environ.get("JUPYTERHUB_USER")
    if hub_user:
        start(hub_user)
        return page

    name = w.Text(placeholder="your name", description="Name")
    go = w.Button(description="Start", button_style="primary")

    @guarded(errors, "what.signin")
    def on_go(_=None) -> None:
        text = name.value.strip()
        if not _NAME.match(text):
            errors.show("Please type a name of 1-40 letters, digits, spaces, dots, dashes or apostrophes.")
            return
        errors.clear()
        start(text)

    go.on_click(on_go)
    name.on_submit(on_go)
    body.children = [w.HBox([name, go])]
    return page
