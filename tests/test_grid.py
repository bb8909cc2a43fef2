"""The tiled population grid (coverage.io.grid) on hand-made tiles and on the shipped
Eurostat census tiles, and facilities read from several files.

Hand-made tiling: cells of 1 km, tiles of 4 x 4 cells, origin (100 km, 200 km) in
EPSG:3035.  A cell at column x, row y of tile i/j has its south-west corner at
X = 100,000 + (4 i + x) * 1,000 and Y = 200,000 + (4 j + y) * 1,000.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.io.admin import read_communes
from coverage.io.facilities import read_facilities
from coverage.io.grid import population_from_grid, read_grid_tiles

GRID_CRS = "EPSG:3035"


def write_tiling(folder: Path, tiles: dict[tuple[int, int], pd.DataFrame], **info: object) -> Path:
    """A resolution folder ``folder/1000`` with info.json and one Parquet file per tile."""
    root = folder / "1000"
    root.mkdir(parents=True)
    meta = {"crs": "", "tileSizeCell": 4, "originPoint": {"x": 100_000, "y": 200_000}, "resolutionGeo": 1000}
    meta.update(info)
    (root / "info.json").write_text(json.dumps(meta), encoding="utf-8")
    for (i, j), frame in tiles.items():
        (root / str(i)).mkdir(exist_ok=True)
        frame.to_parquet(root / str(i) / f"{j}.parquet", index=False)
    return root


def cells(rows: list[tuple[int, int, int, int, int, int]]) -> pd.DataFrame:
    """Rows (x, y, T, under 15, 15-64, 65+)."""
    return pd.DataFrame(rows, columns=["x", "y", "T", "Y_LT15", "Y_1564", "Y_GE65"])


@pytest.fixture
def tiling(tmp_path: Path) -> Path:
    """Tile 1/2: cells (0, 0) 10 people (2, 5, 3) and (3, 1) 7 people (1, 4, 2);
    tile 0/0: cell (1, 2) 5 people (0, 5, 0)."""
    return write_tiling(
        tmp_path / "grid",
        {
            (1, 2): cells([(0, 0, 10, 2, 5, 3), (3, 1, 7, 1, 4, 2)]),
            (0, 0): cells([(1, 2, 5, 0, 5, 0)]),
        },
    )


def test_cells_are_decoded_from_tile_and_position(tiling: Path) -> None:
    units = read_grid_tiles(tiling).set_index("unit_id")
    # tile 1/2, cell (0, 0): corner (104 km, 208 km); cell (3, 1): (107 km, 209 km);
    # tile 0/0, cell (1, 2): (101 km, 202 km)
    assert sorted(units.index) == [
        "CRS3035RES1000mN202000E101000",
        "CRS3035RES1000mN208000E104000",
        "CRS3035RES1000mN209000E107000",
    ]
    cell = units.loc["CRS3035RES1000mN209000E107000"]
    assert (cell.geometry.x, cell.geometry.y) == (107_500.0, 209_500.0)
    assert cell["area"].equals(shapely.box(107_000, 209_000, 108_000, 210_000))
    assert cell["population"] == 7.0
    assert (cell["Y_LT15"], cell["Y_1564"], cell["Y_GE65"]) == (1.0, 4.0, 2.0)
    assert units.crs == GRID_CRS
    assert units["population"].sum() == 22.0 and units["Y_1564"].sum() == 14.0
    assert units["commune"].isna().all()


def test_the_parent_folder_with_one_resolution_is_accepted(tiling: Path) -> None:
    assert len(read_grid_tiles(tiling.parent)) == 3


def test_only_the_tiles_meeting_the_area_are_read(tiling: Path) -> None:
    """Tile 0/0 is replaced by a file that is not Parquet: an area around tile 1/2's first
    cell never opens it, while reading every tile names it."""
    (tiling / "0" / "0.parquet").write_bytes(b"not parquet")
    area = gpd.GeoSeries([shapely.box(104_100, 208_100, 104_900, 208_900)], crs=GRID_CRS)
    units = read_grid_tiles(tiling, area=area)
    assert units["unit_id"].tolist() == ["CRS3035RES1000mN208000E104000"]
    with pytest.raises(InputDataError, match=r"0\.parquet: not a readable Parquet file"):
        read_grid_tiles(tiling)


def test_a_buffer_widens_the_area_in_metres(tiling: Path) -> None:
    """The area is the first cell's square shrunk to its centre's 100 m; its second cell
    (3, 1) has its centre 3 km east and 1 km north of the first's: within a 3,200 m
    buffer, not within 3,000 m."""
    area = gpd.GeoSeries([shapely.box(104_400, 208_400, 104_600, 208_600)], crs=GRID_CRS)
    near = read_grid_tiles(tiling, area=area, buffer_m=3_000, metric_crs=GRID_CRS)
    far = read_grid_tiles(tiling, area=area, buffer_m=3_200, metric_crs=GRID_CRS)
    assert len(near) == 1 and len(far) == 2


def test_cells_of_a_given_area_in_degrees(tiling: Path) -> None:
    """An area given in longitude/latitude is reprojected before it is compared."""
    square = gpd.GeoSeries([shapely.box(104_100, 208_100, 108_000, 210_000)], crs=GRID_CRS).to_crs("EPSG:4326")
    units = read_grid_tiles(tiling, area=square)
    assert sorted(units["population"]) == [7.0, 10.0]


def test_missing_age_bands_leave_units_without_ages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = write_tiling(tmp_path, {(0, 0): pd.DataFrame({"x": [0], "y": [0], "T": [4]})})
    with caplog.at_level(logging.INFO, logger="coverage.io.grid"):
        units = read_grid_tiles(root)
    assert units["population"].tolist() == [4.0] and "Y_LT15" not in units
    assert "no age bands" in caplog.text
    with pytest.raises(InputDataError, match=r"no age column \['A'\]"):
        read_grid_tiles(root, age_columns=["A"])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((4, 0, 1, 0, 1, 0), r"row 2: x = 4; expected a whole number from 0 to 3"),
        ((0, -1, 1, 0, 1, 0), r"row 2: y = -1; expected a whole number from 0 to 3"),
        ((0, 1, -3, 0, 1, 0), r"row 2: T = -3; expected a count of 0 or more"),
        ((0, 0, 2, 0, 2, 0), r"row 2: cell x=0, y=0 twice"),
    ],
)
def test_a_bad_cell_is_named_by_file_and_row(tmp_path: Path, row: tuple[int, ...], message: str) -> None:
    root = write_tiling(tmp_path, {(0, 0): cells([(0, 0, 1, 0, 1, 0), row])})  # type: ignore[list-item]
    with pytest.raises(InputDataError, match=message):
        read_grid_tiles(root)


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ({"resolutionGeo": 0}, "resolutionGeo must be positive"),
        ({"tileSizeCell": 2.5}, "tileSizeCell must be a whole number"),
        ({"originPoint": {"x": "a", "y": 0}}, "originPoint.x must be a finite number"),
        ({"crs": "4326"}, "is not projected"),
        ({"crs": "EPSG:999999"}, "unknown CRS"),
    ],
)
def test_a_bad_tiling_is_refused_in_one_line(tmp_path: Path, info: dict[str, object], message: str) -> None:
    root = write_tiling(tmp_path, {(0, 0): cells([(0, 0, 1, 0, 1, 0)])}, **info)
    with pytest.raises(InputDataError, match=message):
        read_grid_tiles(root)


def test_a_folder_without_tiling_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="folder not found"):
        read_grid_tiles(tmp_path / "nowhere")
    with pytest.raises(InputDataError, match=r"expected a folder of tiles with an info\.json"):
        read_grid_tiles(tmp_path)


@pytest.mark.parametrize("buffer_m", [-1.0, float("nan"), float("inf")])
def test_a_bad_buffer_is_refused(tiling: Path, buffer_m: float) -> None:
    with pytest.raises(InputDataError, match="buffer_m"):
        read_grid_tiles(tiling, buffer_m=buffer_m)


def test_cells_take_the_commune_of_their_centre(tiling: Path) -> None:
    """Commune A covers x 103.6-106 km, y 207-209.2 km (the centre of cell (0, 0) of tile
    1/2, 104.5/208.5); commune B x 106-109 km, y 209-211 km (the centre 107.5/209.5).
    The cell of tile 0/0 (centre 101.5/202.5) lies in neither and is left out, and only
    the cells whose centre is inside count, whatever the squares overlap."""
    communes = gpd.GeoDataFrame(
        {
            "code_insee": ["37001", "41002"],
            "name": ["A", "B"],
            "department": ["37", "41"],
            "epci": ["200000001", "200000002"],
            "epci_name": ["CC A", "CC B"],
        },
        geometry=[shapely.box(103_600, 207_000, 106_000, 209_200), shapely.box(106_000, 209_000, 109_000, 211_000)],
        crs=GRID_CRS,
    ).to_crs("EPSG:2154")
    units = population_from_grid(tiling, communes).set_index("unit_id")
    assert units["commune"].to_dict() == {
        "CRS3035RES1000mN208000E104000": "37001",
        "CRS3035RES1000mN209000E107000": "41002",
    }
    assert units["commune_name"].tolist() == ["A", "B"]
    assert units["department"].tolist() == ["37", "41"] and units["epci_name"].tolist() == ["CC A", "CC B"]
    assert units["population"].sum() == 17.0 and units["Y_GE65"].sum() == 5.0


def test_facilities_from_two_files(tmp_path: Path) -> None:
    """A CSV in lon/lat and a GeoPackage in Lambert-93: the second is reprojected to the
    first's CRS (checked with pyproj); an id in two files is an error naming both."""
    first = tmp_path / "a.csv"
    first.write_text("facility_id,name,type,lon,lat\nF1,One,msp,1.5,47.5\n", encoding="utf-8")
    second = tmp_path / "b.gpkg"
    gpd.GeoDataFrame(
        {"facility_id": ["F2"], "name": ["Two"], "type": ["centre"]},
        geometry=[shapely.Point(600_000, 6_700_000)],
        crs="EPSG:2154",
    ).to_file(second)
    together = read_facilities([first, second])
    assert together["facility_id"].tolist() == ["F1", "F2"] and together.crs == "EPSG:4326"
    lon, lat = pyproj.Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform(600_000, 6_700_000)
    assert together.geometry.x.tolist() == pytest.approx([1.5, lon])
    assert together.geometry.y.tolist() == pytest.approx([47.5, lat])
    with pytest.raises(InputDataError, match=r"'F1' is in two facilities files: .*a\.csv and .*a\.csv"):
        read_facilities([first, first])
    with pytest.raises(InputDataError, match="no facilities file given"):
        read_facilities([])


