"""The classify page's features on a real (small) demo store: marks, keys, undo, stretches,
favourites, comments, feedback with the arc, the teacher's feedback switch, the practice round."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.sim.demo import build_demo
from lensfinder_nb.sim.guide import ensure_guide
from lensfinder_nb.classify.session import ClassifySession, marks_touch_arc
from lensfinder_nb.store import open_store
from lensfinder_nb.ui.classify import ClassifyView
from lensfinder_nb.ui.pages import PRACTICE_ROUND, classify_page, tutorial_page


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "lf.duckdb"
    store = open_store(path)
    build_demo(store, seed=3, n_mocks=16, n_nonlens=16, n_unknown=40, hidden_lens_fraction=0.05)
    ensure_guide(store.settings.data_dir)
    yield store
    store.close()


def _snr(store):
    """Each mock's arc S/N (best band) as the demo recorded it."""
    import json
    s = store.subjects()
    return {sid: max(json.loads(p)[k] for k in ("snr_g", "snr_r", "snr_z"))
            for sid, label, p in zip(s["subject"], s["label"], s["params"]) if label == 1}


def labels(store):
    s = store.subjects()
    return dict(zip(s["subject"], s["label"]))


def mouse(view, kind, x, y):
    """What a browser sends through ipyevents for a mouse event on the image."""
    view.mouse._handle_mouse_msg(None, {"type": kind, "dataX": x, "dataY": y, "relativeX": x * 4,
                                        "relativeY": y * 4}, [])


def key(view, k):
    view.keyboard._handle_mouse_msg(None, {"type": "keydown", "key": k}, [])


def next_of_label(view, store, wanted):
    lab = labels(store)
    for _ in range(200):
        if lab[view.session.current.subject] == wanted:
            return view.session.current.subject
        view.vote(0)
    raise AssertionError("no such subject came up")


def test_marks_click_drag_remove_and_clear(demo_store):
    view = ClassifyView(ClassifySession(demo_store, "marker", seed=1))
    mouse(view, "mousedown", 30, 40)
    mouse(view, "mouseup", 30, 40)
    assert view.marks == [(30.0, 40.0)]
    mouse(view, "mousedown", 30.5, 40.5)   # grab it ...
    mouse(view, "mouseup", 60, 70)          # ... and drag it
    assert view.marks == [(60, 70)]
    assert view.overlay.value.count("<circle") == 1
    mouse(view, "mousedown", 60, 70)
    mouse(view, "mouseup", 60, 70)          # click on a mark removes it
    assert view.marks == []
    for x in range(6):
        mouse(view, "mousedown", 10 + 12 * x, 10)
        mouse(view, "mouseup", 10 + 12 * x, 10)
    assert "lenses are rare" in view.notice.value
    key(view, "c")
    assert view.marks == [] and "<circle" not in view.overlay.value


def test_zoomed_marks_map_to_full_image_pixels(demo_store):
    view = ClassifyView(ClassifySession(demo_store, "zoomer", seed=2))
    view.zoom_buttons.value = 2                 # centre crop of 51 pixels shown
    mouse(view, "mousedown", 25, 25)
    mouse(view, "mouseup", 25, 25)
    assert view.marks == [(50.0, 50.0)]


def test_keyboard_votes_and_cycles(demo_store):
    view = ClassifyView(ClassifySession(demo_store, "keys", seed=3))
    first = view.session.current.subject
    key(view, "s")
    assert view.stretch == "standard"
    key(view, "z")
    assert view.zoom == 2
    key(view, "l")
    key(view, "N")
    votes = demo_store.votes()
    mine = votes[votes["user_id"] == "keys"]
    assert mine["answer"].tolist() == [1, 0] and mine["subject"].iloc[0] == first


def test_every_stretch_and_zoom_renders_a_picture(demo_store):
    session = ClassifySession(demo_store, "stretcher", seed=4)
    view = ClassifyView(session)
    seen = set()
    for stretch in view.stretch_buttons.options:
        for zoom in (1, 2, 4):
            view.set_view(stretch=stretch[1], zoom=zoom)
            assert view.image.value[:2] == b"\xff\xd8"
            seen.add(view.image.value)
    assert len(seen) == 21


