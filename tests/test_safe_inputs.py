"""Readers given the files planners really have: Excel encodings, INSEE and FINESS layouts,
misplaced town halls, filtered rows, non-finite numbers, a facility list without GP counts.

Every input is a small file written in ``tmp_path`` by the test itself; expected values
are written by hand.  Nothing here reads the regional data folder.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

import coverage as cov
from coverage.errors import InputDataError
from coverage.io.admin import read_communes, read_departments
from coverage.io.facilities import read_facilities, read_finess
from coverage.io.population import read_population, read_population_layer, with_area_names
from coverage.io.roads import read_graphml, read_road_lines

L93 = "EPSG:2154"
X0, Y0 = 650_000.0, 6_670_000.0  # near Bourges, in Lambert-93


def q(path: Path | str) -> str:
    """A path as a regular expression matching it literally."""
    return re.escape(str(path))


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def commune_polygons(path: Path, town_halls: dict[str, tuple[float, float]]) -> Path:
    """Three 4 km square communes side by side (Lambert-93) and their town-hall points."""
    squares = {
        "18001": box(X0, Y0, X0 + 4000, Y0 + 4000),
        "18002": box(X0 + 4000, Y0, X0 + 8000, Y0 + 4000),
        "18003": box(X0 + 8000, Y0, X0 + 12000, Y0 + 4000),
    }
    gpd.GeoDataFrame({"code_insee": list(squares)}, geometry=list(squares.values()), crs=L93).to_file(
        path, layer="communes", engine="pyogrio"
    )
    gpd.GeoDataFrame(
        {"code_insee": list(town_halls)}, geometry=[Point(xy) for xy in town_halls.values()], crs=L93
    ).to_file(path, layer="mairies", engine="pyogrio")
    return path


COMMUNES_CSV = (
    "code_insee,nom,type,departement,population\n"
    "18001,Achères,commune-actuelle,18,1000\n"
    "18002,Bessais,commune-actuelle,18,2000\n"
    "18003,Crézançay,commune-actuelle,18,3000\n"
)


# ------------------------------------------------------------------ 14. encodings


def test_windows_1252_csv_keeps_oe_quotes_dashes_and_euro(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    name = "Maison de santé d’Œuilly – 5 € « test »"
    path = write(
        tmp_path / "facilities.csv",
        f"facility_id;name;type;lon;lat\nF1;{name};msp;2,40;47,08\nF2;Cœur de ville;msp;2,41;47,09\n",
        "cp1252",
    )
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file is not UTF-8: the fallback is exercised
    with caplog.at_level(logging.DEBUG, logger="coverage"):
        facilities = read_facilities(path)
    assert facilities["name"].tolist() == [name, "Cœur de ville"]
    assert any("cp1252" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    assert facilities.geometry.iloc[0].x == pytest.approx(2.40)


def test_utf8_with_bom_and_latin1_fallback(tmp_path: Path) -> None:
    bom = write(tmp_path / "bom.csv", "\ufeffcode_insee;nom;population\n18001;Œuilly;12\n")
    assert read_communes(bom)["name"].tolist() == ["Œuilly"]
    # 0x81 is undefined in Windows-1252: only Latin-1 decodes this file
    raw = "code_insee;nom;population\n18001;Ã©\x81;12\n".encode("latin-1")
    (tmp_path / "latin1.csv").write_bytes(raw)
    assert read_communes(tmp_path / "latin1.csv")["name"].tolist() == ["Ã©\x81"]


def test_a_workbook_saved_under_a_csv_name_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "communes.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)))
    with pytest.raises(InputDataError, match=f"commune table {q(path)}: this is a workbook"):
        read_communes(path)


# ------------------------------------------------------------------ 10. line numbers


def test_line_numbers_count_filtered_rows_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    text = (
        "code_insee,nom,type,population\n"  # line 1
        "18001,Achères,commune-actuelle,1000\n"  # 2
        "18002,Ancienne,commune-deleguee,10\n"  # 3: filtered out
        "\n"  # 4: blank
        '18003,"Nom sur\ndeux lignes",commune-associee,20\n'  # 5-6: filtered out
        "18004,Bessais,commune-actuelle,environ 170\n"  # 7: the bad value
    )
    path = write(tmp_path / "cog.csv", text)
    with pytest.raises(InputDataError, match=f"commune table {q(path)}: column 'population' .*; line 7: 'environ 170'"):
        read_communes(path)


def test_duplicate_ids_are_named_by_their_file_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "facility_id,lon,lat\n\nF1,2.0,47.0\nF2,2.1,47.1\n\nF1,2.2,47.2\n")
    with pytest.raises(InputDataError, match=r"'F1' \(line 3\), 'F1' \(line 6\)"):
        read_facilities(path)


def test_lonlat_out_of_range_names_its_file_line(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "facility_id,lon,lat\nF1,2.0,47.0\n\n\nF2,2.1,147.1\n")
    with pytest.raises(InputDataError, match=f"facilities file {q(path)}, line 5: "):
        read_facilities(path)


def test_filosofi_bad_cell_named_by_its_file_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "grid.csv",
        "idcar_200m,ind\nCRS3035RES200mN2673000E3761400,3\n\nCRS3035RES200mN2673400E376X400,4\n",
    )
    with pytest.raises(InputDataError, match=f"Filosofi grid {q(path)}, line 4: cell id"):
        cov.read_filosofi(path)


def test_finess_lines_count_quoted_newlines(tmp_path: Path) -> None:
    fields = ["1"] * 31
    good = "structureet;" + ";".join(["180000001", "x", '"MSP\nSUR DEUX LIGNES"', *fields[3:]])
    path = write(tmp_path / "finess.csv", "finess;etalab;1;2026\n" + good + "\nstructureet;1;2\n")
    with pytest.raises(InputDataError, match=f"FINESS file {q(path)}, line 4: a structureet line has 3 fields"):
        read_finess(path)


def test_a_row_with_too_many_fields_names_its_file_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", 'code_insee,nom,population\n18001,"A\nB",5\n\n18002,Bourges, Cher,6\n')
    with pytest.raises(InputDataError, match=f"commune table {q(path)}, line 5: 4 fields where the header has 3"):
        read_communes(path)


# ------------------------------------------------------------------ 11. no GP column


def test_facilities_without_gp_column_and_a_default_supply(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "id,nom,lon,lat\nA,MSP A,2.0,47.0\nB,MSP B,2.1,47.1\n")
    facilities = read_facilities(path, id_column="id", name_column="nom", supply_column="n_gp", default_supply=2.0)
    assert "n_gp" in facilities
    assert facilities["n_gp"].isna().all()  # every cell empty: the study gives each the default
    supply, source = cov.accessibility.facility_supply(facilities, "n_gp", default=2.0)
    assert supply.tolist() == [2.0, 2.0]
    assert source.tolist() == ["default", "default"]


def test_facilities_without_gp_column_nor_default_list_only_the_files_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "id,nom,lon,lat\nA,MSP A,2.0,47.0\n")
    with pytest.raises(InputDataError) as info:
        read_facilities(path, id_column="id", name_column="nom", supply_column="n_gp")
    message = str(info.value)
    assert message.startswith(
        f"facilities file {path}: no supply column 'n_gp'; columns are ['id', 'nom', 'lon', 'lat']"
    )
    assert "facility_id" not in message and "geometry" not in message


def test_gp_column_found_whatever_its_case(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "facility_id,N_GP,lon,lat\nA,3,2.0,47.0\n")
    facilities = read_facilities(path, supply_column="n_gp")
    assert facilities["n_gp"].tolist() == ["3"]


def finess_extraction(path: Path, encoding: str = "utf-8", *, bom: bool = False) -> Path:
    structure = [
        "180012345", "180012337", "MSP BOURGES", "MAISON DE SANTÉ – CŒUR DE BOURGES", "", "", "12", "RUE",
        "DES TESTS", "", "", "033", "18", "CHER", "18000 BOURGES", "", "", "603", "Maison de santé", "2204",
        "Maisons de Santé", "", "8610Z", "99", "x", "99", "x", "2015-03-02", "2015-03-02", "2025-06-30", "",
    ]  # fmt: skip
    text = (
        "finess;etalab;100;2026-11-01\n"
        "structureet;" + ";".join(structure) + "\n"
        "geolocalisation;180012345;654800.0;6668900.5;1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-06-30\n"
    )
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def test_finess_extraction_with_a_default_supply(tmp_path: Path) -> None:
    path = finess_extraction(tmp_path / "etalab-cs1100507-stock.csv")
    facilities = read_facilities(path, supply_column="n_gp", default_supply=1.5)
    assert facilities["facility_id"].tolist() == ["180012345"]
    assert facilities["n_gp"].isna().all()
    with pytest.raises(
        InputDataError, match=f"FINESS file {q(path)}: no supply column 'n_gp'; columns are \\['nofinesset'"
    ):
        read_facilities(path, supply_column="n_gp")


# ------------------------------------------------------------------ 17. INSEE and FINESS layouts


def test_insee_legal_population_table_is_recognised(tmp_path: Path) -> None:
    # The layout of INSEE's "populations légales" commune file, saved from Excel (cp1252, ';').
    text = (
        "REG;Région;DEP;CODARR;CODCAN;CODCOM;COM;Commune;PMUN;PCAP;PTOT\n"
        "24;Centre-Val de Loire;18;181;1801;001;18001;Achères;1 012;15;1 027\n"
        "24;Centre-Val de Loire;18;181;1801;002;18002;Bessais-le-Fromental;2000;10;2010\n"
        "24;Centre-Val de Loire;18;181;1801;003;18003;Crézançay-sur-Cher;3000;0;3000\n"
    )
    path = write(tmp_path / "donnees_communes.csv", text, "cp1252")
    communes = read_communes(path)
    assert communes["code_insee"].tolist() == ["18001", "18002", "18003"]
    assert communes["name"].tolist() == ["Achères", "Bessais-le-Fromental", "Crézançay-sur-Cher"]
    assert communes["population"].tolist() == [1012.0, 2000.0, 3000.0]  # PMUN, not PTOT
    assert communes["department"].tolist() == ["18", "18", "18"]
    gpkg = commune_polygons(tmp_path / "communes.gpkg", {})
    units = read_population(path, commune_polygons=gpkg, commune_polygons_layer="communes", placement="centroid")
    assert units["unit_id"].tolist() == ["18001", "18002", "18003"]
    assert units["population"].sum() == 6012.0


def test_spreadsheet_column_names_are_matched_without_accents_or_separators(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.csv", "Code INSEE;Nom de la commune;Population municipale;Département\n18033;Bourges;64000;18\n"
    )
    communes = read_communes(path)
    assert communes[["code_insee", "name", "population", "department"]].values.tolist() == [
        ["18033", "Bourges", 64000.0, "18"]
    ]


def test_insee_historical_table_takes_the_latest_population(tmp_path: Path) -> None:
    path = write(
        tmp_path / "hist.csv", "CODGEO;REG;DEP;LIBGEO;PMUN2021;PMUN2023;PMUN2022\n1001;84;1;L'Abergement;10;30;20\n"
    )
    communes = read_communes(path)
    assert communes[["code_insee", "name", "population", "department"]].values.tolist() == [
        ["01001", "L'Abergement", 30.0, "01"]
    ]


def test_insee_cog_list_keeps_current_communes(tmp_path: Path) -> None:
    text = "TYPECOM,COM,DEP,LIBELLE,population\nCOM,18001,18,Achères,5\nCOMD,18999,18,Déléguée,1\n"
    communes = read_communes(write(tmp_path / "cog.csv", text))
    assert communes["code_insee"].tolist() == ["18001"]


def test_finess_extraction_with_bom_in_windows_1252_recognised_by_read_facilities(tmp_path: Path) -> None:
    path = finess_extraction(tmp_path / "extraction.csv", "cp1252", bom=False)
    facilities = read_facilities(path)  # no format, no column named
    assert facilities["name"].tolist() == ["MAISON DE SANTÉ – CŒUR DE BOURGES"]
    assert facilities["type"].tolist() == ["msp"]
    bom = finess_extraction(tmp_path / "bom.csv", "utf-8", bom=True)
    assert read_facilities(bom)["facility_id"].tolist() == ["180012345"]


def test_finess_table_with_a_header_is_recognised(tmp_path: Path) -> None:
    text = (
        "nofinesset;rs;rslongue;departement;commune;categetab;coordxet;coordyet\n"
        "180012345;MSP BOURGES;;18;033;603;654800,0;6668900,5\n"
        "180045678;CH TEST;CENTRE HOSPITALIER;18;033;355;655300.7;6667200.1\n"
        "370034567;CDS TOURS;CENTRE DE SANTÉ DE TOURS;37;261;124;525800;6701800\n"
    )
    path = write(tmp_path / "finess_msp.csv", text)
    facilities = read_facilities(path)
    assert facilities["facility_id"].tolist() == ["180012345", "370034567"]  # the hospital is not primary care
    assert facilities["name"].tolist() == ["MSP BOURGES", "CENTRE DE SANTÉ DE TOURS"]
    assert facilities["type"].tolist() == ["msp", "centre_sante"]
    assert facilities["code_insee"].tolist() == ["18033", "37261"]
    assert facilities.crs.to_epsg() == 2154
    assert (facilities.geometry.x.tolist(), facilities.geometry.y.tolist()) == (
        [654800.0, 525800.0],
        [6668900.5, 6701800.0],
    )


def test_finess_table_without_categories_keeps_every_row(tmp_path: Path) -> None:
    path = write(tmp_path / "msp.csv", "nofinesset,rs,coordxet,coordyet\n180012345,MSP A,654800,6668900\n")
    facilities = read_facilities(path)
    assert facilities[["facility_id", "name", "type"]].values.tolist() == [["180012345", "MSP A", "facility"]]


def test_department_names_from_the_departments_file(tmp_path: Path) -> None:
    departments_path = tmp_path / "departements.geojson"
    gpd.GeoDataFrame(
        {"code": ["1", "18"], "nom": ["Ain", "Cher"]},
        geometry=[box(X0 - 50_000, Y0, X0, Y0 + 50_000), box(X0, Y0, X0 + 50_000, Y0 + 50_000)],
        crs=L93,
    ).to_file(departments_path, engine="pyogrio")
    departments = read_departments(departments_path)
    assert departments["department"].tolist() == ["01", "18"]
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["a", "b", "c"],
            "name": ["a", "b", "c"],
            "population": [1.0, 2.0, 3.0],
            "department": pd.array(["01", pd.NA, pd.NA], dtype="string"),
        },
        geometry=[Point(X0 - 10, Y0 + 10), Point(X0 + 10, Y0 + 10), Point(X0 + 10, Y0 - 10_000)],
        crs=L93,
    )
    named = with_area_names(units, departments)
    # b lies in Cher's polygon; c lies in no department polygon
    assert named["department"].tolist()[:2] == ["01", "18"]
    assert pd.isna(named["department"].iloc[2])
    assert named["department_name"].tolist()[:2] == ["Ain", "Cher"]


# ------------------------------------------------------------------ 8. town halls


def test_town_hall_far_outside_its_commune_is_moved_inside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    table = write(tmp_path / "communes.csv", COMMUNES_CSV)
    gpkg = commune_polygons(
        tmp_path / "communes.gpkg",
        {
            "18001": (X0 + 1000, Y0 + 1000),  # inside
            "18002": (X0 + 6000, Y0 + 4300),  # 300 m outside: polygon simplification, kept
            "18003": (X0 + 10_000, Y0 + 9000),  # 5 km outside (north of its square): moved
        },
    )
    with caplog.at_level(logging.WARNING, logger="coverage"):
        communes = read_communes(
            table, polygons=gpkg, polygons_layer="communes", town_halls=gpkg, town_halls_layer="mairies"
        )
    town = communes.set_index("code_insee")["town_hall"].to_crs(L93)
    polygons = communes.set_index("code_insee").geometry.to_crs(L93)
    assert town["18001"].distance(Point(X0 + 1000, Y0 + 1000)) < 1e-3
    assert town["18002"].distance(Point(X0 + 6000, Y0 + 4300)) < 1e-3
    assert polygons["18003"].contains(town["18003"])
    assert town["18003"].distance(Point(X0 + 10_000, Y0 + 2000)) < 1e-3  # the square's centroid
    messages = [m for m in warnings_of(caplog) if "town-hall" in m]
    assert len(messages) == 1
    assert "1 town-hall points" in messages[0] and "18003 Crézançay (5.0 km)" in messages[0]
    assert "18002" not in messages[0]

    units = read_population(
        table,
        commune_polygons=gpkg,
        commune_polygons_layer="communes",
        town_halls=gpkg,
        town_halls_layer="mairies",
    ).set_index("unit_id")
    assert polygons["18003"].contains(units.geometry.to_crs(L93)["18003"])

    kept = read_communes(
        table,
        polygons=gpkg,
        polygons_layer="communes",
        town_halls=gpkg,
        town_halls_layer="mairies",
        town_hall_tolerance_m=None,
    ).set_index("code_insee")
    assert kept["town_hall"].to_crs(L93)["18003"].distance(Point(X0 + 10_000, Y0 + 9000)) < 1e-3


def test_town_hall_fallback_stays_inside_a_concave_commune(tmp_path: Path) -> None:
    # A U-shaped commune: its centroid lies in the notch, outside the polygon.
    u_shape = box(X0, Y0, X0 + 6000, Y0 + 6000).difference(box(X0 + 2000, Y0 + 1000, X0 + 4000, Y0 + 6000))
    assert not u_shape.contains(u_shape.centroid)
    gpkg = tmp_path / "c.gpkg"
    gpd.GeoDataFrame({"code_insee": ["18001"]}, geometry=[u_shape], crs=L93).to_file(gpkg, layer="communes")
    gpd.GeoDataFrame({"code_insee": ["18001"]}, geometry=[Point(X0, Y0 + 20_000)], crs=L93).to_file(
        gpkg, layer="mairies"
    )
    table = write(tmp_path / "t.csv", "code_insee,nom,population\n18001,U,10\n")
    communes = read_communes(
        table, polygons=gpkg, polygons_layer="communes", town_halls=gpkg, town_halls_layer="mairies"
    )
    assert u_shape.contains(communes["town_hall"].to_crs(L93).iloc[0])


# ------------------------------------------------------------------ non-finite numbers


@pytest.mark.parametrize("value", ["inf", "NaN", "-Infinity"])
def test_non_finite_population_names_file_line_and_column(tmp_path: Path, value: str) -> None:
    path = write(tmp_path / "c.csv", f"code_insee,nom,population\n18001,A,5\n\n18002,B,{value}\n")
    with pytest.raises(InputDataError, match=f"commune table {q(path)}: column 'population' .*; line 4: '{value}'"):
        read_communes(path)


def test_non_finite_coordinate_in_a_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "facility_id,x,y\nA,650000,6670000\nB,inf,6670000\n")
    with pytest.raises(
        InputDataError, match=f"facilities file {q(path)}: column 'x' .*; line 3: 'inf' \\(not finite\\)"
    ):
        read_facilities(path, crs=L93)


def test_non_finite_population_in_a_layer(tmp_path: Path) -> None:
    path = tmp_path / "units.gpkg"
    gpd.GeoDataFrame(
        {"uid": ["a", "b"], "pop": [1.0, np.inf]}, geometry=[Point(X0, Y0), Point(X0 + 1, Y0)], crs=L93
    ).to_file(path, engine="pyogrio")
    with pytest.raises(InputDataError, match=f"population layer {q(path)}: column 'pop' .*; feature 1: 'inf'"):
        read_population_layer(path, population_column="pop", id_column="uid")


def test_non_finite_coordinates_in_layers(tmp_path: Path) -> None:
    points = tmp_path / "facilities.gpkg"
    gpd.GeoDataFrame({"facility_id": ["a", "b"]}, geometry=[Point(X0, Y0), Point(np.nan, Y0)], crs=L93).to_file(
        points, engine="pyogrio"
    )
    with pytest.raises(InputDataError, match=f"facilities file {q(points)}: column 'geometry' .*not finite.*feature 1"):
        read_facilities(points)
    roads = tmp_path / "roads.gpkg"
    gpd.GeoDataFrame(
        {"cls": ["secondary", "secondary"]},
        geometry=[LineString([(X0, Y0), (X0 + 10, Y0)]), LineString([(X0, Y0), (np.inf, Y0)])],
        crs=L93,
    ).to_file(roads, engine="pyogrio")
    with pytest.raises(InputDataError, match=f"road layer {q(roads)}: column 'geometry' .*not finite.*feature 1"):
        read_road_lines(roads, profile=cov.load_speed_profile(), class_column="cls")


def test_non_finite_travel_time_in_graphml(tmp_path: Path) -> None:
    graph = nx.MultiDiGraph(crs=L93)
    graph.add_node(1, x=X0, y=Y0)
    graph.add_node(2, x=X0 + 100, y=Y0)
    graph.add_edge(1, 2, length=100.0, travel_time=float("inf"), speed_kph=50.0)
    path = tmp_path / "g.graphml"
    ox.save_graphml(graph, path)
    with pytest.raises(
        InputDataError, match=f"GraphML file {q(path)}: edge 1 -> 2: 'travel_time' = inf is not a finite"
    ):
        read_graphml(path)


def test_non_finite_finess_coordinate_names_its_line(tmp_path: Path) -> None:
    path = finess_extraction(tmp_path / "finess.csv")
    text = path.read_text("utf-8").replace("654800.0", "inf")
    path.write_text(text, "utf-8")
    with pytest.raises(
        InputDataError, match=f"FINESS file {q(path)}, line 3: column 'coordxet' = 'inf' is not a finite"
    ):
        read_finess(path)
