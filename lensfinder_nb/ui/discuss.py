"""The discussion page of one image: the picture, its thread newest first, a box to post, hiding.

Opened as ``discuss.ipynb?subject=<id>&user=..&key=..`` (a volunteer's or expert's personal link)
or ``discuss.ipynb?subject=<id>&key=<teacher key>`` (the teacher).  Who may read a thread and who
may hide posts is written in :mod:`lensfinder_nb.classify.discussion`: a volunteer sees the thread
only after a vote on the image that was not taken back; the teacher and experts see every thread,
hidden posts included, and hide posts.  Nothing of a subject but its display picture reaches the
page (never its label or kind), and every text a person wrote is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as w
import pandas as pd

from ..classify import personal
from ..classify.discussion import (MAX_COMMENT_CHARS, SUGGESTED_TAGS, CommentError, is_moderator, may_open_thread,
                                   visible_text)
from ..classify.identity import is_teacher
from ..settings import Settings
from ..store import Store, queries
from .common import escape
from .frame import PageFrame, open_page

__all__ = ["discuss_page", "DiscussView", "Reader", "reader_of", "TEACHER_USER", "post_html"]

#: the person the teacher key acts as in threads (no key of its own: nobody can sign in as it)
TEACHER_USER = "teacher"

_CSS = """<style>
.lf-post { border-left: 3px solid #ccc; padding: 2px 8px; margin: 4px 0; max-width: 640px; }
.lf-post.lf-hidden { border-left-color: #8b0000; color: #777; }
.lf-post .lf-body { white-space: pre-wrap; overflow-wrap: anywhere; }
.lf-post .lf-meta { color: #555; font-size: 90%; }
</style>"""


@dataclass(frozen=True)
class Reader:
    """Who reads a thread: the id posts are stored under and the role that decides what they see."""

    user_id: str
    role: str


def reader_of(frame: PageFrame) -> Reader | None:
    """The page's reader: the teacher (teacher key, no user), or the signed-in person with their stored role."""
    if frame.identity is None:
        if is_teacher(frame.store, frame.params.get("key")):
            if queries.user_record(frame.store, TEACHER_USER).empty:  # a read first: most opens need no write
                frame.store.add_user(TEACHER_USER, "Teacher", role="teacher")
            return Reader(TEACHER_USER, "teacher")
        return None
    record = queries.user_record(frame.store, frame.identity.user_id)
    role = str(record["role"].iloc[0]) if not record.empty and record["role"].iloc[0] else frame.identity.role
    return Reader(frame.identity.user_id, role)


def post_html(row, t, moderator: bool) -> str:
    """One post as HTML: name, time, tags and text, all escaped; a hidden post as its placeholder
    (moderators still read the text, marked hidden)."""
    hidden = not pd.isna(row.hidden_at)
    text = visible_text(str(row.body), hidden, moderator)
    when = pd.Timestamp(row.created_at).strftime("%Y-%m-%d %H:%M")
    meta = f"<b class='lf-name'>{escape(str(row.name))}</b> · {escape(when)} UTC"
    if text is None:
        return f"<div class='lf-post lf-hidden'><i>{escape(t('discuss.hidden_placeholder'))}</i></div>"
    by = str(row.hidden_by_name or row.hidden_by)
    note = f" · <i>{escape(t('discuss.hidden_note', by=by))}</i>" if hidden else ""
    css = "lf-post lf-hidden" if hidden else "lf-post"
    return (f"<div class='{css}'><div class='lf-meta'>{meta}{note}</div>"
            f"<div class='lf-body'>{escape(text)}</div></div>")


class DiscussView(w.VBox):
    """The thread of ``subject`` for ``reader`` (who may open it: checked by the caller)."""

    def __init__(self, frame: PageFrame, reader: Reader, subject: str, image: bytes | None) -> None:
        self.frame, self.t, self.store = frame, frame.t, frame.store
        self.reader, self.subject = reader, subject
        self.moderator = is_moderator(reader.role)
        t = self.t
        pic = (w.Image(value=image, format="jpeg", layout=w.Layout(width="303px", height="303px")) if image
               else w.HTML(escape(t("discuss.no_image"))))
        if image:
            pic.add_class("lf-image")
        self.box = w.Textarea(placeholder=t("discuss.placeholder"), layout=w.Layout(width="480px", height="5em"))
        self.post_button = w.Button(description=t("discuss.post"), button_style="primary")
        self.status = w.HTML()
        self.thread_box = w.VBox()
        self.refresh_button = w.Button(description=t("discuss.refresh"), icon="refresh")
        self.post_button.on_click(frame.guard("what.discuss_post")(lambda _b: self.post()))
        self.refresh_button.on_click(frame.guard("what.discuss_refresh")(lambda _b: self.load()))
        tags = " ".join("#" + s for s in SUGGESTED_TAGS)
        help_ = escape(t("discuss.help", n=MAX_COMMENT_CHARS, tags=tags))
        super().__init__([
            w.HTML(_CSS), w.HTML(f"<h3>{escape(t('discuss.heading', subject=subject))}</h3>"), pic,
            w.HTML(f"<small>{help_}</small>"), w.HBox([self.box, self.post_button]), self.status,
            w.HBox([w.HTML(f"<h4>{escape(t('discuss.thread'))}</h4>"), self.refresh_button]), self.thread_box,
        ])
        self.load()

    def load(self) -> None:
        """Read the thread again and draw it newest first."""
        t = self.t
        thread = self.store.thread(self.subject)
        self.thread = thread
        if thread.empty:
            self.thread_box.children = [w.HTML(escape(t("discuss.empty")))]
            return
        rows = []
        for r in thread.itertuples(index=False):
            html = w.HTML(post_html(r, t, self.moderator))
            if self.moderator and pd.isna(r.hidden_at):
                hide = w.Button(description=t("discuss.hide"), button_style="warning",
                                tooltip=t("discuss.hide_tip"), layout=w.Layout(width="auto"))
                hide.on_click(self.frame.guard("what.discuss_hide")(lambda _b, cid=r.comment_id: self.hide(cid)))
                rows.append(w.HBox([html, hide]))
            else:
                rows.append(html)
        self.thread_box.children = rows

    def post(self) -> None:
        """Store the box's text as a post (a clear message and nothing stored when it is not valid)."""
        try:
            self.store.post_comment(self.reader.user_id, self.subject, self.box.value)
        except CommentError as exc:
            self.status.value = (f"<span class='lf-wrong' role='alert'>"
                                 f"{escape(self.t('discuss.error.' + exc.key, n=MAX_COMMENT_CHARS))}</span>")
            return
        self.box.value = ""
        self.status.value = f"<span class='lf-right'>{escape(self.t('discuss.posted'))}</span>"
        self.load()

    def hide(self, comment_id: str) -> None:
        """Hide one post (moderators only: the store checks the role again)."""
        self.store.hide_comment(comment_id, self.reader.user_id)
        self.status.value = escape(self.t("discuss.hidden_done"))
        self.load()


def discuss_page(query_string: str | None = None, store: Store | None = None,
                 settings: Settings | None = None) -> PageFrame:
    """The discussion page of ``?subject=<id>`` (``apps/discuss.ipynb``); defaults as for every page."""
    return open_page("discuss", _render, query_string=query_string, store=store, settings=settings)


def _render(frame: PageFrame) -> None:
    t = frame.t
    subject = frame.params.get("subject", "").strip()
    reader = reader_of(frame)
    if reader is None:
        if "user" in frame.params:  # a wrong key: the error line says so, nothing else is shown
            frame.body.children = [w.HTML(escape(t("discuss.bad_link")))]
            return
        frame.body.children = [w.HTML(escape(t("discuss.need_identity"))),
                               frame.sign_in_form(lambda _who: frame.refresh())]
        return
    found = queries.subject_image(frame.store, subject) if subject else None
    if found is None:
        frame.body.children = [w.HTML(escape(t("discuss.unknown_subject", subject=subject)))]
        return
    voted = queries.has_live_vote(frame.store, reader.user_id, subject)
    if not may_open_thread(reader.role, voted):
        link = escape(frame.link("classify"))
        frame.body.children = [w.HTML(f"<p class='lf-closed'>{escape(t('discuss.vote_first'))} "
                                      f"<a href=\"{link}\">{escape(t('nav.classify'))}</a></p>")]
        return
    image = personal.thumbnail(frame.store.settings.data_dir, found)
    banner = [frame.signed_in_banner()] if frame.identity is not None else []
    frame.view = DiscussView(frame, reader, subject, image)
    frame.body.children = banner + [frame.view]
