"""The grading page in the kernel: expert links only, the queue rule, blind grading, views, both languages."""

from __future__ import annotations

import pandas as pd
import pytest

from lensfinder_nb.classify.grading import GradingSession, GradingSettings
from lensfinder_nb.classify.identity import add_expert, personal_link, sign_up
from lensfinder_nb.ui.grade import GradeView
from lensfinder_nb.ui.pages import grade_page
from tests.support.stores import make_image_store
from tests.support.widgets import widget_texts

UNKNOWN_SCORES = {"T0002": 0.99, "T0005": 0.97, "T0008": 0.002, "T0011": 0.0005}  # label -1 subjects


def texts(widget) -> str:
    return widget_texts(widget, buttons=True, tooltips=True)


@pytest.fixture
def grading_store(tmp_path, monkeypatch):
    store = make_image_store(tmp_path / "lf.duckdb", n_per_label=4)
    subjects = list(UNKNOWN_SCORES)
    store.write_scores(pd.DataFrame({"subject": subjects, "probability": list(UNKNOWN_SCORES.values()),
                                     "n_votes": [9] * 4, "status": ["detected"] * 2 + ["undecided"] * 2}), "swap")
    monkeypatch.setenv("LENSFINDER_DB", str(store.path))
    yield store
    store.close()


def view_of(frame) -> GradeView:
    found = [c for c in frame.body.children if isinstance(c, GradeView)]
    assert len(found) == 1
    return found[0]


def query(identity) -> str:
    return personal_link("grade", identity).split("?", 1)[1]


def test_only_an_expert_link_opens_the_page(grading_store):
    volunteer = sign_up(grading_store, "Vera")
    for q in ("", query(volunteer)):
        frame = grade_page(query=q)
        assert "expert link" in texts(frame) and not any(isinstance(c, GradeView) for c in frame.body.children)
    bad = grade_page(query=query(add_expert(grading_store, "Ada")).replace("key=", "key=x"))
    assert "not valid" in texts(bad)


def test_on_jupyterhub_a_hub_user_the_teacher_made_an_expert_grades(grading_store):
    from lensfinder_nb.classify.identity import make_hub_expert
    from lensfinder_nb.settings import Settings

    def page_of(name: str, q: str = ""):
        return grade_page(query=q, settings=Settings.from_env(
            {"JUPYTERHUB_USER": name, "JUPYTERHUB_SERVICE_PREFIX": f"/user/{name}/"}, db_path=grading_store.path))

    # not an expert, even with a real expert's link: told who they are and who can change it
    refused = texts(page_of("vera", query(add_expert(grading_store, "Dr Lee"))))
    assert "your hub name <b>vera</b> is not one of them" in refused and "teacher can make you an expert" in refused
    make_hub_expert(grading_store, "grace")
    frame = page_of("grace")
    view = view_of(frame)
    assert "Signed in as <b>grace</b>" in texts(frame) and view.session.current.subject == "T0002"
    assert "key=" not in view.discuss.value and "/user/grace/voila/render/discuss.ipynb" in view.discuss.value
    view.grade_buttons[0].click()                                     # 3 · Definitely a lens
    assert grading_store.grades()[["user_id", "subject", "grade"]].values.tolist() == [["hub-grace", "T0002", 3]]
    assert "<b>vera</b> 还不是专家" in texts(page_of("vera", "lang=zh"))


def test_blind_queue_best_first_and_grades_stored(grading_store):
    ada = add_expert(grading_store, "Ada")
    frame = grade_page(query=query(ada))
    view = view_of(frame)
    page = texts(frame)
    assert view.session.current.subject == "T0002"              # best crowd score first
    assert "0.990" not in page and "0.99" not in page and "Consensus" not in page  # blind by default
    assert "Blind grading" in page and "3 · Definitely a lens" in page and "discuss.ipynb?" in page
    assert "subject=T0002" in view.discuss.value and f"user={ada.user_id}" in view.discuss.value
    assert "model.ipynb?" in view.discuss.value and view.discuss.value.count("subject=T0002") == 2
    view.stretch_buttons.value = "g"                             # a single band, rendered from the picture
    view.zoom_buttons.value = 2
    view.grade(3)
    assert view.session.current.subject == "T0005"
    assert "T0002 graded 3" in view.notice.value and "Consensus" not in view.notice.value
    view.grade(2)
    view.grade(1)
    assert view.session.current is None     # T0011 is below the default cut of SWAP scores, 0.001
    assert "Nothing is waiting" in texts(frame)
    g = grading_store.grades()
    assert sorted(zip(g["subject"], g["grade"])) == [("T0002", 3), ("T0005", 2), ("T0008", 1)]


def test_a_subject_leaves_the_queue_after_n_graders(grading_store):
    GradingSettings(n_graders=2).save(grading_store)
    for name in ("Ann", "Bob"):
        grading_store.add_grade(add_expert(grading_store, name).user_id, "T0002", 3)
    cy = GradingSession(grading_store, add_expert(grading_store, "Cy").user_id)
    assert cy.current.subject == "T0005" and cy.remaining == 2


def test_without_blind_grading_the_consensus_is_shown(grading_store):
    GradingSettings(blind=False).save(grading_store)
    grading_store.add_grade("e-bob", "T0002", 1)
    frame = grade_page(query=query(add_expert(grading_store, "Ada")))
    view = view_of(frame)
    assert "Queue score 0.990" in view.info.value and "mean 1.00" in view.info.value
    view.grade(3)
    assert "mean 2.00 (class B) from 2 grader(s)" in view.notice.value


def test_the_page_in_chinese(grading_store):
    frame = grade_page(query=query(add_expert(grading_store, "Ada")) + "&lang=zh")
    page = texts(frame)
    assert "肯定是透镜" in page and "盲评" in page and "Definitely" not in page


def test_an_expert_changes_their_last_grade_and_the_latest_counts(grading_store):
    frame = grade_page(query=query(add_expert(grading_store, "Ada")))
    view = view_of(frame)
    assert view.back_button.disabled
    view.grade(0)                                   # T0002
    assert view.session.current.subject == "T0005" and not view.back_button.disabled
    view.back_button.click()
    assert view.session.current.subject == "T0002" and "again" in view.notice.value
    view.grade(3)
    assert view.session.current.subject == "T0005"  # back where the expert was
    assert view.session.n_done == 1
    assert grading_store.grades()[["subject", "grade"]].values.tolist() == [["T0002", 3]]
    assert grading_store.grades(history=True)["grade"].tolist() == [0, 3]