# ------------------------------------------------------------------ shipped tiles


@pytest.mark.regional
def test_the_shipped_grid_holds_the_regions_people(data_dir: Path) -> None:
    """The data README (section 10) counts 27,391 cells whose centre lies in a CVL commune
    polygon, 2,569,309 people: 447,439 under 15, 1,539,034 aged 15-64 and 582,852 aged 65
    and over; by department 18: 299,161, 28: 432,098, 36: 216,699, 37: 610,669, 41:
    327,125, 45: 683,557.  The cells holding the town centres of Tours, Orléans and
    Bourges hold 8,537, 7,848 and 4,417 people."""
    polygons = data_dir / "admin/cvl_communes_polygons_datafrance.gpkg"
    communes = read_communes(
        data_dir / "admin/cvl_communes_cog2026_decoupage_administratif.csv",
        polygons=polygons,
        polygons_layer="communes",
    )
    units = population_from_grid(data_dir / "population/eurostat_census2021_1km_tiles", communes)
    assert len(units) == 27_391 and units["unit_id"].is_unique
    assert units["population"].sum() == 2_569_309
    assert units[["Y_LT15", "Y_1564", "Y_GE65"]].sum().tolist() == [447_439, 1_539_034, 582_852]
    by_department = units.groupby("department")["population"].sum().to_dict()
    assert by_department == {
        "18": 299_161,
        "28": 432_098,
        "36": 216_699,
        "37": 610_669,
        "41": 327_125,
        "45": 683_557,
    }
    halls = gpd.read_file(polygons, layer="mairies").set_index("code_insee").to_crs(units.crs)
    squares = gpd.GeoSeries(units["area"].to_numpy(), crs=units.crs)
    for code, people in {"37261": 8_537, "45234": 7_848, "18033": 4_417}.items():
        inside = np.flatnonzero(squares.contains(halls.geometry[code]).to_numpy())
        assert len(inside) == 1
        assert units["population"].iloc[inside[0]] == people
        assert units["commune"].iloc[inside[0]] == code
