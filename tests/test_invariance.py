"""Results do not depend on the order of the input rows.

The facility, unit and candidate tables are shuffled (several permutations, with and
without their index labels) and every result is compared, keyed by id, with the run on
the rows in file order: minutes and nearest facility per unit, summaries, by-area tables,
catchments, accessibility per unit and per area, candidate scores and chosen sites (up
to ties).  The network used below also checks its minutes by hand.

    fA (50 m west of N0)                fD (50 m south of N4)            fB = fC (50 m north of N8)
       N0 -- N1 -- N2 -- N3 -- N4 -- N5 -- N6 -- N7 -- N8          every edge 120 s, 1000 m
                               |                                   fE (50 m north of N4)
                               N9 -- N10                           branch edges 180 s

Facilities fB and fC are at the same point, fD and fE at the same node (equal access
legs of 50 m at 30 km/h = 6 s); fOff is 20 km from any road.  Units sit on the nodes
(no access leg), so minutes to the nearest facility are (6 s + edge times) / 60:
u2 is as far from fA as from fD/fE, u6 as far from fD/fE as from fB/fC.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import make_graph
from shapely.geometry import Point
from test_headline_independent import regional_run

import coverage as cov
from coverage.access_study import study_access
from coverage.analysis import GapAnalysis
from coverage.candidates import candidates_from_points, candidates_from_units
from coverage.planning import SitingPlan, plan_sites

X0, Y0 = 650_000.0, 6_670_000.0  # Lambert-93, near Bourges
CRS = "EPSG:2154"
NODES = {f"N{i}": (X0 + 1000.0 * i, Y0) for i in range(9)} | {
    "N9": (X0 + 4000.0, Y0 + 1000.0),
    "N10": (X0 + 4000.0, Y0 + 2000.0),
}
EDGES = [(f"N{i}", f"N{i + 1}", 120.0) for i in range(8)] + [("N4", "N9", 180.0), ("N9", "N10", 180.0)]
FACILITIES = {
    "fA": ((X0 - 50.0, Y0), 4.0),
    "fB": ((X0 + 8000.0, Y0 + 50.0), 2.0),
    "fC": ((X0 + 8000.0, Y0 + 50.0), np.nan),  # no GP count: the median is used
    "fD": ((X0 + 4000.0, Y0 - 50.0), 1.0),
    "fE": ((X0 + 4000.0, Y0 + 50.0), 3.0),
    "fOff": ((X0, Y0 + 20_000.0), 2.0),
}
POPULATION = [500, 100, 200, 300, 400, 150, 50, 60, 250, 70, 80]
UNIT_NODES = [f"N{i}" for i in range(11)]
# by hand: seconds from each unit's node to the nearest facility door
HAND_SECONDS = [6, 126, 246, 126, 6, 126, 246, 126, 6, 186, 366]
HAND_NEAREST = [{"fA"}, {"fA"}, {"fA", "fD", "fE"}, {"fD", "fE"}, {"fD", "fE"}, {"fD", "fE"}]
HAND_NEAREST += [{"fB", "fC", "fD", "fE"}, {"fB", "fC"}, {"fB", "fC"}, {"fD", "fE"}, {"fD", "fE"}]
CONFIG = cov.AnalysisConfig(thresholds_min=(2, 4), access_speed_kph=30, max_snap_m=500, isochrones=True)


def facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "facility_id": list(FACILITIES),
            "name": [f"name of {f}" for f in FACILITIES],
            "type": ["msp", "msp", "centre_sante", "msp", "centre_sante", "msp"],
            "n_gp": [gp for _, gp in FACILITIES.values()],
        },
        geometry=[Point(xy) for xy, _ in FACILITIES.values()],
        crs=CRS,
    )


def units() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "unit_id": [f"u{i}" for i in range(11)],
            "name": [f"commune {i}" for i in range(11)],
            "population": [float(p) for p in POPULATION],
            "commune": [f"c{i}" for i in range(11)],
            "commune_name": [f"Commune {i}" for i in range(11)],
            "epci": ["e1"] * 6 + ["e2"] * 5,
            "epci_name": ["EPCI 1"] * 6 + ["EPCI 2"] * 5,
            "department": ["18"] * 5 + ["36"] * 6,
            "department_name": ["Cher"] * 5 + ["Indre"] * 6,
        },
        geometry=[Point(NODES[n]) for n in UNIT_NODES],
        crs=CRS,
    )


def shuffled(frame: gpd.GeoDataFrame, seed: int, *, reset: bool) -> gpd.GeoDataFrame:
    """Rows in another order: a fixed permutation per seed (seed -1: reversed)."""
    order = np.arange(len(frame))[::-1] if seed < 0 else np.random.default_rng(seed).permutation(len(frame))
    out = frame.iloc[order]
    return out.reset_index(drop=True) if reset else out


ORDERS = [(-1, True), (0, False), (1, True), (2, False), (3, True)]
ORDER_IDS = ["reversed", "seed0-keep-index", "seed1", "seed2-keep-index", "seed3"]


def run(fac: gpd.GeoDataFrame, pop: gpd.GeoDataFrame) -> GapAnalysis:
    return cov.analyse(make_graph(NODES, EDGES), fac, pop, CONFIG)


@pytest.fixture(scope="module")
def base() -> GapAnalysis:
    return run(facilities(), units())


def by_id(frame: pd.DataFrame, key: str | list[str], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(frame).set_index(key)[columns].sort_index()


def sorted_table(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    table = pd.DataFrame(frame.drop(columns=[c for c in ("geometry", "area") if c in frame]))
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


UNIT_COLUMNS = ["node", "access_minutes", "minutes_to_nearest", "nearest_facility", "snap_distance_m"]


def test_minutes_by_hand(base: GapAnalysis) -> None:
    table = base.units.set_index("unit_id")
    for i, seconds in enumerate(HAND_SECONDS):
        assert table.loc[f"u{i}", "minutes_to_nearest"] == pytest.approx(seconds / 60), i
        assert table.loc[f"u{i}", "nearest_facility"] in HAND_NEAREST[i], i
    facs = base.facilities.set_index("facility_id")
    assert facs.loc["fB", "node"] == facs.loc["fC", "node"] == "N8"
    assert facs.loc["fD", "node"] == facs.loc["fE", "node"] == "N4"
    assert bool(facs.loc["fOff", "beyond_max_snap"])


@pytest.mark.parametrize(("seed", "reset"), ORDERS, ids=ORDER_IDS)
def test_gap_analysis_ignores_row_order(base: GapAnalysis, seed: int, reset: bool) -> None:
    other = run(shuffled(facilities(), seed, reset=reset), shuffled(units(), seed + 10, reset=reset))
    # minutes and nearest facility per unit id (the co-located fB/fC and fD/fE tie)
    pd.testing.assert_frame_equal(
        by_id(other.units, "unit_id", UNIT_COLUMNS), by_id(base.units, "unit_id", UNIT_COLUMNS)
    )
    pd.testing.assert_frame_equal(other.summary, base.summary)
    keys = ["level", "area_id", "threshold_min"]
    pd.testing.assert_frame_equal(sorted_table(other.by_area, keys), sorted_table(base.by_area, keys))
    fac_columns = ["node", "access_minutes", "snap_distance_m", "beyond_max_snap"]
    pd.testing.assert_frame_equal(
        by_id(other.facilities, "facility_id", fac_columns), by_id(base.facilities, "facility_id", fac_columns)
    )
    catch = ["n_units", "population", "mean_minutes", "max_minutes"]
    pd.testing.assert_frame_equal(
        by_id(other.catchments, "facility_id", catch), by_id(base.catchments, "facility_id", catch)
    )
    np.testing.assert_array_equal(other.node_minutes, base.node_minutes)
    iso = by_id(other.isochrones, ["facility_id", "threshold_min"], ["area_km2"])
    pd.testing.assert_frame_equal(iso, by_id(base.isochrones, ["facility_id", "threshold_min"], ["area_km2"]))


@pytest.mark.parametrize(("seed", "reset"), ORDERS, ids=ORDER_IDS)
def test_co_located_facilities_tie_the_same_way_in_any_order(base: GapAnalysis, seed: int, reset: bool) -> None:
    """Only the facility rows move: the nearest facility of each unit must not follow them."""
    other = run(shuffled(facilities(), seed, reset=reset), units())
    nearest = base.units.set_index("unit_id")["nearest_facility"]
    assert other.units.set_index("unit_id")["nearest_facility"].to_dict() == nearest.to_dict()


def test_each_co_located_pair_alone_in_both_orders() -> None:
    """Two facilities at one point, in both row orders: the same one is nearest to everyone."""
    graph = make_graph(NODES, EDGES)
    pair = facilities().iloc[[1, 2]]  # fB, fC at the same point
    answers = []
    for order in ([0, 1], [1, 0]):
        result = cov.analyse(graph, pair.iloc[order], units(), CONFIG)
        answers.append(result.units.set_index("unit_id")["nearest_facility"].to_dict())
    assert answers[0] == answers[1]
    assert set(answers[0].values()) <= {"fB", "fC"}


@pytest.mark.parametrize(("seed", "reset"), ORDERS, ids=ORDER_IDS)
def test_accessibility_ignores_row_order(base: GapAnalysis, seed: int, reset: bool) -> None:
    first = study_access(base, workers=1)
    other_analysis = run(shuffled(facilities(), seed, reset=reset), shuffled(units(), seed + 10, reset=reset))
    other = study_access(other_analysis, workers=1)
    columns = ["population", "demand", "accessibility", "accessibility_scenario", "class"]
    pd.testing.assert_frame_equal(by_id(other.units, "unit_id", columns), by_id(first.units, "unit_id", columns))
    keys = ["level", "area_id"]
    pd.testing.assert_frame_equal(sorted_table(other.by_area, keys), sorted_table(first.by_area, keys))
    site_columns = ["kind", "supply_before", "supply_after", "supply_source", "node"]
    pd.testing.assert_frame_equal(
        by_id(other.sites, "site_id", site_columns), by_id(first.sites, "site_id", site_columns)
    )
    pd.testing.assert_frame_equal(other.classes, first.classes)
    # by hand: fC takes the median of the stated 4 2 1 3 2 = 2; fOff reaches nobody, so
    # 4 + 2 + 2 + 1 + 3 = 12 GPs are shared out among the units, never created
    supply = first.sites.set_index("site_id")["supply_before"]
    assert supply["fC"] == 2
    demand = first.units["demand"].to_numpy(dtype=float)
    assert (demand * first.units["accessibility"].to_numpy(dtype=float)).sum() / 5400.0 == pytest.approx(12.0)


def plan(analysis: GapAnalysis, candidates: gpd.GeoDataFrame, k: int, solver: str) -> SitingPlan:
    return plan_sites(analysis, candidates, threshold_min=2, k=k, solver=solver, workers=1)


@pytest.mark.parametrize("solver", ["exact", "greedy"])
@pytest.mark.parametrize(("seed", "reset"), ORDERS[:3], ids=ORDER_IDS[:3])
def test_chosen_sites_ignore_row_order(base: GapAnalysis, solver: str, seed: int, reset: bool) -> None:
    """At 2 min only u0 u4 u8 are covered today (500 + 400 + 250).  By hand, the best
    single site is u2 (u1 u2 u3: +600, unique), the best pair u2 and u6 (u5 u6 u7: +260;
    next best u5: +200): both unique, so the same sites whatever the order."""
    other = run(shuffled(facilities(), seed, reset=reset), shuffled(units(), seed + 10, reset=reset))
    for k, sites, covered in ((1, {"u2"}, 1750), (2, {"u2", "u6"}, 2010)):
        first = plan(base, candidates_from_units(units()), k, solver)
        again = plan(other, shuffled(candidates_from_units(units()), seed + 20, reset=reset), k, solver)
        for result in (first, again):
            assert set(result.selection.sites) == sites, (k, result.selection.sites)
            assert result.selection.population_covered_after == pytest.approx(covered)
        scores = [c for c in first.candidates.columns if c.startswith(("newly_covered", "minutes_to"))]
        pd.testing.assert_frame_equal(
            by_id(again.candidates, "candidate_id", scores), by_id(first.candidates, "candidate_id", scores)
        )
        pd.testing.assert_frame_equal(
            sorted_table(again.fragility, ["facility_id"]), sorted_table(first.fragility, ["facility_id"])
        )


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0]])
def test_tied_candidates_give_the_same_coverage(base: GapAnalysis, order: list[int]) -> None:
    """Two candidates at one point (tied) and a worse one: whichever of the pair is
    chosen, the population covered is the same, and never the worse site."""
    x6 = NODES["N6"]
    points = gpd.GeoDataFrame(
        {"candidate_id": ["twin-a", "twin-b", "worse"], "name": ["a", "b", "c"]},
        geometry=[Point(x6), Point(x6), Point(NODES["N9"])],
        crs=CRS,
    )
    candidates = candidates_from_points(points.iloc[order].reset_index(drop=True))
    for solver in ("exact", "greedy"):
        result = plan(base, candidates, 1, solver)
        assert len(result.selection.sites) == 1
        assert result.selection.sites[0] in {"twin-a", "twin-b"}
        # u5 u6 u7 join the 1150 covered today
        assert result.selection.population_covered_after == pytest.approx(1150 + 260)


# ---------------------------------------------------------------- the regional data


@pytest.mark.regional
def test_regional_results_ignore_facility_and_unit_order(data_dir: Path) -> None:
    """The Centre-Val de Loire run with its facility and commune rows shuffled (the same
    compiled network): the same minutes, nearest facility, tables and accessibility per
    commune.  18 facilities share a network node with another on this data."""
    first = regional_run(data_dir)
    rng = np.random.default_rng(2026)
    facilities_shuffled = first.inputs.facilities.iloc[rng.permutation(len(first.inputs.facilities))]
    units_shuffled = first.inputs.units.iloc[rng.permutation(len(first.inputs.units))]
    other = cov.analyse(first.network, facilities_shuffled, units_shuffled, first.analysis.config)
    pd.testing.assert_frame_equal(
        by_id(other.units, "unit_id", UNIT_COLUMNS), by_id(first.analysis.units, "unit_id", UNIT_COLUMNS)
    )
    pd.testing.assert_frame_equal(other.summary, first.analysis.summary)
    keys = ["level", "area_id", "threshold_min"]
    pd.testing.assert_frame_equal(sorted_table(other.by_area, keys), sorted_table(first.analysis.by_area, keys))
    catch = ["n_units", "population", "mean_minutes", "max_minutes"]
    pd.testing.assert_frame_equal(
        by_id(other.catchments, "facility_id", catch), by_id(first.analysis.catchments, "facility_id", catch)
    )
    study = study_access(other, workers=1)
    columns = ["demand", "accessibility", "class"]
    pd.testing.assert_frame_equal(by_id(study.units, "unit_id", columns), by_id(first.study.units, "unit_id", columns))
    pd.testing.assert_frame_equal(
        sorted_table(study.by_area, ["level", "area_id"]), sorted_table(first.study.by_area, ["level", "area_id"])
    )
