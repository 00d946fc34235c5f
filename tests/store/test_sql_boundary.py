"""All SQL lives behind the store: outside ``lensfinder_nb/store/`` nobody imports duckdb or writes SQL.

The checker reads source with ``ast``: it flags ``import duckdb`` / ``from duckdb ...``, string
constants (f-strings and ``+`` chains included) that look like SQL statements, and use of the
store's private connections (``_writer``, ``_reader_raw``), which tests may not use either.
People's own SQL goes through ``Store.sql``; the only SQL text allowed outside the store is in
``ALLOWED`` below, with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lensfinder_nb"
STORE = PACKAGE / "store"

#: (file relative to the project, exact string) -> why it may stay
ALLOWED = {
    ("lensfinder_nb/cli/data.py", 'e.g. "SELECT user_id, count(*) FROM votes GROUP BY ALL"'):
        "help text of `lensfinder sql` showing people an example of their own SQL",
}

_SQL = [re.compile(p) for p in (
    r"\bSELECT\b[\s\S]*\bFROM\b",
    r"\bINSERT\s+(OR\s+\w+\s+)?INTO\b",
    r"\bUPDATE\s+\w+\s+SET\b",
    r"\bDELETE\s+FROM\b",
    r"\b(CREATE|DROP)\s+(OR\s+REPLACE\s+)?(TEMP\w*\s+)?(TABLE|VIEW|SEQUENCE|INDEX|SCHEMA)\b",
    r"\bALTER\s+TABLE\b",
    r"\bCOPY\b[\s\S]*\b(TO|FROM)\b",
    r"\bATTACH\b\s+['\"]",
    r"\bBEGIN\s+TRANSACTION\b|\bROLLBACK\b",
)]
_PRIVATE = {"_writer", "_reader_raw"}


def looks_like_sql(text: str) -> bool:
    """True for text with an upper-case SQL statement in it (English prose in lower case passes)."""
    return any(p.search(text) for p in _SQL)


def _string_of(node: ast.AST) -> str | None:
    """The literal text of a str constant, an f-string (holes as ``{}``) or a ``+`` chain of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                       for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string_of(node.left), _string_of(node.right)
        if left is not None or right is not None:
            return (left or "{}") + (right or "{}")
    return None


def violations(source: str, filename: str, *, check_sql: bool = True) -> list[str]:
    """``file:line: what`` for every private store connection and, with ``check_sql``, every duckdb
    import and SQL-looking string."""
    found = []
    tree = ast.parse(source, filename)
    inner: set[int] = set()  # strings inside a reported f-string or + chain are not reported again
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _PRIVATE:
            found.append(f"{filename}:{node.lineno}: private store connection .{node.attr}")
        elif not check_sql:
            continue
        elif isinstance(node, ast.Import):
            found += [f"{filename}:{node.lineno}: import {a.name}" for a in node.names
                      if a.name.split(".")[0] == "duckdb"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "duckdb":
            found.append(f"{filename}:{node.lineno}: from {node.module} import ...")
        elif id(node) not in inner:
            text = _string_of(node)
            if text is None:
                continue
            inner.update(id(n) for n in ast.walk(node) if n is not node)
            if looks_like_sql(text) and (filename, text) not in ALLOWED:
                first = " ".join(text.split())[:70]
                found.append(f"{filename}:{node.lineno}: SQL outside the store: {first!r}")
    return found


def _sources(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def test_no_duckdb_and_no_sql_outside_the_store_package():
    found = []
    for name, source in _sources(PACKAGE):
        if not name.startswith("lensfinder_nb/store/"):
            found += violations(source, name)
    assert not found, "SQL belongs in lensfinder_nb/store/ (queries.py, writes.py):\n" + "\n".join(found)


def test_tests_do_not_use_the_stores_private_connections():
    """Tests write through the public API (a store test may still build an old file with duckdb)."""
    found = []
    for name, source in _sources(ROOT / "tests"):
        found += violations(source, name, check_sql=False)
    assert not found, "use the store's public methods:\n" + "\n".join(found)


def test_allowed_strings_still_exist():
    """An exception that no longer matches anything is removed, not kept 'just in case'."""
    for name, text in ALLOWED:
        tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
        assert any(_string_of(n) == text for n in ast.walk(tree)), f"{name}: {text!r} is gone"


# --------------------------------------------------------------------- the checker itself
_PLANTED = '''
import duckdb
from duckdb import connect
import duckdb.typing as t

def votes(store, user):
    return store.sql("SELECT * FROM votes WHERE user_id = ?", [user])

TABLE = "votes"
q = f"""SELECT count(*)
        FROM {TABLE}"""
w = "INSERT OR REPLACE INTO settings VALUES (?, ?)"
d = "DELETE " + "FROM machine_scores"
c = "COPY (SELECT 1) TO 'x.csv'"
u = "UPDATE votes SET answer = 1"
m = "CREATE TEMP VIEW x AS " + TABLE
store._writer()
with store._reader_raw() as con:
    pass
'''

_INNOCENT = '''
"""Select the subject from the list; votes are counted from the journal."""
label = "Pick one from the gallery"
msg = "selected from {n} subjects"
help_text = "copy the link to your notebook"
'''


def test_the_checker_finds_each_planted_example_with_its_line():
    found = violations(_PLANTED, "planted.py")
    expected_lines = {2, 3, 4, 7, 10, 12, 13, 14, 15, 16, 17, 18}
    assert {int(f.split(":")[1]) for f in found} == expected_lines, "\n".join(found)
    assert "planted.py:2: import duckdb" in found
    assert any(f.startswith("planted.py:10: SQL outside the store") for f in found)   # f-string
    assert any(f.startswith("planted.py:13: SQL outside the store") for f in found)   # + chain
    assert "planted.py:17: private store connection ._writer" in found


def test_the_checker_leaves_prose_alone():
    assert violations(_INNOCENT, "innocent.py") == []


def test_for_tests_only_private_connections_count():
    found = violations(_PLANTED, "planted.py", check_sql=False)
    assert sorted(int(f.split(":")[1]) for f in found) == [17, 18]


@pytest.mark.parametrize("text", ["SELECT a FROM b", "insert INTO x".upper(), "DROP TABLE votes",
                                  "ALTER TABLE votes ADD COLUMN x INT", "ATTACH 'other.duckdb'", "ROLLBACK"])
def test_statements_look_like_sql(text):
    assert looks_like_sql(text)
