"""The one CSV reader behind subjects, votes, fetch catalogues and ingest labels files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.store import StoreError
from lensfinder_nb.store.tables import TableError, read_csv_table


def _file(tmp_path, content: bytes | str):
    path = tmp_path / "t.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_columns_are_matched_without_case_spaces_or_units_and_others_dropped(tmp_path):
    path = _file(tmp_path, " Name ,RA [deg],Dec (deg),FileName,extra\n a , 1.5,-2, x.fits ,zzz\n")
    table = read_csv_table(path, ["ra", "dec"], ["name", "label"], aliases={"filename": "file"}, one_of=[["file"]])
    assert list(table.rows.columns) == ["ra", "dec", "file", "name", "label"]
    assert table.rows.iloc[0].tolist() == ["1.5", "-2", "x.fits", "a", ""]
    assert table.where(0) == f"{path}: line 2" and table.from_file


def test_a_frame_is_read_like_the_file_it_stands_for():
    frame = pd.DataFrame({"ra": [1.0, np.nan, 2.5], "label": [1, None, 0], "name": [" a ", "b", None]})
    table = read_csv_table(frame, ["ra"], ["label", "name"], what="labels")
    assert table.rows.to_dict("list") == {"ra": ["1", "", "2.5"], "label": ["1", "", "0"], "name": ["a", "b", ""]}
    assert table.where(2) == "the labels table: row 3" and not table.from_file
    with pytest.raises(TableError, match=r"^the labels table: no rows$"):
        read_csv_table(frame.iloc[:0], ["ra"], what="labels")


def test_numbers_name_the_first_bad_line_and_allow_empty(tmp_path):
    table = read_csv_table(_file(tmp_path, "ra,dec\n10,\n20,5\n30,91\n"), ["ra", "dec"])
    assert table.numbers("ra", 0, 360).tolist() == [10.0, 20.0, 30.0]
    assert table.numbers("dec").isna().tolist() == [True, False, False]
    with pytest.raises(TableError, match=r"t.csv: line 4: dec outside -90..90 degrees: '91'$"):
        table.numbers("dec", -90, 90, "degrees")
    table = read_csv_table(_file(tmp_path, "ra,dec\n10,1\n20,x\n30,y\n"), ["ra", "dec"])
    with pytest.raises(TableError, match=r"t.csv: line 3: dec is not a number: 'x'$"):
        table.numbers("dec")


@pytest.mark.parametrize("content, message", [
    (None, "no such labels file"),
    (b"  \n", "the file is empty"),
    (b"ra\x00dec\n", "not a CSV text file (binary data on line 1)"),
    ("ra,dec\n1,2\n3,\xb04\n".encode("latin-1"), "line 3: not UTF-8 text"),
    (b"ra,dec\n1,2\n3,4,5\n", "not a readable CSV file (Error tokenizing data"),
    (b"RA,Dec\n", "no rows after the header"),
    (b"ra\n1\n", "line 1: missing column(s) dec (found: ra)"),
    (b"label\n1\n", "line 1: missing column(s) ra, dec (found: label)"),
    (b"ra,RA [deg],dec\n1,2,3\n", "line 1: column 'ra' appears twice"),
])
def test_file_problems_are_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "t.csv" if content is None else _file(tmp_path, content)
    with pytest.raises(TableError) as err:
        read_csv_table(path, ["ra", "dec"], what="labels")
    assert str(err.value).startswith(f"{path}: {message}") and "\n" not in str(err.value)
    assert isinstance(err.value, StoreError) and isinstance(err.value, ValueError)  # the CLI reports it in one line


def test_one_of_lists_the_alternatives(tmp_path):
    path = _file(tmp_path, "label,ra\n1,2\n")
    with pytest.raises(TableError, match=r"line 1: missing column\(s\): needs file, or name, or ra and dec "
                                         r"\(found: label, ra\)$"):
        read_csv_table(path, one_of=[["file"], ["name"], ["ra", "dec"]])
    table = read_csv_table(_file(tmp_path, "name\nx\n"), one_of=[["file"], ["name"]])
    assert table.rows.to_dict("list") == {"file": [""], "name": ["x"]}


def test_reject_names_the_first_bad_row_and_its_value(tmp_path):
    table = read_csv_table(_file(tmp_path, "subject,label\nA,1\nB,7\nC,9\n"), ["subject", "label"])
    table.reject(np.zeros(3, bool), "label", "fine")
    with pytest.raises(TableError, match=r"t.csv: line 3: label must be 1, 0 or -1: '7'$"):
        table.reject(~table.rows["label"].isin(["1", "0", "-1"]), "label", "label must be 1, 0 or -1")