def test_feedback_on_a_mock_outlines_the_arc_and_checks_the_marks(demo_store):
    view = ClassifyView(ClassifySession(demo_store, "finder", seed=5))
    next_of_label(view, demo_store, 1)
    fb = view.vote(1)
    assert fb.correct is True and fb.is_lens and fb.arc_mask is not None and fb.arc_mask.any()
    assert "simulated lens" in view.feedback.value and "lf-arc" in view.feedback.value
    # marks far from the arc: not found
    next_of_label(view, demo_store, 1)
    mask = view.session._feedback("x", view.session.current, 1, None).arc_mask
    far = np.argwhere(~np.pad(mask, 4)[4:-4, 4:-4])
    y, x = max(far.tolist(), key=lambda p: min(np.hypot(*(np.argwhere(mask) - p).T)))
    mouse(view, "mousedown", x, y)
    mouse(view, "mouseup", x, y)
    fb = view.vote(1)
    assert fb.marks_on_arc is False and fb.correct is False
    assert "missed the arc" in view.feedback.value


def test_marks_touch_arc():
    mask = np.zeros((101, 101), bool)
    mask[50, 60] = True
    assert marks_touch_arc([(61, 51)], mask) and not marks_touch_arc([(10, 10)], mask)


def test_feedback_on_non_lenses_and_unknowns(demo_store):
    view = ClassifyView(ClassifySession(demo_store, "dud", seed=6))
    next_of_label(view, demo_store, 0)
    assert view.vote(0).correct is True and "no lens" in view.feedback.value
    next_of_label(view, demo_store, -1)
    fb = view.vote(1)
    assert fb.correct is None and view.feedback.value == ""


def test_teacher_can_switch_feedback_off(demo_store):
    view = ClassifyView(ClassifySession(demo_store, "quiet", seed=7), feedback=False)
    next_of_label(view, demo_store, 1)
    view.vote(1)
    assert view.feedback.value == ""


def test_undo_records_a_retraction_and_shows_the_image_again(demo_store):
    view = ClassifyView(ClassifySession(demo_store, "undoer", seed=8))
    first = view.session.current.subject
    view.vote(1)
    assert not view.undo_button.disabled
    key(view, "u")
    assert view.session.current.subject == first
    all_votes = demo_store.votes(include_retracted=True)
    mine = all_votes[all_votes["user_id"] == "undoer"]
    assert len(mine) == 1 and mine["retracted_at"].notna().all()
    view.vote(0)
    live = demo_store.votes()
    assert live[live["user_id"] == "undoer"]["answer"].tolist() == [0]


def test_favourite_and_comment(demo_store):
    links = []
    view = ClassifyView(ClassifySession(demo_store, "fan", seed=9),
                        discuss_link=lambda s: links.append(s) or f"/discuss?subject={s}&x=<y>")
    subject = view.session.current.subject
    key(view, "f")
    got = demo_store.sql("SELECT subject, favourite FROM annotations WHERE user_id = 'fan'")
    assert got.values.tolist() == [[subject, True]]
    # a comment is a post in the image's thread, with its hashtags
    view.comment.value = "<b>nice</b> #Arc?"
    thread = demo_store.thread(subject)
    assert thread[["user_id", "body", "tags"]].values.tolist() == [["fan", "<b>nice</b> #Arc?", "arc"]]
    assert view.comment.value == "" and "discussion" in view.notice.value
    # too long: a clear message, the text stays in the box, nothing stored
    view.comment.value = "x" * 1001
    assert "at most 1000 characters" in view.notice.value and len(demo_store.thread(subject)) == 1
    assert view.comment.value == "x" * 1001
    # no link before a vote; after it, a link to the thread of the image just classified, escaped
    assert view.discuss.value == "" and links == []
    view.vote(0)
    assert links == [subject] and f"subject={subject}&amp;x=&lt;y&gt;" in view.discuss.value
    view.undo()
    assert view.discuss.value == ""


