"""Discussion threads in the store, on both backends: post, hide (moderators only), read a thread,
search and count hashtags; bad input changes nothing."""

from __future__ import annotations

import pytest

from lensfinder_nb.classify.discussion import MAX_COMMENT_CHARS, CommentError
from lensfinder_nb.store import StoreError, queries

XSS = "<script>alert(1)</script> #arc"


@pytest.fixture
def people(store):
    store.add_user("ada", "Ada", role="volunteer")
    store.add_user("bob", "Bob <b>", role="volunteer")
    store.add_user("tea", "Teacher", role="teacher")
    store.add_user("exp", "Expert", role="expert")
    return store


def test_posts_are_stored_verbatim_with_their_tags_and_read_newest_first(people):
    store = people
    first = store.post_comment("ada", "S008", "  Looks like an #Arc, maybe a #ring  ")
    second = store.post_comment("bob", "S008", XSS)
    store.post_comment("bob", "S009", "elsewhere #arc")
    thread = store.thread("S008")
    assert thread["comment_id"].tolist() == [second, first]
    assert thread["body"].tolist() == [XSS, "Looks like an #Arc, maybe a #ring"]
    assert thread["tags"].tolist() == ["arc", "arc ring"]
    assert thread["name"].tolist() == ["Bob <b>", "Ada"]
    assert thread["hidden_at"].isna().all()


def test_bad_posts_are_refused_and_change_nothing(people):
    store = people
    for text, key in (("   ", "empty"), ("x" * (MAX_COMMENT_CHARS + 1), "too_long"), ("a\x00b", "control")):
        with pytest.raises(CommentError) as err:
            store.post_comment("ada", "S008", text)
        assert err.value.key == key
    with pytest.raises(StoreError, match="unknown subject"):
        store.post_comment("ada", "nope", "#arc")
    assert store.sql("SELECT count(*) AS n FROM comments")["n"].iloc[0] == 0


def test_only_a_teacher_or_an_expert_may_hide_and_the_first_hiding_is_kept(people):
    store = people
    cid = store.post_comment("bob", "S008", XSS)
    for who in ("ada", "bob", "nobody"):
        with pytest.raises(StoreError, match="may not hide"):
            store.hide_comment(cid, who)
    assert store.thread("S008")["hidden_at"].isna().all()
    assert store.hide_comment(cid, "tea") is True
    assert store.hide_comment(cid, "exp") is False
    row = store.thread("S008").iloc[0]
    assert row["hidden_by"] == "tea" and row["hidden_at"] is not None
    with pytest.raises(StoreError, match="no comment"):
        store.hide_comment("missing", "exp")


def test_search_and_counts_by_hashtag_leave_hidden_posts_out(people):
    store = people
    a = store.post_comment("ada", "S008", "#arc #ring")
    store.post_comment("bob", "S009", "an #ARC too")
    hidden = store.post_comment("bob", "S010", "#arc spam #spam")
    store.post_comment("ada", "S010", "no tag here, not even arc")
    store.hide_comment(hidden, "exp")
    found = store.search_comments("#Arc")
    assert set(found["subject"]) == {"S008", "S009"}
    assert hidden in set(store.search_comments("arc", include_hidden=True)["comment_id"])
    assert store.search_comments("ring")["comment_id"].tolist() == [a]
    assert store.search_comments("lens").empty
    counts = store.hashtag_counts()
    assert counts[["tag", "n_comments", "n_subjects"]].values.tolist() == [["arc", 2, 2], ["ring", 1, 1]]
    assert "spam" in set(store.hashtag_counts(include_hidden=True)["tag"])
    with pytest.raises(CommentError):
        store.search_comments("#")


def test_a_live_vote_opens_the_thread_and_a_retracted_one_does_not(people):
    store = people
    assert not queries.has_live_vote(store, "ada", "S000")
    vid = store.add_vote("ada", "S000", 1)
    assert queries.has_live_vote(store, "ada", "S000")
    store.retract_vote(vid, "ada")
    assert not queries.has_live_vote(store, "ada", "S000")
