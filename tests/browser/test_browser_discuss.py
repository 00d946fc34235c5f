"""A real browser on the discussion page: a vote on the classify page links to the image's thread,
markup in a display name and in a post stays text, a teacher hides the post and its author no
longer reads it, a thread stays closed before a vote, and the page switches to Simplified Chinese.

Display names typed into the sign-in form cannot hold ``<`` or ``>`` (``identity.NAME_PATTERN``);
JupyterHub names and imported people can, so the markup name is stored directly here.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from support import browser_page, make_image_store, voila_server
from lensfinder_nb.classify.identity import Identity, _hash, new_teacher_key, personal_link, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]   # a Voilà server and chromium

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_POST = "<script>alert(1)</script> #arc"


def _no_markup_ran(page) -> None:
    assert page.locator("img[src=x]").count() == 0
    assert page.evaluate("[...document.scripts].filter(s => s.text.includes('alert(1)')).length") == 0


def test_discussion_in_a_browser(tmp_path):
    store = make_image_store(tmp_path / "lf.duckdb")
    store.add_user("u-x", XSS_NAME, key_hash=_hash("k" * 22))
    xss = Identity("u-x", XSS_NAME, "volunteer", "k" * 22)
    bob = sign_up(store, "Bob Reader")
    key = new_teacher_key(store)
    store.fold()
    dialogs: list[str] = []
    with voila_server(store.path) as base, browser_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # before a vote the thread of a training subject stays closed: no picture, no posts
        page.goto(base + personal_link("discuss", bob, subject="T0000"), timeout=90_000)
        page.get_by_text("Classify this image first").wait_for(timeout=90_000)
        assert page.locator("img.lf-image").count() == 0

        # the volunteer with the markup name classifies an image and follows the link to its thread
        page.goto(base + personal_link("classify", xss), timeout=90_000)
        page.get_by_role("button", name="Lens", exact=True).click(timeout=90_000)
        link = page.locator("a.lf-discuss")
        link.wait_for(timeout=30_000)
        href = link.get_attribute("href")
        subject = parse_qs(urlsplit(href).query)["subject"][0]
        assert link.get_attribute("target") == "_blank" and f"({subject})" in link.inner_text()
        store.add_vote(bob.user_id, subject, 0)  # the other reader has classified it too
        page.goto(base + href, timeout=90_000)
        page.get_by_text(f"Discussion of image {subject}").wait_for(timeout=90_000)
        box = page.get_by_placeholder("What do you see?")
        box.fill(XSS_POST, timeout=90_000)
        page.get_by_role("button", name="Post", exact=True).click()
        page.get_by_text("Your comment is posted.").wait_for(timeout=30_000)
        page.locator(".lf-body", has_text=XSS_POST).wait_for(timeout=30_000)
        _no_markup_ran(page)

        # another person reads name and post as literal text
        page.goto(base + personal_link("discuss", bob, subject=subject), timeout=90_000)
        post = page.locator(".lf-post").first
        post.wait_for(timeout=90_000)
        assert page.locator(".lf-body").first.inner_text() == XSS_POST
        assert page.locator(".lf-name").first.inner_text() == XSS_NAME
        assert page.locator("img.lf-image").count() == 1   # the picture of the image discussed
        assert page.get_by_role("button", name="Hide").count() == 0
        _no_markup_ran(page)

        # the teacher hides it
        page.goto(f"{base}/voila/render/discuss.ipynb?key={key}&subject={subject}", timeout=90_000)
        page.get_by_role("button", name="Hide", exact=True).click(timeout=90_000)
        page.get_by_text("hidden by Teacher").wait_for(timeout=30_000)
        assert store.thread(subject)["hidden_by"].tolist() == ["teacher"]

        # its author no longer reads it
        page.goto(base + personal_link("discuss", xss, subject=subject), timeout=90_000)
        page.get_by_text("This comment was hidden by a moderator.").wait_for(timeout=90_000)
        assert page.get_by_text(XSS_POST).count() == 0 and page.locator(".lf-body").count() == 0

        # the language switch every page has
        page.get_by_role("combobox").first.select_option(label="简体中文")
        page.get_by_text(f"图像 {subject} 的讨论").wait_for(timeout=30_000)
        page.get_by_role("button", name="发表", exact=True).wait_for(timeout=10_000)
        page.get_by_text("这条评论已被管理员隐藏。").wait_for(timeout=10_000)
        assert page.get_by_text("Discussion of image").count() == 0
        _no_markup_ran(page)
    assert dialogs == []
    store.close()
