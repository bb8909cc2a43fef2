"""Town halls against the grid: the same facilities and network, people placed two ways
(coverage.unit_comparison), on a hand-made line where every figure is worked out below."""

from __future__ import annotations

import pytest
from conftest import facilities_at, make_graph, units_at

import coverage as cov
from coverage.errors import InputDataError
from coverage.outputs.report_units import units_section
from coverage.unit_comparison import compare_units

# N0 .. N4 every 1000 m, 2 min per edge; the facility at N0.
NODES = {f"N{i}": (650_000.0 + 1000.0 * i, 6_670_000.0) for i in range(5)}


def _analysis(points: dict[str, str], people: list[float], communes: list[str], thresholds=(5, 10)):
    graph = make_graph(NODES, [(f"N{i}", f"N{i + 1}", 120.0) for i in range(4)])
    units = units_at({u: NODES[n] for u, n in points.items()}, people)
    units["commune"] = communes
    units["commune_name"] = [{"c1": "Un", "c2": "Deux"}[c] for c in communes]
    config = cov.AnalysisConfig(thresholds_min=thresholds, access_speed_kph=30, max_snap_m=500, isochrones=False)
    return cov.analyse(graph, facilities_at({"f": NODES["N0"]}), units, config)


def _town_halls(thresholds=(5, 10)):
    # c1's town hall at N1 (100 people, 2 min), c2's at N3 (50 people, 6 min)
    return _analysis({"c1": "N1", "c2": "N3"}, [100.0, 50.0], ["c1", "c2"], thresholds)


def _grid():
    # c1: 60 people at N1 (2 min) and 40 at N4 (8 min); c2: 50 at N2 (4 min)
    return _analysis({"g1": "N1", "g2": "N4", "g3": "N2"}, [60.0, 40.0, 50.0], ["c1", "c1", "c2"])


def test_shares_both_ways_and_their_difference() -> None:
    comparison = compare_units(_town_halls(), _grid())
    shares = comparison.shares.set_index("threshold_min")
    # within 5 min: town halls c1 = 100 of 150; grid g1 + g3 = 110 of 150; within 10: all
    assert shares["share_covered_town_halls"].tolist() == pytest.approx([100 / 150, 1.0])
    assert shares["share_covered_grid"].tolist() == pytest.approx([110 / 150, 1.0])
    assert shares["difference_points"].tolist() == pytest.approx([100 * 10 / 150, 0.0])
    assert shares["population_town_halls"].tolist() == shares["population_grid"].tolist() == [150.0, 150.0]


def test_the_communes_with_the_longest_drive_either_way() -> None:
    # mean minutes: town halls c1 2, c2 6 (c2 first); grid c1 (60 x 2 + 40 x 8) / 100 = 4.4, c2 4 (c1 first)
    comparison = compare_units(_town_halls(), _grid(), n_worst=1)
    table = comparison.communes
    assert table["commune"].tolist() == ["c1", "c2"]  # sorted by the grid's rank
    assert table["commune_name"].tolist() == ["Un", "Deux"]
    assert table["mean_minutes_grid"].tolist() == pytest.approx([4.4, 4.0])
    assert table["mean_minutes_town_halls"].tolist() == pytest.approx([2.0, 6.0])
    assert table["rank_grid"].tolist() == [1, 2] and table["rank_town_halls"].tolist() == [2, 1]
    # the report shows both tables, its text escaped
    section = units_section(comparison)
    assert "Mairies ou carroyage" in section and "4,4" in section and "Deux" in section


def test_what_cannot_be_compared_is_refused() -> None:
    with pytest.raises(InputDataError, match="different thresholds"):
        compare_units(_town_halls((5, 20)), _grid())
    with pytest.raises(InputDataError, match="two names"):
        compare_units(_town_halls(), _grid(), names=("a", "a"))
    with pytest.raises(InputDataError, match="n_worst"):
        compare_units(_town_halls(), _grid(), n_worst=0)


def test_the_written_run_has_the_comparison_tables_and_section(tmp_path) -> None:
    import pandas as pd

    grid = _grid()
    cov.write_analysis(grid, tmp_path / "out", report=True, comparison=compare_units(_town_halls(), grid))
    shares = pd.read_csv(tmp_path / "out" / "units_comparison.csv")
    assert shares["share_covered_grid"].tolist() == pytest.approx([110 / 150, 1.0])
    assert pd.read_csv(tmp_path / "out" / "communes_comparison.csv")["commune"].tolist() == ["c1", "c2"]
    assert "Mairies ou carroyage" in (tmp_path / "out" / "report.html").read_text("utf-8")
    with pd.ExcelFile(tmp_path / "out" / "tables.xlsx") as book:
        assert {"units_comparison", "communes_comparison"} <= set(book.sheet_names)
