"""A real JupyterHub class: three students sign in through chromium, vote into one PostgreSQL store,
and the teacher (a hub admin) sees all three on the dashboard.  The teacher then makes one student an
expert by hub name; she grades on her own server, while a student who is no expert is refused (even
with a real expert's link) and no student can reach the teacher's form.

The hub runs the project's own configuration (deploy/jupyterhub/jupyterhub_config.py) with its
real proxy (Debian's configurable-http-proxy) and one single-user server per person, each with
Voilà as a server extension.  The wait from "Sign in" to the first image is printed (``-s``) for
docs/deploy.md.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest

from support import chromium, image_subjects
from support.hub import STUDENT_PASSWORD, TEACHER_PASSWORD, jupyterhub, proxy_available
from support.postgres import fresh_database
from lensfinder_nb.classify.grading import GradingSettings
from lensfinder_nb.classify.identity import add_expert, personal_link
from lensfinder_nb.store import open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # a hub, four servers and chromium: about a minute

STUDENTS = {"ada": [1, 0], "grace": [0, 0], "vera": [1, 1]}
EXPERT = "grace"  # the student the teacher makes an expert
#: machine scores of unknown subjects (label -1 of image_subjects): the grading queue, best first
MACHINE = {"T0002": 0.95, "T0005": 0.9}
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
    store.write_machine_scores(pd.DataFrame({"subject": list(MACHINE), "score": list(MACHINE.values())}), "cnn")
    GradingSettings(source="machine").save(store)
    link_expert = add_expert(store, "Dr Lee")  # a real expert link, which means nothing on the hub
    waits, pages = {}, {}
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
                # no expert: refused with who they are, even with a real expert's link in the query
                query = personal_link("grade", link_expert).split("?", 1)[1]
                page.goto(f"{hub.url}/user/vera/voila/render/grade.ipynb?{query}", timeout=60_000)
                page.get_by_text("your hub name vera is not one of them").wait_for(timeout=TIMEOUT_MS)
                assert page.locator("img.lf-main").count() == 0 and page.locator("button.lf-grade-3").count() == 0
            if name == "ada":  # a student is not the teacher (nor can make anyone an expert), whatever the query says
                page.goto(f"{hub.url}/user/ada/voila/render/teacher.ipynb?key=guess", timeout=60_000)
                page.get_by_text("Teacher key required").wait_for(timeout=TIMEOUT_MS)
                assert page.locator(".ag-root-wrapper").count() == 0
                assert page.get_by_placeholder("Hub user name").count() == 0
            if name == EXPERT:
                pages[name] = page  # she grades once the teacher made her an expert
            else:
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

        # the teacher makes a student an expert by her hub name (typed as she might: JupyterHub lower-cases)
        name_box = teacher.get_by_placeholder("Hub user name")
        name_box.fill(EXPERT.capitalize())
        name_box.press("Enter")
        teacher.get_by_text(f"{EXPERT} is an expert now").wait_for(timeout=30_000)
        href = teacher.locator(".lf-expert-link a").get_attribute("href")
        assert href == "/hub/user-redirect/voila/render/grade.ipynb", href
        # her server keeps running: the grading page knows her as an expert at once, no key, no restart
        grace = pages[EXPERT]
        grace.goto(f"{hub.url}{href}", timeout=60_000)
        grace.locator("button.lf-grade-3").wait_for(state="visible", timeout=TIMEOUT_MS)
        assert grace.url.startswith(f"{hub.url}/user/{EXPERT}/voila/render/grade.ipynb"), grace.url
        grace.get_by_text(f"Signed in as {EXPERT}").wait_for(timeout=30_000)
        grace.get_by_text("Blind grading").wait_for(timeout=30_000)
        discuss = grace.locator("a.lf-discuss").get_attribute("href")
        assert discuss.startswith(f"/user/{EXPERT}/voila/render/discuss.ipynb?") and "key=" not in discuss
        assert "subject=T0002" in discuss  # the best machine score first
        grace.locator("button.lf-grade-3").click()
        grace.get_by_text("T0002 graded 3").wait_for(timeout=30_000)
        grace.context.close()
    assert hub.left_running == [], "the hub left processes running: " + "; ".join(hub.left_running)

    votes = store.votes()
    by_user = {u: g.sort_values("seq")["answer"].tolist() for u, g in votes.groupby("user_id")}
    assert by_user == {f"hub-{name}": answers for name, answers in STUDENTS.items()}
    grades = store.grades()
    assert grades[["user_id", "subject", "grade"]].values.tolist() == [[f"hub-{EXPERT}", "T0002", 3]]
    store.close()
    print("\nJupyterHub sign-in -> first image (teacher: dashboard) (s): "
          + ", ".join(f"{name} {seconds:.1f}" for name, seconds in waits.items()))
