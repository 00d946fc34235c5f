"""The grading view: one candidate at a time, the classify view's stretches, bands and zoom, the 0-3 scale.

Keyboard (pointer over the image area): ``0``-``3`` grade, ``s`` next stretch, ``z`` next zoom.
With blind grading (the default) nothing of the crowd's score or the other experts' grades is
put on the page (:meth:`GradingSession.before_grading` is empty), before or after grading.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w
from ipyevents import Event

from ..classify.grading import Consensus, GradingSession
from ..i18n import Translator
from .common import ErrorArea, escape, guarded
from .picture import PictureSettings, main_image, next_option, view_buttons

__all__ = ["GradeView"]

_CSS = """<style>
.lf-grade-stage img.lf-image { width: 404px; height: 404px; image-rendering: pixelated; background: #000; }
.lf-scale li { margin-bottom: 0.2em; }
.lf-keys { color: #555; font-size: 90%; }
</style>"""


class GradeView(PictureSettings, w.VBox):
    """Widgets for one :class:`GradingSession`; ``discuss_link(subject)`` and ``model_link(subject)`` give
    the URLs of the discussion and modelling pages."""

    def __init__(self, session: GradingSession, t: Translator, *, errors: ErrorArea | None = None,
                 discuss_link: Callable[[str], str] | None = None,
                 model_link: Callable[[str], str] | None = None) -> None:
        self.session, self.t = session, t
        self.errors = errors or ErrorArea()
        self._discuss_link, self._model_link = discuss_link, model_link
        self.stretch, self.zoom = "viewer", 1
        guard = guarded(self.errors, "what.grade", t)
        view_guard = guarded(self.errors, "what.grade_view", t)
        self.image = main_image()
        self.stage = w.Box([self.image])
        self.stage.add_class("lf-grade-stage")
        self.missing = w.HTML()
        self.stretch_buttons, self.zoom_buttons = view_buttons(t)
        self.grade_buttons = []
        for g in (3, 2, 1, 0):
            b = w.Button(description=t(f"grade.scale.{g}"), tooltip=t(f"grade.scale.help.{g}"),
                         button_style="success" if g == 3 else ("info" if g else "danger"),
                         layout=w.Layout(width="auto"))
            b.add_class(f"lf-grade-{g}")
            b.on_click(guard(lambda _b, g=g: self.grade(g)))
            self.grade_buttons.append(b)
        self.back_button = w.Button(description=t("grade.back"), tooltip=t("grade.back_tip"), disabled=True,
                                    icon="undo", layout=w.Layout(width="auto"))
        self.back_button.on_click(guard(lambda _b: self.back()))
        self.counter = w.HTML()
        self.info = w.HTML()
        self.notice = w.HTML()
        self.discuss = w.HTML()
        self.stretch_buttons.observe(view_guard(lambda c: self.set_view(stretch=c["new"])), names="value")
        self.zoom_buttons.observe(view_guard(lambda c: self.set_view(zoom=c["new"])), names="value")
        scale = "".join(f"<li>{escape(t(f'grade.scale.help.{g}'))}</li>" for g in (3, 2, 1, 0))
        self.area = w.VBox([self.stage, self.missing, w.HBox(self.grade_buttons + [self.back_button]),
                            self.stretch_buttons, self.zoom_buttons,
                            w.HTML(f"<span class='lf-keys'>{escape(t('grade.keys'))}</span>")])
        self.keyboard = Event(source=self.area, watched_events=["keydown"])
        self.keyboard.on_dom_event(guard(self._on_key))
        side = w.VBox([self.counter, self.info, self.notice, self.discuss,
                       w.HTML(f"<h4>{escape(t('grade.scale.title'))}</h4><ul class='lf-scale'>{scale}</ul>")],
                      layout=w.Layout(margin="0 0 0 1.5em", width="360px"))
        intro = w.HTML(f"<p>{escape(t('grade.intro'))}</p>")
        super().__init__([w.HTML(_CSS), intro, self.errors, w.HBox([self.area, side])])
        self.show_current()

    # ------------------------------------------------------------------ display
    def show_current(self) -> None:
        s, t = self.session, self.t
        self.counter.value = (f"<span class='lf-count'>"
                              f"{escape(t('grade.count', n=s.n_done, remaining=s.remaining))}</span>")
        shown = s.current
        for b in self.grade_buttons:
            b.disabled = shown is None
        self.back_button.disabled = s.last is None
        if shown is None:
            self.stage.layout.display = "none"
            self.missing.value = f"<b class='lf-all-done'>{escape(t('grade.all_done'))}</b>"
            self.info.value = self.discuss.value = ""
            return
        self.stage.layout.display = ""
        picture = s.picture(self.stretch, self.zoom)
        self.missing.value = "" if picture is not None else escape(t("grade.image_missing"))
        self.image.value = picture or b""
        self.info.value = self._before_html()
        links = [(self._discuss_link, "lf-discuss", "grade.discuss"), (self._model_link, "lf-model", "grade.model")]
        self.discuss.value = " · ".join(
            f"<a class='{css}' href=\"{escape(link(shown.subject))}\" target='_blank'>{escape(t(key))}</a>"
            for link, css, key in links if link is not None)

    def _consensus_text(self, c: Consensus | None) -> str:
        if c is None:
            return self.t("grade.no_grades")
        return self.t("grade.consensus", mean=f"{c.mean_grade:.2f}", cls=c.grade_class, n=c.n_graders)

    def _before_html(self) -> str:
        shown = self.session.before_grading()
        if not shown:
            return f"<span class='lf-keys lf-blind'>{escape(self.t('grade.blind_note'))}</span>"
        score = shown["score"]
        return "<span class='lf-before'>" + escape(self.t(
            "grade.before", score="-" if score is None else f"{score:.3f}",
            consensus=self._consensus_text(shown["consensus"]))) + "</span>"

    # ------------------------------------------------------------------ actions
    def grade(self, grade: int) -> None:
        """Store ``grade`` for the subject shown, say so, and show the next one."""
        s = self.session
        if s.current is None:
            return
        subject = s.current.subject
        s.grade(grade)
        self.errors.clear()
        text = escape(self.t("grade.saved", subject=subject, grade=grade))
        after = s.after_grading()
        if after is not None:
            text += "<br>" + escape(self.t("grade.after", subject=subject, consensus=self._consensus_text(after)))
        self.notice.value = f"<span class='lf-saved'>{text}</span>"
        self.show_current()

    def back(self) -> None:
        """Show the image just graded again so that its grade can be changed."""
        if self.session.back():
            self.notice.value = f"<span class='lf-keys'>{escape(self.t('grade.regrade'))}</span>"
            self.show_current()

    def _on_key(self, event: dict) -> None:
        key = str(event.get("key", "")).lower()
        if key in ("0", "1", "2", "3"):
            self.grade(int(key))
        elif key == "s":
            next_option(self.stretch_buttons)
        elif key == "z":
            next_option(self.zoom_buttons)
