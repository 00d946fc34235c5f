"""The teacher's dashboard: key check, class table, activity, candidates, settings and imports."""

from __future__ import annotations

import base64
import datetime as dt
import re

import ipywidgets as w
import pandas as pd
import pytest
from ipyaggrid.community import Grid as CommunityGrid

from lensfinder_nb.classify.identity import new_teacher_key, personal_link, sign_up
from lensfinder_nb.scoring import volunteer_metrics
from lensfinder_nb.settings import ClassSettings, Settings
from lensfinder_nb.store import open_store
from lensfinder_nb.ui.me import MeView, me_page
from lensfinder_nb.ui.teacher import TeacherView, activity, teacher_page
from tests.support.widgets import widget_texts

# bqplot's scales package (bqscales) sets trait metadata the old way at import time
pytestmark = pytest.mark.filterwarnings("ignore:metadata .* was set from the constructor:DeprecationWarning")

XSS = "<img src=x onerror=alert(1)>"
SUBJECTS = pd.DataFrame({"subject": [f"S{i:03d}" for i in range(12)],
                         "label": [1, 1, 1, 1, 0, 0, 0, 0, -1, -1, -1, -1]})


def texts(widget) -> str:
    return widget_texts(widget)


def widgets_of(widget, kind) -> list:
    out, stack = [], [widget]
    while stack:
        x = stack.pop()
        if isinstance(x, kind):
            out.append(x)
        stack.extend(getattr(x, "children", ()))
    return out


def dashboard(store) -> TeacherView:
    frame = teacher_page("key=" + new_teacher_key(store), store)
    views = [c for c in frame.body.children if isinstance(c, TeacherView)]
    assert len(views) == 1
    return views[0]


def upload(view: TeacherView, name: str, content: bytes) -> None:
    """What the browser sends when a file is chosen in the FileUpload."""
    view.uploader.value = ({"name": name, "type": "text/csv", "size": len(content), "content": memoryview(content),
                            "last_modified": dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)},)


@pytest.fixture
def classroom(store):
    ada, bob = sign_up(store, "Ada"), sign_up(store, "Bob")
    for k in range(12):
        store.add_vote(ada.user_id, f"S{k:03d}", int(k < 4 or k >= 8), created_at=f"2024-05-01T10:{k:02d}:00",
                       vote_id=f"a{k}")
    for k in (0, 1, 4, 5):  # two lenses, two non-lenses, all called "lens"
        store.add_vote(bob.user_id, f"S{k:03d}", 1, created_at=f"2024-05-01T10:{k:02d}:30", vote_id=f"b{k}")
    return ada, bob


@pytest.mark.parametrize("query", ["", "key=", "key=not-the-key", "user=u-ada&key=x"])
def test_without_the_teacher_key_nothing_but_the_message_is_shown(store, classroom, query):
    new_teacher_key(store)
    frame = teacher_page(query, store)
    assert len(frame.body.children) == 1
    assert "Teacher key required" in frame.body.children[0].value
    assert not widgets_of(frame, (TeacherView, CommunityGrid, w.FileUpload, w.Checkbox))
    assert "Ada" not in texts(frame) and "S000" not in texts(frame)


def test_an_old_teacher_key_stops_working(store, classroom):
    old = new_teacher_key(store)
    new_teacher_key(store)
    assert not widgets_of(teacher_page("key=" + old, store), TeacherView)


def test_class_table_shows_each_persons_metrics(store, classroom):
    ada, bob = classroom
    view = dashboard(store)
    grid = view.grid
    assert isinstance(grid, CommunityGrid) and grid.license == "community"
    options = grid.grid_options
    assert options["defaultColDef"] == {"sortable": True, "filter": True, "resizable": True}
    rows = {r["user_id"]: r for r in grid.grid_data_in}
    expected = volunteer_metrics(store.votes(), store.subjects()).set_index("user_id")
    assert set(rows) == {ada.user_id, bob.user_id}
    for uid, row in rows.items():
        e = expected.loc[uid]
        assert row["n_votes"] == e["n_votes"] and row["n_training"] == e["n_training"]
        assert row["accuracy"] == pytest.approx(e["accuracy"], abs=5e-4)
        assert row["skill"] == pytest.approx(e["skill"], abs=5e-4)
        assert row["contribution"] == pytest.approx(e["contribution"], abs=5e-3)
    assert rows[ada.user_id]["name"] == "Ada" and rows[ada.user_id]["accuracy"] == 1.0
    assert rows[ada.user_id]["last_active"] == "2024-05-01 10:11"
    assert rows[bob.user_id]["accuracy"] == 0.5 and rows[bob.user_id]["F1"] == pytest.approx(0.667, abs=1e-3)
    assert grid.grid_data_in[0]["user_id"] == ada.user_id  # most contribution first
    assert "2 volunteers, 16 classifications" in view.class_summary.value


