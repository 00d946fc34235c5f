"""The classify page in a real browser: click-to-next-image latency and time to first image.

Builds a demo store in a temporary folder, serves the apps with Voilà on loopback and drives
Debian chromium with playwright.

* vote latency: warm page, N consecutive votes (button clicks and L/N keys alternating); for
  each, the time from the click (measured in the page) until the next image has been painted
  (the <img> source changed, then two animation frames).
* page open: from navigation to the first image painted, for a signed-in person (personal
  link), with a fresh kernel per view and with pre-started (pre-heated) kernels.

    python benchmarks/bench_classify.py [--votes 100] [--opens 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.browser import browser_page, voila_server  # noqa: E402  (test support, not the product)

from lensfinder_nb.sim.demo import build_demo
from lensfinder_nb.sim.guide import ensure_guide
from lensfinder_nb.classify.identity import personal_link, sign_up
from lensfinder_nb.store import open_store

#: page script: time from a click or key press to the next image painted (also used by bench_classroom)
TIMER_JS = """
() => {
  window.__lat = [];
  const mark = () => { window.__t0 = performance.now(); };
  document.addEventListener('mousedown', mark, true);
  document.addEventListener('keydown', mark, true);
  const img = document.querySelector('img.lf-main');
  new MutationObserver(() => {
    const t0 = window.__t0;
    if (t0 === undefined) return;
    window.__t0 = undefined;
    requestAnimationFrame(() => requestAnimationFrame(() => window.__lat.push(performance.now() - t0)));
  }).observe(img, {attributes: true, attributeFilter: ['src']});
}
"""

_FIRST_IMAGE_JS = "() => { const i = document.querySelector('img.lf-main'); return !!(i && i.naturalWidth > 0); }"


def build(tmp: Path, users: int):
    store = open_store(tmp / "lf.duckdb")
    build_demo(store, seed=0)
    ensure_guide(store.settings.data_dir)
    people = [sign_up(store, f"Bench {k}") for k in range(users)]
    store.close()
    return store.path, people


def vote_latency(base: str, who, n: int) -> np.ndarray:
    with browser_page() as page:
        url = base + personal_link("classify", who)
        page.goto(url, timeout=120_000)
        page.wait_for_function(_FIRST_IMAGE_JS, timeout=120_000)
        page.evaluate(TIMER_JS)
        lens = page.get_by_role("button", name="Lens", exact=True)
        stage = page.locator("img.lf-main")
        for k in range(n):
            before = page.evaluate("() => window.__lat.length")
            if k % 2:
                stage.hover()
                page.keyboard.press("l" if k % 4 == 1 else "n")
            else:
                lens.click()
            page.wait_for_function(f"() => window.__lat.length > {before}", timeout=30_000)
        return np.array(page.evaluate("() => window.__lat"))


def page_open(base: str, who, n: int) -> list[float]:
    out = []
    with browser_page() as page:
        for _ in range(n):
            t0 = time.perf_counter()
            page.goto(base + personal_link("classify", who), timeout=120_000)
            page.wait_for_function(_FIRST_IMAGE_JS, timeout=120_000, polling=20)
            out.append(time.perf_counter() - t0)
            page.goto("about:blank")
            time.sleep(8)  # let a pre-heated pool refill, as between two students arriving
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--votes", type=int, default=100)
    ap.add_argument("--opens", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-classify-"))
    db, people = build(tmp, 3)
    with voila_server(db, pool_size=0) as base:
        lat = vote_latency(base, people[0], args.votes)
        cold = page_open(base, people[1], args.opens)
    print(f"click -> next image painted, {len(lat)} votes (warm page): p50 {np.percentile(lat, 50):.0f} ms, "
          f"p95 {np.percentile(lat, 95):.0f} ms, max {lat.max():.0f} ms (target p95 <= 150 ms)")
    print(f"open -> first image, fresh kernel per view: median {statistics.median(cold):.1f} s "
          f"(min {min(cold):.1f}, max {max(cold):.1f}) over {len(cold)} opens")
    with voila_server(db, pool_size=1) as base:
        time.sleep(15)  # the first pooled kernel starts
        warm = page_open(base, people[2], args.opens)
    print(f"open -> first image, pre-started kernel: median {statistics.median(warm):.1f} s "
          f"(min {min(warm):.1f}, max {max(warm):.1f}) over {len(warm)} opens")


if __name__ == "__main__":
    main()
