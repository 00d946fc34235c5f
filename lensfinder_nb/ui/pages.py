"""Page entry points: each Voilà notebook in ``apps/`` calls one of these and nothing else."""

from __future__ import annotations

import uuid

import ipywidgets as w

from ..settings import Settings
from .common import escape
from .frame import PageFrame, open_page
from .model import model_page

__all__ = ["classify_page", "tutorial_page", "discuss_page", "grade_page", "model_page", "PRACTICE_ROUND"]

PRACTICE_ROUND = 10


def _sign_in_body(frame: PageFrame) -> list[w.Widget]:
    return [w.HTML(f"<p>{escape(frame.t(f'{frame.page}.signin_intro'))}</p>"),
            frame.sign_in_form(lambda _who: frame.refresh())]


def classify_page(query: str | None = None, settings: Settings | None = None) -> PageFrame:
    """Sign in (or arrive with a personal link / JupyterHub), then classify.

    ``query`` and ``settings`` default to the request's and the environment's (:func:`open_page`).
    """

    def render(frame: PageFrame) -> None:
        from ..classify.session import ClassifySession
        from .classify import ClassifyView
        from .guide import FieldGuide
        if frame.identity is None:
            frame.body.children = _sign_in_body(frame)
            return
        store, classroom = frame.store, frame.settings.classroom
        session = getattr(frame, "session", None)
        if session is None:
            session = frame.session = ClassifySession(
                store, frame.identity.user_id, session_id=uuid.uuid4().hex[:12],
                rate_scale=classroom.training_rate_scale, routing=classroom.routing)
        guide = FieldGuide(frame.settings.data_dir, frame.t)
        frame.view = ClassifyView(session, frame.t, feedback=classroom.feedback, errors=frame.errors, guide=guide,
                                  discuss_link=lambda subject: frame.link("discuss", subject=subject))
        frame.body.children = [frame.signed_in_banner(), frame.view]

    return open_page("classify", render, query_string=query, settings=settings)


def discuss_page(query: str | None = None, settings: Settings | None = None) -> PageFrame:
    """One image's discussion (``discuss.ipynb?subject=<id>``): see :mod:`lensfinder_nb.ui.discuss`."""
    from .discuss import discuss_page as page

    return page(query, settings=settings)


def tutorial_page(query: str | None = None, settings: Settings | None = None) -> PageFrame:
    """What a strong lens is, the field guide, a practice round with feedback, then a link to classify."""

    def render(frame: PageFrame) -> None:
        from ..sim.guide import load_guide
        from ..classify.practice import PracticeTally
        from ..classify.session import ClassifySession
        from .classify import ClassifyView
        from .guide import FieldGuide
        t, store = frame.t, frame.store
        data_dir = store.settings.data_dir
        intro = w.HTML("".join(f"<p>{escape(t(f'tutorial.intro{k}'))}</p>" for k in (1, 2, 3)))
        examples = []
        lenses = [e for e in load_guide(data_dir) if e["section"] == "lens"]
        # obvious to realistic: the brightest arc first (guides built before S/N was kept go last)
        for entry in sorted(lenses, key=lambda e: -e.get("snr", 0.0)):
            try:
                data = (data_dir / entry["image"]).read_bytes()
            except OSError:
                continue
            pic = w.Image(value=data, format="jpeg", layout=w.Layout(width="202px", height="202px"))
            pic.add_class("lf-image")
            title = t("guide." + entry["id"] + ".title")
            caption = escape(title)
            if "snr" in entry:
                caption += "<br>" + escape(t("tutorial.example_snr", snr=f"{entry['snr']:.0f}"))
            examples.append(w.VBox([pic, w.HTML(caption)]))
        parts = [intro, w.HBox(examples), w.HTML(f"<p>{escape(t('tutorial.lookalikes'))}</p>"),
                 FieldGuide(data_dir, t, open_=True)]
        if frame.identity is None:
            frame.body.children = parts + _sign_in_body(frame)
            return
        practice = getattr(frame, "practice", None)
        if practice is None:
            practice = frame.practice = ClassifySession(store, frame.identity.user_id, training_only=True,
                                                        practice=PRACTICE_ROUND,
                                                        session_id="tutorial-" + uuid.uuid4().hex[:8])
            frame.practice_tally = PracticeTally(PRACTICE_ROUND)
        tally = frame.practice_tally
        done = w.HTML()

        def show_progress() -> None:
            # after an undo the round may be open again: the view has re-enabled its buttons
            if tally.done or (practice.current is None and tally.n):
                frame.view.lens_button.disabled = frame.view.not_button.disabled = True
                done.value = (f"<h3>{escape(t('tutorial.done', right=tally.right, n=tally.n))}</h3>"
                              f"<p><a href=\"{escape(frame.link('classify'))}\">{escape(t('tutorial.go'))}</a></p>")
            else:
                done.value = ""

        def after_vote(fb) -> None:
            tally.record(fb.vote_id, fb.correct)
            show_progress()

        def after_undo(vote_id: str) -> None:
            tally.forget(vote_id)
            show_progress()

        frame.view = ClassifyView(practice, t, feedback=True, errors=frame.errors, on_vote=after_vote,
                                  on_undo=after_undo)
        show_progress()  # a language switch re-renders a finished round as finished
        frame.body.children = parts + [frame.signed_in_banner(),
                                       w.HTML(f"<h3>{escape(t('tutorial.practice', n=PRACTICE_ROUND))}</h3>"),
                                       frame.view, done]

    return open_page("tutorial", render, query_string=query, settings=settings)


def grade_page(query: str | None = None, settings: Settings | None = None) -> PageFrame:
    """Expert grading (``apps/grade.ipynb``): needs an expert's personal link (``lensfinder experts add``),
    or on JupyterHub a hub user the teacher made an expert (``lensfinder experts add --hub``, the dashboard).

    ``query`` and ``settings`` default to the request's and the environment's (:func:`open_page`).
    """

    def render(frame: PageFrame) -> None:
        from ..classify.grading import GradingSession
        from ..classify.identity import is_expert
        from .grade import GradeView
        if not is_expert(frame.identity):
            # on the hub no link helps (the hub's user is the person): say who they are and who can change it
            message = (frame.t("grade.expert_required_hub", name=escape(frame.identity.display_name))
                       if frame.settings.hub_user and frame.identity is not None else frame.t("grade.expert_required"))
            frame.body.children = [w.HTML(f"<p class='lf-error' role='alert'>{message}</p>")]
            return
        session = getattr(frame, "grading", None)
        if session is None:
            session = frame.grading = GradingSession(frame.store, frame.identity.user_id)
        frame.view = GradeView(session, frame.t, errors=frame.errors,
                               discuss_link=lambda subject: frame.link("discuss", subject=subject),
                               model_link=lambda subject: frame.link("model", subject=subject))
        frame.body.children = [frame.signed_in_banner(), frame.view]

    return open_page("grade", render, query_string=query, settings=settings)

