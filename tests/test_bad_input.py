"""Bad input: every reader, the analysis, the export and the command line fail clearly.

Each test checks the type of the error (``InputDataError`` or one of its subclasses,
``OutputExistsError`` for output folders) and that its message names the file, the
line / feature or field at fault, and what was expected.

The invalid inputs are small hand-written text files in ``tests/data/invalid/``;
binary ones (GeoPackage, Shapefile) and the valid inputs some tests need are built in
``tmp_path``.  Nothing here reads the regional data folder, so the file runs offline in
a few seconds.
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

import coverage as cov
import coverage.outputs.write
from coverage import (
    InputDataError,
    InputFileNotFoundError,
    NoFacilityReachableError,
    OutputExistsError,
    UnknownRoadClassError,
)
from coverage.cli import main as cli_main
from coverage.io.facilities import read_finess
from coverage.io.roads import read_graphml, read_osm, read_road_lines
from coverage.network import graph_from_lines

INVALID = Path(__file__).parent / "data" / "invalid"

# A point of Lambert-93 (EPSG:2154) near Bourges; the test networks are built around it.
X0, Y0 = 650_000.0, 6_670_000.0
FAR_M = 100_000.0  # 100 km: far beyond the default max_snap_m of 5 km


def invalid(name: str) -> Path:
    """A file of tests/data/invalid, checked to exist (a typo here must not pass as 'file not found')."""
    path = INVALID / name
    assert path.is_file(), f"missing test input {path}"
    return path


def q(path: Path | str) -> str:
    """A path as a regular expression matching it literally."""
    return re.escape(str(path))


def snapshot(folder: Path) -> dict[str, tuple[bytes, int] | str]:
    """Every file (bytes and mtime) and folder below ``folder``, to compare before/after."""
    out: dict[str, tuple[bytes, int] | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        out[rel] = (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else "<dir>"
    return out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def profile() -> cov.SpeedProfile:
    return cov.load_speed_profile()


def tiny_roads() -> gpd.GeoDataFrame:
    """An L of two 2-km 'secondary' roads in Lambert-93, two-way (strongly connected)."""
    return gpd.GeoDataFrame(
        {"cls": ["secondary", "secondary"], "route": ["D1", "D2"]},
        geometry=[
            LineString([(X0, Y0), (X0 + 2000, Y0)]),
            LineString([(X0 + 2000, Y0), (X0 + 2000, Y0 + 2000)]),
        ],
        crs="EPSG:2154",
    )


@pytest.fixture(scope="module")
def tiny_graph(profile):
    return graph_from_lines(tiny_roads(), class_column="cls", profile=profile)


def facilities_at(points: dict[str, tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"facility_id": list(points), "name": [f"MSP {k}" for k in points], "type": ["msp"] * len(points)},
        geometry=[Point(xy) for xy in points.values()],
        crs="EPSG:2154",
    )


def units_at(points: dict[str, tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"unit_id": list(points), "name": [f"Commune {k}" for k in points], "population": [100.0] * len(points)},
        geometry=[Point(xy) for xy in points.values()],
        crs="EPSG:2154",
    )


NO_ISO = cov.AnalysisConfig(thresholds_min=(10, 20), isochrones=False)


@pytest.fixture(scope="module")
def tiny_result(tiny_graph):
    """A small finished analysis (one unit 100 km away, so every output layer has rows)."""
    facilities = facilities_at({"F1": (X0 + 1000, Y0 + 10)})
    units = units_at({"U1": (X0 + 100, Y0 + 50), "U2": (X0 + 2000, Y0 + 1500), "FAR": (X0 - FAR_M, Y0)})
    return cov.analyse(tiny_graph, facilities, units, NO_ISO)


def write_without_crs(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write a layer with no CRS (a Shapefile without .prj, a GeoPackage with crs=None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyogrio: "'crs' was not provided"
        frame.set_crs(None, allow_override=True).to_file(path, engine="pyogrio")


FACILITIES_CSV = "facility_id,name,type,status,lon,lat\nF1,MSP de Bourges,msp,open,{lon:.6f},{lat:.6f}\n"
COMMUNES_CSV = "code_insee,nom,departement,population\n18033,Bourges,18,64000\n"


@pytest.fixture
def valid_inputs(tmp_path: Path) -> dict[str, Path]:
    """Valid inputs for the CLI and for the 'inputs are never modified' tests."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    roads = folder / "roads.gpkg"
    tiny_roads().to_file(roads, layer="roads", engine="pyogrio")
    lonlat = gpd.GeoSeries([Point(X0 + 1000, Y0 + 10)], crs="EPSG:2154").to_crs("EPSG:4326").iloc[0]
    facilities = folder / "facilities.csv"
    facilities.write_text(FACILITIES_CSV.format(lon=lonlat.x, lat=lonlat.y), "utf-8")
    communes = folder / "communes.csv"
    communes.write_text(COMMUNES_CSV, "utf-8")
    town_halls = folder / "town_halls.gpkg"
    gpd.GeoDataFrame({"code_insee": ["18033"]}, geometry=[Point(X0 + 100, Y0 + 50)], crs="EPSG:2154").to_file(
        town_halls, engine="pyogrio"
    )
    filosofi = folder / "filosofi.csv"
    filosofi.write_text("Idcar_200m,Ind\nCRS3035RES200mN2673000E3761400,12.5\n", "utf-8")
    finess = folder / "finess.csv"
    lines = invalid("finess_malformed_line.csv").read_text("utf-8").splitlines()
    del lines[2]  # the malformed structureet line; the rest is a valid extraction
    finess.write_text("\n".join(lines) + "\n", "utf-8")
    speeds = folder / "speeds.toml"
    speeds.write_text('[speeds_kph]\nsecondary = 60\n\n[classes]\n"chemin" = "unclassified"\n', "utf-8")
    config = folder / "config.toml"
    config.write_text("[analysis]\nthresholds_min = [10, 20]\nisochrones = false\n", "utf-8")
    return {
        "folder": folder,
        "roads": roads,
        "facilities": facilities,
        "communes": communes,
        "town_halls": town_halls,
        "filosofi": filosofi,
        "finess": finess,
        "speeds": speeds,
        "config": config,
    }


