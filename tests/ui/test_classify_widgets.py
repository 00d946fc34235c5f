"""The classify path without a browser: session rules and widget wiring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.classify.order import plan_queue, training_rate
from lensfinder_nb.classify.session import ClassifySession
from lensfinder_nb.ui.classify import ClassifyView

from support import make_image_store


@pytest.fixture
def image_store(tmp_path):
    s = make_image_store(tmp_path / "lf.duckdb")
    yield s
    s.close()


def test_training_rate_falls_with_experience():
    rates = [training_rate(n) for n in (0, 9, 10, 39, 40, 99, 100, 10_000)]
    assert rates == sorted(rates, reverse=True)
    assert rates[0] == pytest.approx(0.4) and rates[-1] == pytest.approx(0.1)


def test_plan_never_repeats_skips_retired_and_prefers_few_votes():
    pool = pd.DataFrame({"subject": list("abcdefgh"), "label": [-1, -1, -1, -1, 1, 0, -1, -1],
                         "n_votes": [5, 0, 1, 0, 0, 0, 0, 9], "retired": [False] * 6 + [True, False]})
    plan = plan_queue(pool, seen={"d"}, n=20, n_done=1000, rng=np.random.default_rng(1))
    assert len(plan) == len(set(plan)) == 6
    assert "g" not in plan and "d" not in plan
    unknown_order = [s for s in plan if s in "abch"]
    assert unknown_order == ["b", "c", "a", "h"]


def test_mix_of_training_matches_the_schedule():
    n = 4000
    pool = pd.DataFrame({"subject": [f"s{i}" for i in range(n)], "label": [-1] * (n // 2) + [1, 0] * (n // 4),
                         "n_votes": 0, "retired": False})
    first = plan_queue(pool, set(), 10, 0, np.random.default_rng(2))
    later = plan_queue(pool, set(), 1000, 1000, np.random.default_rng(2))
    share_later = np.mean([int(s[1:]) >= n // 2 for s in later])
    assert 0.07 < share_later < 0.13
    assert sum(int(s[1:]) >= n // 2 for s in first) >= 1


def test_clicks_record_votes_and_give_feedback_on_training(image_store):
    session = ClassifySession(image_store, "ada", seed=3)
    view = ClassifyView(session)
    labels = dict(zip(image_store.subjects()["subject"], image_store.subjects()["label"]))
    shown, feedback = [], []
    for _ in range(8):
        shown.append(session.current.subject)
        assert view.image.value == session.current.image
        fb = view.vote(1)
        feedback.append(fb)
    votes = image_store.votes()
    assert votes["subject"].tolist() == shown and (votes["answer"] == 1).all()
    assert len(set(shown)) == 8
    for sid, fb in zip(shown, feedback):
        if labels[sid] == -1:
            assert fb.correct is None
        else:
            assert fb.correct == (labels[sid] == 1)
    assert "8 classified" in view.counter.value


def test_a_new_session_never_serves_what_the_person_saw(image_store):
    s1 = ClassifySession(image_store, "bob", seed=1)
    seen = []
    for _ in range(5):
        seen.append(s1.current.subject)
        s1.vote(0)
    s2 = ClassifySession(image_store, "bob", seed=1)
    served = []
    while s2.current is not None:
        served.append(s2.current.subject)
        s2.vote(1)
    assert not set(seen) & set(served)
    assert len(served) + len(seen) == 18


def test_missing_image_shows_a_message(image_store):
    (image_store.path.parent / "images").rename(image_store.path.parent / "gone")
    session = ClassifySession(image_store, "cy", seed=0)
    view = ClassifyView(session)
    assert "could not be loaded" in view.missing.value
    view.vote(0)
    assert len(image_store.votes()) == 1


def test_handler_errors_are_shown_not_swallowed(image_store, caplog):
    session = ClassifySession(image_store, "dee", seed=0)
    view = ClassifyView(session)

    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    session.store.add_vote = broken
    view.lens_button.click()
    assert "disk on fire" in view.errors.value
    assert any("what.vote failed" in r.getMessage() for r in caplog.records)
    caplog.clear()  # this error was expected: the page showed it and logged it
