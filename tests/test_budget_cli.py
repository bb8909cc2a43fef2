"""The budget through ``couverture optimise``: costs from a candidate file or per kind, tables, layer, report."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from coverage.cli import main
from tests.test_phasing_outputs import _optimise_args
from tests.test_scenarios import cli_inputs  # noqa: F401 (the fixture)

X0, Y0 = 650_000.0, 6_670_000.0


def _candidates(folder: Path) -> Path:
    # at uB (1 km, 200 people, a new building) and at uC (3 km, 100 people, premises to fit out)
    path = folder / "candidates.gpkg"
    gpd.GeoDataFrame(
        {"candidate_id": ["C3", "C1"], "name": ["=1+1 Salle", "Bourg B"], "kind": ["premises", "new"]},
        geometry=[Point(X0 + 3000, Y0), Point(X0 + 1000, Y0)],
        crs="EPSG:2154",
    ).to_file(path, engine="pyogrio")
    return path


def _args(inputs: dict[str, Path], out: Path, candidates: Path, *extra: str) -> list[str]:
    return _optimise_args(
        inputs,
        out,
        "--sites", "1", "--threshold", "0.5", "--candidates", str(candidates), "--no-exact-curve",
        "--kind-costs", "new:1500000,premises:150000", *extra,
    )  # fmt: skip


def test_budget_by_kind_by_hand(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    # FA and FD cover uA and uD (150) within 0.5 min.  With 1 M€ only C3 (150 k€) fits: +100,
    # 250 covered.  The selection (one site, no budget) takes C1 (+200), the budget cannot.
    out = tmp_path / "out"
    args = _args(cli_inputs, out, _candidates(tmp_path), "--budget", "1000000")
    args.remove("--no-report")
    assert main(args) == 0
    chosen = pd.read_csv(out / "budget_selection.csv", dtype={"candidate_id": str})
    assert chosen["candidate_id"].tolist() == ["C3"]
    assert chosen["cost_eur"].tolist() == [150_000]
    assert chosen["name"].tolist() == ["'=1+1 Salle"]
    run = json.loads((out / "run.json").read_text("utf-8"))
    budget = run["siting"]["budget"]
    assert budget["population_covered_after"] == 250 and budget["spent_eur"] == 150_000
    assert budget["status"] == "optimal"
    assert pd.read_csv(out / "selection.csv", dtype={"candidate_id": str})["candidate_id"].tolist() == ["C1"]
    curve = pd.read_csv(out / "budget_curve.csv")
    # 0, 0.1, ... 1 M€: 150 covered below 150 k€, 250 from it on
    assert len(curve) == 11
    covered = curve.filter(like="population_covered").iloc[:, 0].tolist()
    assert covered == [150.0] + [250.0 if b >= 150_000 else 150.0 for b in curve.iloc[1:, 0]]
    layer = gpd.read_file(out / "coverage.gpkg", layer="budget_sites", engine="pyogrio")
    assert layer["candidate_id"].tolist() == ["C3"]
    assert "budget_sites" in {name for name, _ in pyogrio.list_layers(out / "coverage.gpkg")}
    styles = pyogrio.read_dataframe(out / "coverage.gpkg", layer="layer_styles")
    budget_style = styles.loc[styles["f_table_name"] == "budget_sites", "styleQML"].iloc[0]
    assert "#CC79A7".lower() in budget_style.lower() or "204,121,167" in budget_style  # the map's budget colour
    report = (out / "report.html").read_text("utf-8")
    assert "Budget" in report and (out / "figures" / "budget_curve.png").is_file()


def test_a_kind_without_a_price_fails_first(cli_inputs: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: F811
    out = tmp_path / "out"
    args = _args(cli_inputs, out, _candidates(tmp_path), "--budget", "1000000")
    args[args.index("--kind-costs") + 1] = "new:1500000"
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "premises" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--budget", "10"), "--budget needs the candidates' costs"),
        (("--budget", "10", "--kind-costs", "new:5"), "--cost-column and --kind-costs read a candidate file"),
        (("--site-cost", "10"), "price the candidates for --budget"),
    ],
)
def test_budget_options_that_do_not_fit_are_refused_first(
    cli_inputs: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys,
    monkeypatch,
    extra: tuple[str, ...],
    message: str,
) -> None:
    import coverage.cli.run

    def no_computation(*args, **kwargs):
        raise AssertionError("the run should have stopped before the computation")

    monkeypatch.setattr(coverage.cli.run, "analyse", no_computation)
    out = tmp_path / "out"
    assert main(_optimise_args(cli_inputs, out, "--sites", "1", "--threshold", "0.5", *extra)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("text", ["new", "new:abc", ":5"])
def test_bad_kind_costs(cli_inputs: dict[str, Path], tmp_path: Path, capsys, text: str) -> None:  # noqa: F811
    out = tmp_path / "out"
    args = _args(cli_inputs, out, _candidates(tmp_path), "--budget", "1000000")
    args[args.index("--kind-costs") + 1] = text
    assert main(args) != 0
    assert "--kind-costs: cannot read" in capsys.readouterr().err


def test_a_flat_cost_per_site(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    # every town hall at 100 €, a budget of 250 €: two sites; uB's (200) and uC's (100) hall add 300
    out = tmp_path / "out"
    args = _optimise_args(
        cli_inputs,
        out,
        "--sites",
        "1",
        "--threshold",
        "0.5",
        "--no-exact-curve",
        "--budget",
        "250",
        "--site-cost",
        "100",
    )
    assert main(args) == 0
    budget = json.loads((out / "run.json").read_text("utf-8"))["siting"]["budget"]
    assert budget["new_sites"] == 2 and budget["spent_eur"] == 200
    assert budget["population_covered_after"] == 450 and budget["status"] == "optimal"


def test_a_known_answer_joins_the_curve_by_hand() -> None:
    from coverage.siting.curve import with_known_answer

    curve = pd.DataFrame(
        {
            "k": [0, 1, 2, 3],
            "population_covered_exact": [10.0, 15.0, 15.0, 15.0],
            "share_exact": [0.1, 0.15, 0.15, 0.15],
            "bound_exact": [10.0, 25.0, 25.0, 30.0],
            "gap_exact": [0.0, 0.4, 0.4, 0.5],
            "status_exact": ["optimal", "feasible", "feasible", "feasible"],
            "sites_exact": [0, 1, 1, 1],
        }
    )
    # an answer of 20 people with 2 sites, proven at most 20 with up to 3 sites: it holds at k = 2
    # and 3, its bound at k <= 3; k = 1 keeps its 15 people, now against a bound of 20
    out = with_known_answer(curve, "k", 2, 3, 20.0, 20.0, 100.0, extra={"sites_exact": 2})
    assert out["population_covered_exact"].tolist() == [10, 15, 20, 20]
    assert out["bound_exact"].tolist() == [10, 20, 20, 20]
    assert out["status_exact"].tolist() == ["optimal", "feasible", "optimal", "optimal"]
    assert out["gap_exact"].tolist() == pytest.approx([0, 0.25, 0, 0])
    assert out["share_exact"].tolist() == pytest.approx([0.1, 0.15, 0.2, 0.2])
    assert out["sites_exact"].tolist() == [0, 1, 2, 2]
    # a weaker answer changes no value, and a looser bound no bound
    same = with_known_answer(curve, "k", 2, 3, 12.0, 40.0, 100.0)
    assert same["population_covered_exact"].tolist() == curve["population_covered_exact"].tolist()
    assert same["bound_exact"].tolist() == [10, 25, 25, 30]