# --------------------------------------------------------------------- missing files


MISSING_CASES = {
    "roads": (lambda p, prof: cov.read_roads(p, profile=prof, class_column="cls"), "road network", "roads.gpkg"),
    "road lines": (
        lambda p, prof: read_road_lines(p, profile=prof, class_column="cls"),
        "road layer",
        "roads.gpkg",
    ),
    "osm": (lambda p, prof: read_osm(p, profile=prof), "OSM file", "roads.osm.pbf"),
    "graphml": (lambda p, prof: read_graphml(p, profile=prof), "GraphML file", "network.graphml"),
    "facilities": (lambda p, prof: cov.read_facilities(p), "facilities file", "facilities.csv"),
    "finess": (lambda p, prof: read_finess(p), "FINESS file", "etalab-cs1100507-stock.csv"),
    "communes": (lambda p, prof: cov.read_communes(p), "commune table", "communes.csv"),
    "filosofi": (lambda p, prof: cov.read_filosofi(p), "Filosofi grid", "carreaux_200m.csv"),
    "population layer": (
        lambda p, prof: cov.read_population_layer(p, population_column="pop", id_column="id"),
        "population layer",
        "population.gpkg",
    ),
    "speed profile": (lambda p, prof: cov.load_speed_profile(p), "speed profile", "speeds.toml"),
    "config": (lambda p, prof: cov.load_config(p), "configuration", "analysis.toml"),
}


@pytest.mark.parametrize("case", list(MISSING_CASES))
def test_missing_file(case, tmp_path, profile):
    read, what, name = MISSING_CASES[case]
    path = tmp_path / "nowhere" / name
    with pytest.raises(InputFileNotFoundError, match=f"^{what} {q(path)}: file not found$") as info:
        read(path, profile)
    assert isinstance(info.value, FileNotFoundError)  # callers can catch the built-in


def test_missing_commune_polygons(tmp_path):
    table = tmp_path / "communes.csv"
    table.write_text(COMMUNES_CSV, "utf-8")
    missing = tmp_path / "communes.gpkg"
    with pytest.raises(InputFileNotFoundError, match=f"^commune polygons {q(missing)}: file not found$"):
        cov.read_communes(table, polygons=missing)


def test_a_folder_is_not_a_file(tmp_path):
    folder = tmp_path / "facilities.gpkg"
    folder.mkdir()
    with pytest.raises(InputDataError, match=f"facilities file {q(folder)}: is a folder; expected a file"):
        cov.read_facilities(folder)


# ----------------------------------------------------------------- unreadable formats


def test_text_file_named_gpkg(profile):
    path = invalid("not_a_geopackage.gpkg")
    with pytest.raises(InputDataError, match=f"road layer {q(path)}: not a readable vector file"):
        cov.read_roads(path, profile=profile, class_column="cls")
    with pytest.raises(InputDataError, match=f"facilities file {q(path)}: not a readable vector file"):
        cov.read_facilities(path)
    with pytest.raises(InputDataError, match=f"population layer {q(path)}: not a readable vector file"):
        cov.read_population_layer(path, population_column="population", id_column="code_insee")