def test_activity_is_binned_per_minute_or_hour(store, classroom):
    bins, per = activity(store)
    assert per == "minute" and bins["n"].sum() == 16 and len(bins) == 12
    assert bins["n"].tolist() == [2, 2, 1, 1, 2, 2] + [1] * 6
    hourly, per = activity(store, "hour")
    assert per == "hour" and hourly["n"].tolist() == [16]
    view = dashboard(store)
    assert view.per.value == "minute"
    import bqplot
    fig = view.plot_box.children[0]
    assert isinstance(fig, bqplot.Figure) and list(fig.marks[0].y) == [2.0, 2.0, 1.0, 1.0, 2.0, 2.0] + [1.0] * 6
    view.per.value = "hour"
    assert list(view.plot_box.children[0].marks[0].y) == [16.0]


def test_candidates_gallery_uses_stored_scores_and_machine_scores(store, classroom):
    store.fold()  # the live SWAP scores are current: they rewrite 'swap' rows only when new votes arrive
    store.write_scores(pd.DataFrame({"subject": ["S008", "S009", "S001"], "probability": [0.2, 0.97, 0.99],
                                     "n_votes": [1, 1, 2], "status": ["undecided", "detected", "detected"]}), "swap")
    store.write_machine_scores(pd.DataFrame({"subject": ["S009"], "score": [0.81]}), "cnn-1")
    view = dashboard(store)
    assert "Scores stored by" in view.candidates_note.value
    cards = [texts(c) for c in view.gallery.children]
    assert len(cards) == 2  # S001 is a training subject, never a candidate
    assert "<b>S009</b>" in cards[0] and "p = 0.97" in cards[0] and "candidate" in cards[0]
    assert "machine score 0.81" in cards[0]
    assert "<b>S008</b>" in cards[1] and "machine" not in cards[1]
    view.method.value = "majority"  # nothing stored: scored now from the votes
    assert "computed now from 16 classifications" in view.candidates_note.value
    assert {re.search(r"<b>(S\d+)</b>", texts(c)).group(1) for c in view.gallery.children} == \
        {"S008", "S009", "S010", "S011"}


def test_settings_are_stored(store, classroom):
    view = dashboard(store)
    assert view.feedback.value is ClassSettings().feedback and view.rate.value == 1.0
    view.feedback.value = False
    view.rate.value = 1.5
    view.routing.value = True
    assert store.get_setting("feedback") is False
    assert store.get_setting("training_rate_scale") == 1.5
    assert store.get_setting("routing") is True
    assert "routing = True" in view.settings_status.value
    again = dashboard(store)  # a new page shows what is stored
    assert (again.feedback.value, again.rate.value, again.routing.value) == (False, 1.5, True)


def export_of(store, identity) -> bytes:
    frame = me_page(personal_link("me", identity).split("?", 1)[1], store)
    view = next(c for c in frame.body.children if isinstance(c, MeView))
    href = re.search(r'href="([^"]+)"', view.download.value).group(1)
    return base64.b64decode(href.split(",", 1)[1])


@pytest.mark.slow   # two stores, two dashboards and a personal page: about 3 s
def test_personal_csv_round_trips_into_another_store_with_vote_ids(store, classroom, tmp_path):
    """Binder: each student has a container of their own; the teacher merges their exports."""
    ada, _ = classroom
    store.retract_vote("a3", ada.user_id)
    content = export_of(store, ada)
    teacher_store = open_store(tmp_path / "teacher" / "lf.duckdb")
    teacher_store.add_subjects(SUBJECTS)
    try:
        view = dashboard(teacher_store)
        upload(view, "ada-votes.csv", content)
        assert "11 new votes merged (0 were already here)" in view.import_status.value
        assert view.uploader.value == ()
        mine = store.votes().query("user_id == @ada.user_id").set_index("vote_id")
        got = teacher_store.votes().set_index("vote_id")
        assert sorted(got.index) == sorted(mine.index) and "a3" not in got.index
        for col in ("user_id", "subject", "answer", "created_at"):
            assert got[col].reindex(mine.index).tolist() == mine[col].tolist(), col
        assert {r["user_id"] for r in view.grid.grid_data_in} == {ada.user_id}  # the table was refreshed
        upload(view, "ada-votes.csv", content)  # again: nothing new
        assert "0 new votes merged (11 were already here)" in view.import_status.value
        assert len(teacher_store.votes()) == 11
    finally:
        teacher_store.close()


