"""The demo on the real Centre-Val de Loire data, re-checked independently.

Runs ``python -m coverage demo`` once (module fixture) into a temporary folder and checks
the output contract, the regional totals of the data README, and every exported time
against NetworkX's own Dijkstra on the exported ``network.graphml``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import networkx as nx
import pandas as pd
import pyogrio
import pytest

from coverage.cli import main
from coverage.isochrones import ROAD_SIMPLIFY_RATIO, SIMPLIFY_RATIO

pytestmark = pytest.mark.regional

#: The demo on the people at their town halls and the region's own roads (its figures are the
#: communes'; the default demo runs on the grid and the roads within 30 km, test_grid_demo.py).
COMMUNES = ["--population-units", "communes", "--road-buffer", "0"]


def header(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return next(csv.reader(fh))


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("demo") / "cvl"
    assert main(["demo", "--data-dir", str(data_dir), "--out", str(out), "-q", *COMMUNES]) == 0
    return out


def test_output_contract(demo_out: Path) -> None:
    for name in (
        "population_access.csv",
        "facilities.csv",
        "coverage_summary.csv",
        "coverage_by_area.csv",
        "coverage.gpkg",
        "network.graphml",
        "map.html",
        "run.json",
    ):
        assert (demo_out / name).is_file(), name
    # the people are at their town halls: nothing to compare them with
    assert not (demo_out / "units_comparison.csv").exists()
    header_row = header(demo_out / "population_access.csv")
    assert header_row[:8] == [
        "unit_id",
        "name",
        "population",
        "node",
        "access_minutes",
        "minutes_to_nearest",
        "nearest_facility",
        "snap_distance_m",
    ]
    fac_header = header(demo_out / "facilities.csv")
    assert fac_header[:5] == ["facility_id", "name", "type", "node", "access_minutes"]
    layers = {name for name, _ in pyogrio.list_layers(demo_out / "coverage.gpkg")}
    assert layers == {
        "population_access",
        "facilities",
        "catchments",
        "isochrones",
        "uncovered",
        "sites",
        "layer_styles",
    }
    for name in ("candidates.csv", "selection.csv", "coverage_curve.csv", "fragility.csv"):
        assert (demo_out / name).is_file(), name
    assert json.loads((demo_out / "run.json").read_text())["tool"] == "coverage"
    assert not [p for p in demo_out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_every_commune_and_inhabitant_is_counted(demo_out: Path, data_dir: Path) -> None:
    access = pd.read_csv(demo_out / "population_access.csv", dtype={"unit_id": str, "node": str})
    cog = pd.read_csv(data_dir / "admin/cvl_communes_cog2026_decoupage_administratif.csv", dtype=str)
    cog = cog[cog["type"] == "commune-actuelle"]
    assert len(access) == 1754 == len(cog)
    assert set(access["unit_id"]) == set(cog["code_insee"])
    assert access["population"].sum() == 2_587_031
    summary = pd.read_csv(demo_out / "coverage_summary.csv")
    assert summary["threshold_min"].tolist() == [10, 20, 30]
    assert (summary["population_total"] == 2_587_031).all()
    parts = summary[["population_covered", "population_uncovered", "population_unreachable"]].sum(axis=1)
    assert (parts == 2_587_031).all()
    assert summary["population_covered"].is_monotonic_increasing
    # per-department totals of the data README
    deps = pd.read_csv(demo_out / "coverage_by_area.csv", dtype={"area_id": str})
    deps = deps[(deps["level"] == "department") & (deps["threshold_min"] == 30)].set_index("area_id")
    readme = {"18": 298_660, "28": 433_129, "36": 216_069, "37": 619_362, "41": 328_543, "45": 691_268}
    assert deps["population_total"].to_dict() == readme
    epci = pd.read_csv(demo_out / "coverage_by_area.csv", dtype={"area_id": str})
    epci = epci[(epci["level"] == "epci") & (epci["threshold_min"] == 10)]
    assert epci["population_total"].sum() == 2_587_031


def test_times_recomputed_with_networkx_on_exported_graphml(demo_out: Path) -> None:
    """minutes_to_nearest = unit access + shortest travel_time to a facility node + its access."""
    graph = nx.read_graphml(demo_out / "network.graphml")  # plain NetworkX, not this package's reader
    reverse = nx.DiGraph()
    for u, v, data in graph.edges(data=True):
        t = float(data["travel_time"])
        if u != v and (not reverse.has_edge(v, u) or reverse[v][u]["t"] > t):
            reverse.add_edge(v, u, t=t)
    facilities = pd.read_csv(demo_out / "facilities.csv", dtype={"node": str, "facility_id": str})
    for row in facilities.itertuples():
        assert isinstance(row.node, str) and row.node in graph, row.facility_id
        t = row.access_minutes * 60.0
        if not reverse.has_edge("source", row.node) or reverse["source"][row.node]["t"] > t:
            reverse.add_edge("source", row.node, t=t)
    seconds = nx.single_source_dijkstra_path_length(reverse, "source", weight="t")
    access = pd.read_csv(
        demo_out / "population_access.csv", dtype={"node": str, "unit_id": str, "nearest_facility": str}
    )
    checked = 0
    for row in access.itertuples():
        if isinstance(row.node, str):
            expected = row.access_minutes + seconds[row.node] / 60.0
            assert math.isclose(row.minutes_to_nearest, expected, rel_tol=1e-9, abs_tol=1e-7), row.unit_id
            checked += 1
        else:
            assert math.isnan(row.minutes_to_nearest)
    assert checked == 1754  # every town hall is within 2.5 km of a road (data README)


def test_uncovered_layer_matches_the_table(demo_out: Path) -> None:
    access = pd.read_csv(demo_out / "population_access.csv", dtype={"unit_id": str})
    uncovered = pyogrio.read_dataframe(demo_out / "coverage.gpkg", layer="uncovered")
    far = access[access["minutes_to_nearest"].isna() | (access["minutes_to_nearest"] > 10)]
    assert set(uncovered["unit_id"]) == set(far["unit_id"])
    beyond30 = set(access.loc[access["minutes_to_nearest"] > 30, "unit_id"])
    assert set(uncovered.loc[uncovered["beyond_30min"], "unit_id"]) == beyond30
    assert uncovered.crs.to_epsg() == 2154


def test_isochrones_nested_and_catchments_cover_all_served(demo_out: Path) -> None:
    iso = pyogrio.read_dataframe(demo_out / "coverage.gpkg", layer="isochrones")
    facilities = pd.read_csv(demo_out / "facilities.csv")
    assert len(iso) == 3 * len(facilities)
    for _fid, group in iso.groupby("facility_id"):
        by_t = group.set_index("threshold_min").geometry
        assert by_t[10.0].area <= by_t[20.0].area <= by_t[30.0].area
        # nested up to the simplification of each polygon (documented tolerance)
        tolerance = 500 * (SIMPLIFY_RATIO + ROAD_SIMPLIFY_RATIO + 0.02)
        assert by_t[30.0].buffer(2 * tolerance + 1).contains(by_t[10.0])
    catchments = pyogrio.read_dataframe(demo_out / "coverage.gpkg", layer="catchments")
    assert catchments["population"].sum() == 2_587_031
    assert set(catchments["type"]) <= set(facilities["type"])


def test_rerun_replaces_previous_output(demo_out: Path, data_dir: Path, tmp_path: Path) -> None:
    # a previous run is replaced as a whole, but never a file it did not write: a
    # planner's own file stops the run (exit 2) and survives as it was
    args = ["demo", "--data-dir", str(data_dir), "--out", str(demo_out), "-q", "--no-isochrones", "--no-map", *COMMUNES]
    mine = demo_out / "stale.txt"
    mine.write_text("the planner's notes")
    assert main(args) == 2
    assert mine.read_text() == "the planner's notes"
    assert (demo_out / "map.html").is_file()
    mine.unlink()
    assert main(args) == 0
    assert (demo_out / "population_access.csv").is_file()
    assert not (demo_out / "map.html").exists()


def reversed_digraph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """Reversed graph keeping the fastest of parallel edges, from GraphML strings."""
    reverse = nx.DiGraph()
    for u, v, data in graph.edges(data=True):
        t = float(data["travel_time"])
        if u != v and (not reverse.has_edge(v, u) or reverse[v][u]["t"] > t):
            reverse.add_edge(v, u, t=t)
    return reverse


def test_selection_coverage_recomputed_with_networkx(demo_out: Path) -> None:
    """The default scenario's covered population, recomputed from the exported network with
    NetworkX: existing facilities and chosen sites as sources, their access legs included."""
    run = json.loads((demo_out / "run.json").read_text())["siting"]
    threshold = run["threshold_min"]
    reverse = reversed_digraph(nx.read_graphml(demo_out / "network.graphml"))
    sources = pd.concat(
        [
            pd.read_csv(demo_out / "facilities.csv", dtype={"node": str})[["node", "access_minutes"]],
            pd.read_csv(demo_out / "selection.csv", dtype={"node": str})[["node", "access_minutes"]],
        ]
    )
    for row in sources.itertuples():
        t = row.access_minutes * 60.0
        if not reverse.has_edge("source", row.node) or reverse["source"][row.node]["t"] > t:
            reverse.add_edge("source", row.node, t=t)
    seconds = nx.single_source_dijkstra_path_length(reverse, "source", weight="t")
    access = pd.read_csv(demo_out / "population_access.csv", dtype={"node": str})
    minutes = access["access_minutes"] + access["node"].map(seconds) / 60.0
    covered = access.loc[minutes <= threshold + 1e-9, "population"].sum()
    assert covered == pytest.approx(run["population_covered_after"], abs=0.5)
    before = access.loc[access["minutes_to_nearest"] <= threshold, "population"].sum()
    assert before == pytest.approx(run["population_covered_before"], abs=0.5)
    assert run["greedy_population_covered_after"] <= run["population_covered_after"] + 1e-6
    assert run["new_sites"] == len(pd.read_csv(demo_out / "selection.csv"))


def test_scenario_tables_are_consistent(demo_out: Path) -> None:
    selection = pd.read_csv(demo_out / "selection.csv", dtype={"candidate_id": str, "commune": str})
    candidates = pd.read_csv(demo_out / "candidates.csv", dtype={"candidate_id": str})
    facilities = pd.read_csv(demo_out / "facilities.csv", dtype={"code_insee": str})
    # communes that host a facility are not candidates in the demo scenario
    assert not set(candidates["candidate_id"]) & set(facilities["code_insee"].str.zfill(5))
    assert set(selection["candidate_id"]) <= set(candidates["candidate_id"])
    assert selection["population_covered"].is_monotonic_increasing
    assert (selection["marginal_gain"] > 0).all()
    curve = pd.read_csv(demo_out / "coverage_curve.csv")
    assert curve["k"].iloc[0] == 0
    assert (curve["population_covered_exact"] >= curve["population_covered_greedy"] - 1e-6).all()
    assert curve["population_covered_greedy"].is_monotonic_increasing
    fragility = pd.read_csv(demo_out / "fragility.csv")
    assert len(fragility) == len(facilities)
    assert (fragility["population_lost_30"] >= 0).all()


def _regional_inputs(data_dir: Path) -> list[str]:
    return [
        "--roads",
        str(data_dir / "roads/travelmapping_fra_cvl_routes.gpkg"),
        "--roads-layer",
        "routes",
        "--class-column",
        "system",
        "--facilities",
        str(data_dir / "facilities/cvl_primary_care_facilities_compiled.csv"),
        "--population",
        str(data_dir / "admin/cvl_communes_cog2026_decoupage_administratif.csv"),
        "--commune-polygons",
        str(data_dir / "admin/cvl_communes_polygons_datafrance.gpkg"),
        "--commune-polygons-layer",
        "communes",
        "--town-halls",
        str(data_dir / "admin/cvl_communes_polygons_datafrance.gpkg"),
        "--town-halls-layer",
        "mairies",
        "--no-isochrones",
        "--no-map",
        "-q",
    ]


def test_optimise_lscp_with_network_candidates(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "lscp"
    args = [
        "optimise",
        *_regional_inputs(data_dir),
        "--solver",
        "lscp",
        "--threshold",
        "30",
        "--candidates",
        "network",
        "--candidate-spacing",
        "5000",
        "--no-exact-curve",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    run = json.loads((out / "run.json").read_text())["siting"]
    assert run["solver"] == "lscp-exact"
    selection = pd.read_csv(out / "selection.csv")
    assert len(selection) == run["new_sites"] > 0
    assert selection["candidate_id"].str.startswith("node-").all()
    # every reachable inhabitant is within 30 min once the sites are open, except the uncoverable ones
    uncoverable = set(run["uncoverable_units"])
    access = pd.read_csv(out / "population_access.csv", dtype={"unit_id": str})
    coverable = access.loc[~access["unit_id"].isin(uncoverable), "population"].sum()
    assert run["population_covered_after"] == pytest.approx(coverable)


def test_optimise_with_a_planners_candidate_list(data_dir: Path, tmp_path: Path) -> None:
    # three sites a planner proposes: Gien, Briare (Loiret, far from listed facilities) and Chartres
    candidates = tmp_path / "candidates.csv"
    candidates.write_text(
        "site,label,lon,lat\nS1,Gien,2.6310,47.6880\nS2,Briare,2.7400,47.6380\nS3,Chartres,1.4890,48.4470\n",
        "utf-8",
    )
    out = tmp_path / "own"
    args = [
        "optimise",
        *_regional_inputs(data_dir),
        "--threshold",
        "30",
        "--sites",
        "1",
        "--candidates",
        str(candidates),
        "--candidate-id-column",
        "site",
        "--candidate-name-column",
        "label",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    ranked = pd.read_csv(out / "candidates.csv", dtype={"candidate_id": str, "department": str})
    assert set(ranked["candidate_id"]) == {"S1", "S2", "S3"}
    assert set(ranked["department"]) == {"45", "28"}  # commune found from the point
    selection = pd.read_csv(out / "selection.csv", dtype={"candidate_id": str})
    assert selection["candidate_id"].tolist() == [ranked["candidate_id"].iloc[0]]  # k=1: the best-ranked site
    assert selection["candidate_id"].iloc[0] in {"S1", "S2"}  # Chartres is covered already
