"""The pure rules of discussion threads: hashtags, what a post may hold, order, and who sees what."""

from __future__ import annotations

import pandas as pd
import pytest

from lensfinder_nb.classify.discussion import (MAX_COMMENT_CHARS, CommentError, check_comment, filter_by_tag,
                                               hashtags, is_moderator, may_open_thread, newest_first,
                                               normalise_tag, visible_text)
from lensfinder_nb.errors import UserError


@pytest.mark.parametrize("text, tags", [
    ("#arc", ["arc"]),
    ("Nice #Arc, and a #RING. #arc again", ["arc", "ring"]),
    ("#einstein-cross! #blue_arc?", ["einstein-cross", "blue_arc"]),
    ("trailing dash #arc- here", ["arc"]),
    ("中文 #引力透镜 #弧", ["引力透镜", "弧"]),
    ("full-width ＃ｒｉｎｇ", ["ring"]),
    ("#Σ-arc #ÉCLAT", ["σ-arc", "éclat"]),
    ("#3 images", ["3"]),
    ("no tags: a#b, ##x, # arc, #-x, email@x#y", []),
    ("", []),
])
def test_hashtags_are_unicode_aware_lower_cased_and_distinct(text, tags):
    assert hashtags(text) == tags


def test_a_post_is_trimmed_and_bad_posts_say_why():
    assert check_comment("  #arc \n") == "#arc"
    assert check_comment("x" * MAX_COMMENT_CHARS) == "x" * MAX_COMMENT_CHARS
    assert check_comment("line one\nline two") == "line one\nline two"
    for text, key in (("", "empty"), (" \n\t", "empty"), (None, "empty"), (42, "empty"),
                      ("x" * (MAX_COMMENT_CHARS + 1), "too_long"), ("bell\x07", "control")):
        with pytest.raises(CommentError) as err:
            check_comment(text)
        assert err.value.key == key and str(err.value)
        assert isinstance(err.value, UserError)  # the CLI shows it as one line


def test_tags_to_search_are_normalised_like_tags_in_posts():
    assert normalise_tag("#ARC") == "arc" == hashtags("#ARC")[0]
    assert normalise_tag(" Ｒｉｎｇ ") == "ring"
    for bad in ("", "#", "two words", "<b>"):
        with pytest.raises(CommentError):
            normalise_tag(bad)


def test_threads_read_newest_first_and_filter_by_tag():
    t = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 12:00", "2026-01-01 12:00", "2026-01-01 09:00"])
    df = pd.DataFrame({"comment_id": ["a", "b", "c", "d"], "created_at": t,
                       "tags": ["arc", "ring arc", "", None]})
    assert newest_first(df)["comment_id"].tolist() == ["c", "b", "a", "d"]
    assert filter_by_tag(df, "#Arc")["comment_id"].tolist() == ["a", "b"]
    assert filter_by_tag(df, "ar").empty  # whole tags only


def test_who_opens_a_thread_and_who_reads_hidden_posts():
    assert is_moderator("teacher") and is_moderator("expert")
    assert not is_moderator("volunteer") and not is_moderator(None) and not is_moderator("hub")
    assert may_open_thread("volunteer", has_voted=True)
    assert not may_open_thread("volunteer", has_voted=False)
    assert not may_open_thread("hub", has_voted=False)
    assert may_open_thread("expert", has_voted=False) and may_open_thread("teacher", has_voted=False)
    assert visible_text("#arc", hidden=False, moderator=False) == "#arc"
    assert visible_text("#arc", hidden=True, moderator=False) is None
    assert visible_text("#arc", hidden=True, moderator=True) == "#arc"
