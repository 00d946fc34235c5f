"""Two experts grade in a real browser with blind grading; the consensus follows; the page in Chinese.

Every websocket frame each expert's page receives is kept: before that expert's grade is stored,
neither the crowd score nor the other expert's grade may reach the browser (not just stay hidden).
"""

from __future__ import annotations

import pandas as pd
import pytest

from support import browser_page, make_image_store, voila_server
from lensfinder_nb.classify.identity import add_expert, personal_link
from lensfinder_nb.scoring.grading import catalogue_from_store, consensus

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# the unknown subjects of make_image_store(n_per_label=4), with crowd scores no page text could contain
CROWD = {"T0002": 0.987654, "T0005": 0.876543, "T0008": 0.765432, "T0011": 0.123456}


def _record_frames(page) -> list[str]:
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(
        f if isinstance(f, str) else f.decode("latin-1"))))
    return frames


def _grade_first(base: str, expert, grade: int, *, forbidden: list[str]) -> tuple[str, list[str]]:
    """Open the expert's link, check the first subject, grade it; returns (subject, frames before grading)."""
    with browser_page() as page:
        frames = _record_frames(page)
        page.goto(f"{base}{personal_link('grade', expert)}", timeout=90_000)
        page.locator("img.lf-main").wait_for(timeout=90_000)
        page.get_by_text(f"Signed in as {expert.display_name}").wait_for(timeout=30_000)
        page.get_by_text("Blind grading").wait_for(timeout=30_000)
        for label in ("3 · Definitely a lens", "2 · Probably a lens", "1 · Possibly a lens", "0 · Not a lens"):
            assert page.locator("button", has_text=label).count() == 1
        discuss = page.locator("a.lf-discuss").get_attribute("href")
        assert discuss.startswith("/voila/render/discuss.ipynb?") and f"user={expert.user_id}" in discuss
        subject = discuss.split("subject=", 1)[1].split("&", 1)[0]
        # the classify view's zoom and stretches: the picture changes
        before = page.locator("img.lf-main").get_attribute("src")
        page.locator("button", has_text="2×").click()
        page.wait_for_function("s => document.querySelector('img.lf-main').src !== s", arg=before, timeout=30_000)
        page.locator("button", has_text="1×").click()
        # the kernel's messages and the text on screen (the DOM's icons hold numbers of their own); short
        # numbers are looked for on screen only, since message headers carry times such as 05:20:10.877
        seen = list(frames) + [page.locator("body").inner_text()]
        for text in forbidden:
            assert not any(text in f for f in seen), f"{text!r} reached {expert.display_name}'s page before grading"
        on_screen = page.locator("body").inner_text()
        for text in [f"{v:.3f}" for v in CROWD.values()] + [f"{v:.2f}" for v in CROWD.values()] + [
                "Queue score", "Consensus", "mean "]:
            assert text not in on_screen, f"{text!r} shown to {expert.display_name} before grading"
        page.locator(f"button.lf-grade-{grade}").click()
        page.get_by_text(f"{subject} graded {grade}").wait_for(timeout=30_000)
    return subject, seen


def test_two_experts_grade_blind_and_the_consensus_is_computed(tmp_path):
    store = make_image_store(tmp_path / "lf.duckdb", n_per_label=4)
    store.write_scores(pd.DataFrame({"subject": list(CROWD), "probability": list(CROWD.values()),
                                     "n_votes": [9] * 4, "status": ["detected"] * 3 + ["undecided"]}), "swap")
    ada, bob = add_expert(store, "Ada Grader"), add_expert(store, "Bob Grader")
    with voila_server(store.path) as base:
        scores = [str(v) for v in CROWD.values()]
        first, _ = _grade_first(base, ada, 3, forbidden=scores)
        assert first == "T0002"                                     # best crowd score first
        # Bob sees the same candidate; neither the crowd score nor Ada's grade may reach his page
        second, seen = _grade_first(base, bob, 1, forbidden=scores + ["Ada Grader", "e-ada-grader", "mean 3"])
        assert second == "T0002"
        with browser_page() as page:
            page.goto(f"{base}{personal_link('grade', ada, lang='zh')}", timeout=90_000)
            page.get_by_text("肯定是透镜").wait_for(timeout=90_000)
            page.get_by_text("盲评").wait_for(timeout=30_000)
            assert page.get_by_text("Definitely a lens").count() == 0
            assert page.locator("a.lf-discuss").get_attribute("href").count("subject=T0005") == 1
    grades = store.grades()
    assert sorted(zip(grades["user_id"], grades["subject"], grades["grade"])) == [
        (ada.user_id, "T0002", 3), (bob.user_id, "T0002", 1)]
    c = consensus(grades).set_index("subject").loc["T0002"]
    assert (c["mean_grade"], c["grade_class"], c["n_graders"]) == (2.0, "B", 2)
    catalogue = catalogue_from_store(store, match_known=False)
    assert catalogue["subject"].tolist() == ["T0002"] and catalogue["crowd_score"].iloc[0] == pytest.approx(0.987654)
    store.close()
