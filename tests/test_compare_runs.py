"""``couverture compare``: two output folders, what changed, refusals, outputs written safely.

The run folders are written by hand here (run.json, population_access.csv,
accessibility.csv, the units' points in coverage.gpkg) with values chosen so that every
expected figure is worked out in a comment; one test compares two small real runs written
by :func:`coverage.write_analysis` on a graph whose drive times are added up by hand.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import facilities_at, make_graph, units_at
from openpyxl import load_workbook
from shapely.geometry import Point

import coverage as cov
import coverage.cli.run as cli_run
from coverage.cli.compare import add_compare_parser, run_compare
from coverage.errors import InputDataError, OutputExistsError
from coverage.outputs.compare_runs import IncomparableRunsError, compare_runs

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","x")'
COLUMNS = ["unit_id", "name", "population", "minutes_to_nearest", "nearest_facility"]
AREAS = ["commune", "commune_name", "department", "department_name"]

# unit: name, population, minutes in A, minutes in B, commune, department ("" = no code)
UNITS = {
    "U1": ("Alpha", 100, 5.0, 5.0, "37001", "37"),
    "U2": ("Beta", 200, 15.0, 8.0, "37001", "37"),
    "U3": (SCRIPT, 50, 25.0, 35.0, "37002", "37"),
    "U4": (FORMULA, 30, None, 12.0, "", "37"),
    "U5": ("Epsilon", 70, 18.0, 19.0, "41001", "41"),
}


def write_run(
    folder: Path,
    minutes: dict[str, float | None],
    *,
    thresholds: list[float] = (10, 20, 30),  # type: ignore[assignment]
    units: dict[str, tuple] = UNITS,
    regional: dict | None = None,
    access: dict[str, float] | None = None,
    written: str = "2026-01-01T10:00:00+0000",
) -> Path:
    """A minimal output folder: run.json, population_access.csv (rows in the order of ``minutes``), coverage.gpkg."""
    folder.mkdir(parents=True)
    record: dict = {"tool": "coverage", "written": written, "config": {"thresholds_min": list(thresholds)}}
    record["command"] = f"python -m coverage analyse --out {folder.name}"
    if regional:
        record["regional"] = regional
    if access is not None:
        record["accessibility"] = {"settings": {"priority_line": 2.5, "unit": "consultations"}}
        with open(folder / "accessibility.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["unit_id", "accessibility", "accessibility_scenario", "class_scenario"])
            for uid in reversed(list(minutes)):  # another order again
                w.writerow([uid, 0, access[uid], "stale class, recomputed from the line"])
    (folder / "run.json").write_text(json.dumps(record), "utf-8")
    with open(folder / "population_access.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS + AREAS)
        for uid, m in minutes.items():
            name, pop, _, _, commune, dep = units[uid]
            w.writerow([uid, name, pop, "" if m is None else m, "F1", commune, f"Commune {commune}", dep, f"Dep {dep}"])
    points = gpd.GeoDataFrame(
        {"unit_id": list(units)}, geometry=[Point(650_000 + 1000 * i, 6_700_000) for i in range(len(units))]
    )
    points.set_crs("EPSG:2154").to_file(folder / "coverage.gpkg", layer="population_access", engine="pyogrio")
    return folder


def pair(tmp_path: Path, **kwargs) -> tuple[Path, Path]:
    a = write_run(tmp_path / "a", {u: v[2] for u, v in UNITS.items()}, **kwargs)
    b_order = ["U5", "U3", "U1", "U4", "U2"]  # shuffled: rows are matched by id, not position
    b = write_run(tmp_path / "b", {u: UNITS[u][3] for u in b_order}, written="2026-02-02T11:00:00+0000", **kwargs)
    return a, b


def cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """``couverture`` with ``compare`` wired in as the lead wires it: build_parser, then the dispatch in _run."""
    build, run = cli_run.build_parser, cli_run._run

    def parser() -> argparse.ArgumentParser:
        p = build()
        sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        if "compare" not in sub.choices:
            add_compare_parser(sub)
        return p

    monkeypatch.setattr(cli_run, "build_parser", parser)
    monkeypatch.setattr(cli_run, "_run", lambda args: run_compare(args) if args.command == "compare" else run(args))
    return cli_run.main(argv)


# --------------------------------------------------------------------------- what changed, by hand


def test_changes_per_unit_area_and_class(tmp_path: Path) -> None:
    c = compare_runs(*pair(tmp_path))
    u = c.units.set_index("unit_id")
    assert list(c.units["unit_id"]) == list(UNITS)  # run A's order, B's shuffled rows matched by id
    # U2 15 -> 8 min: 10-20 -> 0-10; U3 25 -> 35: 20-30 -> > 30; U4 unreachable -> 12: 10-20
    assert list(u["class_a"]) == ["0–10 min", "10–20 min", "20–30 min", "Injoignable (unreachable)", "10–20 min"]
    assert list(u["class_b"]) == ["0–10 min", "0–10 min", "> 30 min", "10–20 min", "10–20 min"]
    assert list(u["class_change"]) == ["same", "better", "worse", "better", "same"]
    assert list(u["changed"]) == [False, True, True, True, True]  # U5 keeps its class, 18 -> 19 min
    assert u.loc["U2", "minutes_change"] == pytest.approx(-7.0)
    assert math.isnan(u.loc["U4", "minutes_change"])
    assert list(u["covered_10min_b"]) == [True, True, False, False, False]
    assert not u.loc["U4", "covered_30min_a"]  # unreachable is never covered
    assert c.moves["units_changed"] == 4
    assert c.moves["population_better_class"] == 230  # U2 200 + U4 30
    assert c.moves["population_worse_class"] == 50  # U3

    totals = c.totals.set_index(["indicator", "threshold_min"])["change"]
    # within 10: A U1 = 100; B U1 + U2 = 300.  20: A 100+200+70 = 370, B 370+30 = 400.
    # 30: A 100+200+50+70 = 420, B 100+200+30+70 = 400.
    assert [totals[("population_covered", t)] for t in (10, 20, 30)] == [200, 30, -20]
    t = c.totals.set_index("indicator")
    assert t.loc["population_unreachable", ["run_a", "run_b"]].tolist() == [30, 0]
    # mean minutes of the reachable: A (500 + 3000 + 1250 + 1260) / 420, B (500 + 1600 + 1750 + 360 + 1330) / 450
    assert t.loc["mean_minutes", "run_a"] == pytest.approx(6010 / 420)
    assert t.loc["mean_minutes", "run_b"] == pytest.approx(5540 / 450)

    moves = c.transitions[(c.transitions["measure"] == "minutes") & (c.transitions["units"] > 0)]
    got = {(r.class_a, r.class_b): r.population for r in moves.itertuples()}
    assert got == {
        ("0–10 min", "0–10 min"): 100,
        ("10–20 min", "0–10 min"): 200,
        ("20–30 min", "> 30 min"): 50,
        ("Injoignable (unreachable)", "10–20 min"): 30,
        ("10–20 min", "10–20 min"): 70,
    }
    assert len(c.transitions) == 25  # every pair of the 5 classes, zeros included

    areas = c.areas.set_index(["level", "area_id"])
    assert set(areas.index.get_level_values("level")) == {"commune", "department"}
    # commune 37001 = U1 + U2: within 10 min 100 -> 300; U4 has no commune code: a row of its own
    assert areas.loc[("commune", "37001"), ["covered_10min_a", "covered_10min_b"]].tolist() == [100, 300]
    assert areas.loc[("commune", ""), "area_name"] == "(no commune code)"
    assert areas.loc[("commune", ""), ["covered_20min_a", "covered_20min_b", "n_units"]].tolist() == [0, 30, 1]
    # department 37 = U1..U4: within 20 min A 300, B 330; its people in a better class 230, worse 50
    assert areas.loc[("department", "37"), ["covered_20min_a", "covered_20min_b"]].tolist() == [300, 330]
    assert areas.loc[("department", "37"), ["population_better_class", "population_worse_class"]].tolist() == [230, 50]
    assert areas.groupby(level="level")["population_b"].sum().tolist() == [450, 450]  # every level adds up


def test_accessibility_and_priority_class(tmp_path: Path) -> None:
    # priority line 2.5: U1 2.0 -> 3.0 lifted above it; U2 3.0 -> 2.0 falls below; U3 1.0 -> 1.5 stays
    acc_a = {"U1": 2.0, "U2": 3.0, "U3": 1.0, "U4": 4.0, "U5": 4.0}
    acc_b = {"U1": 3.0, "U2": 2.0, "U3": 1.5, "U4": 4.0, "U5": 4.0}
    a = write_run(tmp_path / "a", {u: v[2] for u, v in UNITS.items()}, access=acc_a)
    b = write_run(tmp_path / "b", {u: v[3] for u, v in UNITS.items()}, access=acc_b)
    c = compare_runs(a, b)
    assert c.accessibility
    u = c.units.set_index("unit_id")
    assert list(u["priority_a"]) == ["priority", "above threshold", "priority", "above threshold", "above threshold"]
    assert c.moves["population_lifted_above_line"] == 100 and c.moves["population_fallen_below_line"] == 200
    t = c.totals.set_index("indicator")
    assert t.loc["population_priority", ["run_a", "run_b"]].tolist() == [150, 250]  # U1+U3 -> U2+U3
    # mean weighted by population (no demand column): A (200 + 600 + 50 + 120 + 280) / 450
    assert t.loc["mean_accessibility", "run_a"] == pytest.approx(1250 / 450)
    prio = c.transitions[(c.transitions["measure"] == "priority")].set_index(["class_a", "class_b"])["population"]
    assert prio[("priority", "above threshold")] == 100 and prio[("above threshold", "priority")] == 200


# --------------------------------------------------------------------------- refusals and bad files


def test_refuses_runs_whose_units_differ(tmp_path: Path) -> None:
    other = {k: v for k, v in UNITS.items() if k != "U5"} | {"U9": ("Nu", 5, 1.0, 1.0, "41001", "41")}
    a = write_run(tmp_path / "a", {u: v[2] for u, v in UNITS.items()})
    b = write_run(tmp_path / "b", {u: v[2] for u, v in other.items()}, units=other)
    with pytest.raises(IncomparableRunsError) as err:
        compare_runs(a, b)
    msg = str(err.value)
    assert "their units differ: run A has 5 units and run B 5" in msg
    assert "1 of A's are not in B (U5)" in msg and "1 of B's are not in A (U9)" in msg


def test_refuses_runs_whose_thresholds_differ(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", {u: v[2] for u, v in UNITS.items()})
    b = write_run(tmp_path / "b", {u: v[3] for u, v in UNITS.items()}, thresholds=[20, 10])
    with pytest.raises(IncomparableRunsError, match=r"thresholds differ: run A 10, 20, 30 min, run B 10, 20 min"):
        compare_runs(a, b)


def test_refuses_grid_against_communes(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", {u: v[2] for u, v in UNITS.items()}, regional={"population_units": "grid"})
    b = write_run(tmp_path / "b", {u: v[3] for u, v in UNITS.items()}, regional={"population_units": "communes"})
    with pytest.raises(IncomparableRunsError, match=r"run A's units are grid cells \(5\), run B's are communes \(5\)"):
        compare_runs(a, b)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda f: (f / "run.json").write_text('{"tool": "coverage", "config": '), r"run\.json is not readable JSON"),
        (lambda f: (f / "run.json").write_text("[1, 2]"), r"not a run record of couverture \(expected an object"),
        (lambda f: (f / "run.json").unlink(), r"run\.json is missing"),
        (
            lambda f: (f / "run.json").write_text('{"tool": "coverage", "config": {"thresholds_min": [10, -5]}}'),
            r"config\.thresholds_min is \[10, -5\]: expected a non-empty list of positive minutes",
        ),
        (lambda f: (f / "population_access.csv").unlink(), r"population_access\.csv is missing"),
        (
            lambda f: (f / "population_access.csv").write_text("unit_id,population\nU1,3\n"),
            r"has no column minutes_to_nearest",
        ),
        (
            lambda f: (f / "population_access.csv").write_text("unit_id,population,minutes_to_nearest\nU1,abc,3\n"),
            r"column 'population' holds 'abc' on line 2 \(unit 'U1'\): expected a finite number >= 0",
        ),
    ],
)
def test_a_missing_or_malformed_file_is_one_clear_error(tmp_path: Path, damage, expected: str) -> None:
    a, b = pair(tmp_path)
    damage(b)
    with pytest.raises(InputDataError, match=expected) as err:
        compare_runs(a, b)
    assert f"run B ({b})" in str(err.value) or str(b) in str(err.value)


# --------------------------------------------------------------------------- the outputs


def test_outputs_written_and_hostile_names_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = pair(tmp_path)
    out = tmp_path / "out"
    assert cli(["compare", str(a), str(b), "--out", str(out), "-q"], monkeypatch) == 0
    record = json.loads((out / "run.json").read_text("utf-8"))
    assert record["files"] == sorted(p.name for p in out.iterdir())  # everything there is listed, nothing else
    assert {"units_changes.csv", "areas_changes.csv", "class_transitions.csv", "tables.xlsx", "map.html"} <= set(
        record["files"]
    )
    assert record["compare"]["run_b"]["written"] == "2026-02-02T11:00:00+0000"

    page = (out / "report.html").read_text("utf-8")
    assert "Comparaison de deux exécutions" in page and "2026-02-02T11:00:00+0000" in page
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT not in (out / "map.html").read_text("utf-8")

    book = load_workbook(out / "tables.xlsx")
    names = [row[1] for row in book["units_changes"].iter_rows(min_row=2, values_only=True)]
    assert "'" + FORMULA in names and FORMULA not in names  # shown as text, never run as a formula
    assert all(cell.data_type != "f" for row in book["units_changes"].iter_rows() for cell in row)

    layer = gpd.read_file(out / "coverage.gpkg", layer="changes").set_index("unit_id")
    assert layer.loc["U3", "class_b"] == "> 30 min" and layer.loc["U3", "geometry"].x == 652_000
    assert layer.crs.to_epsg() == 2154

    # a second comparison replaces the first (a folder this tool wrote, listing every file)
    assert cli(["compare", str(b), str(a), "--out", str(out), "-q"], monkeypatch) == 0
    units = pd.read_csv(out / "units_changes.csv", dtype={"unit_id": str}).set_index("unit_id")
    assert units.loc["U2", "class_change"] == "worse"  # B -> A: 8 -> 15 min


def test_refuses_an_output_folder_with_foreign_files(tmp_path: Path, monkeypatch, capsys) -> None:
    a, b = pair(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes du planificateur.xlsx").write_bytes(b"mine")
    with pytest.raises(OutputExistsError, match="not a previous output of this tool"):
        run_compare(argparse.Namespace(run_a=a, run_b=b, out=out, no_map=True, no_report=True, quiet=True))
    assert cli(["compare", str(a), str(b), "--out", str(out)], monkeypatch) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes du planificateur.xlsx"]
    assert (out / "notes du planificateur.xlsx").read_bytes() == b"mine"
    # inside a run folder (which a comparison would replace), refused too, and the run left whole
    before = sorted(p.name for p in a.iterdir())
    assert cli(["compare", str(a), str(b), "--out", str(a)], monkeypatch) == 2
    assert sorted(p.name for p in a.iterdir()) == before
    # and a folder inside a run's: the run would then hold files it did not write
    capsys.readouterr()
    assert cli(["compare", str(a), str(b), "--out", str(a / "inside")], monkeypatch) == 2
    assert f"lies inside the input folder {a}" in capsys.readouterr().err
    assert sorted(p.name for p in a.iterdir()) == before
    # a refused pair of runs writes nothing and says why in one line
    c = write_run(tmp_path / "c", {u: v[2] for u, v in UNITS.items()}, thresholds=[10, 20])
    capsys.readouterr()
    assert cli(["compare", str(a), str(c), "--out", str(tmp_path / "new"), "-q"], monkeypatch) == 2
    assert not (tmp_path / "new").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "thresholds differ" in err[0]


# --------------------------------------------------------------------------- two small real runs


def test_two_real_runs_on_a_hand_made_road(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs written by the real writer: a road a-b-c-d of 5-minute legs, a facility at a (A), then at a and d (B)."""
    x0, y0 = 650_000.0, 6_700_000.0
    nodes = {k: (x0 + 1000 * i, y0) for i, k in enumerate("abcd")}
    graph = make_graph(nodes, [("a", "b", 300), ("b", "c", 300), ("c", "d", 300)])
    units = units_at({f"U{k}": nodes[k] for k in "abcd"}, [10, 20, 30, 40])
    config = cov.AnalysisConfig(thresholds_min=(10, 20, 30), isochrones=False)
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    cov.write_analysis(cov.analyse(graph, facilities_at({"F1": nodes["a"]}), units, config), run_a)
    cov.write_analysis(cov.analyse(graph, facilities_at({"F1": nodes["a"], "F2": nodes["d"]}), units, config), run_b)

    same = compare_runs(run_a, run_a)  # a run against itself: nothing changes
    assert same.moves["units_changed"] == 0 and (same.totals["change"].fillna(0) == 0).all()
    summary = pd.read_csv(run_a / "coverage_summary.csv")  # the run's own figures, from the analysis
    covered = same.totals[same.totals["indicator"] == "population_covered"]
    assert covered["run_a"].tolist() == summary["population_covered"].tolist()

    c = compare_runs(run_a, run_b)
    u = c.units.set_index("unit_id")
    # A: 0, 5, 10, 15 min; B: 0, 5, 5, 0 min.  Uc 10 -> 5 stays within 10; Ud 15 -> 0 goes 10-20 -> 0-10
    assert u["minutes_a"].tolist() == pytest.approx([0, 5, 10, 15])
    assert u["minutes_b"].tolist() == pytest.approx([0, 5, 5, 0])
    assert u["class_change"].tolist() == ["same", "same", "same", "better"]
    assert u["changed"].tolist() == [False, False, True, True]
    assert c.moves["population_better_class"] == 40
    assert u.loc["Ud", "nearest_facility_b"] == "F2"
    assert c.totals.set_index(["indicator", "threshold_min"]).loc[("population_covered", 10), "change"] == 40
    assert cli(["compare", str(run_a), str(run_b), "--out", str(tmp_path / "out"), "-q"], monkeypatch) == 0
    assert "Sens du changement (2)" in (tmp_path / "out" / "map.html").read_text("utf-8")
