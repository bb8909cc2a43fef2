"""QGIS styles in the GeoPackage (coverage.outputs.qgis_styles): the layer_styles table, the styles
read back against the palette, the layers left unchanged, and QGIS itself loading them when it is
installed (Debian's python3-qgis, run in its own interpreter)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from coverage.errors import InputDataError
from coverage.outputs import style
from coverage.outputs.files import write_layer
from coverage.outputs.qgis_styles import STYLE_NAME, add_layer_styles

CRS = "EPSG:2154"
# minutes of the units and their class for thresholds 10/20/30, by hand: a unit at exactly
# T minutes is within T (class of "<= T"), just above it is in the next class, NaN is unreachable
MINUTES = [0.0, 10.0, 10.0001, 20.0, 25.0, 30.0, 31.0, np.nan]
MINUTE_CLASSES = [0, 0, 1, 1, 2, 2, 3, 4]
# viridis stops 0, 3, 7, 10 of style._VIRIDIS (round(i * 10 / 3)) for 4 classes, then grey
MINUTE_COLOURS = ["#fde725", "#44bf70", "#355f8d", "#440154", "#bdbdbd"]
# accessibility before/after with the line at 2.5, and the web map's class by hand:
# above already -> 3, lifted -> 2, improved but still below -> 1, unchanged -> 0
ACCESS = [(3.0, 3.5, 3), (1.0, 3.0, 2), (1.0, 2.0, 1), (1.0, 1.0, 0), (2.4, 2.4, 0)]
ODD_TYPE = "<b>&\"x' {{ 7*7 }}"
KNOWN = ["population_access", "facilities", "catchments", "isochrones", "uncovered", "sites"]
KNOWN += ["accessibility", "accessibility_sites"]


def _points(n: int) -> list[shapely.Point]:
    return [shapely.Point(600_000 + 1000 * i, 6_700_000) for i in range(n)]


def _squares(n: int) -> list[shapely.Polygon]:
    return [shapely.box(600_000 + 1000 * i, 6_700_000, 600_900 + 1000 * i, 6_700_900) for i in range(n)]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage with every known layer, written by the run's own writer, and one unknown layer."""
    gpkg = tmp_path_factory.mktemp("gpkg") / "coverage.gpkg"
    n = len(MINUTES)
    units = {"unit_id": [f"u{i}" for i in range(n)], "name": [f"U{i}" for i in range(n)], "minutes_to_nearest": MINUTES}
    write_layer(gpd.GeoDataFrame(units, geometry=_points(n), crs=CRS), gpkg, "population_access", CRS)
    types = ["msp", "centre_sante", "msp", "maison_medicale", ODD_TYPE, None]
    facilities = {"facility_id": [f"f{i}" for i in range(6)], "name": ["a", "b", "c", "d", "e", "f"], "type": types}
    write_layer(gpd.GeoDataFrame(facilities, geometry=_points(6), crs=CRS), gpkg, "facilities", CRS)
    catchments = {"facility_id": ["f0", "f1"], "type": ["msp", "centre_sante"]}
    write_layer(gpd.GeoDataFrame(catchments, geometry=_squares(2), crs=CRS), gpkg, "catchments", CRS)
    iso = {"facility_id": ["f0"] * 3, "threshold_min": [10.0, 20.0, 30.0]}
    write_layer(gpd.GeoDataFrame(iso, geometry=_squares(3), crs=CRS), gpkg, "isochrones", CRS, promote_to_multi=True)
    uncovered = {"unit_id": ["u2", "u7"], "minutes_to_nearest": [10.0001, np.nan]}
    uncovered |= {f"beyond_{t}min": [True, True] for t in (10, 20, 30)}
    write_layer(gpd.GeoDataFrame(uncovered, geometry=_squares(2), crs=CRS), gpkg, "uncovered", CRS)
    sites = {"rank": [1, 2, 12], "name": ["s1", "s2", "s12"]}
    write_layer(gpd.GeoDataFrame(sites, geometry=_points(3), crs=CRS), gpkg, "sites", CRS)
    a0, a1 = [a for a, _, _ in ACCESS], [b for _, b, _ in ACCESS]
    access = {"unit_id": [f"u{i}" for i in range(len(ACCESS))], "accessibility": a0, "accessibility_scenario": a1}
    access |= {"class": ["above threshold" if a >= 2.5 else "priority" for a in a0]}
    access |= {"class_scenario": ["above threshold" if a >= 2.5 else "priority" for a in a1]}
    write_layer(gpd.GeoDataFrame(access, geometry=_squares(len(ACCESS)), crs=CRS), gpkg, "accessibility", CRS)
    receiving = {"site_id": ["a", "b", "c"], "supply_added": [0.0, 3.0, 12.0]}
    write_layer(gpd.GeoDataFrame(receiving, geometry=_points(3), crs=CRS), gpkg, "accessibility_sites", CRS)
    write_layer(gpd.GeoDataFrame({"x": [1]}, geometry=_points(1), crs=CRS), gpkg, "mystery", CRS)
    return gpkg


