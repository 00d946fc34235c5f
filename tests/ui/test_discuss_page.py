"""The discussion page without a browser: who may open a thread, posting, hiding, escaping, and the
links to it from the classify view, the personal centre and the teacher's hashtag search."""

from __future__ import annotations

import ipywidgets as w
import pytest

from lensfinder_nb.classify.identity import _hash, new_teacher_key, personal_link, sign_up
from lensfinder_nb.ui.discuss import DiscussView, discuss_page
from lensfinder_nb.ui.me import me_page
from lensfinder_nb.ui.teacher import TeacherView, teacher_page
from tests.support.widgets import widget_texts

pytestmark = pytest.mark.filterwarnings("ignore:metadata .* was set from the constructor:DeprecationWarning")

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_POST = "<script>alert(1)</script> #arc"


def texts(widget) -> str:
    return widget_texts(widget)


def buttons(widget, label: str) -> list[w.Button]:
    out, stack = [], [widget]
    while stack:
        x = stack.pop()
        if isinstance(x, w.Button) and x.description == label:
            out.append(x)
        stack.extend(getattr(x, "children", ()))
    return out


def query(who, subject: str, **extra) -> str:
    return personal_link("discuss", who, subject=subject, **extra).split("?", 1)[1]


def view_of(frame) -> DiscussView | None:
    found = [c for c in frame.body.children if isinstance(c, DiscussView)]
    return found[0] if found else None


@pytest.fixture
def xss_person(store):
    """A person whose display name is markup (possible through JupyterHub or an import, not the sign-in form)."""
    from lensfinder_nb.classify.identity import Identity
    store.add_user("u-x", XSS_NAME, key_hash=_hash("k" * 22))
    return Identity("u-x", XSS_NAME, "volunteer", "k" * 22)


def test_a_volunteer_opens_a_thread_only_after_a_live_vote(store):
    ada = sign_up(store, "Ada")
    for subject in ("S000", "S008"):  # a training subject and an unknown
        frame = discuss_page(query(ada, subject), store)
        assert view_of(frame) is None and "Classify this image first" in texts(frame)
    vote = store.add_vote(ada.user_id, "S000", 1)
    frame = discuss_page(query(ada, "S000"), store)
    assert view_of(frame) is not None and "Discussion of image S000" in texts(frame)
    assert "lens" not in texts(view_of(frame)).lower().replace("lensfinder", "")  # no label shown
    store.retract_vote(vote, ada.user_id)
    assert view_of(discuss_page(query(ada, "S000"), store)) is None


def test_bad_links_show_nothing_of_the_thread(store):
    ada = sign_up(store, "Ada")
    store.add_vote(ada.user_id, "S008", 1)
    store.post_comment(ada.user_id, "S008", "secret #arc")
    wrong = discuss_page(f"user={ada.user_id}&key=wrong&subject=S008", store)
    assert view_of(wrong) is None and "secret" not in texts(wrong)
    assert "does not match" in wrong.errors.value
    unknown = discuss_page(query(ada, "nope<b>"), store)
    assert "no image called &quot;nope&lt;b&gt;&quot;" in texts(unknown)
    anonymous = discuss_page("subject=S008", store)
    assert view_of(anonymous) is None and "secret" not in texts(anonymous)
    assert not discuss_page("subject=S008&key=not-the-teacher", store).body.children[0].value.count("secret")


def test_posting_escapes_text_and_bad_posts_change_nothing(store, xss_person):
    store.add_vote(xss_person.user_id, "S008", 1)
    frame = discuss_page(query(xss_person, "S008"), store)
    view = view_of(frame)
    view.box.value = "   "
    buttons(view, "Post")[0].click()
    assert "The comment is empty" in view.status.value and store.thread("S008").empty
    view.box.value = XSS_POST
    buttons(view, "Post")[0].click()
    assert store.thread("S008")["body"].tolist() == [XSS_POST] and view.box.value == ""
    page = texts(frame)
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; #arc" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the name, as text
    assert buttons(view, "Hide") == []  # volunteers cannot hide


