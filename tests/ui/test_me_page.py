"""The personal centre: my own metrics, history, notes and CSV, and nobody else's."""

from __future__ import annotations

import base64
import re
import urllib.parse

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.classify import personal
from lensfinder_nb.classify.identity import personal_link, sign_up
from lensfinder_nb.scoring import volunteer_metrics
from lensfinder_nb.ui.me import MeView, me_page
from tests.support.widgets import widget_texts

# bqplot's scales package (bqscales) sets trait metadata the old way at import time
pytestmark = pytest.mark.filterwarnings("ignore:metadata .* was set from the constructor:DeprecationWarning")

XSS = "<img src=x onerror=alert(1)>"
# S000-S003 lens (1), S004-S007 non-lens (0), S008-S011 unknown (-1): see conftest.store
ADA_ANSWERS = {"S000": 1, "S001": 1, "S002": 0, "S004": 0, "S005": 1, "S006": 0, "S008": 1, "S009": 0, "S010": 1}


def query(identity) -> str:
    return personal_link("me", identity).split("?", 1)[1]


def texts(widget) -> str:
    return widget_texts(widget, buttons=True)


def view(frame) -> MeView:
    found = [c for c in frame.body.children if isinstance(c, MeView)]
    assert len(found) == 1
    return found[0]


@pytest.fixture
def ada(store):
    who = sign_up(store, "Ada")
    for k, (sid, answer) in enumerate(ADA_ANSWERS.items()):
        store.add_vote(who.user_id, sid, answer, created_at=f"2024-05-01T10:{k:02d}:00", vote_id=f"ada-{k}")
    return who


def test_metrics_shown_equal_those_computed_from_the_votes(store, ada):
    bob = sign_up(store, "Bob")
    store.add_vote(bob.user_id, "S000", 0, created_at="2024-05-01T09:00:00")
    store.add_vote(bob.user_id, "S011", 1, created_at="2024-05-01T09:01:00")
    frame = me_page(query(ada), store)
    v = view(frame)
    expected = volunteer_metrics(store.votes(), store.subjects()).set_index("user_id").loc[ada.user_id]
    # TP = S000, S001; FN = S002; FP = S005; TN = S004, S006; 3 unknowns
    assert (expected["TP"], expected["FN"], expected["FP"], expected["TN"]) == (2, 1, 1, 2)
    for key in ("TP", "FP", "TN", "FN", "accuracy", "precision", "recall", "F1", "skill", "contribution",
                "n_votes", "n_training", "n_test"):
        assert v.metrics[key] == pytest.approx(expected[key]), key
    shown = v.scores.value
    for ratio in ("accuracy", "precision", "recall", "F1"):
        assert f"{100 * expected[ratio]:.0f}%" in shown
    cells = re.findall(r"<td>(\d+)</td>", shown.split("lf-confusion")[1])
    assert [int(c) for c in cells] == [2, 1, 1, 2]  # [[TP, FN], [FP, TN]] as rows lens / non-lens
    assert f"<b>{expected['skill']:.2f}</b>" in v.skill.value
    assert f"<b>{expected['contribution']:.1f}</b>" in v.skill.value
    assert "<b>9</b> classifications (6 on training images, 3 on unknown images)" in v.summary.value
    # Ada contributes more than Bob (who has no training votes, hence skill 0): first of two
    assert "<b>1</b> of 2 volunteers" in v.skill.value


def test_truth_is_shown_for_training_subjects_only_and_retractions_are_marked(store, ada):
    store.retract_vote("ada-0", ada.user_id)
    v = view(me_page(query(ada), store))
    cards = {texts(card).split("<b>")[1].split("</b>")[0]: texts(card) for card in v.history.children}
    assert set(cards) == set(ADA_ANSWERS)
    for sid, text in cards.items():
        training = int(sid[1:]) < 8
        assert ("Truth:" in text) == training, sid
        assert ("right" in text or "wrong" in text) == training, sid
    assert "Truth: simulated lens" in cards["S002"] and "wrong" in cards["S002"]
    assert "Truth: not a lens" in cards["S004"] and "right" in cards["S004"]
    assert "taken back" in cards["S000"] and "taken back" not in cards["S001"]
    # the retracted vote no longer counts
    assert v.metrics["TP"] == 1 and v.metrics["n_votes"] == 8


