"""Sign-up, personal keys, JupyterHub users and the teacher key."""

from __future__ import annotations

import pytest

from lensfinder_nb.classify.identity import (IdentityError, add_expert, check_hub_name, identify, is_expert,
                                            is_teacher, make_hub_expert, new_teacher_key, personal_link, remove_expert,
                                            sign_in, sign_up)


def test_sign_up_then_the_link_opens_and_the_name_alone_does_not(store):
    ada = sign_up(store, "Ada Lovelace")
    assert ada.user_id == "u-ada-lovelace" and len(ada.key) >= 20
    stored = store.sql("SELECT * FROM users")
    assert ada.key not in stored.to_string()  # only the hash is kept
    link = personal_link("me", ada)
    again = identify(store, link.split("?", 1)[1])
    assert again.user_id == ada.user_id and again.display_name == "Ada Lovelace"
    for query in ("user=u-ada-lovelace", "user=u-ada-lovelace&key=wrong", "user=u-ada-lovelace&key="):
        with pytest.raises(IdentityError, match="key_invalid"):
            identify(store, query)
    with pytest.raises(IdentityError, match="name_taken"):
        sign_up(store, "ada lovelace")
    with pytest.raises(IdentityError, match="key_invalid"):
        sign_in(store, "u-nobody", "x")


@pytest.mark.parametrize("name", ["", " ", "x" * 41, "<img src=x onerror=alert(1)>", "a\nb"])
def test_bad_names_are_refused(store, name):
    with pytest.raises(IdentityError, match="name_invalid"):
        sign_up(store, name)
    assert store.sql("SELECT count(*) AS n FROM users")["n"].iloc[0] == 0


def test_jupyterhub_user_needs_no_key_and_ignores_the_query(store):
    who = identify(store, "user=u-someone-else&key=x", hub_user="grace")
    assert (who.user_id, who.role) == ("hub-grace", "hub")
    assert identify(store, "", hub_user=None) is None
    assert personal_link("me", who) == "/voila/render/me.ipynb"


def test_a_hub_user_is_an_expert_only_by_their_stored_role(store):
    expert_link = personal_link("grade", add_expert(store, "Dr Lee")).split("?", 1)[1]
    # nothing a hub user sends makes them an expert: a real expert's link in the query is not read
    vera = identify(store, expert_link, hub_user="vera")
    assert (vera.user_id, vera.role, is_expert(vera)) == ("hub-vera", "hub", False)
    # nor does a hub name that looks like an expert's id: hub ids have their own prefix
    assert identify(store, "", hub_user="e-dr-lee").user_id == "hub-e-dr-lee"
    assert not is_expert(identify(store, "", hub_user="e-dr-lee"))
    make_hub_expert(store, "Vera")
    vera = identify(store, "", hub_user="vera")
    assert (vera.role, is_expert(vera), vera.key) == ("expert", True, None)
    assert personal_link("grade", vera) == "/voila/render/grade.ipynb"   # no key: the hub signs her in
    assert remove_expert(store, "hub-vera") and not is_expert(identify(store, "", hub_user="vera"))
    # a link expert removed: their link opens as a volunteer's
    assert remove_expert(store, "e-dr-lee") and identify(store, expert_link).role == "volunteer"
    assert not remove_expert(store, "hub-nobody")


@pytest.mark.parametrize("name", ["", " ", "a b", "a/b", "x" * 101, "a\tb"])
def test_impossible_hub_names_are_refused(store, name):
    with pytest.raises(IdentityError, match="hub_name_invalid"):
        check_hub_name(name)
    with pytest.raises(IdentityError, match="hub_name_invalid"):
        make_hub_expert(store, name)


def test_teacher_key_rotates(store):
    assert not is_teacher(store, None) and not is_teacher(store, "guess")
    k1 = new_teacher_key(store)
    assert is_teacher(store, k1)
    k2 = new_teacher_key(store)
    assert is_teacher(store, k2) and not is_teacher(store, k1)
