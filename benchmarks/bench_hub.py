"""A JupyterHub class on this machine: how long students wait, and what each costs in memory.

Starts a throwaway PostgreSQL server and the project's hub (deploy/jupyterhub/jupyterhub_config.py,
with Debian's configurable-http-proxy) on loopback, then N students sign in at the same moment,
each in their own chromium context:

* sign-in -> first image: from the click on "Sign in" until the first image is shown on the
  classify page (the hub starts the student's server, which starts the page's kernel);
* reopen -> first image: the same students open the classify page again in a new tab, their
  server already running (a new kernel only);
* memory: resident memory of each student's server and of its kernels (two kernels per student
  after the reopen, until the culler takes the first tab's);
* after the hub stops: processes left running.

    python benchmarks/bench_hub.py [--students 10]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.browser import chromium  # noqa: E402  (test support, not the product)
from support.hub import STUDENT_PASSWORD, jupyterhub  # noqa: E402
from support.postgres import fresh_database, postgres_server  # noqa: E402
from support.stores import image_subjects  # noqa: E402

from lensfinder_nb.store import open_store

_FIRST_IMAGE_JS = "() => { const i = document.querySelector('img.lf-main'); return !!(i && i.naturalWidth > 0); }"


def _wait_all(pages: list, started: list[float], timeout: float = 300.0) -> list[float]:
    """Poll the pages in turn until each shows its first image; seconds from each start."""
    done: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(pages):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pages) - len(done)} pages showed no image in {timeout:.0f} s")
        for k, page in enumerate(pages):
            if k not in done:
                try:
                    if page.evaluate(_FIRST_IMAGE_JS):
                        done[k] = time.monotonic() - started[k]
                except Exception:  # the page is navigating (hub -> spawn pending -> server)
                    pass
        time.sleep(0.1)
    return [done[k] for k in range(len(pages))]


def _memory(hub_pid: int) -> tuple[list[float], list[float]]:
    """Resident MB of the students' servers and of their kernels."""
    servers, kernels = [], []
    for p in psutil.Process(hub_pid).children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            mb = p.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
        if "jupyterhub.singleuser" in cmd:
            servers.append(mb)
        elif "ipykernel" in cmd:
            kernels.append(mb)
    return servers, kernels


def _summary(name: str, seconds: list[float]) -> str:
    return (f"{name}: p50 {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s "
            f"({', '.join(f'{s:.1f}' for s in sorted(seconds))})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=10)
    args = ap.parse_args()
    n = args.students
    print(f"machine: {platform.machine()}, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, load {psutil.getloadavg()[0]:.1f}; {n} students")
    with tempfile.TemporaryDirectory(prefix="lf-bench-hub-") as tmp, postgres_server() as server:
        tmp = Path(tmp)
        url = fresh_database(server)
        store = open_store(url)
        store.add_subjects(image_subjects(tmp / "data", n_per_label=20))
        with jupyterhub(url, tmp / "data", tmp / "hub") as hub, chromium() as browser:
            names = [f"student{k:02d}" for k in range(n)]
            pages = []
            for name in names:
                page = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
                page.goto(f"{hub.url}/hub/login", timeout=60_000)
                page.locator("#username_input").fill(name)
                page.locator("#password_input").fill(STUDENT_PASSWORD)
                pages.append(page)
            started = []
            for page in pages:  # all at once, as a class does when told to sign in
                started.append(time.monotonic())
                page.locator("#login_submit").click(no_wait_after=True)
            sign_in = _wait_all(pages, started)
            print(_summary("sign-in -> first image", sign_in))
            servers, kernels = _memory(hub.pid)
            print(f"memory after sign-in: {len(servers)} servers, median {statistics.median(servers):.0f} MB; "
                  f"{len(kernels)} kernels, median {statistics.median(kernels):.0f} MB; "
                  f"all {sum(servers) + sum(kernels):.0f} MB")

            again, started = [], []
            for name, page in zip(names, pages):
                tab = page.context.new_page()
                started.append(time.monotonic())
                tab.goto(f"{hub.url}/user/{name}/voila/render/classify.ipynb", wait_until="commit", timeout=60_000)
                again.append(tab)
            reopen = _wait_all(again, started)
            print(_summary("reopen (server running) -> first image", reopen))
            servers, kernels = _memory(hub.pid)
            print(f"memory after reopen: {len(servers)} servers, {len(kernels)} kernels, "
                  f"all {sum(servers) + sum(kernels):.0f} MB")
            stop_started = time.monotonic()
        print(f"hub stopped in {time.monotonic() - stop_started:.1f} s; "
              f"left running: {len(hub.left_running)} {hub.left_running}")
        store.close()


if __name__ == "__main__":
    main()