def test_history_is_paged_newest_first(store):
    who = sign_up(store, "Cleo")
    rng = np.random.default_rng(3)
    stamps = pd.date_range("2024-05-01T08:00", periods=30, freq="min")
    for k, ts in enumerate(stamps):  # repeat votes on 12 subjects: every vote is history
        store.add_vote(who.user_id, f"S{k % 12:03d}", int(rng.integers(0, 2)), created_at=ts.isoformat(),
                       vote_id=f"c{k:02d}")
    v = view(me_page(query(who), store))
    assert len(v.history.children) == personal.HISTORY_PAGE_SIZE == 24
    assert "Page 1 of 2" in v.history_label.value and v.newer.disabled and not v.older.disabled
    first = [texts(c) for c in v.history.children]
    assert "08:29" in first[0] and "08:06" in first[-1]
    v.older.click()
    assert len(v.history.children) == 6 and "Page 2 of 2" in v.history_label.value
    assert "08:05" in texts(v.history.children[0]) and "08:00" in texts(v.history.children[-1])
    assert v.older.disabled


def test_another_persons_key_cannot_read_a_history(store, ada):
    bob = sign_up(store, "Bob")
    store.add_vote(bob.user_id, "S011", 1)
    # Ada's id with Bob's key: the message, and nothing of anyone's data
    frame = me_page(urllib.parse.urlencode({"user": ada.user_id, "key": bob.key}), store)
    assert not any(isinstance(c, MeView) for c in frame.body.children)
    assert "key does not match" in frame.errors.value
    page = texts(frame)
    for sid in list(ADA_ANSWERS) + ["S011"]:
        assert sid not in page
    assert "Ada" not in page and "Bob" not in page
    # Bob's own link shows Bob's single vote only
    v = view(me_page(query(bob), store))
    assert [texts(c).split("<b>")[1].split("</b>")[0] for c in v.history.children] == ["S011"]
    assert "<b>1</b> classifications" in v.summary.value


def test_without_identity_the_page_explains_and_offers_sign_in(store, ada):
    frame = me_page("", store)
    assert not any(isinstance(c, MeView) for c in frame.body.children)
    assert "personal link" in texts(frame)
    assert "S000" not in texts(frame)


def test_xss_in_display_name_and_comment_is_escaped(store, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", XSS)
    frame = me_page("", store)
    v = view(frame)
    store.add_vote(frame.identity.user_id, "S008", 1)
    store.annotate(frame.identity.user_id, "S008", favourite=True, comment=XSS)
    store.annotate(frame.identity.user_id, "S009", comment="looks like an arc")
    v.refresh_button.click()
    page = texts(frame)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the name in the banner
    assert "&lt;img src=x onerror=alert(1)&gt;" in v.notes.value  # the comment
    assert "looks like an arc" in v.notes.value and "favourite" in v.notes.value


def test_csv_download_has_the_import_columns_and_only_my_live_votes(store, ada):
    store.add_vote("u-someone-else", "S003", 1)
    store.retract_vote("ada-1", ada.user_id)
    v = view(me_page(query(ada), store))
    href = re.search(r'href="([^"]+)"', v.download.value).group(1)
    assert href.startswith("data:text/csv;charset=utf-8;base64,")
    text = base64.b64decode(href.split(",", 1)[1]).decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "user,subject,answer,created_at,vote_id"
    rows = [line.split(",") for line in lines[1:]]
    assert {r[0] for r in rows} == {ada.user_id}
    assert [r[4] for r in rows] == [f"ada-{k}" for k in range(9) if k != 1]
    assert 'download="lensfinder-votes-u-ada.csv"' in v.download.value


def test_the_page_follows_the_language_switch(store, ada):
    frame = me_page(query(ada), store)
    frame.language.value = "zh"
    v = view(frame)
    assert "你已完成 <b>9</b> 次分类" in v.summary.value
    assert "答案：模拟透镜" in texts(v.history)
