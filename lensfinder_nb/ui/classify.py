"""The classify view: a large image, 'Lens' / 'Not a lens', and immediate feedback."""

from __future__ import annotations

import ipywidgets as w

from ..session import ClassifySession, Feedback
from .common import ErrorArea, guarded

__all__ = ["ClassifyView"]

_CSS = """<style>
img.lf-image { image-rendering: pixelated; width: 404px; height: 404px; background: #000; }
.lf-error { color: #8b0000; font-weight: bold; }
.lf-right { color: #006400; font-weight: bold; } .lf-wrong { color: #8b0000; font-weight: bold; }
</style>"""


class ClassifyView(w.VBox):
    """Widgets for one :class:`ClassifySession`."""

    def __init__(self, session: ClassifySession) -> None:
        self.session = session
        self.errors = ErrorArea()
        self.image = w.Image(format="jpeg", layout=w.Layout(width="404px", height="404px"))
        self.image.add_class("lf-image")
        self.missing = w.HTML()
        self.lens_button = w.Button(description="Lens", button_style="success", tooltip="This shows a lens")
        self.not_button = w.Button(description="Not a lens", button_style="danger", tooltip="No lens here")
        self.feedback = w.HTML()
        self.counter = w.HTML()
        self.lens_button.on_click(guarded(self.errors, "what.vote")(lambda _: self.vote(1)))
        self.not_button.on_click(guarded(self.errors, "what.vote")(lambda _: self.vote(0)))
        super().__init__([w.HTML(_CSS), self.errors, self.image, self.missing,
                          w.HBox([self.lens_button, self.not_button]), self.feedback, self.counter])
        self.show_current()

    def show_current(self) -> None:
        shown = self.session.current
        done = self.session.n_done
        self.counter.value = f"<span class='lf-count'>{done} classified</span>"
        if shown is None:
            self.image.layout.display = "none"
            self.missing.value = "<b>You have seen every subject. Thank you!</b>"
            self.lens_button.disabled = self.not_button.disabled = True
            return
        if shown.image is None:
            self.image.layout.display = "none"
            self.missing.value = "This image could not be loaded; please vote on what you can, or skip it."
        else:
            self.missing.value = ""
            self.image.layout.display = ""
            self.image.value = shown.image

    def vote(self, answer: int) -> Feedback | None:
        if self.lens_button.disabled:  # Button.click() ignores .disabled
            return None
        fb = self.session.vote(answer)
        self.errors.clear()
        if fb.correct is None:
            self.feedback.value = ""
        elif fb.correct:
            self.feedback.value = "<span class='lf-right'>Right! " + (
                "That was a simulated lens.</span>" if fb.is_lens else "There was no lens there.</span>")
        else:
            self.feedback.value = "<span class='lf-wrong'>Not quite: " + (
                "that was a simulated lens.</span>" if fb.is_lens else "there was no lens there.</span>")
        self.show_current()
        return fb
