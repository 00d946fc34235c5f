"""Who is on a page: JupyterHub's user, or a display name with a personal secret key.

Outside JupyterHub a person signs in with a display name and receives a personal link
``?user=<id>&key=<secret>``.  Only a SHA-256 hash of the key is stored (the key is 128
random bits, so a plain hash is enough; no password stretching is needed).  The query
string is user-controlled: nothing in it is trusted until the key matches.  The teacher
has a key of their own, kept in the settings table as a hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
import urllib.parse
from dataclasses import dataclass

from ..store import Store, StoreError, queries

__all__ = ["Identity", "IdentityError", "sign_up", "sign_in", "identify", "personal_link",
           "new_teacher_key", "is_teacher", "parse_query", "NAME_PATTERN", "add_expert", "is_expert",
           "EXPERT_ROLE"]

NAME_PATTERN = re.compile(r"^[\w .'-]{1,40}$", re.UNICODE)
_TEACHER_SETTING = "teacher_key_hash"
#: the role of a person who grades candidates (``lensfinder experts add``, the teacher's dashboard)
EXPERT_ROLE = "expert"


class IdentityError(StoreError):
    """A sign-in that cannot be accepted; the message is safe to show."""


@dataclass(frozen=True)
class Identity:
    """The person a page acts for."""

    user_id: str
    display_name: str
    role: str = "volunteer"  # volunteer, expert, hub, teacher
    key: str | None = None   # the secret, kept only to build links for this person


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _user_id(display_name: str) -> str:
    """A stable id from a display name: lower case, accents folded, spaces to dashes."""
    folded = unicodedata.normalize("NFKC", display_name).strip().lower()
    return "u-" + re.sub(r"\s+", "-", folded)


def check_name(display_name: str) -> str:
    name = (display_name or "").strip()
    if not NAME_PATTERN.match(name):
        raise IdentityError("name_invalid")
    return name


def sign_up(store: Store, display_name: str) -> Identity:
    """Create a person with a fresh key; refuses a name that is already taken."""
    name = check_name(display_name)
    user_id = _user_id(name)
    key = secrets.token_urlsafe(16)
    if not store.add_user(user_id, name, key_hash=_hash(key), role="volunteer"):
        raise IdentityError("name_taken")
    return Identity(user_id, name, "volunteer", key)


def sign_in(store: Store, user_id: str, key: str) -> Identity:
    """The person whose key matches, or IdentityError('key_invalid')."""
    row = queries.user_record(store, user_id)
    if row.empty or not key or not row["key_hash"].iloc[0] \
            or not hmac.compare_digest(row["key_hash"].iloc[0], _hash(key)):
        raise IdentityError("key_invalid")
    role = EXPERT_ROLE if row["role"].iloc[0] == EXPERT_ROLE else "volunteer"
    return Identity(user_id, row["display_name"].iloc[0], role, key)


def add_expert(store: Store, display_name: str) -> Identity:
    """Create an expert grader with a fresh key (their link is :func:`personal_link` of ``grade``);
    refuses a name that is already an expert's.  Expert ids start with ``e-``, so an expert never
    takes over a volunteer's account of the same name."""
    name = check_name(display_name)
    user_id = "e-" + _user_id(name)[2:]
    key = secrets.token_urlsafe(16)
    if not store.add_user(user_id, name, key_hash=_hash(key), role=EXPERT_ROLE):
        raise IdentityError("name_taken")
    return Identity(user_id, name, EXPERT_ROLE, key)


def is_expert(identity: Identity | None) -> bool:
    """Whether the person on a page signed in with an expert link."""
    return identity is not None and identity.role == EXPERT_ROLE


def parse_query(query_string: str | None) -> dict[str, str]:
    """The first value of each query parameter (the query string is untrusted input)."""
    return {k: v[0] for k, v in urllib.parse.parse_qs(query_string or "").items() if v}


def identify(store: Store, query_string: str | None = None, hub_user: str | None = None) -> Identity | None:
    """JupyterHub's user (``hub_user``), else the person whose ``user``/``key`` are in the query string, else None.

    The page passes both from its :class:`~lensfinder_nb.settings.Settings`.  Raises
    IdentityError when a user and key are given but do not match.
    """
    if hub_user:
        user_id = "hub-" + hub_user
        ensure_hub_user(store, user_id, hub_user)
        return Identity(user_id, hub_user, "hub")
    params = parse_query(query_string)
    if "user" in params:
        return sign_in(store, params["user"], params.get("key", ""))
    return None


def ensure_hub_user(store: Store, user_id: str, name: str) -> None:
    """Record a JupyterHub user the first time they open a page."""
    if queries.user_record(store, user_id).empty:  # a read first: most page opens need no write lock
        store.add_user(user_id, name, role="hub")


def personal_link(page: str, identity: Identity, base: str = "", **extra: str) -> str:
    """``<base>/voila/render/<page>.ipynb?user=..&key=..`` (no key for JupyterHub users)."""
    params = dict(extra)
    if identity.role != "hub" and identity.key:
        params = {"user": identity.user_id, "key": identity.key, **params}
    query = urllib.parse.urlencode(params)
    return f"{base}/voila/render/{page}.ipynb" + (f"?{query}" if query else "")


def new_teacher_key(store: Store) -> str:
    """Make a new teacher key (the old one stops working) and return it; only its hash is kept."""
    key = secrets.token_urlsafe(16)
    store.set_setting(_TEACHER_SETTING, _hash(key))
    return key


def is_teacher(store: Store, key: str | None) -> bool:
    stored = store.get_setting(_TEACHER_SETTING)
    return bool(key) and bool(stored) and hmac.compare_digest(stored, _hash(key))
