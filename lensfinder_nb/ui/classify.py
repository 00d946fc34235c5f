"""The classify view: a large north-up image, 'Lens' / 'Not a lens', marks, keys and feedback.

Keyboard (while the pointer is over the image area): ``l`` lens, ``n`` not a lens, ``u`` undo,
``f`` favourite, ``c`` clear marks, ``s`` next stretch, ``z`` next zoom, ``h`` field guide.
A click on the image adds a mark; dragging a mark moves it; a click on a mark removes it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import ipywidgets as w
import numpy as np
from ipyevents import Event

from ..i18n import Translator
from ..classify.session import ClassifySession, Feedback
from .common import ErrorArea, escape, guarded
from .picture import PictureSettings, main_image, next_option, view_buttons

__all__ = ["ClassifyView", "KEYS"]

DISPLAY_PX = 404
MARK_RADIUS_PX = 8  # display pixels within which a press grabs an existing mark
TOO_MANY_MARKS = 5
KEYS = {"l": "lens", "n": "not", "u": "undo", "f": "favourite", "c": "clear", "s": "stretch", "z": "zoom",
        "h": "guide"}

_CSS = """<style>
.lf-stage { position: relative; width: 404px; height: 404px; }
.lf-stage img.lf-image { width: 404px; height: 404px; image-rendering: pixelated; background: #000; cursor: crosshair; }
.lf-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.lf-fb-pic { position: relative; width: 202px; height: 202px; }
.lf-fb-pic img { position: absolute; left: 0; top: 0; width: 202px; height: 202px; image-rendering: pixelated; }
.lf-keys { color: #555; font-size: 90%; }
</style>"""


def _mask_outline_png(mask: np.ndarray) -> bytes:
    """A transparent PNG with the arc mask's outline in green (north up, mask's own size)."""
    from PIL import Image
    inner = mask.copy()
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    edge = mask & ~inner
    rgba = np.zeros(mask.shape + (4,), np.uint8)
    rgba[edge] = (60, 255, 60, 255)
    rgba[mask & ~edge] = (60, 255, 60, 70)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class ClassifyView(PictureSettings, w.VBox):
    """Widgets for one :class:`ClassifySession`; ``feedback`` False hides right/wrong.

    ``on_vote(feedback)`` runs after each stored vote, ``on_undo(vote_id)`` after a vote is
    taken back (the page's own bookkeeping, e.g. the practice round's tally).  ``discuss_link(subject)``
    gives the address of a subject's discussion: after a vote the view links to the thread of the
    image just classified (none in the practice round).  A comment typed here is a post in the thread
    of the image on screen (:meth:`save_comment`).
    """

    def __init__(self, session: ClassifySession, t: Translator | None = None, *, feedback: bool = True,
                 errors: ErrorArea | None = None, guide: w.Widget | None = None,
                 on_vote: Callable[[Feedback], None] | None = None,
                 on_undo: Callable[[str], None] | None = None,
                 discuss_link: Callable[[str], str] | None = None) -> None:
        self.session = session
        self.t = t or Translator()
        self.show_feedback = feedback
        self.errors = errors or ErrorArea()
        self.marks: list[tuple[float, float]] = []
        self.stretch = "viewer"
        self.zoom = 1
        self._press: tuple[float, float, int | None] | None = None
        self.last_feedback: Feedback | None = None
        t_ = self.t
        guard = guarded(self.errors, "what.vote", t_)

        self.image = main_image()
        self.overlay = w.HTML()
        self.overlay.add_class("lf-overlay")
        self.stage = w.Box([self.image, self.overlay])
        self.stage.add_class("lf-stage")
        self.missing = w.HTML()
        self.lens_button = w.Button(description=t_("classify.lens"), button_style="success",
                                    tooltip=t_("classify.lens_tip"))
        self.not_button = w.Button(description=t_("classify.not"), button_style="danger",
                                   tooltip=t_("classify.not_tip"))
        self.undo_button = w.Button(description=t_("classify.undo"), disabled=True, tooltip=t_("classify.undo_tip"))
        self.favourite_button = w.ToggleButton(description=t_("classify.favourite"), icon="heart",
                                               tooltip=t_("classify.favourite_tip"))
        self.clear_button = w.Button(description=t_("classify.clear"), tooltip=t_("classify.clear_tip"))
        self.stretch_buttons, self.zoom_buttons = view_buttons(t_)
        self.comment = w.Text(placeholder=t_("classify.comment_placeholder"), layout=w.Layout(width="320px"),
                              continuous_update=False)
        self.comment_button = w.Button(description=t_("classify.comment_save"))
        self.notice = w.HTML()
        self.feedback = w.HTML()
        self.discuss = w.HTML()
        self._discuss_link = discuss_link
        self.counter = w.HTML()
        self.keys_help = w.HTML(f"<span class='lf-keys'>{t_('classify.keys')}</span>",
                                layout=w.Layout(width="404px"))

        self.lens_button.on_click(guard(lambda _: self.vote(1)))
        self.not_button.on_click(guard(lambda _: self.vote(0)))
        self.undo_button.on_click(guarded(self.errors, "what.undo", t_)(lambda _: self.undo()))
        self.clear_button.on_click(guard(lambda _: self.clear_marks()))
        self.comment_button.on_click(guarded(self.errors, "what.comment", t_)(lambda _: self.save_comment()))
        self.comment.observe(guarded(self.errors, "what.comment", t_)(lambda _: self.save_comment()), names="value")
        self.favourite_button.observe(guarded(self.errors, "what.favourite", t_)(self._on_favourite), names="value")
        self.stretch_buttons.observe(guard(lambda c: self.set_view(stretch=c["new"])), names="value")
        self.zoom_buttons.observe(guard(lambda c: self.set_view(zoom=c["new"])), names="value")
        self._guide = guide
        self._on_vote = on_vote
        self._on_undo = on_undo

        for button in (self.lens_button, self.not_button, self.undo_button, self.favourite_button,
                       self.clear_button):
            button.layout.width = "auto"
        self.area = w.VBox([self.stage, self.missing,
                            w.HBox([self.lens_button, self.not_button, self.undo_button, self.favourite_button,
                                    self.clear_button]),
                            self.stretch_buttons, self.zoom_buttons, self.keys_help])
        self.mouse = Event(source=self.image, watched_events=["mousedown", "mouseup"], prevent_default_action=True)
        self.mouse.on_dom_event(guard(self._on_mouse))
        self.keyboard = Event(source=self.area, watched_events=["keydown"])
        self.keyboard.on_dom_event(guard(self._on_key))
        side = w.VBox([self.counter, self.feedback, self.discuss, self.notice,
                       w.HBox([self.comment, self.comment_button])],
                      layout=w.Layout(margin="0 0 0 1.5em"))
        children = [w.HTML(_CSS), self.errors, w.HBox([self.area, side])]
        if guide is not None:
            children.append(guide)
        super().__init__(children)
        self.show_current()

    # ------------------------------------------------------------------ display
    def show_current(self) -> None:
        shown = self.session.current
        self.counter.value = f"<span class='lf-count'>{self.t('classify.count', n=self.session.n_done)}</span>"
        self.undo_button.disabled = not self.session.can_undo()
        if shown is None:
            self.stage.layout.display = "none"
            self.missing.value = f"<b>{self.t('classify.all_done')}</b>"
            self.lens_button.disabled = self.not_button.disabled = True
            return
        self.lens_button.disabled = self.not_button.disabled = False
        self.stage.layout.display = ""
        picture = self.session.picture(self.stretch, self.zoom)
        if picture is None:
            self.missing.value = self.t("classify.image_missing")
            self.image.value = b""
        else:
            self.missing.value = ""
            self.image.value = picture
        self._draw_marks()

    def _view_geometry(self) -> tuple[int, int, int, int]:
        """(x0, y0, width, height): the full-image pixels shown at the current zoom."""
        return self.session.view_window(self.zoom)

    def _draw_marks(self) -> None:
        x0, y0, width, height = self._view_geometry()
        scale_x, scale_y = DISPLAY_PX / width, DISPLAY_PX / height
        dots = []
        for x, y in self.marks:
            dx, dy = (x - x0 + 0.5) * scale_x, (y - y0 + 0.5) * scale_y
            if 0 <= dx <= DISPLAY_PX and 0 <= dy <= DISPLAY_PX:
                dots.append(f'<circle cx="{dx:.1f}" cy="{dy:.1f}" r="{MARK_RADIUS_PX}" fill="none" '
                            f'stroke="#00ff66" stroke-width="2"/>')
        self.overlay.value = (f'<svg class="lf-marks" width="{DISPLAY_PX}" height="{DISPLAY_PX}">'
                              + "".join(dots) + "</svg>")

    # ------------------------------------------------------------------ marks
    def _to_full(self, event: dict) -> tuple[float, float] | None:
        """Full-image north-up pixel (x, y) of a mouse event on the image."""
        x0, y0, width, height = self._view_geometry()
        if "dataX" in event and event.get("dataX") is not None:  # pixels of the picture shown
            x, y = float(event["dataX"]), float(event["dataY"])
        else:  # fall back on the displayed size
            x = float(event["relativeX"]) * width / float(event.get("boundingRectWidth") or DISPLAY_PX)
            y = float(event["relativeY"]) * height / float(event.get("boundingRectHeight") or DISPLAY_PX)
        if not (0 <= x <= width and 0 <= y <= height):
            return None
        return x0 + x, y0 + y

    def _nearest_mark(self, point: tuple[float, float]) -> int | None:
        _, _, width, height = self._view_geometry()
        grab_x, grab_y = MARK_RADIUS_PX * width / DISPLAY_PX, MARK_RADIUS_PX * height / DISPLAY_PX
        for k, (x, y) in enumerate(self.marks):
            if abs(x - point[0]) <= grab_x and abs(y - point[1]) <= grab_y:
                return k
        return None

    def _on_mouse(self, event: dict) -> None:
        point = self._to_full(event)
        if point is None or self.session.current is None:
            return
        if event["type"] == "mousedown":
            self._press = (point[0], point[1], self._nearest_mark(point))
            return
        if self._press is None:
            return
        x0, y0, grabbed = self._press
        self._press = None
        moved = abs(point[0] - x0) > 1 or abs(point[1] - y0) > 1
        if grabbed is not None and moved:
            self.marks[grabbed] = point                    # drag a mark to a new place
        elif grabbed is not None:
            self.marks.pop(grabbed)                         # click on a mark removes it
        else:
            self.add_mark(point)
            return
        self._draw_marks()

    def add_mark(self, point: tuple[float, float]) -> None:
        self.marks.append((round(point[0], 1), round(point[1], 1)))
        self.notice.value = (f"<span class='lf-keys'>{self.t('classify.too_many_marks')}</span>"
                             if len(self.marks) > TOO_MANY_MARKS else "")
        self._draw_marks()

    def clear_marks(self) -> None:
        self.marks = []
        self.notice.value = ""
        self._draw_marks()

    # ------------------------------------------------------------------ actions
    def _on_key(self, event: dict) -> None:
        action = KEYS.get(str(event.get("key", "")).lower())
        if action == "lens":
            self.vote(1)
        elif action == "not":
            self.vote(0)
        elif action == "undo":
            self.undo()
        elif action == "favourite":
            self.favourite_button.value = not self.favourite_button.value
        elif action == "clear":
            self.clear_marks()
        elif action == "stretch":
            next_option(self.stretch_buttons)
        elif action == "zoom":
            next_option(self.zoom_buttons)
        elif action == "guide" and self._guide is not None:
            self._guide.selected_index = None if self._guide.selected_index == 0 else 0

    def vote(self, answer: int) -> Feedback | None:
        if self.lens_button.disabled or self.session.current is None:  # Button.click() ignores .disabled
            return None
        fb = self.session.vote(answer, self.marks if answer == 1 else None)
        self.marks = []
        self.notice.value = ""
        self.favourite_button.unobserve_all("value")
        self.favourite_button.value = False
        self.favourite_button.observe(guarded(self.errors, "what.favourite", self.t)(self._on_favourite),
                                      names="value")
        self.comment.value = ""
        self.errors.clear()
        self.show_current()
        self.last_feedback = fb
        self.feedback.value = self._feedback_html(fb) if self.show_feedback else ""
        self._show_discuss_link(fb.subject)
        if self._on_vote is not None:
            self._on_vote(fb)
        return fb

    def _feedback_html(self, fb: Feedback) -> str:
        if fb.correct is None:
            return ""
        t = self.t
        if fb.is_lens and fb.correct:
            text, css = t("feedback.found"), "lf-right"
        elif fb.is_lens and fb.answer == 1:
            text, css = t("feedback.marks_missed"), "lf-wrong"
        elif fb.is_lens:
            text, css = t("feedback.missed"), "lf-wrong"
        elif fb.correct:
            text, css = t("feedback.no_lens_right"), "lf-right"
        else:
            text, css = t("feedback.no_lens_wrong"), "lf-wrong"
        pic = ""
        if fb.image:
            layers = f'<img src="{_data_uri(fb.image, "image/jpeg")}">'
            if fb.arc_mask is not None:
                layers += f'<img class="lf-arc" src="{_data_uri(_mask_outline_png(fb.arc_mask), "image/png")}">'
            pic = f'<div class="lf-fb-pic">{layers}</div>'
        return f"<div class='lf-feedback'><span class='{css}'>{text}</span>{pic}</div>"

    def undo(self) -> None:
        vote_id = self.session.undo()
        if vote_id is None:
            self.undo_button.disabled = True
            return
        self.feedback.value = f"<span class='lf-keys'>{self.t('classify.undone')}</span>"
        self.discuss.value = ""  # the vote is gone, and with it the way into the thread
        self.marks = []
        self.show_current()
        if self._on_undo is not None:
            self._on_undo(vote_id)

    def _on_favourite(self, change: dict) -> None:
        self.session.annotate(favourite=bool(change["new"]))
        self.notice.value = self.t("classify.favourite_saved" if change["new"] else "classify.favourite_removed")

    def _show_discuss_link(self, subject: str) -> None:
        if self._discuss_link is None:
            return
        href = escape(self._discuss_link(subject))
        self.discuss.value = (f"<a class='lf-discuss' href=\"{href}\" target='_blank'>"
                              f"{escape(self.t('discuss.link'))} ({escape(subject)})</a>")

    def save_comment(self) -> None:
        """Post the box's text to the thread of the image on screen (a clear message when it cannot be)."""
        from ..classify.discussion import MAX_COMMENT_CHARS, CommentError

        if not self.comment.value.strip():
            return
        try:
            posted = self.session.post_comment(self.comment.value)
        except CommentError as exc:
            self.notice.value = (f"<span class='lf-wrong'>"
                                 f"{escape(self.t('discuss.error.' + exc.key, n=MAX_COMMENT_CHARS))}</span>")
            return
        if posted:
            self.comment.value = ""
            self.notice.value = self.t("classify.comment_saved")

