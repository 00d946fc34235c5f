"""Expert grades in the store, on both backends: validation, the latest grade counts, history kept, copy."""

from __future__ import annotations

import pytest

from lensfinder_nb.store import StoreError, open_store
from lensfinder_nb.store.copying import copy_store


def test_a_regrade_replaces_the_grade_and_keeps_the_history(store):
    subject = sorted(store.subject_ids())[0]
    store.add_grade("u-ann", subject, 1, created_at="2026-01-01T10:00:00")
    store.add_grade("u-bob", subject, 3, created_at="2026-01-01T10:01:00")
    store.add_grade("u-ann", subject, "2", created_at="2026-01-01T10:02:00")  # Ann changes her mind
    latest = store.grades()
    assert sorted(zip(latest["user_id"], latest["grade"])) == [("u-ann", 2), ("u-bob", 3)]
    assert len(store.grades(history=True)) == 3
    assert store.sql("SELECT count(*) AS n FROM latest_grades")["n"].iloc[0] == 2


@pytest.mark.parametrize("bad", [4, -1, 2.5, "two", None, True])
def test_a_bad_grade_is_refused_and_stores_nothing(store, bad):
    subject = sorted(store.subject_ids())[0]
    with pytest.raises(StoreError, match="0, 1, 2 or 3"):
        store.add_grade("u-ann", subject, bad)
    assert store.grades(history=True).empty


def test_a_grade_of_an_unknown_subject_is_refused(store):
    with pytest.raises(StoreError, match="unknown subject"):
        store.add_grade("u-ann", "no-such-subject", 2)
    assert store.grades(history=True).empty


def test_the_same_grade_id_is_stored_once(store):
    subject = sorted(store.subject_ids())[0]
    store.add_grade("u-ann", subject, 2, grade_id="g1")
    store.add_grade("u-ann", subject, 2, grade_id="g1")
    assert store.grades(history=True)["grade_id"].tolist() == ["g1"]


def test_store_copy_carries_the_grades(store, tmp_path):
    subject = sorted(store.subject_ids())[0]
    store.add_grade("u-ann", subject, 3, grade_id="g1", created_at="2026-01-01T10:00:00")
    store.add_grade("u-ann", subject, 1, grade_id="g2", created_at="2026-01-01T11:00:00")
    target = tmp_path / "copy.duckdb"
    counts = copy_store(store.path, target)
    assert counts["grades"] == 2
    copied = open_store(target)
    try:
        assert copied.grades(history=True)[["grade_id", "grade"]].values.tolist() == [["g1", 3], ["g2", 1]]
        assert copied.grades()["grade"].tolist() == [1]
    finally:
        copied.close()


def test_a_hub_user_is_made_an_expert_and_back_on_both_backends(store):
    from lensfinder_nb.classify.identity import identify, make_hub_expert, remove_expert
    from lensfinder_nb.store import queries

    assert identify(store, hub_user="grace").role == "hub"           # first page open records her as hub
    who, new = make_hub_expert(store, " Grace ")                     # typed by the teacher: JupyterHub's lower case
    assert (who.user_id, who.role, new) == ("hub-grace", "expert", True)
    assert make_hub_expert(store, "grace")[1] is False               # once is enough
    assert identify(store, hub_user="grace").role == "expert"        # her next page open, no restart
    # a hub user who never opened a page yet is recorded, and their first page open keeps the role
    assert make_hub_expert(store, "newcomer")[1] is True
    assert identify(store, hub_user="newcomer").role == "expert"
    assert queries.people_with_role(store, "expert")["user_id"].tolist() == ["hub-grace", "hub-newcomer"]
    assert remove_expert(store, "hub-grace") is True and remove_expert(store, "hub-grace") is False
    assert identify(store, hub_user="grace").role == "hub"
    assert store.sql("SELECT count(*) AS n FROM users WHERE user_id = 'hub-grace'")["n"].iloc[0] == 1
