"""Areas a planner works with (cantons...): the communes in each by the largest share of
their surface, the straddling ones reported, units placed by their point; the canton
level of the area tables adds up on the regional data."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from coverage.errors import InputDataError
from coverage.io.areas import communes_in_areas, read_areas, with_areas

#: Lambert-93 metres from a point in the middle of France.
X0, Y0 = 600_000.0, 6_700_000.0


def _l93(geoms: list) -> gpd.GeoSeries:
    return gpd.GeoSeries(geoms, crs="EPSG:2154").translate(X0, Y0)


def _cantons() -> gpd.GeoDataFrame:
    # canton C1: x in [0, 10]; canton C2: x in [10, 20] (km), y in [0, 10]
    return gpd.GeoDataFrame(
        {"code": ["C1", "C2"], "name": ["Un", "Deux"]},
        geometry=_l93([box(0, 0, 10_000, 10_000), box(10_000, 0, 20_000, 10_000)]),
        crs="EPSG:2154",
    )


def _communes() -> gpd.GeoDataFrame:
    # A: inside C1; B: x in [7, 17] -> 30 % in C1, 70 % in C2; Z: far outside both
    return gpd.GeoDataFrame(
        {"code_insee": ["A", "B", "Z"]},
        geometry=_l93([box(1_000, 1_000, 5_000, 5_000), box(7_000, 0, 17_000, 4_000), box(50_000, 0, 51_000, 1_000)]),
        crs="EPSG:2154",
    ).to_crs("EPSG:4326")


def test_each_commune_goes_where_most_of_it_lies(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        table = communes_in_areas(_communes(), _cantons(), level="canton", metric_crs="EPSG:2154")
    assert table.loc["A", "canton"] == "C1" and table.loc["A", "canton_share"] == pytest.approx(1.0)
    assert table.loc["B", "canton"] == "C2" and table.loc["B", "canton_name"] == "Deux"
    assert table.loc["B", "canton_share"] == pytest.approx(0.7, abs=1e-6)
    assert pd.isna(table.loc["Z", "canton"])
    text = caplog.text
    assert "1 communes straddle a canton border" in text and "B (70% in C2)" in text
    assert "1 communes lie in no canton" in text and "Z" in text


def test_units_take_the_area_of_their_point_else_of_their_commune() -> None:
    cantons = _cantons()
    table = communes_in_areas(_communes(), cantons, level="canton", metric_crs="EPSG:2154")
    units = gpd.GeoDataFrame(
        {"unit_id": ["p", "q", "r"], "commune": ["B", "A", None]},
        # p: in C1 though its commune B is counted in C2; q: outside both, commune A; r: nowhere
        geometry=_l93([Point(8_000, 2_000), Point(-3_000, 2_000), Point(90_000, 0)]),
        crs="EPSG:2154",
    ).iloc[[2, 0, 1]]  # rows shuffled: the result follows the units' own order
    out = with_areas(units, cantons, table, level="canton")
    assert out["unit_id"].tolist() == ["r", "p", "q"]
    assert out["canton"].tolist()[1:] == ["C1", "C1"] and pd.isna(out["canton"].iloc[0])
    assert out["canton_name"].tolist()[1:] == ["Un", "Un"]


def test_a_commune_unit_takes_its_commune_area() -> None:
    # the commune B itself as a unit, its town hall in C1: B is counted in C2 (70 % of it),
    # as the straddling warning says; a commune that no area holds keeps its point's
    cantons = _cantons()
    table = communes_in_areas(_communes(), cantons, level="canton", metric_crs="EPSG:2154")
    units = gpd.GeoDataFrame(
        {"unit_id": ["B", "Z"], "commune": ["B", "Z"]},
        geometry=_l93([Point(8_000, 2_000), Point(12_000, 5_000)]),
        crs="EPSG:2154",
    )
    out = with_areas(units, cantons, table, level="canton")
    assert out["canton"].tolist() == ["C2", "C2"]
    assert out["canton_name"].tolist() == ["Deux", "Deux"]


def test_bad_area_layers_are_refused(tmp_path: Path) -> None:
    frame = _cantons()
    twice = pd.concat([frame, frame.iloc[[0]]])
    twice.to_file(tmp_path / "twice.gpkg")
    with pytest.raises(InputDataError, match=r"canton layer .*twice.gpkg.*duplicate values.*'C1'"):
        read_areas(tmp_path / "twice.gpkg", level="canton")
    gpd.GeoDataFrame({"code": ["P"]}, geometry=_l93([Point(0, 0)]), crs="EPSG:2154").to_file(tmp_path / "p.gpkg")
    with pytest.raises(InputDataError, match="expected polygons, found"):
        read_areas(tmp_path / "p.gpkg", level="canton")
    other = frame.rename(columns={"code": "code_insee", "name": "libelle"})
    other.to_file(tmp_path / "other.gpkg")
    read = read_areas(tmp_path / "other.gpkg", level="canton")
    assert read["code"].tolist() == ["C1", "C2"] and read["name"].tolist() == ["Un", "Deux"]


@pytest.mark.regional
def test_regional_cantons_add_up(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    import numpy as np
    import shapely

    from coverage.io.regional import load_regional_inputs, regional_paths
    from coverage.stats import coverage_by_area

    with caplog.at_level(logging.WARNING):
        inputs = load_regional_inputs(data_dir, population="grid")
    units = inputs.units
    assert units["canton"].notna().all() and inputs.town_halls is not None
    assert inputs.town_halls["canton"].notna().all()
    assert "communes straddle a canton border" in caplog.text  # the large towns lie in several
    # independently: each cell centre against each canton polygon
    cantons = read_areas(regional_paths(data_dir)["cantons"], level="canton")
    xy = shapely.get_coordinates(units.geometry.to_crs(cantons.crs).to_numpy())
    inside = np.full(len(units), None, dtype=object)
    for code, polygon in zip(cantons["code"], cantons.geometry, strict=True):
        inside[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])] = code
    placed = inside != None  # noqa: E711 (an object array)
    assert placed.mean() > 0.99  # a few border cells fall outside the simplified contours
    assert (units["canton"].to_numpy()[placed] == inside[placed]).all()
    # the canton level of the area tables adds up to the region's 2,569,309 people
    minutes = np.random.default_rng(0).uniform(0, 40, len(units))
    table = coverage_by_area(units.assign(minutes_to_nearest=minutes), [20.0])
    canton = table[table["level"] == "canton"]
    assert canton["population_total"].sum() == pytest.approx(2_569_309)
    assert len(canton) == units["canton"].nunique() and 90 <= len(canton) <= 102
    # the communes as units: each in the canton holding most of its surface, by an overlay
    communes = inputs.communes[["code_insee", "geometry"]].to_crs("EPSG:2154")
    pieces = gpd.overlay(communes, cantons[["code", "geometry"]].to_crs("EPSG:2154"), how="intersection")
    pieces["surface"] = pieces.geometry.area
    largest = pieces.sort_values("surface", ascending=False).drop_duplicates("code_insee").set_index("code_insee")
    halls = inputs.town_halls.set_index("unit_id")
    both = largest.index.intersection(halls.index)
    assert len(both) > 0.99 * len(halls)
    assert (halls.loc[both, "canton"].astype(str) == largest.loc[both, "code"].astype(str)).all()


def test_overlapping_and_empty_areas_are_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from shapely.geometry import Polygon

    # C3 covers half of C1 (a real overlap); C2 touches C1 along x = 10 km (no overlap); E is empty
    frame = gpd.GeoDataFrame(
        {"code": ["C1", "C2", "C3", "E"], "nom": ["Un", "Deux", "Trois", "Vide"]},
        geometry=_l93([box(0, 0, 10_000, 10_000), box(10_000, 0, 20_000, 10_000), box(0, 0, 5_000, 10_000), Polygon()]),
        crs="EPSG:2154",
    )
    frame.to_file(tmp_path / "zones.gpkg")
    with caplog.at_level(logging.WARNING):
        read = read_areas(tmp_path / "zones.gpkg", level="zone")
    assert read["code"].tolist() == ["C1", "C2", "C3"]
    assert "1 areas have no polygon and hold no one: E" in caplog.text
    assert "1 pairs of areas overlap" in caplog.text and "C1 and C3" in caplog.text
    assert "C1 and C2" not in caplog.text