def test_newest_first_and_a_moderator_hides_for_everyone_else(store):
    ada, bob = sign_up(store, "Ada"), sign_up(store, "Bob")
    for who in (ada, bob):
        store.add_vote(who.user_id, "S001", 1)
    first = store.post_comment(ada.user_id, "S001", "older #ring")
    store.post_comment(bob.user_id, "S001", "newer #arc")
    shown = [texts(row) for row in view_of(discuss_page(query(bob, "S001"), store)).thread_box.children]
    assert len(shown) == 2 and "newer #arc" in shown[0] and "older #ring" in shown[1]
    key = new_teacher_key(store)
    teacher = discuss_page(f"key={key}&subject=S001", store)  # the teacher needs no vote
    tview = view_of(teacher)
    assert len(buttons(tview, "Hide")) == 2
    tview.hide(first)
    assert "older #ring" in texts(tview) and "hidden by Teacher" in texts(tview)  # moderators still read it
    assert len(buttons(tview, "Hide")) == 1
    seen_by_bob = texts(view_of(discuss_page(query(bob, "S001"), store)))
    assert "older #ring" not in seen_by_bob and "hidden by a moderator" in seen_by_bob
    assert "older #ring" not in texts(me_page(personal_link("me", ada).split("?", 1)[1], store))


def test_an_expert_opens_any_thread_and_hides(store):
    store.add_user("u-eve", "Eve", key_hash=_hash("e" * 22), role="expert")
    ada = sign_up(store, "Ada")
    store.add_vote(ada.user_id, "S004", 0)
    cid = store.post_comment(ada.user_id, "S004", "#artefact")
    from lensfinder_nb.classify.identity import Identity
    eve = Identity("u-eve", "Eve", "volunteer", "e" * 22)
    view = view_of(discuss_page(query(eve, "S004"), store))
    buttons(view, "Hide")[0].click()
    assert store.thread("S004").set_index("comment_id").loc[cid, "hidden_by"] == "u-eve"


def test_the_page_speaks_chinese(store):
    ada = sign_up(store, "Ada")
    store.add_vote(ada.user_id, "S008", 1)
    frame = discuss_page(query(ada, "S008", lang="zh"), store)
    assert "图像 S008 的讨论" in texts(frame) and buttons(view_of(frame), "发表")
    view = view_of(frame)
    view.box.value = "x" * 1001
    view.post()
    assert "评论太长" in view.status.value
    frame.language.value = "en"
    assert "Discussion of image S008" in texts(frame)


def test_personal_centre_links_to_threads_and_lists_posts(store):
    ada = sign_up(store, "Ada")
    store.add_vote(ada.user_id, "S008", 1)
    retracted = store.add_vote(ada.user_id, "S009", 1)
    store.retract_vote(retracted, ada.user_id)
    store.post_comment(ada.user_id, "S008", XSS_POST)
    page = texts(me_page(personal_link("me", ada).split("?", 1)[1], store))
    assert page.count("discuss.ipynb?") == 2  # the live vote's card and the post; not the retracted vote
    assert "subject=S008" in page and "subject=S009" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; #arc" in page and "<script>" not in page


def test_teacher_searches_threads_by_hashtag(store, xss_person):
    store.post_comment(xss_person.user_id, "S008", XSS_POST)
    store.post_comment(xss_person.user_id, "S009", "a #Ring")
    hidden = store.post_comment(xss_person.user_id, "S010", "#arc spam")
    key = new_teacher_key(store)
    frame = teacher_page("key=" + key, store)
    view = [c for c in frame.body.children if isinstance(c, TeacherView)][0]
    view_of(discuss_page(f"key={key}&subject=S010", store)).hide(hidden)  # through the search's link
    view.load()
    assert "#arc (1), #ring (1)" in view.tag_counts.value
    view.tag_box.value = "#ARC"
    out = view.tag_results.value
    assert "1 comments tagged #arc" in out and "S008" in out and "S010" not in out
    assert "&lt;script&gt;" in out and "<script>" not in out and "&lt;img src=x" in out
    assert f"discuss.ipynb?key={key}&amp;subject=S008" in out
    store.add_vote(xss_person.user_id, "S008", 1)
    view.load()  # the candidates' cards link to their threads with the teacher key
    assert f"discuss.ipynb?key={key}&amp;subject=S008" in texts(view.gallery)
    view.tag_box.value = "two words"
    assert "Type one hashtag" in view.tag_results.value
    view.tag_box.value = "lens"
    assert "No visible comment is tagged #lens" in view.tag_results.value
