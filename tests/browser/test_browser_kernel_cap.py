"""The kernel cap in a real Voilà server and chromium: past it a page gets "the server is full" in the
person's language and no kernel; the student already in is unaffected; a culled tab lets the next one in."""

from __future__ import annotations

import time

import pytest

from support import chromium, kernels_of, make_image_store, voila_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIRST_IMAGE = "() => { const i = document.querySelector('img.lf-main'); return !!(i && i.naturalWidth > 0); }"


def _sign_in_and_vote(page, name: str) -> None:
    page.get_by_placeholder("your name").fill(name, timeout=90_000)
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function(FIRST_IMAGE, timeout=60_000)
    page.get_by_role("button", name="Lens", exact=True).click()
    page.get_by_text("1 classified").wait_for(timeout=15_000)


@pytest.mark.parametrize("pool_size", [0, 1], ids=["no-pool", "pre-started"])
def test_a_full_server_turns_a_new_page_away_until_a_closed_tab_is_culled(tmp_path, pool_size):
    store = make_image_store(tmp_path / "lf.duckdb")
    classify = "/voila/render/classify.ipynb"
    with voila_server(store.path, max_kernels=1, pool_size=pool_size, cull_idle_s=3, cull_interval_s=1) as base, \
            chromium() as browser:
        first = browser.new_context().new_page()
        first.goto(base + classify, timeout=120_000)
        first.get_by_placeholder("your name").wait_for(timeout=90_000)

        second = browser.new_context().new_page()
        response = second.goto(base + classify + "?lang=zh", timeout=60_000)
        assert response.status == 503
        second.get_by_text("服务器已满，请一分钟后再试").wait_for(timeout=10_000)
        assert not second.get_by_text("The server is full", exact=True).is_visible()
        assert len(kernels_of(base)) == 1            # the refused page started no kernel
        english = browser.new_context().new_page()
        assert english.goto(base + classify, timeout=60_000).status == 503
        english.get_by_text("The server is full, try again in a minute").wait_for(timeout=10_000)

        # The student who got in votes as if nothing happened; the kernel is light.
        _sign_in_and_vote(first, "Ada Lovelace")
        (kernel,) = kernels_of(base)
        assert kernel.memory_full_info().uss < 200 * 2**20

        first.context.close()                       # the tab closes: its kernel is culled, room again
        deadline = time.monotonic() + 60
        while True:
            third = browser.new_context().new_page()
            if third.goto(base + classify, timeout=120_000).status == 200:
                break
            assert time.monotonic() < deadline, "no room 60 s after the only tab closed"
            third.context.close()
            time.sleep(2)
        _sign_in_and_vote(third, "Grace Hopper")
        assert len(kernels_of(base)) == 1
    votes = store.votes()
    assert sorted(votes["user_id"].unique()) == ["u-ada-lovelace", "u-grace-hopper"]
    store.close()
