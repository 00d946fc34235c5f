"""The teacher's dashboard, expert grading: make an expert, grading settings, the catalogue and agreement."""

from __future__ import annotations

import urllib.parse

import pytest

from lensfinder_nb.classify.grading import GradingSettings
from lensfinder_nb.classify.identity import EXPERT_ROLE, identify, new_teacher_key
from lensfinder_nb.settings import Settings
from lensfinder_nb.ui.teacher import TeacherView, teacher_page
from lensfinder_nb.ui.teacher_grading import hub_grading_link

pytestmark = pytest.mark.filterwarnings("ignore:metadata .* was set from the constructor:DeprecationWarning")

XSS = "<img src=x onerror=alert(1)>"


def dashboard(store, lang: str = "en") -> TeacherView:
    frame = teacher_page(f"key={new_teacher_key(store)}&lang={lang}", store)
    views = [c for c in frame.body.children if isinstance(c, TeacherView)]
    assert len(views) == 1
    return views[0]


def test_the_teacher_makes_an_expert_whose_link_signs_in(store):
    panel = dashboard(store).grading
    panel.name.value = "Dr Lee"
    assert "grading link" in panel.made.value
    href = panel.made.value.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert href.startswith("/voila/render/grade.ipynb?")
    who = identify(store, urllib.parse.urlsplit(href).query)
    assert (who.display_name, who.role) == ("Dr Lee", EXPERT_ROLE)
    panel.name.value = "Dr Lee"   # the same name again: refused, nothing new
    assert "taken" in panel.made.value
    panel.name.value = XSS
    assert "<img" not in panel.made.value
    assert store.sql("SELECT count(*) AS n FROM users WHERE role = 'expert'")["n"].iloc[0] == 1


def test_on_jupyterhub_the_teacher_makes_a_hub_user_an_expert_and_back(store):
    settings = Settings.from_env({"JUPYTERHUB_USER": "prof", "LENSFINDER_HUB_ADMIN": "1",
                                  "JUPYTERHUB_SERVICE_PREFIX": "/user/prof/"}, db_path=store.path)
    frame = teacher_page("", store, settings=settings)
    panel = [c for c in frame.body.children if isinstance(c, TeacherView)][0].grading
    assert panel.name.placeholder == "Hub user name" and "No experts yet" in panel.experts.value
    panel.name.value = "Grace"
    assert "grace is an expert now" in panel.made.value
    assert '<a href="/hub/user-redirect/voila/render/grade.ipynb">' in panel.made.value
    assert "key=" not in panel.made.value                             # nothing to send: the hub signs her in
    assert identify(store, "", hub_user="grace").role == EXPERT_ROLE  # her next page open
    assert "Experts: grace" in panel.experts.value
    panel.name.value = "grace"
    assert "was an expert already" in panel.made.value
    panel.name.value = "a b/" + XSS
    assert "cannot be a hub user name" in panel.made.value and "<img" not in panel.made.value
    panel.pick.value = "hub-grace"
    panel.remove.click()
    assert "grace is no longer an expert" in panel.made.value
    assert identify(store, "", hub_user="grace").role == "hub" and panel.remove.disabled


@pytest.mark.parametrize("prefix, user, link", [
    ("/user/prof/", "prof", "/hub/user-redirect/voila/render/grade.ipynb"),
    ("/lensing/user/prof/", "prof", "/lensing/hub/user-redirect/voila/render/grade.ipynb"),
    ("/", "prof", "/hub/user-redirect/voila/render/grade.ipynb"),
])
def test_the_hub_grading_link_keeps_the_hubs_base_url(prefix, user, link):
    assert hub_grading_link(prefix, user) == link


def test_grading_settings_are_stored(store):
    panel = dashboard(store).grading
    panel.source.value, panel.threshold.value, panel.n_graders.value, panel.blind.value = "machine", 0.8, 3, False
    panel.save.click()
    assert GradingSettings.load(store) == GradingSettings(source="machine", threshold=0.8, n_graders=3, blind=False)
    assert "saved" in panel.status.value


def test_the_catalogue_and_each_graders_agreement_are_shown(store):
    for user, grades in (("e-a", (3, 2, 0)), ("e-b", (3, 1, 0))):
        for subject, g in zip(("S008", "S009", "S010"), grades):
            store.add_grade(user, subject, g)
    panel = dashboard(store).grading
    assert panel.catalogue["subject"].tolist() == ["S008", "S009", "S010"]
    assert "3 graded images: 1 class A, 1 class B, 1 class C" in panel.summary.value
    assert "alpha" in panel.summary.value
    assert len(panel.catalogue_box.children) == 1 and len(panel.graders_box.children) == 1
    zh = dashboard(store, "zh").grading
    assert "已评级图像" in zh.summary.value
