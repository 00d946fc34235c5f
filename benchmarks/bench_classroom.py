"""A LAN classroom on one server: N students open the classify page at once, vote, and reload.

Builds a demo store in a temporary folder and starts the product's Voilà server (``VoilaServer``,
configured as ``lensfinder serve`` is: one pre-started classify kernel, idle kernels culled after
90 s, the kernel cap derived from memory) on loopback.  One Debian chromium, one browser context
per student (its own cookies, its own kernel), all driven at once with playwright's asyncio API:

* open -> first image: from navigation (a personal link, so the student is signed in) until the
  first subject's image has been painted;
* click -> next image: K votes per student, from the click (measured in the page) until the next
  image has been painted (the <img> source changed, then two animation frames);
* reloads: each student reloads the page R times (each reload waits for the first image), as a
  class does; then the kernels alive and their memory (RSS, PSS, USS), at once and after culling.

The students' browsers run on the server's own cores, as in the issue's measurement.

    python benchmarks/bench_classroom.py [--students 10 20] [--votes 10] [--reloads 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.browser import CHROMIUM, CHROMIUM_ARGS, kernels_of, voila_server  # noqa: E402  (test support)

from lensfinder_nb.classify.identity import personal_link, sign_up
from lensfinder_nb.settings import Settings
from lensfinder_nb.sim.demo import build_demo
from lensfinder_nb.sim.guide import ensure_guide
from lensfinder_nb.store import open_store
from lensfinder_nb.ui.server import max_kernels
from bench_classify import TIMER_JS  # noqa: E402  (the same click -> next image timer)

_FIRST_IMAGE_JS = "() => { const i = document.querySelector('img.lf-main'); return !!(i && i.naturalWidth > 0); }"
_TIMEOUT_MS = 300_000


def build(tmp: Path, students: int, size: int):
    store = open_store(tmp / "lf.duckdb")
    build_demo(store, seed=0, n_mocks=size, n_nonlens=size, n_unknown=3 * size)
    ensure_guide(store.settings.data_dir)
    people = [sign_up(store, f"Student {k}") for k in range(students)]
    store.close()
    return store.path, people


async def _first_image(page) -> None:
    await page.wait_for_function(_FIRST_IMAGE_JS, timeout=_TIMEOUT_MS, polling=50)


async def student(browser, url: str, votes: int, started: asyncio.Event) -> dict:
    """One student: open the page and vote ``votes`` times; returns their timings, page and context."""
    context = await browser.new_context(viewport={"width": 1200, "height": 1000})
    page = await context.new_page()
    await started.wait()
    t0 = time.perf_counter()
    await page.goto(url, timeout=_TIMEOUT_MS)
    await _first_image(page)
    opened = time.perf_counter() - t0
    await page.evaluate(TIMER_JS)
    buttons = [page.get_by_role("button", name="Lens", exact=True),
               page.get_by_role("button", name="Not a lens", exact=True)]
    for k in range(votes):
        await buttons[k % 2].click(timeout=_TIMEOUT_MS)
        await page.wait_for_function(f"() => window.__lat.length > {k}", timeout=_TIMEOUT_MS)
    latencies = await page.evaluate("() => window.__lat")
    return {"open_s": opened, "vote_ms": latencies, "page": page, "context": context}


async def reload_all(pages: list, reloads: int) -> list[float]:
    async def one(page) -> list[float]:
        out = []
        for _ in range(reloads):
            t0 = time.perf_counter()
            try:
                await page.reload(timeout=_TIMEOUT_MS)
                await _first_image(page)
            except PlaywrightTimeout:
                out.append(float("inf"))  # counted as failed
                continue
            out.append(time.perf_counter() - t0)
        return out
    return [t for times in await asyncio.gather(*(one(p) for p in pages)) for t in times]


def kernel_memory(base: str) -> tuple[int, float, float, float]:
    """Kernels of the server and their total RSS, PSS and USS in MB."""
    rss = pss = uss = 0.0
    kernels = kernels_of(base)
    for k in kernels:
        try:
            m = k.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss, pss, uss = rss + m.rss / 2**20, pss + m.pss / 2**20, uss + m.uss / 2**20
    return len(kernels), rss, pss, uss


def _wait_for_kernels(base: str, n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(kernels_of(base)) < n and time.monotonic() < deadline:
        time.sleep(2)
    time.sleep(10)  # their page has run


def _pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


async def classroom(base: str, people: list, n: int, votes: int, reloads: int, settle_s: float,
                    pool_size: int) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            started = asyncio.Event()
            tasks = [asyncio.create_task(student(browser, base + personal_link("classify", who), votes, started)) for who in people[:n]]
            await asyncio.sleep(1.0)  # every context exists: the opens start together
            started.set()
            results = await asyncio.gather(*tasks)
            opens = [r["open_s"] for r in results]
            lat = [x for r in results for x in r["vote_ms"]]
            print(f"N={n}: open -> first image p50 {_pct(opens, 50):.1f} s, p95 {_pct(opens, 95):.1f} s, "
                  f"max {max(opens):.1f} s")
            print(f"N={n}: click -> next image ({len(lat)} votes) p50 {_pct(lat, 50):.0f} ms, "
                  f"p95 {_pct(lat, 95):.0f} ms, max {max(lat):.0f} ms")
            k, rss, pss, uss = kernel_memory(base)
            print(f"N={n}: {k} kernels with every student in: RSS {rss:.0f} MB, PSS {pss:.0f} MB, USS {uss:.0f} MB "
                  f"(per kernel PSS {pss / max(k, 1):.0f} MB, USS {uss / max(k, 1):.0f} MB, "
                  f"RSS {rss / max(k, 1):.0f} MB)")
            pages = [r["page"] for r in results]
            reload_times = await reload_all(pages, reloads)
            failed = sum(t == float("inf") for t in reload_times)
            done = [t for t in reload_times if t != float("inf")] or [float("nan")]
            k, rss, pss, uss = kernel_memory(base)
            print(f"N={n}: after {reloads} reloads each: reload -> first image p50 {_pct(done, 50):.1f} s, "
                  f"p95 {_pct(done, 95):.1f} s, {failed} of {len(reload_times)} without an image in "
                  f"{_TIMEOUT_MS / 1000:.0f} s; {k} kernels right after, PSS {pss:.0f} MB, USS {uss:.0f} MB")
            t0 = time.perf_counter()
            deadline = t0 + settle_s
            while time.perf_counter() < deadline:
                k, rss, pss, uss = kernel_memory(base)
                if k <= n + pool_size:  # one per open page, plus the pre-started ones
                    break
                await asyncio.sleep(5)
            print(f"N={n}: {time.perf_counter() - t0:.0f} s later (culling): {k} kernels for {n} open pages, "
                  f"RSS {rss:.0f} MB, PSS {pss:.0f} MB, USS {uss:.0f} MB")
            for r in results:
                await r["context"].close()
        finally:
            await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, nargs="+", default=[10, 20], help="class sizes, each on a fresh server")
    ap.add_argument("--votes", type=int, default=10, help="votes per student")
    ap.add_argument("--reloads", type=int, default=3, help="reloads per student")
    ap.add_argument("--size", type=int, default=120, help="demo store: mocks and non-lenses each (3x unknowns)")
    ap.add_argument("--pool-size", type=int, help="pre-started classify kernels (default: as served, 1)")
    ap.add_argument("--cull-idle-s", type=int, help="override the served default (quick checks only)")
    ap.add_argument("--cull-interval-s", type=int, help="override the served default (quick checks only)")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}, "
          f"load average at start {load[0]:.1f} (shared with other jobs)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    db, people = build(tmp, max(args.students), args.size)
    # what `lensfinder serve` runs with, but for the store and port
    served = Settings.from_env(cull_idle_s=args.cull_idle_s, cull_interval_s=args.cull_interval_s,
                               pool_size=args.pool_size)
    print(f"server: pre-started classify kernels {served.pool_size}, culling after {served.cull_idle_s} s idle "
          f"(checked every {served.cull_interval_s} s), kernel cap {max_kernels(served)}")
    for n in args.students:
        with voila_server(db, pool_size=served.pool_size, cull_idle_s=served.cull_idle_s,
                          cull_interval_s=served.cull_interval_s) as base:
            # the pre-started kernels are ready, as on a server started before the class arrives
            _wait_for_kernels(base, served.pool_size, timeout_s=60 + 20 * served.pool_size)
            settle = served.cull_idle_s + 3 * served.cull_interval_s + 60
            asyncio.run(classroom(base, people, n, args.votes, args.reloads, settle, served.pool_size))
        print(f"N={n}: load average now {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