def test_garbage_osm(profile):
    path = invalid("garbage.osm")
    with pytest.raises(InputDataError, match=f"OSM file {q(path)}: not a readable OSM XML or PBF file"):
        cov.read_roads(path, profile=profile)


def test_garbage_pbf(tmp_path, profile):
    path = tmp_path / "region.osm.pbf"
    path.write_bytes(b"\x00\x00\x00\x0dnot a pbf blob at all")
    with pytest.raises(InputDataError, match=f"OSM file {q(path)}: not a readable OSM XML or PBF file"):
        cov.read_roads(path, profile=profile)


def test_garbage_graphml(tmp_path, profile):
    path = tmp_path / "network.graphml"
    path.write_text("<graphml><graph", "utf-8")
    with pytest.raises(InputDataError, match=f"GraphML file {q(path)}: not a readable GraphML road graph"):
        cov.read_roads(path, profile=profile)


def test_speed_profile_not_toml():
    path = invalid("speeds_not_toml.toml")
    with pytest.raises(InputDataError, match=f"speed profile {q(path)}: not valid TOML \\(.*line 1"):
        cov.load_speed_profile(path)


def test_config_not_toml():
    path = invalid("config_not_toml.toml")
    with pytest.raises(InputDataError, match=f"configuration {q(path)}: not valid TOML \\(.*line 1"):
        cov.load_config(path)


def test_speed_profile_not_utf8():
    """A TOML file saved as Latin-1 (Windows 'ANSI'): TOML must be UTF-8, say so."""
    path = invalid("speeds_latin1.toml")
    with pytest.raises(InputDataError, match=f"speed profile {q(path)}: .*UTF-8"):
        cov.load_speed_profile(path)


def test_config_not_utf8():
    path = invalid("config_latin1.toml")
    with pytest.raises(InputDataError, match=f"configuration {q(path)}: .*UTF-8"):
        cov.load_config(path)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("speeds_not_a_table.toml", r"\[speeds_kph\] must be a table"),
        ("speeds_wrong_type.toml", r"default_kph.*((positive|number).*'fifty'|'fifty'.*(positive|number))"),
        ("speeds_negative_speed.toml", r"class 'secondary' is -65; expected a positive number of km/h"),
    ],
)
def test_speed_profile_bad_values_name_the_file(name, pattern):
    path = invalid(name)
    with pytest.raises(InputDataError, match=f"{q(path)}.*{pattern}"):
        cov.load_speed_profile(path)


# --------------------------------------------------------------------------- no CRS


def test_shapefile_without_prj(tmp_path, profile):
    path = tmp_path / "roads.shp"
    write_without_crs(tiny_roads(), path)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(InputDataError, match=f"road layer {q(path)}: the layer has no CRS; expected one"):
        cov.read_roads(path, profile=profile, class_column="cls")


def test_geopackage_without_crs(tmp_path):
    points = gpd.GeoDataFrame(
        {"facility_id": ["F1"], "code_insee": ["18033"], "population": [64000]},
        geometry=[Point(X0, Y0)],
        crs="EPSG:2154",
    )
    path = tmp_path / "points.gpkg"
    write_without_crs(points, path)
    with pytest.raises(InputDataError, match=f"facilities file {q(path)}: the layer has no CRS; expected one"):
        cov.read_facilities(path)
    with pytest.raises(InputDataError, match=f"population layer {q(path)}: the layer has no CRS; expected one"):
        cov.read_population_layer(path, population_column="population", id_column="code_insee")


def test_line_frame_without_crs(profile):
    lines = tiny_roads().set_crs(None, allow_override=True)
    with pytest.raises(InputDataError, match="my roads: the layer has no CRS; expected one"):
        graph_from_lines(lines, class_column="cls", profile=profile, source="my roads")


# ------------------------------------------------------------- missing or misspelled columns


def test_population_column_misspelled():
    path = invalid("communes_misspelled_population.csv")
    with pytest.raises(
        InputDataError,
        match=f"commune table {q(path)}: no column 'population'.*columns are .*'populaton'.*"
        r"Did you mean 'populaton'\?",
    ):
        cov.read_communes(path)


def test_facility_id_column_misspelled():
    path = invalid("facilities_misspelled_id.csv")
    with pytest.raises(
        InputDataError,
        match=f"facilities file {q(path)}: no column 'facility_id'.*Did you mean 'facilty_id'\\?",
    ):
        cov.read_facilities(path)


