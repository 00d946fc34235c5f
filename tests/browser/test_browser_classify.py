"""A real browser (Debian chromium via playwright) votes through a real Voilà page into DuckDB."""

from __future__ import annotations

import pytest

from support import browser_page, make_image_store, voila_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # a Voilà server and chromium: 10-25 s each


def test_votes_clicked_in_the_browser_land_in_the_store(tmp_path):
    store = make_image_store(tmp_path / "lf.duckdb")
    with voila_server(store.path) as base, browser_page() as page:
        page.goto(base + "/voila/render/classify.ipynb", timeout=90_000)
        page.get_by_placeholder("your name").fill("Ada Lovelace", timeout=90_000)
        page.get_by_role("button", name="Start", exact=True).click()
        lens = page.get_by_role("button", name="Lens", exact=True)
        not_lens = page.get_by_role("button", name="Not a lens", exact=True)
        lens.wait_for(timeout=30_000)
        answers = [1, 0, 1, 1, 0]
        for k, answer in enumerate(answers):
            (lens if answer else not_lens).click()
            page.get_by_text(f"{k + 1} classified").wait_for(timeout=15_000)
        page.locator("img.lf-main").wait_for(timeout=30_000)
        assert page.locator("img.lf-main").count() == 1
        page.screenshot(path=str(tmp_path / "classify.png"))
    votes = store.votes()
    assert votes["user_id"].unique().tolist() == ["u-ada-lovelace"]
    assert votes["answer"].tolist() == answers
    assert votes["subject"].is_unique
    store.close()
