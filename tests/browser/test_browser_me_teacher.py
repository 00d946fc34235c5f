"""A real browser opens the personal centre (personal link) and the teacher's dashboard (teacher key).

With ``LENSFINDER_SCREENSHOTS=1`` the test also builds a small demo with a simulated class
and saves ``docs/screenshots/me.png`` and ``docs/screenshots/teacher.png``, and of the science
team's pages on the same demo ``grade.png`` (an expert's grading page), ``discuss.png`` (a
candidate's thread with hashtags, as an expert who may hide posts) and ``model.png`` (the modelling
page on a hidden demo lens); each page is checked before it is saved, and those three are kept
under 200 kB (a 256-colour palette when needed).  Without it the repository is left untouched::

    LENSFINDER_SCREENSHOTS=1 PYTHONPATH=$PWD .venv/bin/python -m pytest -q tests/browser/test_browser_me_teacher.py
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from support import browser_page, make_image_store, voila_server
from lensfinder_nb.settings import PROJECT_ROOT
from lensfinder_nb.classify.identity import ensure_hub_user, new_teacher_key, personal_link, sign_up
from lensfinder_nb.scoring import volunteer_metrics

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # a Voilà server and chromium: 10-25 s each

XSS = "<img src=x onerror=alert(1)>"
SCREENSHOTS = os.environ.get("LENSFINDER_SCREENSHOTS") == "1"


def _check_pages(base: str, me_query: str, teacher_key: str, *, name: str, expect: dict,
                 shots: dict[str, str] | None = None) -> list[str]:
    """Open both pages; returns the dialogs that fired (must be none)."""
    dialogs: list[str] = []
    with browser_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{base}/voila/render/me.ipynb?{me_query}", timeout=90_000)
        page.get_by_text(f"You have made {expect['n_votes']} classifications").wait_for(timeout=90_000)
        ratios = page.locator("table.lf-ratios")
        ratios.wait_for(timeout=30_000)
        for label in ("Accuracy", "Precision", "Recall", "F1"):
            assert label in ratios.inner_text()
        assert expect["accuracy"] in ratios.inner_text()
        page.get_by_text(f"Signed in as {name}").wait_for(timeout=30_000)
        assert page.get_by_text(f"Signed in as {name}").count() == 1
        page.locator("svg.svg-figure").first.wait_for(timeout=30_000)
        assert page.locator("a.lf-download").get_attribute("href").startswith("data:text/csv")
        if "comment" in expect:
            page.get_by_text(expect["comment"]).wait_for(timeout=10_000)
        assert page.locator("img[src=x]").count() == 0
        if shots:  # Voila scrolls inside the page, so a tall viewport shows it all
            page.set_viewport_size({"width": 1200, "height": 2300})
            page.wait_for_timeout(1500)
            page.screenshot(path=shots["me"])

        page.goto(f"{base}/voila/render/teacher.ipynb?key={teacher_key}", timeout=90_000)
        page.locator(".ag-root-wrapper").first.wait_for(state="visible", timeout=90_000)
        grid = page.locator(".ag-root-wrapper").first
        grid.get_by_text(name, exact=True).wait_for(timeout=30_000)
        for other in expect.get("also_in_grid", []):
            grid.get_by_text(other, exact=True).wait_for(timeout=10_000)
        page.locator("svg.svg-figure").first.wait_for(timeout=30_000)
        assert page.get_by_text("Teacher key required").count() == 0
        assert page.locator("img[src=x]").count() == 0
        if shots:
            page.set_viewport_size({"width": 1200, "height": 2000})
            page.wait_for_timeout(1500)
            page.screenshot(path=shots["teacher"])

        page.goto(f"{base}/voila/render/teacher.ipynb?key=wrong", timeout=90_000)
        page.get_by_text("Teacher key required").wait_for(timeout=90_000)
        assert page.locator(".ag-root-wrapper").count() == 0
    return dialogs


def test_personal_centre_and_teacher_dashboard_in_a_browser(tmp_path):
    store = make_image_store(tmp_path / "lf.duckdb")
    ada = sign_up(store, "Ada Lovelace")
    answers = [1, 0, 1, 1, 1, 0, 0, 0, 1]  # T0000 lens, T0001 non-lens, T0002 unknown, ...
    for k, answer in enumerate(answers):
        store.add_vote(ada.user_id, f"T{k:04d}", answer, created_at=f"2024-05-01T10:{k:02d}:00")
    store.annotate(ada.user_id, "T0002", favourite=True, comment=XSS + " looks like an arc")
    ensure_hub_user(store, "hub-mallory", XSS)
    store.add_vote("hub-mallory", "T0000", 1, created_at="2024-05-01T10:30:00")
    key = new_teacher_key(store)
    store.fold()
    m = volunteer_metrics(store.votes(), store.subjects()).set_index("user_id").loc[ada.user_id]
    assert m["n_training"] == 6  # T0000 T0001 T0003 T0004 T0006 T0007
    with voila_server(store.path) as base:
        dialogs = _check_pages(base, personal_link("me", ada).split("?", 1)[1], key, name="Ada Lovelace",
                               expect={"n_votes": 9, "accuracy": f"{100 * m['accuracy']:.0f}%",
                                       "comment": XSS + " looks like an arc", "also_in_grid": [XSS]})
    assert dialogs == []
    store.close()
    if SCREENSHOTS:
        _screenshots(tmp_path / "demo")


def _screenshots(folder) -> None:
    """Demo data with a simulated class of eight, then both pages saved to docs/screenshots."""
    from lensfinder_nb.sim.demo import build_demo
    from lensfinder_nb.scoring import load_votes, score
    from lensfinder_nb.store import open_store

    store = open_store(folder / "lf.duckdb")
    demo = build_demo(store, seed=1, n_mocks=40, n_nonlens=40, n_unknown=200)
    subjects = store.subjects()
    rng = np.random.default_rng(1)
    names = ["Ada Lovelace", "Grace Hopper", "Li Wei", "Zhang Min", "Emmy Noether", "Alan Turing",
             "Vera Rubin", "Chen Jing"]
    truth = pd.read_csv(demo.truth_path)
    hidden = set(truth.loc[truth["is_lens"].astype(bool), "subject"])
    start = pd.Timestamp("2024-05-01T09:00:00")
    people = {}
    for i, name in enumerate(names):
        who = sign_up(store, name)
        people[name] = who
        skill = rng.uniform(0.65, 0.97)
        n = int(rng.integers(25, 110))
        picks = subjects.sample(n, random_state=int(rng.integers(1 << 30)))
        times = start + pd.to_timedelta(np.sort(rng.uniform(0, 150, n)), unit="min")
        for (sid, label), ts in zip(picks[["subject", "label"]].itertuples(index=False), times):
            is_lens = label == 1 or (label == -1 and sid in hidden)
            answer = int(is_lens) if rng.random() < skill else int(not is_lens)
            store.add_vote(who.user_id, sid, answer, created_at=ts.isoformat())
    truth["subject"] = truth["subject"].astype(str)
    me = people["Ada Lovelace"]
    mine = store.votes().query("user_id == @me.user_id")
    for sid in mine["subject"].head(2):
        store.annotate(me.user_id, sid, favourite=True)
    store.annotate(me.user_id, mine["subject"].iloc[2], comment="Blue arc to the left - lens?")
    store.fold()
    store.write_scores(score(load_votes(store), None, "swap"), "swap")
    key = new_teacher_key(store)
    science = _science_setup(store, people, truth)
    out = PROJECT_ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    n_votes = len(mine)  # one vote per subject (sampled without replacement)
    acc = volunteer_metrics(store.votes(), subjects).set_index("user_id").loc[me.user_id, "accuracy"]
    with voila_server(store.path) as base:
        dialogs = _check_pages(base, personal_link("me", me).split("?", 1)[1], key, name="Ada Lovelace",
                               expect={"n_votes": n_votes, "accuracy": f"{100 * acc:.0f}%"},
                               shots={"me": str(out / "me.png"), "teacher": str(out / "teacher.png")})
        dialogs += _science_screenshots(base, science, out)
    assert dialogs == []
    store.close()


#: the demo thread's posts: (author, text), oldest first
THREAD = [("Grace Hopper", "Several bright knots around the central galaxies - lensed images? #arc"),
          ("Li Wei", "Looks like a group of galaxies to me #merger"),
          ("Zhang Min", "The knots sit at about the same distance from the centre #candidate"),
          ("Dr Ada Lee", "A group-scale lens is possible: worth a model before grading #candidate #arc")]
MAX_PNG_BYTES = 200_000


def _science_setup(store, people: dict, truth: pd.DataFrame) -> dict:
    """Before the server starts: an expert, and a thread on the demo's widest hidden lens (largest Einstein
    radius; the page the expert grades first may differ: the queue is the crowd's, the lens the truth file's)."""
    from lensfinder_nb.classify.grading import GradingSettings
    from lensfinder_nb.classify.identity import add_expert

    expert = add_expert(store, "Dr Ada Lee")
    # eight people's votes leave every SWAP score below the default cut (5x the prior): the teacher lowers
    # it on the dashboard, as a small class would
    GradingSettings(threshold=0.0003).save(store)
    unknown = set(store.subjects().query("label == -1")["subject"])
    hidden = truth[truth["is_lens"].astype(bool) & truth["subject"].isin(unknown)]
    assert len(hidden), "the demo has no hidden lens among its unknowns"
    lens = str(hidden.loc[hidden["theta_e_arcsec"].astype(float).idxmax(), "subject"])
    for name, text in THREAD:
        store.post_comment(expert.user_id if name == "Dr Ada Lee" else people[name].user_id, lens, text)
    store.fold()
    return {"expert": expert, "lens": lens}


def _save_small(page, path, height: int) -> None:
    """A screenshot at 1200 x ``height``, re-saved with a 256-colour palette if over MAX_PNG_BYTES."""
    from PIL import Image

    page.set_viewport_size({"width": 1200, "height": height})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path))
    if path.stat().st_size > MAX_PNG_BYTES:
        Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    assert path.stat().st_size < MAX_PNG_BYTES, (path, path.stat().st_size)


def _science_screenshots(base: str, science: dict, out) -> list[str]:
    """The grading, discussion and modelling pages on the demo, each checked, then saved; returns dialogs."""
    expert, dialogs = science["expert"], []
    with browser_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(base + personal_link("grade", expert), timeout=90_000)
        page.locator("img.lf-main").wait_for(state="visible", timeout=90_000)
        page.get_by_text("Blind grading").wait_for(timeout=30_000)
        assert page.locator("button.lf-grade-3").count() == 1
        _save_small(page, out / "grade.png", 900)

        page.goto(base + personal_link("discuss", expert, subject=science["lens"]), timeout=90_000)
        page.get_by_text(f"Discussion of image {science['lens']}").wait_for(timeout=90_000)
        for _name, text in THREAD:
            page.locator(".lf-body", has_text=text).wait_for(timeout=30_000)
        _save_small(page, out / "discuss.png", 1100)

        page.goto(base + personal_link("model", expert, subject=science["lens"]), timeout=90_000)
        page.locator(".lf-model-status").wait_for(timeout=90_000)
        page.locator(".lf-model-figure image").first.wait_for(state="attached", timeout=30_000)
        assert "Lens centre" in page.locator(".lf-model-status").inner_text()
        _save_small(page, out / "model.png", 1000)
    return dialogs
