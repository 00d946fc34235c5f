"""Who is on a page: JupyterHub's user, or a display name with a personal secret key.

Outside JupyterHub a person signs in with a display name and receives a personal link
``?user=<id>&key=<secret>``.  Only a SHA-256 hash of the key is stored (the key is 128
random bits, so a plain hash is enough; no password stretching is needed).  The query
string is user-controlled: nothing in it is trusted until the key matches.  The teacher
has a key of their own, kept in the settings table as a hash.

On JupyterHub the hub's user is the person (``hub-<name>``) and the query string is ignored.  A
hub user becomes an expert only through their stored role, which the teacher sets
(:func:`make_hub_expert`: the teacher's dashboard, ``lensfinder experts add --hub``); nothing a
hub user sends can set it.
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
           "EXPERT_ROLE", "HUB_ROLE", "expert_id", "hub_user_id", "check_hub_name", "make_hub_expert", "remove_expert"]

NAME_PATTERN = re.compile(r"^[\w .'-]{1,40}$", re.UNICODE)
_TEACHER_SETTING = "teacher_key_hash"
#: the role of a person who grades candidates (``lensfinder experts add``, the teacher's dashboard)
EXPERT_ROLE = "expert"
#: the role of a JupyterHub user who is not an expert
HUB_ROLE = "hub"
#: a JupyterHub user name as a teacher may type it: no blanks, no slash (JupyterHub's URLs), no control characters
_HUB_NAME = re.compile(r"^[^\s/\x00-\x1f]{1,100}$")


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
    user_id = expert_id(name)
    key = secrets.token_urlsafe(16)
    if not store.add_user(user_id, name, key_hash=_hash(key), role=EXPERT_ROLE):
        raise IdentityError("name_taken")
    return Identity(user_id, name, EXPERT_ROLE, key)


def expert_id(display_name: str) -> str:
    """The id :func:`add_expert` gives an expert of this name."""
    return "e-" + _user_id(display_name)[2:]


def is_expert(identity: Identity | None) -> bool:
    """Whether the person on a page signed in with an expert link."""
    return identity is not None and identity.role == EXPERT_ROLE


def hub_user_id(hub_name: str) -> str:
    """The store's id of JupyterHub user ``hub_name`` (the ``hub-`` prefix keeps hub users apart from
    the ``u-`` volunteers and ``e-`` experts of personal links)."""
    return "hub-" + hub_name


def check_hub_name(hub_name: str) -> str:
    """A JupyterHub user name typed by a teacher, lower-cased as JupyterHub's authenticators store it
    (so ``Ada`` is the hub user ``ada``); IdentityError('hub_name_invalid') for an impossible one."""
    name = (hub_name or "").strip().lower()
    if not _HUB_NAME.match(name):
        raise IdentityError("hub_name_invalid")
    return name


def make_hub_expert(store: Store, hub_name: str) -> tuple[Identity, bool]:
    """Make JupyterHub user ``hub_name`` an expert (recorded now if they never opened a page); their
    next opening of the grading page on their own server works, no restart needed.  Returns the
    expert and whether they were not one before.  Only the teacher's dashboard and the command line
    call this: it trusts its caller."""
    name = check_hub_name(hub_name)
    user_id = hub_user_id(name)
    before = store.set_role(user_id, EXPERT_ROLE, display_name=name)
    return Identity(user_id, name, EXPERT_ROLE), before != EXPERT_ROLE


def remove_expert(store: Store, user_id: str) -> bool:
    """``user_id`` stops being an expert (a hub user goes back to ``hub``, a link expert to ``volunteer``:
    their link then opens no grading page); their grades stay.  False when they were not an expert."""
    row = queries.user_record(store, user_id)
    if row.empty or row["role"].iloc[0] != EXPERT_ROLE:
        return False
    store.set_role(user_id, HUB_ROLE if user_id.startswith("hub-") else "volunteer",
                   display_name=row["display_name"].iloc[0])
    return True


def parse_query(query_string: str | None) -> dict[str, str]:
    """The first value of each query parameter (the query string is untrusted input)."""
    return {k: v[0] for k, v in urllib.parse.parse_qs(query_string or "").items() if v}


def identify(store: Store, query_string: str | None = None, hub_user: str | None = None) -> Identity | None:
    """JupyterHub's user (``hub_user``), else the person whose ``user``/``key`` are in the query string, else None.

    The page passes both from its :class:`~lensfinder_nb.settings.Settings`.  A hub user is an expert
    when their stored role says so (:func:`make_hub_expert`); on the hub the query string is not
    read, so no link makes a hub user someone else.  Raises IdentityError when a user and key are
    given but do not match.
    """
    if hub_user:
        user_id = hub_user_id(hub_user)
        role = ensure_hub_user(store, user_id, hub_user)
        return Identity(user_id, hub_user, EXPERT_ROLE if role == EXPERT_ROLE else HUB_ROLE)
    params = parse_query(query_string)
    if "user" in params:
        return sign_in(store, params["user"], params.get("key", ""))
    return None


def ensure_hub_user(store: Store, user_id: str, name: str) -> str:
    """Record a JupyterHub user the first time they open a page; returns their stored role."""
    row = queries.user_record(store, user_id)  # a read first: most page opens need no write lock
    if not row.empty:
        return str(row["role"].iloc[0])
    if store.add_user(user_id, name, role=HUB_ROLE):
        return HUB_ROLE
    # added meanwhile (another tab, or the teacher making them an expert): the stored role counts
    return str(queries.user_record(store, user_id)["role"].iloc[0])


def personal_link(page: str, identity: Identity, base: str = "", **extra: str) -> str:
    """``<base>/voila/render/<page>.ipynb?user=..&key=..`` (no key for JupyterHub users)."""
    params = dict(extra)
    if identity.key:  # hub users, experts among them, have none: the hub signs them in
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
