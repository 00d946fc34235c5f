"""The store: votes in and out, validation, migrations, many processes, killed writers."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest

from lensfinder_nb.store.migrations import SCHEMA_VERSION, apply_migrations, schema_version
from lensfinder_nb.store import StoreError, open_store


def test_vote_round_trip_and_fields(store):
    vid = store.add_vote("ada", "S000", "lens", marks=[(10, 20.5)], created_at="2026-01-02T03:04:05Z",
                         time_spent_s=2.5, session="tab-1")
    row = store.votes().iloc[0]
    assert (row.vote_id, row.user_id, row.subject, row.answer) == (vid, "ada", "S000", 1)
    assert json.loads(row.marks) == [[10.0, 20.5]]
    assert row.created_at == pd.Timestamp("2026-01-02 03:04:05")
    assert (row.time_spent_s, row.session) == (2.5, "tab-1")
    assert store.fold() == (1 if store.journalled else 0)  # PostgreSQL stored it already
    assert store.votes().iloc[0].vote_id == vid  # same answer after folding


def test_same_vote_id_is_stored_once(store):
    store.add_vote("ada", "S001", 1, vote_id="v-1")
    store.add_vote("ada", "S001", 1, vote_id="v-1")
    assert len(store.votes()) == 1
    store.fold()
    store.add_vote("ada", "S001", 1, vote_id="v-1")  # again, after it reached DuckDB
    assert len(store.votes()) == 1
    store.fold()
    assert store.sql("SELECT count(*) AS n FROM db.votes")["n"].iloc[0] == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(user="ada", subject="nope", answer=1), "unknown subject"),
    (dict(user="ada", subject="S000", answer="maybe"), "answer must be"),
    (dict(user="", subject="S000", answer=1), "user must be"),
    (dict(user="ada", subject="S000", answer=1, created_at="yesterday"), "ISO 8601"),
    (dict(user="ada", subject="S000", answer=1, marks=[(1, "x")]), "marks"),
    (dict(user="ada", subject="S000", answer=1, time_spent_s=-1), "time_spent_s"),
])
def test_bad_votes_are_refused_and_change_nothing(store, kwargs, message):
    with pytest.raises(StoreError, match=message):
        store.add_vote(**kwargs)
    assert store.votes().empty


def test_seq_follows_created_at_then_arrival(store):
    store.add_vote("a", "S000", 1, created_at="2026-01-01T00:00:02")
    store.add_vote("b", "S000", 0, created_at="2026-01-01T00:00:01")
    store.add_vote("c", "S000", 0, created_at="2026-01-01T00:00:01")
    by_time = lambda: store.votes().sort_values(["created_at", "seq"])["user_id"].tolist()  # noqa: E731
    assert by_time() == ["b", "c", "a"]  # seq breaks the tie of b and c in arrival order
    if store.journalled:  # folded in one batch, seq itself follows created_at
        assert store.votes()["user_id"].tolist() == ["b", "c", "a"]
    store.fold()
    assert by_time() == ["b", "c", "a"]


def test_retraction_keeps_the_vote(store):
    vid = store.add_vote("ada", "S002", 1)
    store.retract_vote(vid, "ada")
    assert store.votes().empty
    assert store.votes(include_retracted=True)["retracted_at"].notna().all()
    store.fold()
    assert store.votes().empty and len(store.votes(include_retracted=True)) == 1
    with pytest.raises(StoreError):
        store.retract_vote(vid, "eve")  # not hers


def test_annotations(store):
    store.annotate("ada", "S003", favourite=True, comment="<img src=x onerror=alert(1)>")
    store.fold()
    store.annotate("ada", "S004", comment="second")
    got = store.sql("SELECT subject, favourite, comment FROM annotations ORDER BY subject")
    assert got["subject"].tolist() == ["S003", "S004"]
    assert got["comment"].iloc[0] == "<img src=x onerror=alert(1)>"


def test_import_is_all_or_nothing_and_idempotent(store):
    frame = pd.DataFrame({"user_id": ["a", "b"], "subject": ["S000", "S001"], "answer": [1, 0],
                          "created_at": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                          "vote_id": ["i1", "i2"]})
    assert store.import_votes(frame) == 2
    assert store.import_votes(frame) == 0
    bad = frame.assign(subject=["S000", "missing"], vote_id=["i3", "i4"])
    with pytest.raises(StoreError, match="missing"):
        store.import_votes(bad)
    assert len(store.votes()) == 2


def test_subjects_validation(store):
    with pytest.raises(StoreError, match="label"):
        store.add_subjects(pd.DataFrame({"subject": ["X"], "label": [2]}))
    with pytest.raises(StoreError, match="twice"):
        store.add_subjects(pd.DataFrame({"subject": ["X", "X"], "label": [1, 1]}))
    assert store.add_subjects(pd.DataFrame({"subject": ["S000", "NEW"], "label": [1, -1]})) == 1
    assert len(store.subjects()) == 13


def test_older_schema_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    apply_migrations(con, upto=1)
    con.execute("INSERT INTO subjects (subject, label) VALUES ('A', 1)")
    con.execute("INSERT INTO votes VALUES ('v1', 1, 'ada', 'A', 1, NULL, TIMESTAMP '2026-01-01', NULL, NULL)")
    assert schema_version(con) == 1
    con.close()
    store = open_store(path)
    assert store.sql("SELECT max(version) AS v FROM db.schema_migrations")["v"].iloc[0] == SCHEMA_VERSION
    votes = store.votes()
    assert votes["vote_id"].tolist() == ["v1"] and votes["retracted_at"].isna().all()
    store.add_vote("bob", "A", 0)
    store.fold()
    assert len(store.votes()) == 2
    store.close()


def test_torn_line_of_a_dead_writer_is_ignored_and_cleaned(file_store):
    store = file_store
    store.journal_dir.mkdir(exist_ok=True)
    dead = store.journal_dir / "99999-deadbeef.jsonl"
    good = {"type": "vote", "vote_id": "d1", "user_id": "z", "subject": "S000", "answer": 1, "marks": None,
            "created_at": "2026-01-01T00:00:00", "time_spent_s": None, "session": None}
    dead.write_text(json.dumps(good) + "\n" + '{"type": "vote", "vote_id": "d2", "us')
    assert store.votes()["vote_id"].tolist() == ["d1"]
    store.fold()
    assert store.votes()["vote_id"].tolist() == ["d1"]
    assert not dead.exists()


# --------------------------------------------------------------------- processes
def _writer(path: str, user: str, n: int, acks, halfway=None) -> None:
    s = open_store(path, fold_interval_s=0.01)  # fold often: writers exit while others fold
    ids = [s.add_vote(user, f"S{i % 12:03d}", i % 2) for i in range(n // 2)]
    if halfway is not None:   # hold here until the reader has read while writes were under way
        halfway.wait(60)
    ids += [s.add_vote(user, f"S{i % 12:03d}", i % 2) for i in range(n // 2, n)]
    s.close()
    for vid in ids:
        acks.put(vid)


def _reader(path: str, stop, failures, reads) -> None:
    s = open_store(path)
    while not stop.is_set():
        try:
            s.votes()
            reads.value += 1
        except Exception as exc:  # any failure of a reader is what this test is about
            failures.put(repr(exc))
        time.sleep(0.02)


@pytest.mark.slow   # seven processes, 18,000 votes
def test_many_writer_processes_with_a_reader(store):
    ctx = mp.get_context("spawn")
    acks, failures = ctx.Queue(), ctx.Queue()
    stop, reads = ctx.Event(), ctx.Value("i", 0)
    reader = ctx.Process(target=_reader, args=(str(store.path), stop, failures, reads))
    reader.start()
    deadline = time.monotonic() + 60
    while reads.value == 0 and time.monotonic() < deadline:  # the reader is up before writers start
        time.sleep(0.05)
    halfway = ctx.Event()
    writers = [ctx.Process(target=_writer, args=(str(store.path), f"u{k}", 3000, acks, halfway)) for k in range(6)]
    before = reads.value
    for w in writers:
        w.start()
    # two reads complete while the writers are started and half done (on a slow, busy machine too)
    deadline = time.monotonic() + 60
    while reads.value < before + 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    halfway.set()
    acked = {acks.get(timeout=60) for _ in range(6 * 3000)}
    for w in writers:
        w.join(60)
    reads_during = reads.value
    # a bulk writer of DuckDB (an import) at the same time must not meet a lock error either
    store.add_subjects(pd.DataFrame({"subject": ["LATE"], "label": [-1]}))
    # and the reader completes a read after it (on PostgreSQL a read copies every table: wait for it)
    deadline = time.monotonic() + 60
    while reads.value <= reads_during and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    reader.join(30)
    assert failures.empty(), failures.get()
    assert reads_during >= before + 2 and reads.value > reads_during
    assert set(store.votes()["vote_id"]) == acked
    store.fold()
    assert set(store.sql("SELECT vote_id FROM db.votes")["vote_id"]) == acked
    if store.journalled:
        assert not list(store.journal_dir.glob("*.jsonl")), "journals of finished writers are removed"


_KILLED_WRITER = """
import sys
from lensfinder_nb.store import open_store
s = open_store(sys.argv[1])
i = 0
while True:
    vid = s.add_vote("k", "S%03d" % (i % 12), 1)
    print(vid, flush=True)
    i += 1