def test_class_column_absent(profile):
    path = invalid("roads_no_class.geojson")
    with pytest.raises(
        InputDataError, match=f"road layer {q(path)}: no column 'system'; columns are \\['route', 'nom'\\]"
    ):
        cov.read_roads(path, profile=profile, class_column="system")


def test_class_column_not_given_for_a_line_layer(profile):
    path = invalid("roads_no_class.geojson")
    with pytest.raises(InputDataError, match=f"road layer {q(path)}: .*road-class column \\(--class-column\\)"):
        cov.read_roads(path, profile=profile)


def test_class_column_misspelled_suggests_the_right_name(profile):
    """As the other readers do (find_column), a misspelled class column gets a suggestion."""
    path = invalid("roads_unknown_class.geojson")
    with pytest.raises(InputDataError, match=f"road layer {q(path)}: no column 'class'.*Did you mean 'classe'\\?"):
        cov.read_roads(path, profile=profile, class_column="class")


def test_filosofi_without_population_column(tmp_path):
    path = tmp_path / "carreaux.csv"
    path.write_text("Idcar_200m,Men\nCRS3035RES200mN2673000E3761400,5\n", "utf-8")
    with pytest.raises(InputDataError, match=f"Filosofi grid {q(path)}: no column 'ind'.*columns are"):
        cov.read_filosofi(path)


def test_facilities_csv_without_coordinates(tmp_path):
    path = tmp_path / "facilities.csv"
    path.write_text("facility_id,name,type\nF1,MSP,msp\n", "utf-8")
    with pytest.raises(InputDataError, match=f"facilities file {q(path)}.*no column 'x'; columns are"):
        cov.read_facilities(path)


# ----------------------------------------------------------------------- duplicate ids


def test_duplicate_facility_ids():
    path = invalid("facilities_duplicate_id.csv")
    with pytest.raises(
        InputDataError,
        match=f"facilities file {q(path)}: duplicate values in id column 'facility_id': "
        r"'F1' \(line 2\), 'F1' \(line 4\)",
    ):
        cov.read_facilities(path)


def test_duplicate_commune_codes():
    path = invalid("communes_duplicate_code.csv")
    with pytest.raises(
        InputDataError,
        match=f"commune table {q(path)}: duplicate values in id column 'code_insee': "
        r"'18002' \(line 3\), '18002' \(line 5\)",
    ):
        cov.read_communes(path)


def test_duplicate_filosofi_cells():
    path = invalid("filosofi_duplicate_cell.csv")
    with pytest.raises(
        InputDataError,
        match=f"Filosofi grid {q(path)}: duplicate values .*'CRS3035RES200mN2673000E3761400' " r"\(line 2\)",
    ):
        cov.read_filosofi(path)


def test_duplicate_finess_ids_name_the_lines():
    """The FINESS extraction is a text file: a duplicate is found on a line, not a 'feature'."""
    path = invalid("finess_duplicate_id.csv")
    with pytest.raises(
        InputDataError, match=f"FINESS file {q(path)}: duplicate .*'180012345' \\(line 2\\).*'180012345' \\(line 4\\)"
    ):
        read_finess(path)


def test_duplicate_codes_in_commune_polygons(tmp_path):
    polygons = gpd.GeoDataFrame(
        {"code_insee": ["18033", "18002", "18033"]},
        geometry=[Point(X0, Y0).buffer(500), Point(X0 + 2000, Y0).buffer(500), Point(X0, Y0 + 2000).buffer(500)],
        crs="EPSG:2154",
    )
    path = tmp_path / "communes.gpkg"
    polygons.to_file(path, engine="pyogrio")
    table = tmp_path / "communes.csv"
    table.write_text(COMMUNES_CSV, "utf-8")
    with pytest.raises(InputDataError, match=f"commune polygons {q(path)}: duplicate .*'18033'.*feature 2"):
        cov.read_communes(table, polygons=path)


# -------------------------------------------------------------------- empty tables and layers


def test_header_only_facilities():
    path = invalid("facilities_header_only.csv")
    with pytest.raises(InputDataError, match=f"facilities file {q(path)}: no facility \\(the table is empty\\)"):
        cov.read_facilities(path)


def test_header_only_communes():
    path = invalid("communes_header_only.csv")
    with pytest.raises(InputDataError, match=f"commune table {q(path)}: no commune"):
        cov.read_communes(path)


