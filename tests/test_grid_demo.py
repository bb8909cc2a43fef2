"""The demo on its defaults, the 1 km census grid and the roads within 30 km of the region,
re-checked independently: minutes of every cell by NetworkX on the exported (buffered)
network, totals against the data README, area tables against a plain groupby of the cells,
and the same analysis with the people at their town halls beside it."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from coverage.cli import main
from tests.test_regional import reversed_digraph

pytestmark = pytest.mark.regional

SOURCE = "__facilities__"


@pytest.fixture(scope="module")
def grid_out(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("grid") / "cvl"
    # the demo's defaults: the census grid, and the roads of France within 30 km of the region
    args = ["demo", "--data-dir", str(data_dir), "--out", str(out), "-q"]
    assert main([*args, "--no-siting", "--no-isochrones", "--no-map", "--no-report"]) == 0
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["regional"] == {"source": "shipped", "population_units": "grid", "road_buffer_m": 30_000.0}
    return out


@pytest.fixture(scope="module")
def cells(grid_out: Path) -> pd.DataFrame:
    return pd.read_csv(grid_out / "population_access.csv", dtype={"unit_id": str, "node": str, "commune": str})


def test_the_cells_are_the_data_readmes(cells: pd.DataFrame) -> None:
    """27,391 populated cells whose centre lies in the region, 2,569,309 inhabitants (data
    README, section 10), each named by its INSPIRE id and in one commune."""
    assert len(cells) == 27_391 and cells["unit_id"].is_unique
    assert cells["population"].sum() == 2_569_309
    assert cells["unit_id"].str.fullmatch(r"CRS3035RES1000mN\d+E\d+").all()
    assert cells["commune"].notna().all()


def test_every_cells_minutes_recomputed_with_networkx(grid_out: Path, cells: pd.DataFrame) -> None:
    """Dijkstra on the exported GraphML, reversed, from one source joined to every
    facility's node by its access leg: the minutes to the nearest facility of each cell,
    its own access leg added, are the demo's."""
    reverse = reversed_digraph(nx.read_graphml(grid_out / "network.graphml"))
    facilities = pd.read_csv(grid_out / "facilities.csv", dtype={"node": str})
    for row in facilities.dropna(subset=["node"]).itertuples():
        leg = row.access_minutes * 60
        if not reverse.has_edge(SOURCE, row.node) or reverse[SOURCE][row.node]["t"] > leg:
            reverse.add_edge(SOURCE, row.node, t=leg)
    seconds = nx.single_source_dijkstra_path_length(reverse, SOURCE, weight="t")
    expected = (cells["node"].map(seconds) + cells["access_minutes"] * 60) / 60
    assert expected.notna().all()
    assert cells["minutes_to_nearest"].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9, abs=1e-9)


def test_the_tables_by_area_add_the_cells_up(grid_out: Path, cells: pd.DataFrame) -> None:
    """Every level of coverage_by_area is a groupby of the cells: population and people
    within 20 minutes per commune, canton, EPCI and department, and the region's total."""
    table = pd.read_csv(grid_out / "coverage_by_area.csv", dtype={"area_id": str})
    assert set(table["level"]) == {"commune", "canton", "epci", "department"}
    for level in ("commune", "canton", "epci", "department"):
        got = table[(table["level"] == level) & (table["threshold_min"] == 20)].set_index("area_id")
        by = cells.groupby(cells[level].astype(str))
        assert got["population_total"].to_dict() == pytest.approx(by["population"].sum().to_dict())
        within = cells["population"].where(cells["minutes_to_nearest"] <= 20, 0.0)
        assert got["population_covered"].to_dict() == pytest.approx(
            within.groupby(cells[level].astype(str)).sum().to_dict()
        )
    summary = pd.read_csv(grid_out / "coverage_summary.csv").set_index("threshold_min")
    for t in (10, 20, 30):
        assert summary.loc[t, "population_covered"] == cells.loc[cells["minutes_to_nearest"] <= t, "population"].sum()
    assert np.isclose(summary["population_total"], 2_569_309).all()


def test_the_siting_candidates_are_the_communes_town_halls(tmp_path: Path, data_dir: Path) -> None:
    """On the grid, the demo still chooses among the town halls of the communes that host
    no facility (not among the 27,391 cells): one candidate per commune code, the codes of
    the commune table (current communes) less those of the open facilities' communes."""
    out = tmp_path / "cvl"
    args = ["demo", "--data-dir", str(data_dir), "--out", str(out), "-q", "--road-buffer", "0"]
    assert main([*args, "--no-isochrones", "--no-map", "--no-report", "--sites", "2", "--curve-max", "2"]) == 0
    candidates = pd.read_csv(out / "candidates.csv", dtype={"candidate_id": str})
    communes = pd.read_csv(data_dir / "admin/cvl_communes_cog2026_decoupage_administratif.csv", dtype=str)
    facilities = pd.concat(
        pd.read_csv(data_dir / f"facilities/{name}.csv", dtype=str)
        for name in ("cvl_primary_care_facilities_compiled", "cvl_facilities_additions_turn2")
    )
    hosting = set(facilities.loc[facilities["status"] == "open", "code_insee"].str.zfill(5))
    communes = communes[communes["type"] == "commune-actuelle"]  # not the former (déléguées, associées)
    assert set(candidates["candidate_id"]) == set(communes["code_insee"]) - hosting
    assert candidates["source"].eq("town hall").all()
    assert len(pd.read_csv(out / "selection.csv")) == 2


def test_the_town_halls_and_the_grid_side_by_side(grid_out: Path) -> None:
    """The demo on the grid also places the people at their town halls and writes both
    ways: the grid's shares are its own summary's, the town halls hold the communes'
    2,587,031 inhabitants (data README), and the communes' mean minutes on the grid are
    those of its table by area."""
    shares = pd.read_csv(grid_out / "units_comparison.csv").set_index("threshold_min")
    summary = pd.read_csv(grid_out / "coverage_summary.csv").set_index("threshold_min")
    assert shares["share_covered_grid"].to_numpy() == pytest.approx(summary["share_covered"].to_numpy(), abs=1e-9)
    assert (shares["population_town_halls"] == 2_587_031).all() and (shares["population_grid"] == 2_569_309).all()
    # fewer people close to a facility on the grid (hamlets and farms away from the village centre)
    assert shares.loc[10, "difference_points"] < 0
    communes = pd.read_csv(grid_out / "communes_comparison.csv", dtype={"commune": str})
    areas = pd.read_csv(grid_out / "coverage_by_area.csv", dtype={"area_id": str})
    mean = areas[areas["level"] == "commune"].drop_duplicates("area_id").set_index("area_id")["mean_minutes"]
    assert communes["mean_minutes_grid"].to_numpy() == pytest.approx(mean[communes["commune"]].to_numpy())
    assert communes.loc[0, "commune"] == "45026" and communes.loc[0, "rank_town_halls"] == 1
