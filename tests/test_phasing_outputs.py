"""Phasing through the command line and the outputs: tables, run.json, report, map, figures."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from coverage.accessibility import StepDecay
from coverage.cli import main
from coverage.outputs.report_phasing import phasing_figure, phasing_section, pool_phasing_section
from coverage.phasing import Schedule, phase_sites
from coverage.phasing_pool import phase_pool
from coverage.scenarios import ABOVE
from tests.conftest import matrix_from_dense
from tests.test_scenarios import cli_args, cli_inputs  # noqa: F401 (the fixture)


def _optimise_args(inputs: dict[str, Path], out: Path, *extra: str) -> list[str]:
    args = cli_args(inputs, out, *extra)
    args[0] = "optimise"
    cut = args.index("--bands")
    del args[cut : cut + 6]  # --bands, --measure, --default-supply: access options
    return args


def test_optimise_phased_by_hand(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    # a road at 1 min a km; uA 100 (0 km, FA), uB 200 (1 km), uC 100 (3 km), uD 50 (4 km, FD).
    # Within 0.5 min, FA and FD cover uA and uD (150).  Two new sites, one a year: uB's town
    # hall (200) first, then uC's (100): 350, then 450 covered; newly covered 200 + 300 = 500.
    out = tmp_path / "out"
    extra = ("--sites", "2", "--threshold", "0.5", "--phasing", "2030:1,2031:1", "--no-exact-curve")
    assert main(_optimise_args(cli_inputs, out, *extra)) == 0
    by_year = pd.read_csv(out / "phasing_by_year.csv", dtype={"year": str})
    assert by_year["year"].tolist() == ["2030", "2031"]
    assert by_year["covered"].tolist() == [350, 450]
    assert by_year["sites_opened"].tolist() == [1, 1]
    timeline = pd.read_csv(out / "phasing.csv", dtype={"year": str, "site_id": str})
    assert timeline["site_id"].tolist() == ["uB", "uC"]
    assert timeline["newly_covered"].tolist() == [200, 100]
    selection = pd.read_csv(out / "selection.csv", dtype={"year": str, "candidate_id": str}).set_index("candidate_id")
    assert selection.loc[["uB", "uC"], "year"].tolist() == ["2030", "2031"]
    layer = gpd.read_file(out / "coverage.gpkg", layer="sites", engine="pyogrio").set_index("candidate_id")
    assert [str(d.date()) for d in layer.loc[["uB", "uC"], "opening_date"]] == ["2030-01-01", "2031-01-01"]
    run = json.loads((out / "run.json").read_text("utf-8"))
    phasing = run["siting"]["phasing"]
    assert phasing["objective_person_years"] == 500 and phasing["status"] == "optimal"
    assert run["siting_options"]["phasing"] == "2030:1,2031:1"
    html = (out / "map.html").read_text("utf-8")
    assert "Nouveaux sites 2030 (1" in html and "Nouveaux sites 2031 (1" in html


def test_optimise_without_phasing_writes_no_phasing(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    assert main(_optimise_args(cli_inputs, out, "--sites", "2", "--threshold", "0.5", "--no-exact-curve")) == 0
    assert not (out / "phasing.csv").exists()
    assert "year" not in pd.read_csv(out / "selection.csv").columns


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("2030:x", "cannot read the schedule '2030:x'"),
        ("2030:1.5,2031:1", "sites open whole"),
        ("2031:1,2030:1", "years must follow each other in order"),
    ],
)
def test_bad_phasing_fails_before_reading(
    cli_inputs: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys,
    monkeypatch,
    schedule: str,
    message: str,
) -> None:
    import coverage.cli.run

    def no_reading(*args, **kwargs):
        raise AssertionError("the run should have stopped before reading the roads")

    monkeypatch.setattr(coverage.cli.run, "_read_graph", no_reading)
    out = tmp_path / "out"
    assert main(_optimise_args(cli_inputs, out, "--sites", "2", "--phasing", schedule)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_access_pool_phased(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    extra = ("--pool", "4", "--pool-schedule", "2030:2,2031:2", "--apl-threshold", "100000")
    args = cli_args(cli_inputs, out, *extra)
    args.remove("--no-report")
    assert main(args) == 0
    timeline = pd.read_csv(out / "pool_phasing.csv", dtype={"year": str})
    assert timeline["year"].tolist() == ["2030", "2030", "2031", "2031"]
    assert timeline["doctors"].sum() == 4
    by_year = pd.read_csv(out / "pool_phasing_by_year.csv", dtype={"year": str})
    assert by_year["doctors_added"].tolist() == [2, 2]
    # once all four are there, the people above the line are those of the study's scenario
    classes = pd.read_csv(out / "accessibility_classes.csv").set_index("class")
    assert by_year["people_above"].iloc[-1] == pytest.approx(classes.loc[ABOVE, "population_scenario"])
    assert by_year["people_above"].iloc[-1] == pytest.approx(timeline["people_above"].iloc[-1])
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["accessibility"]["summary"]["pool_phasing"]["schedule"] == {"2030": 2, "2031": 2}
    report = (out / "report.html").read_text("utf-8")
    assert "Arrivée des médecins du contingent" in report
    assert (out / "figures" / "pool_phasing.png").stat().st_size > 1000
    page = (out / "map.html").read_text("utf-8")
    for year in ("2030", "2031"):  # one layer per year, the doctors arriving then (JSON-escaped names)
        assert json.dumps(f"Médecins du contingent {year} (2) / Pool")[1:-1] in page


HOSTILE = "<script>alert(1)</script>"


def test_sections_escape_the_planners_labels() -> None:
    present = np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)
    matrix = matrix_from_dense(present)
    matrix = type(matrix)(
        site_ids=np.array([HOSTILE, "=HYPERLINK(1)"], dtype=object),
        unit_ids=matrix.unit_ids,
        minutes=matrix.minutes,
        max_minutes=matrix.max_minutes,
    )
    schedule = Schedule((HOSTILE, "$x^2$"), (1.0, 1.0))
    phased = phase_sites(matrix, np.ones(3), 5.0, [HOSTILE, "=HYPERLINK(1)"], schedule)
    html = phasing_section(phased, {})
    assert HOSTILE not in html and "&lt;script&gt;" in html
    fig = phasing_figure(phased)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    # literal text: mathtext's dollars escaped so that matplotlib draws them as written
    assert labels[1:] == [HOSTILE, r"\$x^2\$"]
    pool = phase_pool(
        matrix,
        np.zeros(2),
        np.ones(3),
        pd.DataFrame({"site_id": [HOSTILE], "supply_added": [1.0]}),
        Schedule((HOSTILE,), (1.0,)),
        priority_line=0.1,
        decay=StepDecay(((10.0, 1.0),)),
    )
    assert HOSTILE not in pool_phasing_section(pool, {})


def test_a_pool_schedule_without_a_pool_is_refused(cli_inputs: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: F811
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, "--pool-schedule", "2030:1")) != 0
    assert "--pool-schedule phases a pool" in capsys.readouterr().err
    assert not out.exists()