def test_header_only_filosofi():
    path = invalid("filosofi_header_only.csv")
    with pytest.raises(InputDataError, match=f"Filosofi grid {q(path)}: no cell"):
        cov.read_filosofi(path)


def test_header_only_finess(tmp_path):
    path = tmp_path / "finess.csv"
    path.write_text("finess;etalab;95;2026-11-01\n", "utf-8")
    with pytest.raises(InputDataError, match=f"FINESS file {q(path)}: no 'structureet' line"):
        read_finess(path)


@pytest.mark.parametrize(
    ("read", "what"),
    [
        (cov.read_facilities, "facilities file"),
        (cov.read_communes, "commune table"),
        (cov.read_filosofi, "Filosofi grid"),
    ],
    ids=["facilities", "communes", "filosofi"],
)
def test_empty_csv_file(read, what):
    path = invalid("empty.csv")
    with pytest.raises(InputDataError, match=f"^{what} {q(path)}: the file is empty; expected a header line$"):
        read(path)


def test_empty_road_geopackage(tmp_path, profile):
    path = tmp_path / "roads.gpkg"
    tiny_roads().iloc[:0].to_file(path, layer="roads", engine="pyogrio")
    with pytest.raises(InputDataError, match=f"road layer {q(path)}: the layer has no lines"):
        cov.read_roads(path, profile=profile, class_column="cls")


def test_empty_road_geojson(profile):
    """An empty FeatureCollection has no fields at all; the message must say it is empty."""
    path = invalid("roads_empty.geojson")
    with pytest.raises(InputDataError, match=f"road layer {q(path)}: the layer has no lines"):
        cov.read_roads(path, profile=profile, class_column="system")


def test_empty_population_layer(tmp_path):
    path = tmp_path / "population.gpkg"
    units_at({"U1": (X0, Y0)}).iloc[:0].to_file(path, engine="pyogrio")
    with pytest.raises(InputDataError, match=f"population layer {q(path)}: the layer is empty"):
        cov.read_population_layer(path, population_column="population", id_column="unit_id")


# ---------------------------------------------------------------- non-numeric / negative population


def test_population_not_a_number():
    path = invalid("communes_population_not_number.csv")
    with pytest.raises(
        InputDataError, match=f"commune table {q(path)}: column 'population' must hold numbers; line 3: 'environ 170'"
    ):
        cov.read_communes(path)


def test_population_negative():
    path = invalid("communes_population_negative.csv")
    with pytest.raises(
        InputDataError, match=f"commune table {q(path)}: column 'population' must not be negative; line 4: -1011"
    ):
        cov.read_communes(path)


def test_population_empty_value():
    path = invalid("communes_population_empty.csv")
    expected = f"commune table {q(path)}: column 'population' must hold numbers; line 3"
    with pytest.raises(InputDataError, match=expected) as info:
        cov.read_communes(path)
    assert "nan" not in str(info.value), "an empty cell is reported as 'nan', a value the file does not hold"


def test_filosofi_population_negative():
    path = invalid("filosofi_negative_population.csv")
    with pytest.raises(InputDataError, match=f"Filosofi grid {q(path)}: column 'Ind' must not be negative; line 3: -3"):
        cov.read_filosofi(path)


def test_population_layer_not_a_number(tmp_path):
    layer = units_at({"U1": (X0, Y0), "U2": (X0 + 100, Y0)}).assign(population=["120", "beaucoup"])
    path = tmp_path / "population.gpkg"
    layer.to_file(path, engine="pyogrio")
    with pytest.raises(
        InputDataError,
        match=f"population layer {q(path)}: column 'population' must hold numbers; feature 1: 'beaucoup'",
    ):
        cov.read_population_layer(path, population_column="population", id_column="unit_id")


# -------------------------------------------------------- FINESS, Filosofi, coordinates


def test_finess_malformed_line():
    path = invalid("finess_malformed_line.csv")
    with pytest.raises(
        InputDataError, match=f"FINESS file {q(path)}, line 3: a structureet line has 5 fields; expected 32"
    ):
        read_finess(path)


def test_finess_unknown_line_type():
    path = invalid("finess_unknown_line_type.csv")
    with pytest.raises(
        InputDataError,
        match=f"FINESS file {q(path)}, line 4: unknown line type 'equipementsocial'; "
        "expected 'structureet' or 'geolocalisation'",
    ):
        read_finess(path)


def test_filosofi_bad_cell_id():
    path = invalid("filosofi_bad_cell_id.csv")
    with pytest.raises(
        InputDataError,
        match=f"Filosofi grid {q(path)}, line 4: cell id 'CRS3035RES200mN2673400E376X400' in column 'Idcar_200m' "
        "is not of the form CRS3035RES200mN<north>E<east>",
    ):
        cov.read_filosofi(path)


