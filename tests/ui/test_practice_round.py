"""The tutorial's practice round: each image counts once, by its last live answer, whatever undo did."""

from __future__ import annotations

import re

import pytest

from lensfinder_nb.classify.identity import personal_link, sign_up
from lensfinder_nb.ui.pages import PRACTICE_ROUND, tutorial_page

from support import make_image_store


@pytest.fixture
def tutorial(tmp_path, monkeypatch):
    """A signed-in tutorial page on a store with more training images than one round needs."""
    store = make_image_store(tmp_path / "lf.duckdb", n_per_label=8)   # 16 training subjects
    monkeypatch.setenv("LENSFINDER_DB", str(store.path))
    who = sign_up(store, "Pat")
    page = tutorial_page(query=personal_link("tutorial", who).split("?", 1)[1])
    labels = dict(zip(store.subjects()["subject"], store.subjects()["label"]))
    yield page, labels
    page.store.close()
    store.close()


def tally(page) -> tuple[int, int] | None:
    """(right, n) from the "Practice done: right of n right." line, or None while the round runs."""
    found = re.search(r"(\d+) of (\d+) right", page.body.children[-1].value)
    return (int(found[1]), int(found[2])) if found else None


def answer(page, labels, right: bool):
    label = labels[page.view.session.current.subject]
    return page.view.vote(label if right else 1 - label)


def test_an_undone_answer_no_longer_counts(tutorial):
    page, labels = tutorial
    view = page.view
    assert answer(page, labels, right=True).correct is True      # image 1: right ...
    view.undo()                                                  # ... taken back ...
    assert answer(page, labels, right=False).correct is False    # ... and answered wrong: it counts wrong
    for _ in range(PRACTICE_ROUND - 2):                          # images 2 .. 9: right
        answer(page, labels, right=True)
    assert tally(page) is None and not view.lens_button.disabled
    answer(page, labels, right=True)                             # image 10: right, the round ends
    assert tally(page) == (PRACTICE_ROUND - 1, PRACTICE_ROUND)
    assert view.lens_button.disabled and view.not_button.disabled


def test_undo_of_the_last_answer_reopens_the_round_and_never_counts_twice(tutorial):
    page, labels = tutorial
    view = page.view
    for _ in range(PRACTICE_ROUND):
        answer(page, labels, right=True)
    assert tally(page) == (PRACTICE_ROUND, PRACTICE_ROUND)
    view.undo()                                                  # the tenth answer is taken back
    assert tally(page) is None                                   # the round is not done any more
    assert not view.lens_button.disabled and not view.not_button.disabled
    answer(page, labels, right=True)                             # and answered again, right
    assert tally(page) == (PRACTICE_ROUND, PRACTICE_ROUND)       # not "11 of 10 right"
    live = page.store.votes()
    assert len(live[live["user_id"] == page.identity.user_id]) == PRACTICE_ROUND


def test_a_finished_round_stays_finished_after_a_language_switch(tutorial):
    page, labels = tutorial
    for _ in range(PRACTICE_ROUND):
        answer(page, labels, right=False)
    page.language.value = "zh"                                   # the page is built again
    assert page.view.lens_button.disabled and page.view.not_button.disabled
    assert f"练习完成：{PRACTICE_ROUND} 张中答对 0 张" in page.body.children[-1].value