"""


def test_acknowledged_votes_survive_sigkill(store):
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(store.path)], stdout=subprocess.PIPE,
                            text=True)
    acked = []
    for line in proc.stdout:
        acked.append(line.strip())
        if len(acked) == 300:
            os.kill(proc.pid, signal.SIGKILL)  # right after an acknowledgement
            break
    proc.wait(10)
    stored = set(store.votes()["vote_id"])
    assert set(acked) <= stored
    store.fold()
    assert set(acked) <= set(store.sql("SELECT vote_id FROM db.votes")["vote_id"])


def _late_writer(path: str, conn) -> None:
    s = open_store(path, fold_interval_s=3600)  # only the test's fold runs
    s.add_vote("late", "S000", 1, vote_id="first")
    conn.send("ready")
    conn.recv()
    s.add_vote("late", "S001", 1, vote_id="second")  # written after the folder read the journal
    s._journal.close()
    conn.send("done")


def test_vote_written_between_fold_read_and_writer_exit_is_kept(file_store, monkeypatch, request):
    store = file_store
    import lensfinder_nb.store.fold as fold_module

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_late_writer, args=(str(store.path), child))
    proc.start()
    child.close()  # so that recv() fails instead of hanging if the writer dies
    # a failing assertion must not leave the writer waiting for "go" (pytest would hang at exit)
    request.addfinalizer(lambda: proc.kill() if proc.is_alive() else None)
    assert parent.poll(60) and parent.recv() == "ready"
    real_is_live = fold_module.journal_is_live

    def writer_finishes_first(path):
        # Other tests' stores fold in background threads of this process: only ours is steered.
        if path.parent == store.journal_dir and proc.exitcode is None:
            parent.send("go")
            assert parent.poll(60) and parent.recv() == "done"
            proc.join(30)
        return real_is_live(path)

    monkeypatch.setattr(fold_module, "journal_is_live", writer_finishes_first)
    store.fold()
    monkeypatch.setattr(fold_module, "journal_is_live", real_is_live)
    assert set(store.votes()["vote_id"]) == {"first", "second"}
    store.fold()
    assert set(store.sql("SELECT vote_id FROM db.votes")["vote_id"]) == {"first", "second"}


def test_import_without_vote_ids_derives_them_from_content(store):
    frame = pd.DataFrame({"user_id": ["a", "a"], "subject": ["S000", "S001"], "answer": [1, 0],
                          "created_at": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    assert store.import_votes(frame) == 2
    assert store.import_votes(frame) == 0
    assert store.votes()["vote_id"].str.startswith("imp-").all()