def test_lonlat_out_of_range():
    path = invalid("facilities_lonlat_out_of_range.csv")
    with pytest.raises(
        InputDataError, match=f"facilities file {q(path)}, line 3: \\(2.3991, 147.0799\\) is not a longitude/latitude"
    ):
        cov.read_facilities(path)


def test_missing_coordinate():
    path = invalid("facilities_missing_coordinate.csv")
    with pytest.raises(InputDataError, match=f"facilities file {q(path)}: column 'lat' must hold numbers; line 3"):
        cov.read_facilities(path)


def test_projected_coordinates_need_a_crs(tmp_path):
    path = tmp_path / "facilities.csv"
    path.write_text(f"facility_id,name,type,x,y\nF1,MSP,msp,{X0},{Y0}\n", "utf-8")
    with pytest.raises(InputDataError, match=f"facilities file {q(path)}: coordinates in columns 'x'/'y' need a CRS"):
        cov.read_facilities(path)


# --------------------------------------------------------------------- unknown road classes


def test_unknown_road_classes_are_an_error(profile):
    path = invalid("roads_unknown_class.geojson")
    with pytest.raises(
        UnknownRoadClassError,
        match=f"road layer {q(path)}, column 'classe': road classes with no speed in profile .*: "
        r"'chemin' \(2 lines\), 'piste' \(1 lines\)\. Add them to \[speeds_kph\] or \[classes\]",
    ) as info:
        cov.read_roads(path, profile=profile, class_column="classe")
    assert info.value.unknown == {"chemin": 2, "piste": 1}
    assert isinstance(info.value, InputDataError)


def test_unknown_road_classes_with_a_default_speed_are_a_warning(profile, caplog):
    path = invalid("roads_unknown_class.geojson")
    with caplog.at_level(logging.WARNING, logger="coverage"):
        graph = cov.read_roads(path, profile=profile.with_default(50), class_column="classe")
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "road classes with no speed" in r.getMessage()
    ]
    assert len(warned) == 1
    assert str(path) in warned[0] and "'chemin' (2 lines)" in warned[0] and "'piste' (1 lines)" in warned[0]
    assert "given 50" in warned[0]
    speeds = {d["road_class"]: d["speed_kph"] for _, _, d in graph.edges(data=True)}
    assert speeds == {"secondary": 65.0, "chemin": 50.0, "piste": 50.0}


def test_unknown_road_classes_in_memory(profile):
    lines = tiny_roads().assign(cls=["secondary", "sentier"])
    with pytest.raises(UnknownRoadClassError, match=r"my layer, column 'cls': .*'sentier' \(1 lines\)"):
        graph_from_lines(lines, class_column="cls", profile=profile, source="my layer")


# ------------------------------------------------------------- points outside the network


def test_all_facilities_far_from_the_network(tiny_graph):
    facilities = facilities_at({"F1": (X0 + FAR_M, Y0), "F2": (X0, Y0 + FAR_M)})
    units = units_at({"U1": (X0 + 100, Y0 + 50)})
    with pytest.raises(
        NoFacilityReachableError, match="none of the 2 facilities is within 5000 m of the road network"
    ) as info:
        cov.analyse(tiny_graph, facilities, units, NO_ISO)
    assert isinstance(info.value, InputDataError)


def test_all_units_far_from_the_network(tiny_graph):
    facilities = facilities_at({"F1": (X0 + 1000, Y0)})
    units = units_at({"U1": (X0 - FAR_M, Y0)})
    with pytest.raises(InputDataError, match="none of the 1 population units is within 5000 m of the road network"):
        cov.analyse(tiny_graph, facilities, units, NO_ISO)


