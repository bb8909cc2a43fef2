"""The tutorial notebook: stripped in git, runs without error, agrees with the CLI, and its
section on the Region's questions (phasing, budget, patient lists, the pool by year, density by
canton, the planner's own areas, comparing two runs) holds figures checked here another way."""

from __future__ import annotations

import json
import pickle
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import maximum_flow

from coverage.cli import main

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "gap_analysis_centre_val_de_loire.ipynb"

#: Appended to the notebook in memory (never saved): hands the section's objects to the test.
HAND_OVER = """
import pickle
with open({path!r}, "wb") as handle:
    pickle.dump({{name: globals()[name] for name in {names!r}}}, handle)
"""
NAMES = (
    "result", "plan", "study", "units", "candidates", "costs", "budgeted", "budgets", "zones",
    "zoned", "by_zone", "after", "changes", "runs", "styles",
)  # fmt: skip


@dataclass
class NotebookRun:
    figures: dict[str, Any]
    objects: dict[str, Any]
    cli: Path


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.fixture(scope="module")
def run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> NotebookRun:
    nbclient = pytest.importorskip("nbclient")
    tmp = tmp_path_factory.mktemp("notebook")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    key_figures = len(nb.cells) - 1
    state = tmp / "state.pickle"
    nb.cells.append(nbformat.v4.new_code_cell(HAND_OVER.format(path=str(state), names=NAMES)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVERAGE_DATA_DIR", str(data_dir))
        mp.setenv("TMPDIR", str(tmp))  # the notebook's two runs go to tempfile.gettempdir()
        nbclient.NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    figures = json.loads(nb.cells[key_figures].outputs[0]["text"])
    with state.open("rb") as handle:
        objects = pickle.load(handle)
    assert str(objects["runs"]).startswith(str(tmp))

    out = tmp / "cli"
    communes = ["--population-units", "communes", "--road-buffer", "0"]
    assert (
        main(["demo", "--data-dir", str(data_dir), "--out", str(out), "-q", "--no-isochrones", "--no-map", *communes])
        == 0
    )
    return NotebookRun(figures, objects, out)


def _covered(cover: sp.csr_array, rows: np.ndarray, population: np.ndarray) -> float:
    """People in the units any of ``rows`` covers (union, by brute force)."""
    reached = np.zeros(cover.shape[1], dtype=bool)
    for r in rows:
        reached[cover.indices[cover.indptr[r] : cover.indptr[r + 1]]] = True
    return float(population[reached].sum())


@pytest.mark.regional
def test_notebook_runs_and_matches_the_cli(run: NotebookRun) -> None:
    figures, out = run.figures, run.cli
    summary = pd.read_csv(out / "coverage_summary.csv")
    assert figures["population_total"] == summary["population_total"].iloc[0]
    assert figures["covered"] == {
        f"{t:g}": c for t, c in zip(summary.threshold_min, summary.population_covered, strict=True)
    }
    siting = json.loads((out / "run.json").read_text())["siting"]
    assert figures["new_sites"] == siting["new_sites"]
    assert figures["covered_after"] == siting["population_covered_after"]

    # the section's phasing and canton tables are the demo's (its default --phasing 2023-2025)
    phased = run.objects["plan"].phasing
    cli_years = pd.read_csv(out / "phasing_by_year.csv")
    assert cli_years["year"].astype(str).tolist() == phased.by_year["year"].astype(str).tolist()
    assert cli_years["covered"].tolist() == phased.by_year["covered"].tolist()
    assert siting["phasing"]["objective_person_years"] == phased.objective
    by_area = run.objects["result"].by_area
    ours = by_area[by_area.level == "canton"].set_index(["area_id", "threshold_min"])["population_covered"]
    cli_areas = pd.read_csv(out / "coverage_by_area.csv", dtype={"area_id": str, "threshold_min": float})
    theirs = cli_areas[cli_areas.level == "canton"].set_index(["area_id", "threshold_min"])["population_covered"]
    assert len(ours) == 92 * 3  # 92 cantons hold the most of a commune (10 lie inside split towns); 3 thresholds
    pd.testing.assert_series_equal(ours.sort_index(), theirs.sort_index(), check_dtype=False)


@pytest.mark.regional
def test_phasing_years_recomputed_from_the_matrix(run: NotebookRun) -> None:
    plan, result = run.objects["plan"], run.objects["result"]
    phased = plan.phasing
    # 22 sites over 3 years, the earlier taking the remainder: 22 = 3 * 7 + 1 -> 8, 7, 7
    assert phased.by_year["sites_opened"].tolist() == [8, 7, 7]
    cover = plan.matrix.covers(20)
    population = result.units.set_index("unit_id")["population"].reindex(plan.matrix.unit_ids).to_numpy(float)
    existing = plan.matrix.rows(list(result.facilities["facility_id"]))
    order = phased.timeline["site_id"].tolist()
    assert sorted(order) == sorted(plan.selection.sites)
    before = _covered(cover, existing, population)
    covered = []
    for opened in np.cumsum([8, 7, 7]):
        covered.append(_covered(cover, np.concatenate([existing, plan.matrix.rows(order[:opened])]), population))
    assert phased.by_year["covered"].tolist() == covered
    # the last year covers what the plan's selection covers: everyone, here
    assert covered[-1] == plan.selection.population_covered_after == result.units["population"].sum()
    person_years = sum(c - before for c in covered)
    assert phased.objective == person_years
    assert phased.status == "optimal" and phased.bound == pytest.approx(person_years)

    def value(sequence: list[str]) -> float:
        rows = plan.matrix.rows(sequence)
        return sum(_covered(cover, np.concatenate([existing, rows[:n]]), population) - before for n in (8, 15))

    # no exchange of two sites opened in different years does better (brute force over the 22 sites)
    base = value(order)
    years = phased.timeline["year"].tolist()
    for i in range(len(order)):
        for j in range(i + 1, len(order)):
            if years[i] != years[j]:
                swapped = order.copy()
                swapped[i], swapped[j] = swapped[j], swapped[i]
                assert value(swapped) <= base


@pytest.mark.regional
def test_budget_within_the_sum_and_between_bounds(run: NotebookRun) -> None:
    plan, result, costs = run.objects["plan"], run.objects["result"], run.objects["costs"]
    budgeted, budgets = run.objects["budgeted"], run.objects["budgets"]
    # the costs, by hand: 150 k€ where the commune has 2,000 inhabitants or more, else 1.5 M€
    people = result.units.set_index("unit_id")["population"]
    chosen = list(budgeted.selection.sites)
    expected = [150_000.0 if people[s] >= 2000 else 1_500_000.0 for s in chosen]
    assert list(budgeted.site_costs) == expected
    assert budgeted.spent == sum(expected) <= 5_000_000
    assert budgeted.selection.status == "optimal"
    cover = plan.matrix.covers(20)
    population = people.reindex(plan.matrix.unit_ids).to_numpy(float)
    existing = plan.matrix.rows(list(result.facilities["facility_id"]))
    before = _covered(cover, existing, population)
    after = _covered(cover, np.concatenate([existing, plan.matrix.rows(chosen)]), population)
    assert budgeted.selection.population_covered_after == after
    # an upper bound that needs no solver: a site never adds more than it covers alone, so a
    # fractional knapsack of the single gains within 5 M€ bounds every answer
    reached = np.zeros(cover.shape[1], dtype=bool)
    for r in existing:
        reached[cover.indices[cover.indptr[r] : cover.indptr[r + 1]]] = True
    free = np.where(reached, 0.0, population)
    ids = list(costs.index)
    gains = np.asarray(cover[plan.matrix.rows(ids)].astype(float) @ free).ravel()
    price = costs.to_numpy(float)
    left, bound = 5_000_000.0, 0.0
    for k in np.argsort(-gains / price, kind="stable"):
        take = min(1.0, left / price[k])
        bound, left = bound + take * gains[k], left - take * price[k]
        if left <= 0:
            break
    assert before < after <= before + bound
    # the curve: 11 budgets from 0 to 5 M€, exact never below the greedy nor falling, its last point this answer
    assert budgets["budget_eur"].tolist() == [500_000.0 * i for i in range(11)]
    assert (budgets["population_covered_exact"] >= budgets["population_covered_greedy"]).all()
    assert budgets["population_covered_exact"].is_monotonic_increasing
    assert budgets["population_covered_exact"].iloc[0] == before
    assert budgets["population_covered_exact"].iloc[-1] == after
    assert (budgets["spent_exact"] <= budgets["budget_eur"]).all()


@pytest.mark.regional
def test_patient_lists_by_an_independent_max_flow(run: NotebookRun) -> None:
    study = run.objects["study"]
    lists = study.capacity
    pool = 300
    assert lists.before.doctors.sum() == study.sites["supply_before"].sum()
    assert lists.after.doctors.sum() == lists.before.doctors.sum() + pool
    cover = study.matrix.covers(20)
    for assignment in (lists.before, lists.after):
        population = assignment.population
        assert assignment.people_served <= 960 * assignment.doctors.sum()
        assert np.all(assignment.served <= population + 1e-6)
        assert np.all(assignment.listed <= 960 * assignment.doctors + 1e-6)
        assert assignment.people_served + assignment.people_unmet == pytest.approx(population.sum())
        assert np.all(assignment.flow_minutes <= 20 + 1e-9)
        # scipy's max-flow: source -> site (its places) -> unit within 20 min -> sink (its people)
        n_sites, n_units = cover.shape
        coo = cover.tocoo()
        big = int(population.sum()) + 1
        rows = np.concatenate([np.zeros(n_sites, int), 1 + coo.row, 1 + n_sites + np.arange(n_units)])
        cols = np.concatenate([1 + np.arange(n_sites), 1 + n_sites + coo.col, np.full(n_units, 1 + n_sites + n_units)])
        caps = np.concatenate([np.round(960 * assignment.doctors), np.full(coo.nnz, big), population]).astype(np.int32)
        size = n_sites + n_units + 2
        graph = sp.csr_array((caps, (rows, cols)), shape=(size, size))
        flow = maximum_flow(graph, 0, size - 1).flow_value
        assert assignment.people_served == pytest.approx(flow)
        assert assignment.status == "optimal"
    # both placements of the pool fill all 960 * 300 new places (the region lacks doctors everywhere)
    comparison = lists.comparison.set_index("allocation")
    assert (comparison["people_served"].iloc[1:] - comparison.loc["before", "people_served"] <= 960 * pool).all()


@pytest.mark.regional
def test_pool_by_year(run: NotebookRun) -> None:
    study = run.objects["study"]
    years = study.pool_phasing.by_year
    assert years["year"].astype(str).tolist() == [str(y) for y in range(2021, 2029)]
    # 300 hires over 8 years: 38 the first four, 37 after; a team of 3 arrives with its third doctor
    hired = np.cumsum([38, 38, 38, 38, 37, 37, 37, 37])
    teams = np.diff(np.concatenate([[0], hired // 3]))
    assert years["teams"].tolist() == teams.tolist()
    assert years["doctors_added"].tolist() == (3 * teams).tolist()
    classes = study.classes.set_index("class")
    above = classes.loc["above threshold", "population_scenario"]
    assert years["people_above"].iloc[-1] == years["people_above_pool_order"].iloc[-1] == above
    assert study.pool_phasing.objective >= study.pool_phasing.pool_objective
    assert study.pool_phasing.status == "heuristic"


@pytest.mark.regional
def test_density_by_canton(run: NotebookRun) -> None:
    study, units = run.objects["study"], run.objects["units"]
    by_area = study.by_area
    sites = study.sites
    for level, table in by_area.groupby("level"):
        assert table["gps_before"].sum() == pytest.approx(sites["supply_before"].sum()), level
        assert table["gps_after"].sum() == pytest.approx(sites["supply_after"].sum()), level
        assert table["population"].sum() == units["population"].sum(), level
    cantons = by_area[by_area.level == "canton"].set_index("area_id")
    assert len(cantons) == units["canton"].nunique() == 92  # the other 10 lie inside towns split between cantons
    # each site counted in its commune's canton, recomputed from the units
    canton_of = units.set_index("commune")["canton"]
    gps = sites.assign(canton=sites["commune"].map(canton_of)).groupby("canton")["supply_after"].sum()
    assert gps.reindex(cantons.index, fill_value=0.0).to_numpy() == pytest.approx(cantons["gps_after"].to_numpy())
    per_10000 = 10_000 * cantons["gps_after"] / cantons["population"]
    assert per_10000.to_numpy() == pytest.approx(cantons["gps_per_10000_after"].to_numpy())


@pytest.mark.regional
def test_planner_zones_and_the_comparison(run: NotebookRun) -> None:
    objects = run.objects
    zones, zoned, by_zone = objects["zones"], objects["zoned"], objects["by_zone"]
    result, plan, changes, after = objects["result"], objects["plan"], objects["changes"], objects["after"]
    assert len(zones) == 20  # the region's arrondissements
    # a town hall inside exactly one polygon is in that zone (shapely, without geopandas' join)
    points = zoned.geometry.to_crs(zones.crs).to_numpy()
    inside = shapely.contains(zones.geometry.to_numpy()[None, :], points[:, None])
    alone = inside.sum(axis=1) == 1
    assert alone.mean() > 0.95
    assert (zoned["zone"].to_numpy()[alone] == zones["code"].to_numpy()[inside[alone].argmax(axis=1)]).all()
    total = result.units["population"].sum()
    for _, table in by_zone.groupby("threshold_min"):
        assert table["population_total"].sum() == total
        assert table["n_units"].sum() == len(result.units)

    # opening the 22 sites never lengthens a drive, and brings everyone within 20 min as the plan said
    minutes = changes.units
    assert (minutes["minutes_b"] <= minutes["minutes_a"] + 1e-9).all()
    assert changes.moves["population_worse_class"] == 0
    covered = after.summary.set_index("threshold_min")["population_covered"]
    assert covered[20.0] == plan.selection.population_covered_after
    totals = changes.totals.set_index(["indicator", "threshold_min"])
    gain = plan.selection.population_covered_after - plan.selection.population_covered_before
    assert totals.loc[("population_covered", 20.0), "change"] == gain
    assert changes.transitions.groupby("measure")["population"].sum().tolist() == [total]
    # the QGIS style of every layer of the run's GeoPackage, the sites included
    with closing(sqlite3.connect(objects["runs"] / "today" / "coverage.gpkg")) as gpkg:
        layers = {name for (name,) in gpkg.execute("SELECT table_name FROM gpkg_contents WHERE data_type='features'")}
    styled = objects["styles"].dropna(subset=["qgis_style"])
    assert "sites" in layers and set(styled["layer"]) == layers
