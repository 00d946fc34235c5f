"""A real JupyterHub class: three students sign in through chromium, vote into one PostgreSQL store,
and the teacher (a hub admin) sees all three on the dashboard.

The hub runs the project's own configuration (deploy/jupyterhub/jupyterhub_config.py) with its
real proxy (Debian's configurable-http-proxy) and one single-user server per person, each with
Voilà as a server extension.  The wait from "Sign in" to the first image is printed (``-s``) for
docs/deploy.md.
"""

from __future__ import annotations

import time

import pytest

from support import chromium, image_subjects
from support.hub import STUDENT_PASSWORD, TEACHER_PASSWORD, jupyterhub, proxy_available
from support.postgres import fresh_database
from lensfinder_nb.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # a hub, four servers and chromium: about a minute

STUDENTS = {"ada": [1, 0], "grace": [0, 0], "vera": [1, 1]}
TIMEOUT_MS = 150_000  # a server and its first kernel start on a 2-core machine shared with other tests


def _sign_in(browser, hub_url: str, name: str, password: str, shown: str = "img.lf-main"):
    """A fresh browser context (its own cookies) signed in as ``name``; returns (page, seconds until ``shown``
    is visible: the first image for a student)."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    page.goto(f"{hub_url}/hub/login", timeout=60_000)
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill(password)
    start = time.monotonic()
    page.locator("#login_submit").click()
    page.locator(shown).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    return page, time.monotonic() - start


def test_three_students_vote_on_jupyterhub_and_the_teacher_sees_them(pg_server, tmp_path):
    assert proxy_available(), "configurable-http-proxy is missing: `make test` installs it (make jupyterhub)"
    url = fresh_database(pg_server)
    data = tmp_path / "data"
    store = open_store(url)
    store.add_subjects(image_subjects(data))
    waits = {}
    with jupyterhub(url, data, tmp_path / "hub") as hub, chromium() as browser:
        for name, answers in STUDENTS.items():
            page, waits[name] = _sign_in(browser, hub.url, name, STUDENT_PASSWORD)
            # the hub's user is the identity: no sign-in form, links stay on this person's server
            assert page.url.startswith(f"{hub.url}/user/{name}/voila/render/classify.ipynb"), page.url
            assert page.get_by_placeholder("your name").count() == 0
            assert page.locator(".lf-nav a").first.get_attribute("href").startswith(f"/user/{name}/voila/render/")
            lens = page.get_by_role("button", name="Lens", exact=True)
            not_lens = page.get_by_role("button", name="Not a lens", exact=True)
            for k, answer in enumerate(answers):
                (lens if answer else not_lens).click()
                page.get_by_text(f"{k + 1} classified").wait_for(timeout=30_000)
            if name == "vera":  # nobody votes as someone else: another student's server turns them away
                response = page.goto(f"{hub.url}/user/ada/voila/render/classify.ipynb", timeout=60_000)
                assert response.status == 403, (response.status, page.url)
                assert page.locator("img.lf-main").count() == 0
            if name == "ada":  # a student is not the teacher, whatever the query says
                page.goto(f"{hub.url}/user/ada/voila/render/teacher.ipynb?key=guess", timeout=60_000)
                page.get_by_text("Teacher key required").wait_for(timeout=TIMEOUT_MS)
                assert page.locator(".ag-root-wrapper").count() == 0
            page.context.close()  # the tab goes; the server stays until it is idle

        # the teacher, a hub admin, lands on the dashboard
        teacher, waits["teacher"] = _sign_in(browser, hub.url, "teacher", TEACHER_PASSWORD, ".ag-root-wrapper")
        assert teacher.url.startswith(f"{hub.url}/user/teacher/voila/render/teacher.ipynb"), teacher.url
        grid = teacher.locator(".ag-root-wrapper").first
        for name in STUDENTS:
            grid.get_by_text(name, exact=True).wait_for(timeout=30_000)
        assert teacher.get_by_text("Teacher key required").count() == 0
        n_votes = sum(len(a) for a in STUDENTS.values())
        teacher.get_by_text(f"{len(STUDENTS)} volunteers, {n_votes} classifications.").wait_for(timeout=30_000)
    assert hub.left_running == [], "the hub left processes running: " + "; ".join(hub.left_running)

    votes = store.votes()
    store.close()
    by_user = {u: g.sort_values("seq")["answer"].tolist() for u, g in votes.groupby("user_id")}
    assert by_user == {f"hub-{name}": answers for name, answers in STUDENTS.items()}
    print("\nJupyterHub sign-in -> first image (teacher: dashboard) (s): "
          + ", ".join(f"{name} {seconds:.1f}" for name, seconds in waits.items()))