def test_some_points_far_from_the_network(tiny_graph, caplog):
    facilities = facilities_at({"F1": (X0 + 1000, Y0 + 10), "F_FAR": (X0, Y0 + FAR_M)})
    units = units_at({"U1": (X0 + 100, Y0 + 50), "U_FAR": (X0 - FAR_M, Y0), "U2": (X0 + 2000, Y0 + 1500)})
    with caplog.at_level(logging.WARNING, logger="coverage"):
        result = cov.analyse(tiny_graph, facilities, units, NO_ISO)

    out = result.units.set_index("unit_id")
    assert math.isnan(out.loc["U_FAR", "minutes_to_nearest"])
    assert bool(out.loc["U_FAR", "beyond_max_snap"]) is True
    assert out.loc[["U1", "U2"], "minutes_to_nearest"].notna().all()
    assert not out.loc[["U1", "U2"], "beyond_max_snap"].any()
    fac = result.facilities.set_index("facility_id")
    assert bool(fac.loc["F_FAR", "beyond_max_snap"]) is True
    assert set(out["nearest_facility"].dropna()) == {"F1"}
    summary = result.summary.set_index("threshold_min")
    assert (summary["population_unreachable"] == 100.0).all()

    warnings_ = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("population units" in m and "U_FAR (100.0 km)" in m for m in warnings_), warnings_
    assert any("facilities" in m and "F_FAR (" in m for m in warnings_), warnings_
    assert not any("U1" in m or "U2" in m for m in warnings_)


# -------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"thresholds_min": (10, -20, 30)}, r"thresholds(_min)? must be positive.*-20"),
        ({"thresholds_min": (0,)}, r"thresholds(_min)? must be positive"),
        ({"thresholds_min": ()}, r"thresholds(_min)? must be positive"),
        ({"access_speed_kph": 0}, r"access_speed_kph must be positive, got 0"),
        ({"access_speed_kph": -30}, r"access_speed_kph must be positive, got -30"),
        ({"access_speed_kph": float("nan")}, r"access_speed_kph must be positive, got nan"),
        ({"max_snap_m": -1}, r"max_snap_m must be >= 0, got -1"),
        ({"isochrone_buffer_m": 0}, r"isochrone_buffer_m must be positive, got 0"),
    ],
    ids=[
        "negative-threshold",
        "zero-threshold",
        "no-threshold",
        "zero-access-speed",
        "negative-access-speed",
        "nan-access-speed",
        "negative-max-snap",
        "zero-buffer",
    ],
)
def test_invalid_analysis_config(kwargs, pattern):
    with pytest.raises(InputDataError, match=pattern):
        cov.AnalysisConfig(**kwargs)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("config_negative_threshold.toml", r"thresholds(_min)?.*-20"),
        ("config_zero_access_speed.toml", r"access_speed_kph.*positive"),
        ("config_wrong_type.toml", r"access_speed_kph.*'fast'"),
        ("config_unknown_key.toml", r"unknown keys \['threshold_min'\] in \[analysis\]"),
    ],
)
def test_invalid_config_file_names_the_file(name, pattern):
    path = invalid(name)
    with pytest.raises(InputDataError, match=f"configuration {q(path)}.*{pattern}"):
        cov.load_config(path)


# ---------------------------------------------------------------------------- output folder


def test_output_folder_not_a_previous_run(tiny_result, tmp_path):
    target = tmp_path / "my-documents"
    target.mkdir()
    (target / "notes.txt").write_text("rapport ARS, ne pas effacer\n", "utf-8")
    (target / "sub").mkdir()
    (target / "sub" / "carte.qgz").write_bytes(b"\x00qgis")
    before = snapshot(target)
    expected = f"output folder {q(target)} exists and is not a previous output .*run.json"
    with pytest.raises(OutputExistsError, match=expected):
        cov.write_analysis(tiny_result, target)
    assert snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-documents"]  # no temporary folder


def test_output_folder_with_a_foreign_run_json(tiny_result, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "run.json").write_text(json.dumps({"tool": "some-other-tool"}), "utf-8")
    before = snapshot(target)
    with pytest.raises(OutputExistsError, match=q(target)):
        cov.write_analysis(tiny_result, target)
    assert snapshot(target) == before


def test_output_path_is_a_file(tiny_result, tmp_path):
    target = tmp_path / "out"
    target.write_text("not a folder", "utf-8")
    with pytest.raises(OutputExistsError, match=q(target)):
        cov.write_analysis(tiny_result, target)
    assert target.read_text("utf-8") == "not a folder"


