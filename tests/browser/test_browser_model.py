"""A real browser builds a lens model: click to place the centre, move the Einstein radius and see the
predicted arcs change, drag the centre, Refine (a short swarm under the test setting) and see theta_E with
its error, Save; then the page in Simplified Chinese."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from support import browser_page, voila_server
from lensfinder_nb.classify.identity import personal_link, sign_up
from lensfinder_nb.imaging.files import write_batch
from lensfinder_nb.sim.fresh import mock_lenses
from lensfinder_nb.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _status(page) -> str:
    return page.locator(".lf-model-status").inner_text()


def _overlay_hrefs(page) -> list[str]:
    return page.locator(".lf-model-figure image").evaluate_all("els => els.map(e => e.getAttribute('href'))")


def _settled(page, quiet_ms: int = 1000, timeout_s: float = 30.0) -> str:
    """The status once it has not changed for ``quiet_ms``: a loaded machine can deliver a drag's last
    mouse moves to the kernel seconds later, and one arriving after Refine is (rightly) a new model."""
    import time

    last, since, end = _status(page), time.monotonic(), time.monotonic() + timeout_s
    while time.monotonic() < end:
        page.wait_for_timeout(200)
        now = _status(page)
        if now != last:
            last, since = now, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= quiet_ms:
            return now
    raise AssertionError(f"the model page kept changing for {timeout_s} s: {last!r}")


def test_model_page_click_drag_refine_save_and_chinese(tmp_path):
    store = open_store(tmp_path / "lf.duckdb")
    mocks = mock_lenses(2, seed=3)
    ref = write_batch(store.path.parent, "model-test", mocks.images[:1].astype(np.float32))[0]
    store.add_subjects(pd.DataFrame({"subject": ["M1"], "label": [-1], "cube": [ref]}))
    ada = sign_up(store, "Ada Lovelace")
    query = personal_link("model", ada, subject="M1").split("?", 1)[1]
    # a short swarm: the test checks the path through the page, not the fit
    with voila_server(store.path, refine_particles=8, refine_iterations=4) as base, browser_page() as page:
        page.goto(f"{base}/voila/render/model.ipynb?{query}", timeout=90_000)
        page.locator(".lf-model-status").wait_for(timeout=90_000)
        page.locator(".lf-model-figure image").first.wait_for(state="attached", timeout=30_000)
        first = _status(page)
        assert re.search(r"Lens centre x = [+-]\d", first)

        # click on the image, up and to the right of the centre: the lens centre moves there
        box = page.locator(".lf-model-figure image").first.bounding_box()
        page.mouse.click(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])
        page.wait_for_function("s => document.querySelector('.lf-model-status').innerText !== s", arg=first,
                               timeout=30_000)
        placed = _status(page)
        x, y = (float(v) for v in re.search(r"x = ([+-][\d.]+)\D+y = ([+-][\d.]+)", placed).groups())
        assert x > 1.0 and y > 1.0  # 20 % of a 26" cutout right of and above the centre

        # move the Einstein radius with the keyboard on the slider: the arc overlay is redrawn
        hrefs, shot = _overlay_hrefs(page), page.locator(".lf-model-figure").screenshot()
        handle = page.locator(".lf-theta .noUi-handle")
        handle.focus()
        for _ in range(10):
            handle.press("ArrowRight")
        page.wait_for_function("s => document.querySelector('.lf-model-status').innerText !== s", arg=placed,
                               timeout=30_000)
        page.wait_for_timeout(500)
        assert _overlay_hrefs(page) != hrefs
        assert page.locator(".lf-model-figure").screenshot() != shot
        theta_before = float(re.search(r"radius ([\d.]+)", placed).group(1))
        assert float(re.search(r"radius ([\d.]+)", _status(page)).group(1)) > theta_before

        # drag the lens centre (the red cross, the last mark) 30 px right: the model and its arcs follow
        hrefs, before = _overlay_hrefs(page), _status(page)
        dots = page.locator(".lf-model-figure .dot")
        dots.last.wait_for(state="attached", timeout=10_000)
        cross = dots.last.bounding_box()
        sx, sy = cross["x"] + cross["width"] / 2, cross["y"] + cross["height"] / 2
        page.mouse.move(sx, sy)
        page.mouse.down()
        for step in range(1, 7):
            page.mouse.move(sx + 5 * step, sy, steps=2)
        page.mouse.up()
        page.wait_for_function("h => [...document.querySelectorAll('.lf-model-figure image')]"
                               ".map(e => e.getAttribute('href')).join() !== h", arg=",".join(hrefs), timeout=30_000)
        page.wait_for_timeout(300)
        x0, y0 = (float(v) for v in re.search(r"x = ([+-][\d.]+)\D+y = ([+-][\d.]+)", before).groups())
        x1, y1 = (float(v) for v in re.search(r"x = ([+-][\d.]+)\D+y = ([+-][\d.]+)", _status(page)).groups())
        assert x1 > x0 + 0.5 and abs(y1 - y0) < 0.3  # moved right, not up or down
        assert page.locator(".lf-model-result").inner_text() == ""  # nothing refined yet

        # Refine: a progress bar, then theta_E with its uncertainty and the three pictures
        _settled(page)
        page.locator("button.lf-refine").click()
        page.locator(".lf-theta-result").wait_for(timeout=120_000)
        assert re.search(r"θE = \d+\.\d+ ± (\d+\.\d+|unknown)", page.locator(".lf-theta-result").inner_text())
        assert page.locator("img.lf-image").count() == 3
        refined_status = _settled(page)
        page.locator("button.lf-save").click()
        page.locator(".lf-saved").wait_for(timeout=30_000)
        readouts = page.locator(".widget-readout").all_inner_texts()
        assert page.locator(".lf-saved").inner_text() == "Your refined model is saved.", (refined_status, readouts)

        page.goto(f"{base}/voila/render/model.ipynb?{query}&lang=zh", timeout=90_000)
        page.locator(".lf-model-status").wait_for(timeout=90_000)
        page.get_by_text("爱因斯坦半径（角秒）").wait_for(timeout=30_000)
        assert page.locator("button.lf-refine").inner_text().strip() == "优化"
        assert "透镜中心" in _status(page)
        assert page.get_by_text("从您上次保存的模型开始。").count() == 1
    saved = store.lens_models(subject="M1")
    store.close()
    assert saved["user_id"].tolist() == [ada.user_id] and bool(saved["refined"].iloc[0])
    assert np.isfinite(saved["quality"].iloc[0])