@pytest.fixture
def gpkg(source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "coverage.gpkg"
    shutil.copy(source, copy)
    return copy


def _qml(gpkg: Path, layer: str) -> ET.Element:
    with sqlite3.connect(gpkg) as con:
        (text,) = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = ?", (layer,)).fetchone()
    return ET.fromstring(text.split("\n", 1)[1])  # after the DOCTYPE line


def _hex(rgba: str) -> tuple[str, float]:
    r, g, b, a = (int(v) for v in rgba.split(","))
    return f"#{r:02x}{g:02x}{b:02x}", a / 255


def _layer_props(layer: ET.Element | None) -> dict[str, str]:
    """The properties of a symbol layer, from its ``Option`` map."""
    assert layer is not None
    return {str(o.get("name")): str(o.get("value")) for o in layer.find("Option")}  # type: ignore[union-attr]


def _categories(root: ET.Element) -> list[tuple]:
    """(value, label, first symbol layer's colour, its alpha, render) of each category."""
    renderer = root.find("renderer-v2")
    symbols = {s.get("name"): s for s in renderer.find("symbols")}  # type: ignore[union-attr]
    out = []
    for cat in renderer.find("categories"):  # type: ignore[union-attr]
        colour, alpha = _hex(_layer_props(symbols[cat.get("symbol")].find("layer"))["color"])
        out.append((cat.get("value"), cat.get("label"), colour, alpha, cat.get("render")))
    return out


def _class_by_sql(gpkg: Path, layer: str, order: str) -> list[int]:
    """The class of each feature by the renderer's own expression, evaluated by SQLite."""
    expression = _qml(gpkg, layer).find("renderer-v2").get("attr")  # type: ignore[union-attr]
    with sqlite3.connect(gpkg) as con:
        return [v for (v,) in con.execute(f'SELECT {expression} FROM "{layer}" ORDER BY {order}')]


def _data_hash(gpkg: Path) -> dict[str, str]:
    """A hash of every table's rows but those the styles may change."""
    changed = {"layer_styles", "gpkg_contents", "gpkg_ogr_contents", "sqlite_sequence"}
    with sqlite3.connect(gpkg) as con:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'") if t not in changed]
        return {
            t: hashlib.sha256(repr(con.execute(f'SELECT * FROM "{t}"').fetchall()).encode()).hexdigest() for t in tables
        }


def test_layer_styles_table_as_qgis_makes_it(gpkg: Path) -> None:
    add_layer_styles(gpkg)
    with sqlite3.connect(gpkg) as con:
        columns = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(layer_styles)")]
        contents = con.execute("SELECT data_type, identifier FROM gpkg_contents WHERE table_name = 'layer_styles'")
        registered = contents.fetchall()
        count = con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'layer_styles'").fetchone()
        rows = con.execute("SELECT count(*) FROM layer_styles").fetchone()
    # the table QGIS 3.22 created here when asked to save a style in a GeoPackage (read with sqlite3)
    assert columns == [
        ("id", "INTEGER"),
        ("f_table_catalog", "TEXT(256)"),
        ("f_table_schema", "TEXT(256)"),
        ("f_table_name", "TEXT(256)"),
        ("f_geometry_column", "TEXT(256)"),
        ("styleName", "TEXT(30)"),
        ("styleQML", "TEXT"),
        ("styleSLD", "TEXT"),
        ("useAsDefault", "BOOLEAN"),
        ("description", "TEXT"),
        ("owner", "TEXT(30)"),
        ("ui", "TEXT(30)"),
        ("update_time", "DATETIME"),
    ]
    assert registered == [("attributes", "layer_styles")]
    assert count == rows == (8,)


def test_one_default_style_per_known_layer_unknown_left_alone(gpkg: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="coverage.outputs.qgis_styles"):
        styled = add_layer_styles(gpkg)
    assert styled == KNOWN
    with sqlite3.connect(gpkg) as con:
        rows = con.execute("SELECT f_table_name, f_geometry_column, styleName, useAsDefault FROM layer_styles")
        assert sorted(rows.fetchall()) == sorted((name, "geom", STYLE_NAME, 1) for name in KNOWN)
    assert any("mystery" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


def test_minute_classes_in_the_colours_of_the_web_map(gpkg: Path) -> None:
    add_layer_styles(gpkg)
    assert style.minute_class_colours(3) == MINUTE_COLOURS  # the palette the hand values were taken from
    labels = style.minute_class_labels_web([10, 20, 30])
    for layer, alpha in (("population_access", 0.9), ("uncovered", 0.6)):
        categories = _categories(_qml(gpkg, layer))
        assert [(v, lab, c) for v, lab, c, _, _ in categories] == list(
            zip(["0", "1", "2", "3", "4"], labels, MINUTE_COLOURS, strict=True)
        )
        assert {round(a, 2) for *_, a, _ in categories} == {alpha}
    assert _class_by_sql(gpkg, "population_access", "fid") == MINUTE_CLASSES
    assert _class_by_sql(gpkg, "uncovered", "fid") == [1, 4]
    points = _qml(gpkg, "population_access").find(".//layer")
    assert points.get("class") == "SimpleMarker" and _layer_props(points)["name"] == "circle"  # type: ignore[union-attr]
    assert _qml(gpkg, "uncovered").find(".//layer").get("class") == "SimpleFill"  # type: ignore[union-attr]


def test_given_thresholds_change_the_classes(gpkg: Path) -> None:
    add_layer_styles(gpkg, thresholds=[15])
    # one threshold: <= 15 -> 0, > 15 -> 1, NaN -> 2
    assert _class_by_sql(gpkg, "population_access", "fid") == [0, 0, 0, 1, 1, 1, 1, 2]
    assert [c for _, _, c, _, _ in _categories(_qml(gpkg, "population_access"))] == ["#fde725", "#440154", "#bdbdbd"]
    with pytest.raises(InputDataError, match="thresholds"):
        add_layer_styles(gpkg, thresholds=[10, float("nan")])


def test_facility_symbols_and_labels_through_the_serializer(gpkg: Path) -> None:
    add_layer_styles(gpkg)
    root = _qml(gpkg, "facilities")
    assert root.find("renderer-v2").get("attr") == "type"  # type: ignore[union-attr]
    categories = _categories(root)
    other = style.OTHER_SYMBOL
    assert [(v, lab, c) for v, lab, c, _, _ in categories] == [
        ("msp", style.FACILITY_SYMBOLS["msp"].label, "#0072b2"),
        ("centre_sante", style.FACILITY_SYMBOLS["centre_sante"].label, "#d55e00"),
        (ODD_TYPE, f"{other.label} : {ODD_TYPE}", other.fill.lower()),
        ("maison_medicale", f"{other.label} : maison_medicale", other.fill.lower()),
        ("", other.label, other.fill.lower()),
    ]
    symbols = root.find("renderer-v2/symbols")
    msp_layers = symbols[0].findall("layer")  # type: ignore[index]
    assert [layer.get("class") for layer in msp_layers] == ["SimpleMarker", "FontMarker"]
    assert _layer_props(msp_layers[0])["name"] == "circle" and _layer_props(msp_layers[1])["chr"] == "M"
    assert _layer_props(symbols[1].find("layer"))["name"] == "square"  # type: ignore[index,arg-type]
    catchments = _categories(_qml(gpkg, "catchments"))
    assert [(v, c, round(a, 2)) for v, _, c, a, _ in catchments[:2]] == [
        ("msp", "#0072b2", 0.25),
        ("centre_sante", "#d55e00", 0.25),
    ]


def test_isochrones_sites_and_accessibility(gpkg: Path) -> None:
    add_layer_styles(gpkg)
    iso = _qml(gpkg, "isochrones")
    assert [(v, c) for v, _, c, _, _ in _categories(iso)] == list(zip(["10", "20", "30"], MINUTE_COLOURS, strict=False))
    renderer = iso.find("renderer-v2")
    assert renderer.get("enableorderby") == "1"  # type: ignore[union-attr]
    clause = renderer.find("orderby/orderByClause")  # type: ignore[union-attr]
    assert clause.text == '"threshold_min"' and clause.get("asc") == "0"  # type: ignore[union-attr]

    sites = _qml(gpkg, "sites").find("renderer-v2")
    assert sites.get("type") == "singleSymbol"  # type: ignore[union-attr]
    circle, number = sites.findall("symbols/symbol/layer")  # type: ignore[union-attr]
    assert _hex(_layer_props(circle)["color"])[0] == "#000000" and _hex(_layer_props(number)["color"])[0] == "#ffffff"
    char = number.find(".//Option[@name='char']/Option[@name='expression']")
    assert char.get("value") == 'to_string("rank")'  # type: ignore[union-attr]

    access = _categories(_qml(gpkg, "accessibility"))
    assert [(c, lab) for _, lab, c, _, _ in access] == [(c.lower(), lab) for c, lab in style.ACCESS_CLASSES]
    assert _class_by_sql(gpkg, "accessibility", "fid") == [k for _, _, k in ACCESS]

    receiving = _categories(_qml(gpkg, "accessibility_sites"))
    assert [(v, c, r) for v, _, c, _, r in receiving] == [("1", "#6a3d9a", "true"), ("0", "#ffffff", "false")]
    assert _class_by_sql(gpkg, "accessibility_sites", "fid") == [0, 1, 1]


def test_data_unchanged_and_second_call_replaces(gpkg: Path) -> None:
    before = _data_hash(gpkg)
    frames = {name: pyogrio.read_dataframe(gpkg, layer=name) for name, _ in pyogrio.list_layers(gpkg)}
    with sqlite3.connect(gpkg) as con:  # a planner's own style, saved earlier
        con.execute(
            'CREATE TABLE "layer_styles" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
            '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
            '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
            '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), "update_time" DATETIME)'
        )
        con.execute("INSERT INTO layer_styles (f_table_name, styleName, useAsDefault) VALUES ('facilities', 'mine', 1)")
    add_layer_styles(gpkg)
    add_layer_styles(gpkg)
    assert _data_hash(gpkg) == before
    with sqlite3.connect(gpkg) as con:
        rows = con.execute("SELECT f_table_name, styleName, useAsDefault FROM layer_styles WHERE useAsDefault = 1")
        assert sorted(rows.fetchall()) == sorted((name, STYLE_NAME, 1) for name in KNOWN)
        assert con.execute("SELECT count(*) FROM layer_styles").fetchone() == (len(KNOWN) + 1,)
        assert con.execute("SELECT useAsDefault FROM layer_styles WHERE styleName = 'mine'").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone() == (1,)
    layers = dict(pyogrio.list_layers(gpkg))
    assert set(layers) == {*frames, "layer_styles"} and layers["layer_styles"] is None
    for name, frame in frames.items():
        again = pyogrio.read_dataframe(gpkg, layer=name)
        assert again.drop(columns="geometry").equals(frame.drop(columns="geometry")), name
        assert again.geometry.geom_equals_exact(frame.geometry, 0).all(), name
    assert len(pyogrio.read_dataframe(gpkg, layer="layer_styles", read_geometry=False)) == len(KNOWN) + 1


def test_layer_lacking_its_columns_is_left_unstyled(tmp_path: Path) -> None:
    gpkg = tmp_path / "coverage.gpkg"
    write_layer(gpd.GeoDataFrame({"name": ["a"]}, geometry=_points(1), crs=CRS), gpkg, "facilities", CRS)
    assert add_layer_styles(gpkg) == []
    with sqlite3.connect(gpkg) as con:
        assert con.execute("SELECT count(*) FROM layer_styles").fetchone() == (0,)


# ---------------------------------------------------------------------------------------- QGIS

_QGIS_CHECK = textwrap.dedent(
    """
    import json, os, sys
    from qgis.core import QgsApplication, QgsRenderContext, QgsExpressionContextUtils, QgsVectorLayer
    app = QgsApplication([], False)
    app.initQgis()
    out = {}
    for name in sys.argv[2:]:
        layer = QgsVectorLayer(f"{sys.argv[1]}|layername={name}", name, "ogr")
        message, ok = layer.loadDefaultStyle()
        renderer = layer.renderer()
        context = QgsRenderContext()
        context.expressionContext().appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
        renderer.startRender(context, layer.fields())
        drawn = []
        for feature in layer.getFeatures():
            context.expressionContext().setFeature(feature)
            symbol = renderer.symbolForFeature(feature, context)
            drawn.append(None if symbol is None else symbol.color().name())
        renderer.stopRender(context)
        out[name] = {"ok": ok, "type": renderer.type(), "drawn": drawn}
    print(json.dumps(out), flush=True)
    os._exit(0)  # QGIS 3.22 may crash while tearing down its layers at exit: the answer is out
    """
)


def _qgis_python() -> str | None:
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        return None
    found = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, check=False, timeout=60)
    return python if found.returncode == 0 else None


def test_qgis_loads_the_styles(gpkg: Path, tmp_path: Path) -> None:
    python = _qgis_python()
    if python is None:
        pytest.skip("QGIS (python3-qgis) is not installed")
    add_layer_styles(gpkg)
    script = tmp_path / "check.py"
    script.write_text(_QGIS_CHECK, "utf-8")
    env = {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    run = subprocess.run(
        [python, str(script), str(gpkg), *KNOWN], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(seen[name]["ok"] for name in KNOWN)
    assert seen["sites"]["type"] == "singleSymbol"
    assert seen["population_access"]["drawn"] == [MINUTE_COLOURS[k] for k in MINUTE_CLASSES]
    other = style.OTHER_SYMBOL.fill.lower()
    # msp, centre_sante, msp, an unknown type, the odd one, and no type (the catch-all)
    assert seen["facilities"]["drawn"] == ["#0072b2", "#d55e00", "#0072b2", other, other, other]
    assert seen["isochrones"]["drawn"] == MINUTE_COLOURS[:3]
    access = [style.ACCESS_CLASSES[k][0].lower() for _, _, k in ACCESS]
    assert seen["accessibility"]["drawn"] == access
    # the site with no doctor added is not drawn, as on the web map
    assert seen["accessibility_sites"]["drawn"] == [None, "#6a3d9a", "#6a3d9a"]