def test_training_share_of_a_newcomer(demo_store):
    session = ClassifySession(demo_store, "newbie", seed=10)
    lab = labels(demo_store)
    shown = []
    for _ in range(10):
        shown.append(lab[session.current.subject])
        session.vote(0)
    assert 1 <= sum(v != -1 for v in shown) <= 8


def test_pages_sign_in_and_practice_round(demo_store, monkeypatch):
    monkeypatch.setenv("LENSFINDER_DB", str(demo_store.path))
    frame = classify_page(query="")
    form = frame.body.children[-1]
    name, go = form.children
    name.value = "Practice Person"
    assert frame.identity is not None and frame.identity.user_id == "u-practice-person"
    assert "key=" in frame.body.children[0].value  # the personal link is shown
    link_query = frame.link("tutorial").split("?", 1)[1]
    tut = tutorial_page(query=link_query)
    assert tut.identity.user_id == "u-practice-person"
    # the simulated lenses above the round: brightest arc first, each with its arc S/N in words
    captions = [box.children[1].value for box in tut.body.children[1].children]
    example_snr = [float(c.rsplit("arc S/N ", 1)[1]) for c in captions]
    assert len(example_snr) == 4 and example_snr == sorted(example_snr, reverse=True), captions
    lab = labels(demo_store)
    snr = _snr(demo_store)
    served = []
    for _ in range(PRACTICE_ROUND):
        served.append(tut.view.session.current.subject)
        assert lab[served[-1]] != -1
        tut.view.vote(1)
    assert tut.view.lens_button.disabled
    # obvious to realistic: the round's mocks go from the brightest arc down to the faint end of the population
    shown = [snr[s] for s in served if lab[s] == 1]
    assert len(shown) == PRACTICE_ROUND // 2 and shown == sorted(shown, reverse=True)
    population = np.array(sorted(snr.values()))
    assert shown[0] == population[-1] and shown[-1] <= np.quantile(population, 0.2), (shown, population)
    assert "Start classifying" in tut.body.children[-1].value
    bad = classify_page(query="user=u-practice-person&key=nope")
    assert bad.identity is None and "not valid" in bad.errors.value


def test_language_switch_translates_the_page(demo_store, monkeypatch):
    monkeypatch.setenv("LENSFINDER_DB", str(demo_store.path))
    frame = classify_page(query="")
    frame.body.children[-1].children[0].value = "Lang Person"
    frame.language.value = "zh"
    assert frame.view.lens_button.description == "是透镜"
    assert "分类" in frame.title.value


def test_routing_serves_the_unknowns_the_machine_and_crowd_care_about_first(demo_store):
    subjects = demo_store.subjects()
    unknown = subjects[subjects["label"] == -1]["subject"].tolist()
    favoured = set(unknown[-3:])  # the machine's top scores go to three unknowns at the end of the id order
    score = {s: 0.99 if s in favoured else 0.01 for s in unknown}
    score.update({s: 0.99 if label == 1 else 0.01 for s, label in zip(subjects["subject"], subjects["label"])
                  if label != -1})  # held-out training subjects: the machine's skill is measured on them
    demo_store.write_machine_scores(pd.DataFrame({"subject": list(score), "score": list(score.values())}), "test")
    try:
        lab = labels(demo_store)

        def first_unknowns(session):
            out = []
            while len(out) < 3:
                if lab[session.current.subject] == -1:
                    out.append(session.current.subject)
                session.vote(0)
            return out

        routed = first_unknowns(ClassifySession(demo_store, "routed-person", seed=11, routing=True))
        plain = first_unknowns(ClassifySession(demo_store, "plain-person", seed=11))
        assert len(set(routed) & favoured) >= 2
        assert len(set(plain) & favoured) <= 1
    finally:
        demo_store.write_machine_scores(pd.DataFrame({"subject": [], "score": []}), "test")  # removes them
