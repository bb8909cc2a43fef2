"""The workbook written without openpyxl (``coverage.outputs.workbook``): read back with
openpyxl, every cell checked against values written here by hand."""

from __future__ import annotations

import datetime
import errno
import logging
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

import coverage.outputs.files as files
from coverage.outputs.files import write_workbook
from coverage.outputs.workbook import write_xlsx


def cells(path: Path, sheet: str | int = 0) -> list[list[tuple[object, str]]]:
    """Every cell of a sheet as (value, openpyxl data type), row by row."""
    book = load_workbook(path)
    ws = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
    return [[(c.value, c.data_type) for c in row] for row in ws.iter_rows()]


def sheet_xml(path: Path, number: int = 1) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"xl/worksheets/sheet{number}.xml").decode("utf-8")


HOSTILE = [
    '=HYPERLINK("http://evil.example","clic")',
    "+1",
    "-1",
    "@SUM(A1:A9)",
    "bell\x07here",
    "<r><t>rich?</t></r>",
    "a & <b> </c>",
    "  padded ",
    "cr\rlf\n",
]


def test_hostile_texts_stay_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": HOSTILE, "=head": range(len(HOSTILE))})
    write_workbook({"t": frame}, tmp_path / "t.xlsx")
    rows = cells(tmp_path / "t.xlsx")
    assert rows[0] == [("name", "s"), ("'=head", "s")]
    assert [r[0] for r in rows[1:]] == [
        ('\'=HYPERLINK("http://evil.example","clic")', "s"),
        ("'+1", "s"),
        ("'-1", "s"),
        ("'@SUM(A1:A9)", "s"),
        ("bell\ufffdhere", "s"),
        ("<r><t>rich?</t></r>", "s"),
        ("a & <b> </c>", "s"),
        ("  padded ", "s"),
        ("cr\rlf\n", "s"),
    ]
    assert [r[1] for r in rows[1:]] == [(i, "n") for i in range(9)]
    xml = sheet_xml(tmp_path / "t.xlsx")
    assert "<f>" not in xml and "<f " not in xml
    assert "&lt;r&gt;&lt;t&gt;rich?" in xml  # markup-looking text escaped, not copied in
    assert "\x07" not in xml and "\r" not in xml  # control character replaced, CR as &#13;


def test_missing_and_non_finite_numbers_are_empty(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan, np.inf, -np.inf, -0.25],
            "n": pd.array([1, None, 3, -4, 0], dtype="Int64"),
            "s": pd.array(["a", None, "", "b", pd.NA], dtype="string"),
            "o": [None, float("nan"), pd.NA, pd.NaT, "z"],
        }
    )
    write_workbook({"t": frame}, tmp_path / "t.xlsx")
    values = [[v for v, _ in row] for row in cells(tmp_path / "t.xlsx")[1:]]
    assert values == [
        [1.5, 1, "a", None],
        [None, None, None, None],
        [None, 3, None, None],
        [None, -4, "b", None],
        [-0.25, 0, None, "z"],
    ]


def test_numpy_and_pandas_scalars(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "mixed": [np.int64(7), np.float32(0.5), np.bool_(True), pd.Timestamp("2024-01-02 03:04:05"), "t"],
            "flag": [True, False, True, False, True],
            "when": pd.to_datetime(
                ["2024-01-01", None, "1999-12-31 23:59:59", "2024-02-29 12:00", "2024-01-02"], format="ISO8601"
            ),
            "day": [datetime.date(2024, 1, 1), datetime.date(1900, 3, 1), datetime.date(1900, 1, 1), None, None],
        }
    )
    write_workbook({"t": frame}, tmp_path / "t.xlsx")
    rows = cells(tmp_path / "t.xlsx")[1:]
    assert [r[0] for r in rows] == [
        (7, "n"),
        (0.5, "n"),
        (True, "b"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "d"),
        ("t", "s"),
    ]
    assert [r[1] for r in rows] == [(True, "b"), (False, "b"), (True, "b"), (False, "b"), (True, "b")]
    assert [r[2][0] for r in rows] == [
        datetime.datetime(2024, 1, 1),
        None,
        datetime.datetime(1999, 12, 31, 23, 59, 59),
        datetime.datetime(2024, 2, 29, 12),
        datetime.datetime(2024, 1, 2),
    ]
    assert rows[0][3][0] == datetime.datetime(2024, 1, 1) and rows[1][3][0] == datetime.datetime(1900, 3, 1)
    xml = sheet_xml(tmp_path / "t.xlsx")
    # Excel's serial numbers, by hand: 1 January 2024 is day 45292, 1 January 1900 day 1 and
    # 1 March 1900 day 61 (Excel counts a 29 February 1900);
    # 03:04:05 is 11045 s of 86400.
    assert re.search(r'<c r="A5" s="1"><v>45293\.127835648', xml)
    assert '<c r="C2" s="1"><v>45292</v>' in xml and '<c r="D3" s="2"><v>61</v>' in xml
    assert '<c r="D4" s="2"><v>1</v>' in xml


