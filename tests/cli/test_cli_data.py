"""`lensfinder subjects|votes|sql` through the CLI, checked through the library."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pandas as pd
import pytest

from lensfinder_nb.cli import build_parser, main
from lensfinder_nb.store import open_store


@pytest.fixture
def db(tmp_path, store):
    return str(store.path)


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def _leaf_parsers(parser, path=()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for action in subs:
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, child in action.choices.items():
            assert helps.get(name), f"command {' '.join(path + (name,))} has no help text"
            yield from _leaf_parsers(child, path + (name,))


def test_every_command_and_option_has_help():
    leaves = dict(_leaf_parsers(build_parser()))
    assert {("demo",), ("serve",), ("votes", "import"), ("score",), ("ingest",)} <= set(leaves)
    for path, parser in leaves.items():
        for action in parser._actions:
            assert action.help, f"{' '.join(path)}: {action.dest} has no help"
        assert any(a.dest == "db_path" for a in parser._actions), f"{' '.join(path)} lacks --db"


def test_subjects_import(tmp_path, db, capsys):
    f = write(tmp_path, "s.csv", "subject,label,ra,dec\nN1,1,10.5,-3\nN2,-1,,\n")
    assert main(["subjects", "import", f, "--db", db]) == 0
    assert main(["subjects", "import", f, "--db", db]) == 0
    subjects = open_store(db).subjects().set_index("subject")
    assert subjects.loc["N1", "ra"] == 10.5 and subjects.loc["N2", "label"] == -1
    assert len(subjects) == 14
    assert "0 new subject(s)" in capsys.readouterr().out


VOTES = "user,subject,answer,created_at\nada,S000,lens,2026-01-01T10:00:00Z\nbob,S001,0,2026-01-01T10:00:01+00:00\n"


def test_votes_import_twice_adds_nothing_and_export_round_trips(tmp_path, db):
    f = write(tmp_path, "v.csv", VOTES)
    assert main(["votes", "import", f, "--db", db]) == 0
    assert main(["votes", "import", f, "--db", db]) == 0
    votes = open_store(db).votes()
    assert votes[["user_id", "subject", "answer"]].values.tolist() == [["ada", "S000", 1], ["bob", "S001", 0]]
    for ext in ("csv", "parquet"):
        out = tmp_path / f"out.{ext}"
        assert main(["votes", "export", str(out), "--db", db]) == 0
        back = pd.read_csv(out) if ext == "csv" else pd.read_parquet(out)
        assert back["vote_id"].tolist() == votes["vote_id"].tolist()


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", "user,subject,created_at\nada,S000,2026-01-01\n", "line 1: missing column(s) answer"),
    ("unknown.csv", VOTES + "cy,NOPE,1,2026-01-02\n", "line 4: unknown subject: 'NOPE'"),
    ("answer.csv", VOTES + "cy,S002,maybe,2026-01-02\n", "line 4: answer must be 1/0 or lens/not: 'maybe'"),
    ("time.csv", VOTES + "cy,S002,1,last tuesday\n", "line 4: created_at is not an ISO 8601 time"),
    ("empty.csv", "", "the file is empty"),
    ("header.csv", "user,subject,answer,created_at\n", "no rows after the header"),
    ("garbage.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "not a CSV text file"),
    ("latin.csv", "user,subject,answer,created_at\nJos\xe9,S000,1,2026-01-01\n".encode("latin-1"), "line 2: not UTF-8"),
])
def test_bad_vote_files_write_nothing(tmp_path, db, capsys, name, content, message):
    f = write(tmp_path, name, content, "wb" if isinstance(content, bytes) else "w")
    assert main(["votes", "import", f, "--db", db]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert open_store(db).votes().empty


def test_bad_subject_file(tmp_path, db, capsys):
    f = write(tmp_path, "s.csv", "subject,label\nA,1\nB,7\n")
    assert main(["subjects", "import", f, "--db", db]) == 1
    assert "line 3: label must be" in capsys.readouterr().err
    assert len(open_store(db).subjects()) == 12


def test_sql_and_console_script(tmp_path, db):
    f = write(tmp_path, "v.csv", VOTES)
    main(["votes", "import", f, "--db", db])
    out = subprocess.run([sys.executable, "-m", "lensfinder_nb.cli", "sql",
                          "SELECT user_id, answer FROM votes ORDER BY user_id", "--db", db],
                         capture_output=True, text=True, check=True).stdout
    assert "ada" in out and "bob" in out
    bad = subprocess.run([sys.executable, "-m", "lensfinder_nb.cli", "sql", "SELEC nonsense", "--db", db],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("lensfinder: error: SQL")


def test_sql_is_read_only(tmp_path, db):
    """`lensfinder sql` cannot write files: COPY ... TO is refused in one line and nothing is created."""
    out = tmp_path / "leak.csv"
    run = subprocess.run([sys.executable, "-m", "lensfinder_nb.cli", "sql", f"COPY (SELECT * FROM subjects) TO '{out}'",
                          "--db", db], capture_output=True, text=True)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("lensfinder: error: SQL: read-only SQL") and run.stderr.count("\n") == 1
    assert not out.exists()


def test_library_errors_become_one_line_and_bugs_keep_their_traceback(tmp_path, db, capsys, monkeypatch):
    """The CLI reports input problems once, centrally; anything else is a bug and is not hidden."""
    from lensfinder_nb.cli import data

    assert main(["votes", "export", str(tmp_path / "votes.txt"), "--db", db]) == 1
    assert capsys.readouterr().err == f"lensfinder: error: {tmp_path / 'votes.txt'}: choose a .csv or .parquet file name\n"
    assert main(["subjects", "import", str(tmp_path / "nope.csv"), "--db", db]) == 1
    assert "no such file" in capsys.readouterr().err

    for bug in (KeyError("a bug"), ValueError("a bug"), FileNotFoundError(2, "No such file", "/nowhere/internal")):
        def broken(args, bug=bug):
            raise bug

        monkeypatch.setattr(data, "_fold", broken)
        with pytest.raises(type(bug)):
            main(["fold", "--db", db])


def test_user_errors_are_one_line_and_bugs_show_a_traceback_in_a_real_process(tmp_path, db):
    """Through the installed entry point: exit 1 and one line for a user error, a traceback for a bug."""
    missing = subprocess.run([sys.executable, "-m", "lensfinder_nb.cli", "votes", "import", str(tmp_path / "no.csv"),
                              "--db", db], capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stderr == f"lensfinder: error: {tmp_path / 'no.csv'}: no such file\n"
    # a ValueError from inside the library (not an input check of ours) is a bug: the traceback stays
    bug = ("import sys; import lensfinder_nb.cli.data as d\n"
           "def _fold(args): int('not a number')\n"
           "d._fold = _fold\n"
           "from lensfinder_nb.cli import main; sys.exit(main(sys.argv[1:]))")
    out = subprocess.run([sys.executable, "-c", bug, "fold", "--db", db], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback (most recent call last)" in out.stderr
    assert out.stderr.rstrip().endswith("ValueError: invalid literal for int() with base 10: 'not a number'")
    # --traceback shows the traceback of a user error too
    shown = subprocess.run([sys.executable, "-m", "lensfinder_nb.cli", "--traceback", "votes", "import",
                            str(tmp_path / "no.csv"), "--db", db], capture_output=True, text=True)
    assert shown.returncode == 1 and "Traceback" in shown.stderr and "TableError: " in shown.stderr


def test_a_file_the_person_named_is_theirs_to_fix_whichever_library_raised(tmp_path, db, capsys):
    """OSErrors about a path given on the command line are one line; --traceback (after the command too) shows them."""
    (tmp_path / "folder.csv").mkdir()
    for out_file, reason in ((tmp_path / "folder.csv", "Is a directory"),
                             (tmp_path / "no-such-folder" / "votes.csv",
                              f"Cannot save file into a non-existent directory: '{tmp_path / 'no-such-folder'}'")):
        assert main(["votes", "export", str(out_file), "--db", db]) == 1
        assert capsys.readouterr().err == f"lensfinder: error: {out_file}: {reason}\n"
    with pytest.raises(IsADirectoryError):
        main(["votes", "export", str(tmp_path / "folder.csv"), "--db", db, "--traceback"])


def test_global_options_go_before_or_after_the_command(tmp_path, store, capsys):
    """``lensfinder --db X COMMAND`` and ``lensfinder COMMAND --db X`` both work; after the command wins."""
    f = write(tmp_path, "v.csv", VOTES)
    other = tmp_path / "other.duckdb"
    assert main(["--db", str(store.path), "votes", "import", f]) == 0
    assert len(open_store(store.path).votes()) == 2
    assert main(["--db", str(other), "settings", "--db", str(store.path)]) == 0
    assert f"db_path = {store.path}  [$LENSFINDER_DB]" in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "lensfinder_nb.cli", "--db", str(store.path), "sql",
                          "SELECT count(*) AS n FROM votes"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == ["n", "2"], out.stderr
    assert not other.exists()


def test_store_copy_moves_a_store_to_postgresql_and_back(tmp_path, pg_server, capsys):
    from lensfinder_nb.store import open_store
    from tests.support.postgres import fresh_database

    src, back, url = str(tmp_path / "a.duckdb"), str(tmp_path / "b.duckdb"), fresh_database(pg_server)
    store = open_store(src)
    store.add_subjects(pd.DataFrame({"subject": ["s1", "s2"], "label": [1, 0]}))
    store.add_vote("ada", "s1", 1)
    store.close()
    assert main(["store", "copy", src, url]) == 0
    assert "2 subjects, 0 users, 1 votes" in capsys.readouterr().out
    assert main(["votes", "export", str(tmp_path / "v.csv"), "--db", url]) == 0  # --db takes the URL
    assert pd.read_csv(tmp_path / "v.csv")["user_id"].tolist() == ["ada"]
    assert main(["store", "copy", url, back]) == 0
    assert main(["store", "copy", src, url]) == 1  # the target is not empty now
    assert "not empty" in capsys.readouterr().err
    copied = open_store(back)
    assert copied.votes()["subject"].tolist() == ["s1"]
    copied.close()
