"""The teacher's dashboard, expert grading: make an expert, grading settings, the catalogue and agreement."""

from __future__ import annotations

import urllib.parse

import pytest

from lensfinder_nb.classify.grading import GradingSettings
from lensfinder_nb.classify.identity import EXPERT_ROLE, identify, new_teacher_key
from lensfinder_nb.ui.teacher import TeacherView, teacher_page

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