def test_sheet_names_cut_unique_and_escaped(tmp_path: Path) -> None:
    long = "a_table_name_much_longer_than_thirty_one_characters"
    tables = {
        long: pd.DataFrame({"v": [1]}),
        long + "_2": pd.DataFrame({"v": [2]}),
        "A_TABLE_NAME_MUCH_LONGER_THAN_THIRTY": pd.DataFrame({"v": [3]}),
        "x[1]:y?<&>'\"": pd.DataFrame({"v": [4]}),
    }
    write_workbook(tables, tmp_path / "t.xlsx")
    book = load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == [
        "a_table_name_much_longer_than_t",  # 31 characters
        "a_table_name_much_longer_than_2",  # 29 + "_2"
        "A_TABLE_NAME_MUCH_LONGER_THAN_3",  # Excel's names ignore case: _2 is taken
        "x_1__y_<&>'\"",
    ]
    assert [ws["A2"].value for ws in book.worksheets] == [1, 2, 3, 4]


def test_empty_workbook_and_too_long_table(tmp_path: Path, monkeypatch, caplog) -> None:
    write_workbook({}, tmp_path / "empty.xlsx")
    book = load_workbook(tmp_path / "empty.xlsx")
    assert book.sheetnames == ["empty"] and cells(tmp_path / "empty.xlsx") == []

    monkeypatch.setattr(files, "EXCEL_MAX_ROWS", 3)
    with caplog.at_level(logging.WARNING, logger="coverage.outputs.files"):
        write_workbook({"big": pd.DataFrame({"v": [1, 2, 3]}), "small": pd.DataFrame({"v": [1]})}, tmp_path / "t.xlsx")
    assert load_workbook(tmp_path / "t.xlsx").sheetnames == ["small"]
    assert "table big has 3 rows" in caplog.text
    with caplog.at_level(logging.WARNING, logger="coverage.outputs.files"):
        write_workbook({"big": pd.DataFrame({"v": [1, 2, 3]})}, tmp_path / "only.xlsx")
    assert load_workbook(tmp_path / "only.xlsx").sheetnames == ["empty"]


def test_a_table_without_rows_keeps_its_header(tmp_path: Path) -> None:
    write_workbook({"t": pd.DataFrame({"a": pd.Series([], dtype=float), "b": []})}, tmp_path / "t.xlsx")
    assert cells(tmp_path / "t.xlsx") == [[("a", "s"), ("b", "s")]]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_full_disk_is_an_oserror_naming_the_file() -> None:
    with pytest.raises(OSError) as caught:
        write_workbook({"t": pd.DataFrame({"v": range(50_000)})}, Path("/dev/full"))
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "/dev/full"


def test_same_cells_as_openpyxl_writes(tmp_path: Path) -> None:
    """The same grid written by openpyxl (another writer) reads back the same."""
    rng = np.random.default_rng(5)
    words = ["Orléans", "Tours & Blois", " x", "'=1", "_x0041_", "é\u00a0ü", "Saint-Jean-de-Braye", "1e5"]
    columns: list[list[object]] = [
        ["f", *(float(v) for v in rng.normal(0, 1e6, 300))],
        ["i", *(int(v) for v in rng.integers(-(2**40), 2**40, 300))],
        ["s", *(str(rng.choice(words)) for _ in range(300))],
        ["b", *(bool(v) for v in rng.integers(0, 2, 300))],
        ["m", *([None, 2.5, "w", True, 10**15, 1e-300] * 50)],
    ]
    write_xlsx(tmp_path / "ours.xlsx", [("grid", columns), ("second", [["only"]])])
    book = Workbook(write_only=True)
    sheet = book.create_sheet("grid")
    for row in zip(*columns, strict=True):
        sheet.append(list(row))
    book.create_sheet("second").append(["only"])
    book.save(tmp_path / "openpyxl.xlsx")
    ours, theirs = load_workbook(tmp_path / "ours.xlsx"), load_workbook(tmp_path / "openpyxl.xlsx")
    assert ours.sheetnames == theirs.sheetnames == ["grid", "second"]
    for a, b in zip(ours.worksheets, theirs.worksheets, strict=True):
        got = [[(c.value, c.data_type) for c in row] for row in a.iter_rows()]
        want = [[(c.value, c.data_type) for c in row] for row in b.iter_rows()]
        if a.title == "grid":  # Excel reads _xHHHH_ as a character: ours escapes it, openpyxl does not
            want = [[("_x005F_x0041_", t) if v == "_x0041_" else (v, t) for v, t in row] for row in want]
        assert got == want
