"""People around the territory in the floating catchment: their demand competes for the
territory's doctors, but they get no row in any table and the pool is not shared out for
them.  Values worked out by hand in the comments."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from conftest import facilities_at, make_graph, units_at
from test_grid import GRID_CRS, cells, write_tiling

import coverage as cov
from coverage.access_study import study_access
from coverage.accessibility import StepDecay
from coverage.errors import InputDataError
from coverage.io.grid import population_around
from coverage.matrix import CoverageMatrix
from coverage.pool import allocate_pool
from coverage.scenarios import AccessSettings

# A road running east near Bourges, nodes every 1000 m, 2 min per edge; a single band of
# 5 minutes: fA (N0, 4 GPs) reaches N0-N2, fB (N6, 2 GPs) reaches N4-N6.
NODES = {f"N{i}": (650_000.0 + 1000.0 * i, 6_670_000.0) for i in range(7)}
BAND = StepDecay(((5.0, 1.0),))


def _analysis() -> cov.GapAnalysis:
    graph = make_graph(NODES, [(f"N{i}", f"N{i + 1}", 120.0) for i in range(6)])
    facilities = facilities_at({"fA": NODES["N0"], "fB": NODES["N6"]})
    facilities["n_gp"] = [4, 2]
    units = units_at({"a": NODES["N0"], "b": NODES["N1"], "c": NODES["N4"]}, [100.0, 100.0, 100.0])
    units["department"] = ["18", "18", "45"]
    config = cov.AnalysisConfig(thresholds_min=(10,), access_speed_kph=30, max_snap_m=500, isochrones=False)
    return cov.analyse(graph, facilities, units, config)


def _around() -> gpd.GeoDataFrame:
    return units_at({"y": NODES["N5"], "z": NODES["N6"]}, [100.0, 300.0])


def test_the_people_around_share_the_border_sites_doctors() -> None:
    settings = AccessSettings(decay=BAND)
    alone = study_access(_analysis(), settings, workers=1)
    shared = study_access(_analysis(), settings, workers=1, outside=_around())
    # fA: 4 GPs for a + b = 200 people, either way: a and b get 4/200 = 0.02 per person.
    # fB: 2 GPs for c = 100 people alone (0.02), for c + y + z = 500 with the people around (0.004).
    scale = settings.scale
    assert alone.units["accessibility"].to_numpy() / scale == pytest.approx([0.02, 0.02, 0.02])
    assert shared.units["accessibility"].to_numpy() / scale == pytest.approx([0.02, 0.02, 0.004])
    # the people around have no row, and count in no total
    assert shared.units["unit_id"].tolist() == ["a", "b", "c"]
    assert shared.units["demand"].tolist() == [100.0, 100.0, 100.0]
    assert shared.classes["population"].sum() == 300.0
    assert set(shared.by_area["area_id"]) == set(alone.by_area["area_id"])
    summary = shared.summary()
    assert summary["population_total"] == 300.0
    assert summary["population_around_competing"] == 400.0 and alone.summary()["population_around_competing"] == 0
    # the sites' ratios count everyone: fB's is 2 / 500
    ratio = dict(zip(shared.baseline.site_ids, shared.baseline.supply_ratio, strict=True))
    assert ratio["fB"] == pytest.approx(2 / 500) and ratio["fA"] == pytest.approx(4 / 200)
    # the matrix keeps the people around after the territory's own
    assert shared.matrix.unit_ids.tolist() == ["a", "b", "c", "y", "z"]


def test_the_people_around_weighted_by_age_like_the_territory() -> None:
    analysis = _analysis()
    # a: 100 people aged 65+; b and c: 100 aged 15-64 each.  Weights: 65+ count double.
    analysis.units["Y_LT15"] = 0.0
    analysis.units["Y_1564"], analysis.units["Y_GE65"] = [0.0, 100.0, 100.0], [100.0, 0.0, 0.0]
    around = _around()
    # y: 100 people aged 65+; z: 300 aged 15-64
    around["Y_LT15"], around["Y_1564"], around["Y_GE65"] = [0.0, 0.0], [0.0, 300.0], [100.0, 0.0]
    weights = {"Y_LT15": 1.0, "Y_1564": 1.0, "Y_GE65": 2.0}
    settings = AccessSettings(decay=BAND, age_weights=weights)
    study = study_access(analysis, settings, workers=1, outside=around)
    # the territory's standardised inhabitant consumes (200 + 100 + 100) / 300 = 4/3:
    # demand a 150, b 75, c 75; around, against the same standard, y 150 and z 225
    # (not 160 and 240, their own average).  fA: 4 / 225; fB: 2 / (75 + 150 + 225).
    got = study.units.set_index("unit_id")
    assert got["demand"].tolist() == pytest.approx([150.0, 75.0, 75.0])
    assert got["accessibility"].to_numpy() / settings.scale == pytest.approx([4 / 225, 4 / 225, 2 / 450])


def test_people_around_with_the_ids_of_the_territorys_units_are_refused() -> None:
    around = units_at({"c": NODES["N5"]}, [10.0])
    with pytest.raises(InputDataError, match="units around the territory with the ids of its own units: c"):
        study_access(_analysis(), AccessSettings(decay=BAND), workers=1, outside=around)


def test_people_around_named_twice_are_refused() -> None:
    around = units_at({"y": NODES["N5"], "z": NODES["N6"]}, [10.0, 20.0])
    around["unit_id"] = ["y", "y"]
    with pytest.raises(InputDataError, match="units around the territory: unit_id 'y' appears twice"):
        study_access(_analysis(), AccessSettings(decay=BAND), workers=1, outside=around)


@pytest.mark.parametrize("population", [np.nan, -1.0, np.inf])
def test_a_bad_population_around_is_named(population: float) -> None:
    around = units_at({"y": NODES["N5"]}, [population])
    with pytest.raises(InputDataError, match="units around the territory: population"):
        study_access(_analysis(), AccessSettings(decay=BAND), workers=1, outside=around)


# ---------------------------------------------------------------- the pool counts the territory's people only


def _two_sites() -> CoverageMatrix:
    # S2 (row 0) reaches o (outside, 15 people); S1 (row 1) reaches i (inside, 10 people)
    minutes = sp.csr_array((np.array([1.0, 1.0]), np.array([1, 0]), np.array([0, 1, 2])), shape=(2, 2))
    return CoverageMatrix(
        site_ids=np.array(["S2", "S1"], dtype=object),
        unit_ids=np.array(["i", "o"], dtype=object),
        minutes=minutes,
        max_minutes=5.0,
    )


def test_the_pool_goes_to_the_territorys_people(caplog: pytest.LogCaptureFixture) -> None:
    matrix, demand, supply = _two_sites(), np.array([10.0, 15.0]), np.zeros(2)
    # One team of 1 lifts o to 1/15 or i to 1/10, both above the line 0.05: counting
    # everyone, S2 lifts 15 people against S1's 10; counting the territory only, S1.
    everyone = allocate_pool(matrix, supply, demand, pool=1, team_size=1, priority_line=0.05, decay=BAND)
    assert everyone.steps["site_id"].tolist() == ["S2"]
    with caplog.at_level(logging.WARNING):
        ours = allocate_pool(
            matrix,
            supply,
            demand,
            pool=2,
            team_size=1,
            priority_line=0.05,
            decay=BAND,
            counted=[True, False],
        )
    assert ours.steps["site_id"].tolist() == ["S1"]
    assert ours.steps["people_lifted"].tolist() == [10.0] and ours.steps["people_above"].tolist() == [10.0]
    # the second team would help only the people around: it is not placed
    assert ours.unallocated == 1.0 and "left unallocated" in caplog.text
    with pytest.raises(InputDataError, match="counted: expected one value per unit"):
        allocate_pool(matrix, supply, demand, pool=1, team_size=1, priority_line=0.05, decay=BAND, counted=[True])


# ---------------------------------------------------------------- the grid cells around the territory


def test_the_cells_around_are_those_near_the_communes_and_in_none(tmp_path: Path) -> None:
    """Tiles as in test_grid: centres (104.5, 208.5) km, (107.5, 209.5) and (101.5, 202.5)
    in EPSG:3035.  Commune A covers x 103.6-106 km, y 207-209.2 km: the first centre is in
    it, the second 1.53 km from it (1.5 east, 0.3 north), the third 4.97 km (2.1 west,
    4.5 south)."""
    tiling = write_tiling(
        tmp_path / "grid",
        {(1, 2): cells([(0, 0, 10, 2, 5, 3), (3, 1, 7, 1, 4, 2)]), (0, 0): cells([(1, 2, 5, 0, 5, 0)])},
    )
    communes = gpd.GeoDataFrame(
        {"code_insee": ["37001"], "name": ["A"], "department": ["37"], "epci": ["2"], "epci_name": ["CC A"]},
        geometry=[shapely.box(103_600, 207_000, 106_000, 209_200)],
        crs=GRID_CRS,
    ).to_crs("EPSG:2154")
    near, far = "CRS3035RES1000mN209000E107000", "CRS3035RES1000mN202000E101000"
    assert population_around(tiling, communes, 1000).empty
    two = population_around(tiling, communes, 2000)
    assert two["unit_id"].tolist() == [near]
    assert two["population"].tolist() == [7.0] and two["Y_GE65"].tolist() == [2.0]
    assert two["commune"].isna().all()
    assert sorted(population_around(tiling, communes, 6000)["unit_id"]) == sorted([near, far])
    for bad in (0, -5, np.nan, "30 km"):
        with pytest.raises(InputDataError, match="band around the territory"):
            population_around(tiling, communes, bad)  # type: ignore[arg-type]


def test_the_shipped_grid_around_the_region(data_dir: Path) -> None:
    from coverage.io.regional import load_regional_inputs

    inputs = load_regional_inputs(data_dir, population="grid", road_buffer_m=30_000, outside_demand=True)
    assert inputs.outside is not None
    inside, around = set(inputs.units["unit_id"]), set(inputs.outside["unit_id"])
    assert len(inside) == 27_391 and not inside & around
    # every cell around has its centre outside the region's communes, within 30 km of them
    region = inputs.communes.geometry.to_crs("EPSG:2154").union_all()
    centres = inputs.outside.geometry.to_crs("EPSG:2154")
    assert not centres.within(region).any()
    assert (centres.distance(region) <= 30_000 + 1).all()
    # and the cells just beyond it are not read
    assert pd.Series(inputs.outside["population"]).gt(0).all()
    without = load_regional_inputs(data_dir, population="grid", road_buffer_m=30_000)
    assert without.outside is None


class _StopError(Exception):
    pass


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["access", "--population-units", "grid", "--road-buffer", "30000"], True),
        (["access", "--population-units", "grid", "--road-buffer", "30000", "--no-outside-demand"], False),
        (["demo", "--population-units", "grid", "--road-buffer", "30000"], False),
    ],
)
def test_the_access_command_asks_for_the_people_around(
    argv: list[str], wanted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import coverage.io.regional as regional
    from coverage.cli import main

    seen: dict[str, object] = {}

    def fake(*args: object, **kwargs: object) -> None:
        seen.update(kwargs)
        raise _StopError

    monkeypatch.setattr(regional, "load_regional_inputs", fake)
    with pytest.raises(_StopError):
        main([*argv, "--out", str(tmp_path / "out"), "-q"])
    assert seen["outside_demand"] is wanted and seen["road_buffer_m"] == 30000.0


def test_the_terminal_and_the_report_say_the_people_around_were_counted() -> None:
    from coverage.outputs.report_scenarios import accessibility_section
    from coverage.outputs.summaries import print_access

    settings = AccessSettings(decay=BAND)
    for outside, said in ((None, False), (_around(), True)):
        study = study_access(_analysis(), settings, workers=1, outside=outside)
        lines: list[str] = []
        print_access(study, lines.append)
        assert ("demand of 400 people around the territory" in "".join(lines)) is said
        assert ("400 habitants autour du territoire" in accessibility_section(study)) is said


@pytest.mark.parametrize(
    ("argv", "regional", "units", "buffer_m"),
    [
        (["demo"], True, "grid", 30_000.0),
        (["demo", "--source", "official"], True, "communes", 0.0),
        (["demo", "--population-units", "communes"], True, "communes", 30_000.0),
        (["demo", "--road-buffer", "0"], True, "grid", 0.0),
        (["access"], True, "communes", 0.0),
    ],
)
def test_the_demo_runs_on_the_grid_and_the_roads_around_by_default(
    argv: list[str], regional: bool, units: str, buffer_m: float
) -> None:
    from coverage.cli.inputs import _regional_choices, _regional_defaults
    from coverage.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    _regional_defaults(args, regional)
    assert (args.population_units, args.road_buffer) == (units, buffer_m)
    assert _regional_choices(args)["population_units"] == units
