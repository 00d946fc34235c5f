"""A discussion per image: hashtags, what a post may hold, thread order, and who may see and hide.

Pure functions (no store, no widgets).  The rules, written once:

* a post is 1 to :data:`MAX_COMMENT_CHARS` characters after trimming (:func:`check_comment`);
* a hashtag is ``#`` followed by letters, digits, ``_`` or ``-`` in any script, starting with a
  letter or digit, lower-cased (:func:`hashtags`); ``#3`` is a tag, ``##`` and ``a#b`` are not;
* threads read newest first (:func:`newest_first`);
* a volunteer opens a subject's thread only after voting on it (:func:`may_open_thread`): others'
  comments would bias a vote that is meant to be independent, and on a training subject they could
  give the answer away; moderators (teacher, expert) open any thread and may hide posts;
* a hidden post is replaced for everyone by a "hidden by a moderator" line, and only moderators
  still read its text (:func:`visible_text`), so a thread keeps its shape and a hiding is visible.

>>> hashtags("Nice #Arc and a #ring? #arc #引力透镜")
['arc', 'ring', '引力透镜']
>>> check_comment("  #artefact  ")
'#artefact'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import pandas as pd

from ..errors import InvalidInput

__all__ = ["MAX_COMMENT_CHARS", "MODERATOR_ROLES", "SUGGESTED_TAGS", "CommentError", "hashtags", "tag_text",
           "check_comment", "normalise_tag", "newest_first", "filter_by_tag", "may_open_thread", "is_moderator",
           "visible_text", "tags_per_subject"]

#: the longest post, in characters (a thread is for short remarks; a paper goes elsewhere)
MAX_COMMENT_CHARS = 1000
#: roles that may open any thread and hide posts
MODERATOR_ROLES = frozenset({"teacher", "expert"})
#: tags offered as examples on the page (any other tag works too)
SUGGESTED_TAGS = ("arc", "ring", "einstein-cross", "artefact", "merger", "spiral", "candidate")

# A tag may not follow a word character: "a#b" and "##x" are not tags.
_TAG = re.compile(r"(?<![\w#])#(\w[\w-]*)", re.UNICODE)
_TAG_ONLY = re.compile(r"^\w[\w-]*$", re.UNICODE)


class CommentError(InvalidInput):
    """A post or a tag that cannot be accepted; ``key`` names the message in the catalogues."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def normalise_tag(tag: str) -> str:
    """``tag`` as stored and searched: NFKC, lower case, no leading ``#``, trailing ``-`` dropped.

    >>> normalise_tag("#ARC"), normalise_tag("Ｒｉｎｇ")
    ('arc', 'ring')
    """
    tag = unicodedata.normalize("NFKC", str(tag)).strip().lstrip("#").lower().rstrip("-")
    if not _TAG_ONLY.match(tag):
        raise CommentError("bad_tag", f"not a hashtag: {tag!r} (letters, digits, _ or -)")
    return tag


def hashtags(text: str) -> list[str]:
    """The distinct hashtags of ``text``, lower-cased, in order of first appearance."""
    seen: dict[str, None] = {}
    for raw in _TAG.findall(unicodedata.normalize("NFKC", text or "")):
        tag = raw.lower().rstrip("-")
        if tag:
            seen.setdefault(tag, None)
    return list(seen)


def tag_text(tags: Iterable[str]) -> str:
    """Tags as stored in the ``comments.tags`` column: space-separated, "" for none.

    >>> tag_text(["arc", "ring"])
    'arc ring'
    """
    return " ".join(tags)


def check_comment(text: object) -> str:
    """The post to store (trimmed), or :class:`CommentError` saying why not."""
    if not isinstance(text, str):
        raise CommentError("empty", "a comment must be text")
    body = text.strip()
    if not body:
        raise CommentError("empty", "the comment is empty")
    if len(body) > MAX_COMMENT_CHARS:
        raise CommentError("too_long", f"the comment has {len(body)} characters; at most "
                                       f"{MAX_COMMENT_CHARS} are allowed")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in body):
        raise CommentError("control", "the comment contains control characters")
    return body


def is_moderator(role: str | None) -> bool:
    """Whether ``role`` may open every thread and hide posts."""
    return role in MODERATOR_ROLES


def may_open_thread(role: str | None, has_voted: bool) -> bool:
    """Whether a person may read a subject's thread (see the module's rules)."""
    return is_moderator(role) or has_voted


def newest_first(thread: pd.DataFrame) -> pd.DataFrame:
    """Posts newest first; ties (same instant) by id, so the order is stable."""
    return thread.sort_values(["created_at", "comment_id"], ascending=[False, False], kind="stable") \
        .reset_index(drop=True)


def filter_by_tag(comments: pd.DataFrame, tag: str) -> pd.DataFrame:
    """The rows of ``comments`` (a ``tags`` column as :func:`tag_text`) that carry ``tag``."""
    want = normalise_tag(tag)
    has = comments["tags"].fillna("").map(lambda s: want in s.split())
    return comments[has.astype(bool)]


def visible_text(body: str, hidden: bool, moderator: bool) -> str | None:
    """What a reader sees of a post: its text, or None for "hidden by a moderator"."""
    if hidden and not moderator:
        return None
    return body


def tags_per_subject(comments: pd.DataFrame) -> pd.DataFrame:
    """One row per subject of ``comments`` (columns of a thread): its posts, its distinct tags
    (sorted, space-separated) and its newest post time, most discussed first.

    >>> df = pd.DataFrame({"subject": ["a", "a", "b"], "tags": ["arc", "ring arc", ""],
    ...                    "created_at": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"])})
    >>> tags_per_subject(df)[["subject", "n_comments", "tags"]].values.tolist()
    [['a', 2, 'arc ring'], ['b', 1, '']]
    """
    if comments.empty:
        return pd.DataFrame({"subject": [], "n_comments": [], "tags": [], "last_post": []})
    grouped = comments.groupby("subject", sort=False)
    out = pd.DataFrame({
        "n_comments": grouped.size(),
        "tags": grouped["tags"].agg(lambda col: tag_text(sorted({t for s in col.fillna("") for t in s.split()}))),
        "last_post": grouped["created_at"].max(),
    }).reset_index()
    return out.sort_values(["n_comments", "last_post", "subject"], ascending=[False, False, True],
                           kind="stable").reset_index(drop=True)