def test_import_merges_without_duplicates(store, classroom):
    view = dashboard(store)
    csv = ("user,subject,answer,created_at,vote_id\n"
           "u-ada,S000,1,2024-05-01T10:00:00Z,a0\n"          # already stored
           "u-cleo,S001,lens,2024-05-02T09:00:00Z,c1\n"
           "u-cleo,S002,not,2024-05-02T09:01:00Z,c2\n"
           "u-cleo,S002,not,2024-05-02T09:01:00Z,c2\n")     # repeated in the file
    view.import_file("class.csv", csv.encode())
    assert "2 new votes merged (1 were already here)" in view.import_status.value
    votes = store.votes()
    assert len(votes) == 18 and votes["vote_id"].is_unique
    assert votes.set_index("vote_id").loc["c1", "answer"] == 1


@pytest.mark.parametrize("content, reason", [
    (b"user,subject,answer,created_at,vote_id\nu-x,S000,1,2024-05-01T10:00:00Z,x1\n"
     b"u-x,NOPE,1,2024-05-01T10:01:00Z,x2\n", "line 3: unknown subject"),
    (b"user,subject,answer,created_at,vote_id\nu-x,S000,maybe,2024-05-01T10:00:00Z,x1\n",
     "line 2: answer must be 1/0 or lens/not"),
    (b"user,subject,answer,created_at,vote_id\nu-x,S000,1,yesterday,x1\n", "line 2: created_at"),
    (b"name,subject,answer\nu-x,S000,1\n", "line 1: missing column(s) user, created_at"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file"),
    (b"", "the file is empty"),
])
def test_bad_files_are_refused_without_writing(store, classroom, content, reason):
    view = dashboard(store)
    before = store.votes()
    upload(view, "bad.csv", content)
    status = view.import_status.value
    assert "bad.csv was not imported (nothing was written)" in status and reason in status
    assert "/tmp" not in status and "upload.csv" not in status  # names the file, not a temporary path
    pd.testing.assert_frame_equal(store.votes(), before)


def test_xss_in_display_name_comment_and_file_name_is_escaped(store, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", XSS)
    frame = me_page("", store)
    store.add_vote(frame.identity.user_id, "S000", 1)
    store.annotate(frame.identity.user_id, "S000", comment=XSS)
    monkeypatch.delenv("JUPYTERHUB_USER")
    view = dashboard(store)
    assert [r["name"] for r in view.grid.grid_data_in] == [XSS]  # ag-Grid shows cell values as text
    view.import_file(XSS + ".csv", b"user,subject\n")
    page = texts(view)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.csv was not imported" in view.import_status.value


@pytest.mark.parametrize("env, shown", [
    ({"JUPYTERHUB_USER": "prof", "LENSFINDER_HUB_ADMIN": "1"}, True),
    ({"JUPYTERHUB_USER": "student", "LENSFINDER_HUB_ADMIN": "0"}, False),
    ({"JUPYTERHUB_USER": "student"}, False),
    ({"LENSFINDER_HUB_ADMIN": "1"}, False),  # the flag means nothing without the hub's user
])
def test_a_jupyterhub_admin_is_the_teacher_without_a_key(store, classroom, env, shown):
    new_teacher_key(store)
    settings = Settings.from_env(env, db_path=store.path)
    frame = teacher_page("", store, settings=settings)
    assert bool(widgets_of(frame, TeacherView)) is shown
    assert ("Teacher key required" in texts(frame)) is not shown


def test_links_on_jupyterhub_start_with_the_servers_prefix(store):
    settings = Settings.from_env({"JUPYTERHUB_USER": "ada", "JUPYTERHUB_SERVICE_PREFIX": "/user/ada/"},
                                 db_path=store.path)
    frame = me_page("", store, settings=settings)
    links = re.findall(r'href="([^"]+)"', frame.nav.value)
    assert links and all(link.startswith("/user/ada/voila/render/") for link in links), links
    assert "key=" not in frame.nav.value  # the hub vouches for the person: no key in links
