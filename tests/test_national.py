"""Any territory of metropolitan France: parsing, the national commune table, islands of
the road network, a territory with no facility, and the real national files."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import make_graph, units_at

from coverage.analysis import analyse
from coverage.cli import main
from coverage.config import AnalysisConfig
from coverage.errors import InputDataError
from coverage.io.admin import read_communes
from coverage.io.national import Territory, load_territory_inputs, metropolitan_departments, parse_territory
from coverage.road_edges import RoadEdges
from coverage.shapes import union_of_tiles


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("france", Territory("france")),
        (" France ", Territory("france")),
        ("region:53", Territory("region", ("53",))),
        ("regions:24, 53", Territory("region", ("24", "53"))),
        ("departments:18,36", Territory("departments", ("18", "36"))),
        ("department:2a", Territory("departments", ("2A",))),
        ("epci:200000000", Territory("epci", ("200000000",))),
    ],
)
def test_territories_are_parsed(text: str, expected: Territory) -> None:
    assert parse_territory(text) == expected
    assert parse_territory(str(expected)) == expected  # str() gives back what parses to it


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected e.g. france"),
        ("canton:1801", "unknown kind 'canton'"),
        ("france:24", "'france' takes no codes"),
        ("region:", "give the codes after the colon, e.g. region:53"),
        ("departments:18,18", "a code is given twice"),
    ],
)
def test_bad_territories_are_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        parse_territory(text)


def test_the_reference_table_holds_the_96_departments_of_metropolitan_france() -> None:
    table = metropolitan_departments()
    codes = set(table["department"])
    # 01..95 without 20 (Corsica is 2A and 2B), plus 2A, 2B: 94 + 2 = 96
    assert codes == {f"{i:02d}" for i in range(1, 96) if i != 20} | {"2A", "2B"}
    assert table.set_index("department").loc["18", "name"] == "Cher"
    assert table.set_index("department").loc["2A", "region"] == "94"


def _write_table(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "communes.csv"
    path.write_text("code_insee,nom,departement,population,mairie_lon,mairie_lat\n" + "\n".join(rows) + "\n", "utf-8")
    return path


def test_town_halls_come_from_the_table_columns_and_departments_filter_first(tmp_path: Path) -> None:
    path = _write_table(
        tmp_path,
        [
            "18001,A,18,100,2.5,47.0",
            "18002,B,18,200,,",  # no town hall: an empty point
            "36001,C,36,300,1.7,46.8",
            "97101,D,971,,-61.5,16.2",  # overseas, no population: never read when filtered out
        ],
    )
    got = read_communes(path, departments=["18", "36"])
    assert got["code_insee"].tolist() == ["18001", "18002", "36001"]
    assert got["population"].tolist() == [100, 200, 300]
    town = gpd.GeoSeries(got["town_hall"])
    assert town.iloc[0].equals(shapely.Point(2.5, 47.0)) and town.iloc[2].equals(shapely.Point(1.7, 46.8))
    assert town.iloc[1] is None or town.iloc[1].is_empty
    with pytest.raises(InputDataError, match="no commune in the departments 75"):
        read_communes(path, departments=["75"])
    with pytest.raises(InputDataError, match="'population' must hold numbers"):
        read_communes(path)  # the overseas row is read then


@pytest.mark.parametrize(
    ("row", "message"),
    [("18001,A,18,100,2.5,", "one of the two coordinates is empty"), ("18001,A,18,100,47.0,200", "not a longitude")],
)
def test_a_bad_town_hall_cell_names_its_line(tmp_path: Path, row: str, message: str) -> None:
    path = _write_table(tmp_path, ["18002,B,18,1,2.0,47.0", row])
    with pytest.raises(InputDataError, match=f"line 3: town hall .*{message}"):
        read_communes(path)


def _two_pieces(min_piece_nodes: int) -> RoadEdges:
    """A square of 4 nodes and, far away, a two-way pair (an island): pieces of 4 and 2."""
    x = np.array([0.0, 100, 100, 0, 50_000, 50_100]) + 600_000
    y = np.array([0.0, 0, 100, 100, 0, 0]) + 6_700_000
    u = np.array([0, 1, 1, 2, 2, 3, 3, 0, 4, 5])
    v = np.array([1, 0, 2, 1, 3, 2, 0, 3, 5, 4])
    n = len(u)
    return RoadEdges(
        crs="EPSG:2154",
        name="test",
        node_id=np.arange(6),
        node_x=x,
        node_y=y,
        edge_u=u,
        edge_v=v,
        length=np.full(n, 100.0),
        speed_kph=np.full(n, 36.0),
        travel_time=np.full(n, 10.0),
        edge_row=np.zeros(n, dtype=np.int64),
        row_highway=np.array(["secondary"], dtype=object),
        row_class=np.array(["d"], dtype=object),
        row_source=np.array([0]),
        row_name=np.array([None], dtype=object),
        min_piece_nodes=min_piece_nodes,
    )


def test_an_island_piece_is_kept_when_large_enough() -> None:
    assert _two_pieces(0).largest_strong_component().number_of_nodes() == 4  # the largest only
    assert _two_pieces(3).largest_strong_component().number_of_nodes() == 4  # the island has 2 < 3
    both = _two_pieces(2).largest_strong_component()
    assert both.number_of_nodes() == 6 and both.number_of_edges() == 10


def test_a_territory_with_no_facility_has_nobody_covered() -> None:
    graph = make_graph({"a": (0, 0), "b": (1000, 0)}, [("a", "b", 60.0)])
    units = units_at({"u1": (0, 10), "u2": (1000, 10)}, [120.0, 80.0])
    no_facility = gpd.GeoDataFrame(
        {"facility_id": [], "name": [], "type": []}, geometry=gpd.GeoSeries([], crs=units.crs), crs=units.crs
    )
    result = analyse(graph, no_facility, units, AnalysisConfig(thresholds_min=(10.0, 20.0), isochrones=False))
    assert result.units["minutes_to_nearest"].isna().all()
    assert result.units["nearest_facility"].isna().all()
    assert (result.summary["population_covered"] == 0).all()
    assert (result.summary["population_total"] == 200).all()


def test_the_union_of_badly_noded_tiles_falls_back_to_the_ordinary_union() -> None:
    # two squares that overlap on a strip and share no vertex: not a coverage
    a = shapely.box(0, 0, 10, 10)
    b = shapely.box(9.5, 0.3, 20, 10.2)
    union = union_of_tiles(np.array([a, b], dtype=object))
    assert union.is_valid
    # inclusion-exclusion: 100 + 10.5 * 9.9 - 0.5 * 9.7
    assert union.area == pytest.approx(100 + 10.5 * 9.9 - 0.5 * 9.7)


# ---------------------------------------------------------------- the real national files


def _national_table(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / "admin" / "france_communes_cog2026.csv", dtype=str, keep_default_na=False)


@pytest.mark.regional
def test_two_departments_from_the_national_files(data_dir: Path) -> None:
    inputs = load_territory_inputs("departments:18,36", data_dir)
    table = _national_table(data_dir)
    mine = table[table["departement"].isin(["18", "36"])]
    assert sorted(inputs.units["unit_id"]) == sorted(mine["code_insee"])
    assert inputs.units["population"].sum() == mine["population"].astype(int).sum()
    assert set(inputs.departments["department"]) == {"18", "36"}
    assert set(inputs.departments["name"]) == {"Cher", "Indre"}
    # the facilities are those of the compiled list within 30 km of the two departments
    area = shapely.buffer(shapely.union_all(inputs.communes.to_crs(2154).geometry.to_numpy()), 30_000)
    listed = pd.read_csv(data_dir / "facilities" / "cvl_primary_care_facilities_compiled.csv")
    opened = listed[listed["status"] == "open"]
    points = gpd.GeoSeries(gpd.points_from_xy(opened["lon"], opened["lat"]), crs=4326).to_crs(2154)
    near = set(opened.loc[points.within(area).to_numpy(), "facility_id"])
    assert near <= set(inputs.facilities["facility_id"])
    assert 30 < len(near) < len(opened)  # some of the region's facilities are farther away


@pytest.mark.regional
def test_brittany_has_its_people_and_no_known_facility(data_dir: Path) -> None:
    inputs = load_territory_inputs("region:53", data_dir)
    # the data folder's README, section 14: Bretagne 1,202 communes, 3,449,370 inhabitants
    assert len(inputs.units) == 1202 and inputs.units["population"].sum() == 3_449_370
    assert inputs.facilities.empty  # the shipped list stops at Centre-Val de Loire
    assert sorted(inputs.departments["department"]) == ["22", "29", "35", "56"]
    # every unit lies within 1 km of its commune (a wrong town hall was moved inside)
    units = inputs.units.to_crs(2154)
    polygons = gpd.GeoSeries(inputs.units["area"], crs=4326).to_crs(2154)
    has = polygons.notna() & ~polygons.is_empty
    assert (units.geometry[has].distance(polygons[has], align=False) <= 1000).all()


@pytest.mark.regional
def test_an_epci_and_bad_codes(data_dir: Path) -> None:
    table = _national_table(data_dir)
    bourges = table.loc[table["code_insee"] == "18033", "epci_siren"].iloc[0]
    inputs = load_territory_inputs(f"epci:{bourges}", data_dir, road_buffer_m=5_000)
    assert sorted(inputs.units["unit_id"]) == sorted(table.loc[table["epci_siren"] == bourges, "code_insee"])
    with pytest.raises(InputDataError, match="99 is not a region of metropolitan France"):
        load_territory_inputs("region:99", data_dir)
    with pytest.raises(InputDataError, match="971 is not a department of metropolitan France"):
        load_territory_inputs("departments:971", data_dir)
    with pytest.raises(InputDataError, match="no commune of metropolitan France has EPCI 123"):
        load_territory_inputs("epci:123", data_dir)


@pytest.mark.regional
def test_the_command_line_analyses_a_territory(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "indre"
    code = main(
        [
            *("analyse", "--territory", "departments:36", "--data-dir", str(data_dir), "--out", str(out), "-q"),
            *("--no-map", "--no-report", "--no-isochrones"),
        ]
    )
    assert code == 0
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["regional"] == {"territory": "departments:36", "territory_buffer_m": 30000.0}
    units = pd.read_csv(out / "population_access.csv", dtype={"unit_id": str})
    table = _national_table(data_dir)
    assert units["population"].sum() == table.loc[table["departement"] == "36", "population"].astype(int).sum()
    assert units["minutes_to_nearest"].notna().mean() > 0.99  # the Indre has facilities


def test_the_command_line_refuses_a_territory_with_its_own_roads(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["analyse", "--territory", "region:53", "--roads", "r.gpkg", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--territory reads the roads and the communes" in capsys.readouterr().err
    code = main(["optimise", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "optimise needs --facilities and --population, or --territory" in capsys.readouterr().err


@pytest.mark.regional
def test_a_territory_with_the_planners_own_facilities(data_dir: Path, tmp_path: Path) -> None:
    facilities = tmp_path / "msp.csv"
    facilities.write_text(
        "facility_id,name,type,lon,lat\n"
        "B,MSP Brest,msp,-4.484541,48.391693\n"  # at Brest's town hall
        "Q,MSP Quimper,msp,-4.102035,47.996194\n"  # at Quimper's
        "P,Centre Paris,centre_sante,2.3429235,48.8565931\n",  # 500 km away: outside the buffer
        "utf-8",
    )
    out = tmp_path / "finistere"
    code = main(
        [
            *("analyse", "--territory", "departments:29", "--facilities", str(facilities)),
            *("--data-dir", str(data_dir), "--out", str(out), "-q", "--no-map", "--no-report", "--no-isochrones"),
        ]
    )
    assert code == 0
    kept = pd.read_csv(out / "facilities.csv", dtype=str)
    assert sorted(kept["facility_id"]) == ["B", "Q"]
    units = pd.read_csv(out / "population_access.csv", dtype={"unit_id": str, "nearest_facility": str}).set_index(
        "unit_id"
    )
    assert units.loc["29019", "nearest_facility"] == "B" and units.loc["29232", "nearest_facility"] == "Q"
    # a facility at the town hall joins the same node: the drive is the straight leg there and back,
    # at the default 30 km/h, 2 x metres / 500 (m per minute); no road between
    for town in ("29019", "29232"):
        row = units.loc[town]
        assert row["minutes_to_nearest"] == pytest.approx(2 * row["snap_distance_m"] / 500)
    # Ouessant (29155) has no road in the file: unreachable, not covered
    assert np.isnan(units.loc["29155", "minutes_to_nearest"])