def test_failed_write_leaves_the_previous_run_untouched(tiny_result, tmp_path, monkeypatch):
    target = tmp_path / "out"
    cov.write_analysis(tiny_result, target)  # a previous run
    assert (target / "run.json").is_file() and (target / "network.graphml").is_file()
    before = snapshot(target)

    def broken(graph, path):
        Path(path).write_text("<graphml half written", "utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(coverage.outputs.write, "save_graphml", broken)
    with pytest.raises(OSError, match="disk full"):
        cov.write_analysis(tiny_result, target)
    assert snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .out.tmp-* or .out.old-* left


def test_failed_first_write_leaves_nothing(tiny_result, tmp_path, monkeypatch):
    def broken(graph, path):
        raise OSError("disk full")

    monkeypatch.setattr(coverage.outputs.write, "save_graphml", broken)
    with pytest.raises(OSError, match="disk full"):
        cov.write_analysis(tiny_result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------- inputs are never modified


READERS = {
    "roads": lambda i, prof: cov.read_roads(i["roads"], profile=prof, class_column="cls"),
    "facilities": lambda i, prof: cov.read_facilities(i["facilities"]),
    "communes": lambda i, prof: cov.read_communes(i["communes"]),
    "filosofi": lambda i, prof: cov.read_filosofi(i["filosofi"]),
    "finess": lambda i, prof: read_finess(i["finess"]),
    "speeds": lambda i, prof: cov.load_speed_profile(i["speeds"]),
    "config": lambda i, prof: cov.load_config(i["config"], thresholds_min=(15,)),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_reading_does_not_modify_inputs(reader, valid_inputs, profile):
    before = snapshot(valid_inputs["folder"])
    READERS[reader](valid_inputs, profile)
    assert snapshot(valid_inputs["folder"]) == before  # same bytes, same mtimes, no sidecar file


def test_failing_readers_do_not_modify_inputs(profile):
    before = snapshot(INVALID)
    calls = [
        lambda: cov.read_facilities(INVALID / "facilities_duplicate_id.csv"),
        lambda: cov.read_communes(INVALID / "communes_population_negative.csv"),
        lambda: cov.read_filosofi(INVALID / "filosofi_bad_cell_id.csv"),
        lambda: read_finess(INVALID / "finess_malformed_line.csv"),
        lambda: cov.read_roads(INVALID / "roads_unknown_class.geojson", profile=profile, class_column="classe"),
        lambda: cov.read_roads(INVALID / "not_a_geopackage.gpkg", profile=profile, class_column="cls"),
        lambda: cov.load_speed_profile(INVALID / "speeds_not_toml.toml"),
    ]
    for call in calls:
        with pytest.raises(InputDataError):
            call()
    assert snapshot(INVALID) == before


# ----------------------------------------------------------------------------- command line


def cli_args(inputs: dict[str, Path], out: Path | str, *extra: str, **replace: Path) -> list[str]:
    """``couverture analyse`` on the small inputs, with ``extra`` options and files replaced."""
    paths = {**inputs, **replace}
    return [
        "analyse",
        "--roads", str(paths["roads"]), "--class-column", "cls",
        "--facilities", str(paths["facilities"]),
        "--population", str(paths["communes"]), "--town-halls", str(paths["town_halls"]),
        "--speeds", str(paths["speeds"]),
        "--config", str(paths["config"]),
        "--no-map",
        "--out", str(out),
        *extra,
    ]  # fmt: skip


CLI_MISSING = {
    "roads": "road network",
    "facilities": "facilities file",
    "communes": "commune table",
    "speeds": "speed profile",
    "config": "configuration",
}


@pytest.mark.parametrize("which", list(CLI_MISSING))
def test_cli_missing_file(which, valid_inputs, tmp_path, capsys):
    missing = tmp_path / f"missing-{which}{valid_inputs[which].suffix}"
    out = tmp_path / "out"
    code = cli_main(cli_args(valid_inputs, out, **{which: missing}))
    captured = capsys.readouterr()
    assert code == 2
    assert f"{CLI_MISSING[which]} {missing}: file not found" in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()


def test_cli_bad_config_value(valid_inputs, tmp_path, capsys):
    """A wrongly typed config value is a clear error (exit code 2), not a traceback."""
    path = invalid("config_wrong_type.toml")
    code = cli_main(cli_args(valid_inputs, tmp_path / "out", config=path))
    captured = capsys.readouterr()
    assert code == 2
    assert str(path) in captured.err and "access_speed_kph" in captured.err


def test_cli_refuses_a_foreign_output_folder(valid_inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", "utf-8")
    before = snapshot(out)
    code = cli_main(cli_args(valid_inputs, out))
    captured = capsys.readouterr()
    assert code == 2
    assert f"output folder {out} exists and is not a previous output" in captured.err
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "out"]  # no temporary folder


def test_cli_succeeds_on_the_valid_inputs(valid_inputs, tmp_path, capsys):
    """Control: the inputs of the CLI tests above are valid, so each failure is the one intended."""
    out = tmp_path / "out"
    assert cli_main([*cli_args(valid_inputs, out), "-q"]) == 0
    assert (out / "run.json").is_file()
    assert np.isfinite(pd.read_csv(out / "population_access.csv")["minutes_to_nearest"]).all()
