"""A whole volunteer journey in a real browser, watched for leaks.

Sign in on the tutorial, the practice round with feedback, 30 classifications on the classify
page (some with marks, some by keyboard only), the personal centre showing exactly what was
recorded, and the teacher's dashboard listing the person.  Every websocket frame the page
receives is kept: no subject's label or kind may reach the browser, and no feedback may arrive
before the first vote.  With ``LENSFINDER_SCREENSHOTS=1`` the pages are saved in docs/screenshots.
"""

from __future__ import annotations

import os
import re

import pytest

from support import browser_page, voila_server
from lensfinder_nb.settings import PROJECT_ROOT
from lensfinder_nb.sim.demo import build_demo
from lensfinder_nb.sim.guide import ensure_guide
from lensfinder_nb.classify.identity import new_teacher_key
from lensfinder_nb.classify.personal import my_metrics, my_votes
from lensfinder_nb.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # a Voilà server and chromium: 10-25 s each

XSS = "<img src=x onerror=alert(1)>"
SHOTS = PROJECT_ROOT / "docs" / "screenshots" if os.environ.get("LENSFINDER_SCREENSHOTS") == "1" else None
# Words that would give a subject's truth away if they reached the browser before a vote.
NEVER = ("lookalike", "mock:", "demo_truth", "is_lens", "nonlens", '"label"', "masks-")
FEEDBACK = ("class='lf-feedback'", 'class=\\"lf-arc', "class='lf-right'", "class='lf-wrong'")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    store = open_store(tmp_path_factory.mktemp("journey") / "lf.duckdb")
    build_demo(store, seed=1, n_mocks=40, n_nonlens=40, n_unknown=100, hidden_lens_fraction=0.05)
    ensure_guide(store.settings.data_dir)
    key = new_teacher_key(store)
    yield store, key
    store.close()


def _frames(page) -> list[str]:
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(
        f if isinstance(f, str) else f.decode("latin-1"))))
    return frames


def test_journey_from_tutorial_to_teacher(demo):
    store, teacher_key = demo
    dialogs: list[str] = []
    # as served: the classify page comes from a pre-started kernel, which must still read the link
    with voila_server(store.path, pool_size=1) as base, browser_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        frames = _frames(page)

        # -- sign in on the tutorial (a hostile name is refused and shown as text)
        page.goto(base + "/voila/render/tutorial.ipynb", timeout=120_000)
        name_box = page.get_by_placeholder("your name")
        name_box.fill(XSS, timeout=120_000)
        page.get_by_role("button", name="Start", exact=True).click()
        page.get_by_text("Please type a name").wait_for(timeout=30_000)
        assert page.locator("img[src=x]").count() == 0
        name_box.fill("Journey Person")
        page.get_by_role("button", name="Start", exact=True).click()
        link = page.locator("a[href*='key=']").first
        link.wait_for(timeout=30_000)
        personal = link.get_attribute("href")
        assert "user=u-journey-person" in personal

        # -- practice round: ten training subjects, each with feedback
        lens = page.get_by_role("button", name="Lens", exact=True)
        not_lens = page.get_by_role("button", name="Not a lens", exact=True)
        for k in range(10):
            (lens if k % 2 else not_lens).click()
            page.get_by_text(f"{k + 1} classified").wait_for(timeout=30_000)
            page.locator(".lf-right, .lf-wrong").first.wait_for(timeout=30_000)  # updates arrive one by one
            assert page.locator(".lf-right, .lf-wrong").count() == 1
        page.get_by_text("Practice done").wait_for(timeout=30_000)
        if SHOTS:
            page.screenshot(path=str(SHOTS / "tutorial.png"), full_page=True)
        go = page.get_by_role("link", name=re.compile("Start classifying"))
        frames.clear()
        go.click()

        # -- classify: 30 votes; marks on some, keyboard only for ten
        page.get_by_text("10 classified").wait_for(timeout=120_000)
        image = page.locator("img.lf-main")
        image.wait_for(timeout=30_000)
        early = "".join(frames)
        assert not any(word in early for word in FEEDBACK), "feedback reached the page before any vote"
        for k in range(30):
            if k % 3 == 0:
                box = image.bounding_box()
                page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
                page.locator("svg.lf-marks circle").first.wait_for(timeout=10_000)
            if 10 <= k < 20:
                image.hover()
                page.keyboard.press("l" if k % 2 else "n")
            else:
                (lens if k % 2 else not_lens).click()
            page.get_by_text(f"{11 + k} classified").wait_for(timeout=30_000)
        if SHOTS:
            page.screenshot(path=str(SHOTS / "classify.png"), full_page=True)
        everything = "".join(frames)
        leaked = [word for word in NEVER if word in everything]
        assert not leaked, f"truth-revealing words reached the browser: {leaked}"

        # -- what was recorded
        votes = my_votes(store, "u-journey-person")
        assert len(votes) == 40
        marked = store.sql("SELECT count(*) AS n FROM votes WHERE user_id = 'u-journey-person' AND marks IS NOT NULL")
        assert int(marked["n"].iloc[0]) >= 5
        metrics = my_metrics(votes)

        # -- the personal centre shows exactly that
        page.goto(base + personal.replace("tutorial.ipynb", "me.ipynb"), timeout=120_000)
        page.get_by_text("You have made 40 classifications").wait_for(timeout=120_000)
        page.locator("table.lf-confusion").wait_for(timeout=30_000)
        confusion = page.locator("table.lf-confusion").inner_text()
        assert [int(v) for v in re.findall(r"\d+", confusion)] == [
            int(metrics[k]) for k in ("TP", "FN", "FP", "TN")]
        assert int(metrics["TP"] + metrics["FN"] + metrics["FP"] + metrics["TN"]) >= 10

        # -- the teacher's dashboard lists the person
        page.goto(f"{base}/voila/render/teacher.ipynb?key={teacher_key}", timeout=120_000)
        grid = page.locator(".ag-root-wrapper").first
        grid.wait_for(state="visible", timeout=120_000)
        grid.get_by_text("Journey Person", exact=True).wait_for(timeout=30_000)
    assert dialogs == []
