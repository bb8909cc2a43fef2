"""QGIS styles of ``coverage.gpkg``: every layer opens in QGIS as it looks on the web map.

:func:`add_layer_styles` writes the default style of each known layer into the GeoPackage's
``layer_styles`` table, the one QGIS reads when it opens a layer (and writes when a style is
saved in the database: same columns, an attributes table of ``gpkg_contents``, its row
count kept in ``gpkg_ogr_contents`` by GDAL's triggers).  A style is a QML document (the
``renderer-v2`` of QGIS; no SLD, which QGIS reads only when there is no QML) in the
colours, classes and symbols of :mod:`coverage.outputs.style`, as on the web map: units
(``population_access``, ``uncovered``) by class of ``minutes_to_nearest``; ``facilities``
by type (shape, fill, letter) and ``catchments`` (not on the web map) lightly filled in
their type's colour; ``isochrones`` by threshold, the largest drawn first; ``sites``
numbered by ``rank``; ``accessibility`` in the four
:data:`~coverage.outputs.style.ACCESS_CLASSES`; ``accessibility_sites`` receiving doctors
as circles growing with the doctors added (the others listed, unticked, as the web map
leaves them out); ``departments``, ``cantons`` and ``epci`` as outlines.

The layers are only read (their columns and distinct facility types).  Labels and values
reach the XML through its serializer only, and string literals in QGIS expressions are
quoted.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from coverage.errors import InputDataError
from coverage.outputs.style import (
    ACCESS_CLASSES,
    ADDED_DOCTORS_COLOUR,
    BUDGET_COLOUR,
    FACILITY_SYMBOLS,
    OTHER_SYMBOL,
    SITE_SYMBOL,
    Symbol,
    minute_class_colours,
    minute_class_labels_web,
)
from coverage.scenarios import ABOVE

__all__ = ["LAYER_STYLES_DDL", "STYLED_LAYERS", "STYLE_NAME", "add_layer_styles"]

logger = logging.getLogger(__name__)

#: Name of the styles written (a second call replaces them).
STYLE_NAME = "couverture"
_DESCRIPTION = "Style de la carte web (couverture) / Web map style"
#: The ``layer_styles`` table as QGIS creates it in a GeoPackage (through GDAL).
LAYER_STYLES_DDL = (
    'CREATE TABLE IF NOT EXISTS "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    "\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)
_COUNT_TRIGGERS = (
    'CREATE TRIGGER IF NOT EXISTS "trigger_insert_feature_count_layer_styles" AFTER INSERT ON "layer_styles" '
    "BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count + 1 "
    "WHERE lower(table_name) = lower('layer_styles'); END",
    'CREATE TRIGGER IF NOT EXISTS "trigger_delete_feature_count_layer_styles" AFTER DELETE ON "layer_styles" '
    "BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count - 1 "
    "WHERE lower(table_name) = lower('layer_styles'); END",
)
_QGIS_VERSION = "3.22.0"  # the oldest QGIS whose symbol format (Option maps and props) is written
_FONT = "Arial"
_MAX_TYPES = 100  # facility types read from a layer, beyond which the others share one category
# QGIS marker shapes of the web map's, and their sizes in pixels (the web icon is 24 px wide)
_SHAPES = {"circle": "circle", "square": "square", "diamond": "diamond", "hexagon": "hexagon"}
_SHAPES |= {"triangle": "triangle", "pentagon": "pentagon", "cross": "cross_fill"}
_SIZES = {"circle": 20.0, "square": 18.0}
_POINT_KINDS = {"POINT", "MULTIPOINT"}
_POLYGON_KINDS = {"POLYGON", "MULTIPOLYGON", "CURVEPOLYGON", "MULTISURFACE"}


# ----------------------------------------------------------------------------- style model


@dataclass(frozen=True)
class _Marker:
    shape: str
    fill: str
    stroke: str
    stroke_width: float
    size: float
    alpha: float = 1.0
    letter: str = ""
    letter_colour: str = "#000000"
    letter_expression: str | None = None
    size_expression: str | None = None


@dataclass(frozen=True)
class _Fill:
    fill: str | None
    stroke: str
    stroke_width: float
    alpha: float = 1.0
    dash: str = "solid"


@dataclass(frozen=True)
class _Class:
    value: str
    label: str
    symbol: _Marker | _Fill
    render: bool = True


@dataclass(frozen=True)
class _Style:
    attr: str | None  # field or expression; None: one symbol for every feature
    classes: tuple[_Class, ...]
    order_by: str | None = None  # expression, drawn in descending order (last drawn on top)


@dataclass(frozen=True)
class _Layer:
    columns: frozenset[str]
    kind: str  # "point" or "polygon"
    thresholds: tuple[float, ...]
    values: Callable[[str], list[str]]


def _field(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _num(x: float) -> str:
    """A number as QGIS writes a double (``10``, ``7.5``): the value of a category."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _rgba(colour: str, alpha: float = 1.0) -> str:
    h = colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{round(alpha * 255)}"


# ----------------------------------------------------------------------------- the layers' styles


def _unit_symbol(colour: str, kind: str, fill_alpha: float) -> _Marker | _Fill:
    """A unit as the web map draws it: a light fill with a white outline, or a small circle."""
    if kind == "point":
        return _Marker("circle", colour, "#333333", 1.0, 8.0, alpha=0.9)
    return _Fill(colour, "#ffffff", 0.4, alpha=fill_alpha)


def _minute_style(layer: _Layer) -> _Style:
    ts = sorted(layer.thresholds)
    n, f = len(ts), _field("minutes_to_nearest")
    expression = f"CASE WHEN {f} IS NULL THEN {n + 1} "
    expression += " ".join(f"WHEN {f} <= {_num(t)} THEN {i}" for i, t in enumerate(ts)) + f" ELSE {n} END"
    colours, labels = minute_class_colours(n), minute_class_labels_web(ts)
    classes = tuple(
        _Class(str(i), label, _unit_symbol(colour, layer.kind, 0.6))
        for i, (colour, label) in enumerate(zip(colours, labels, strict=True))
    )
    return _Style(expression, classes)


def _marker(symbol: Symbol, size: float | None = None) -> _Marker:
    """The web map's marker of a symbol: 24 px wide, white outline (black on white), letter inside."""
    stroke = "#000000" if symbol.fill == "#ffffff" else "#ffffff"
    side = size or _SIZES.get(symbol.shape, 22.0)
    return _Marker(
        _SHAPES[symbol.shape], symbol.fill, stroke, 1.5, side, letter=symbol.letter, letter_colour=symbol.text
    )


def _type_classes(layer: _Layer, symbol_of: Callable[[Symbol], _Marker | _Fill]) -> tuple[_Class, ...]:
    """One class per facility type of the layer (known ones first), then one for any other."""
    present = layer.values("type")
    known = [t for t in FACILITY_SYMBOLS if t in present]
    others = sorted(t for t in present if t not in FACILITY_SYMBOLS)
    classes = [_Class(t, FACILITY_SYMBOLS[t].label, symbol_of(FACILITY_SYMBOLS[t])) for t in known]
    classes += [_Class(t, f"{OTHER_SYMBOL.label} : {t}", symbol_of(OTHER_SYMBOL)) for t in others]
    return (*classes, _Class("", OTHER_SYMBOL.label, symbol_of(OTHER_SYMBOL)))


def _facility_style(layer: _Layer) -> _Style:
    return _Style("type", _type_classes(layer, _marker))


def _catchment_style(layer: _Layer) -> _Style:
    return _Style("type", _type_classes(layer, lambda s: _Fill(s.fill, s.fill, 1.0, alpha=0.25)))


def _isochrone_style(layer: _Layer) -> _Style:
    colours = minute_class_colours(len(layer.thresholds))
    classes = tuple(
        _Class(_num(t), f"Isochrone {t:g} min", _Fill(c, c, 1.5, alpha=0.3))
        for t, c in zip(sorted(layer.thresholds), colours, strict=False)
    )
    return _Style("threshold_min", classes, order_by=_field("threshold_min"))


def _site_style(layer: _Layer) -> _Style:
    rank = _field("rank")
    numbered = replace(
        _marker(SITE_SYMBOL, size=22.0),
        letter_expression=f"to_string({rank})",
        size_expression=f"CASE WHEN {rank} >= 10 THEN 11 ELSE 13 END",
    )
    return _Style(None, (_Class("", SITE_SYMBOL.label, numbered),), order_by=rank)


def _access_style(layer: _Layer) -> _Style:
    above, before, after = _literal(ABOVE), _field("class"), _field("class_scenario")
    a0, a1 = _field("accessibility"), _field("accessibility_scenario")
    # as coverage.outputs.webmap.access._access_class: the first test that holds
    expression = f"CASE WHEN {before} = {above} THEN 3 WHEN {after} = {above} THEN 2 "
    expression += f"WHEN {a1} > {a0} + 1e-12 THEN 1 ELSE 0 END"
    classes = tuple(
        _Class(str(i), label, _unit_symbol(colour, layer.kind, 0.65))
        for i, (colour, label) in enumerate(ACCESS_CLASSES)
    )
    return _Style(expression, classes)


def _receiving_sites_style(layer: _Layer) -> _Style:
    added = _field("supply_added")
    diameter = f"2 * (4 + 10 * sqrt({added} / maximum({added})))"  # the web map's radius, in pixels
    grows = _Marker("circle", ADDED_DOCTORS_COLOUR, "#ffffff", 2.0, 14.0, alpha=0.9, size_expression=diameter)
    rest = _Marker("circle", "#ffffff", ADDED_DOCTORS_COLOUR, 1.0, 6.0)
    classes = (
        _Class("1", "Site recevant des médecins / Site receiving doctors", grows),
        _Class("0", "Site sans médecin ajouté / Site with no doctor added", rest, render=False),
    )
    return _Style(f"CASE WHEN {added} > 0 THEN 1 ELSE 0 END", classes, order_by=added)


def _budget_style(layer: _Layer) -> _Style:
    """The sites within a budget: circles in the web map's budget colour, numbered by rank."""
    rank = _field("rank")
    marker = _Marker("circle", BUDGET_COLOUR, "#000000", 2.0, 14.0, alpha=0.9, letter_expression=f"to_string({rank})")
    return _Style(None, (_Class("", "Site dans le budget / Site within the budget", marker),), order_by=rank)


def _outline(colour: str, width: float, dash: str) -> Callable[[_Layer], _Style]:
    return lambda layer: _Style(None, (_Class("", "", _Fill(None, colour, width, dash=dash)),))


_POINT, _POLYGON, _ANY = frozenset({"point"}), frozenset({"polygon"}), frozenset({"point", "polygon"})
_MINUTES = frozenset({"minutes_to_nearest"})
_ACCESS = frozenset({"class", "class_scenario", "accessibility", "accessibility_scenario"})
#: Known layers: how each is styled, the columns and geometries (and whether the run's
#: thresholds) its style needs.
STYLED_LAYERS: dict[str, tuple[Callable[[_Layer], _Style], frozenset[str], frozenset[str], bool]] = {
    "population_access": (_minute_style, _MINUTES, _ANY, True),
    "uncovered": (_minute_style, _MINUTES, _ANY, True),
    "facilities": (_facility_style, frozenset({"type"}), _POINT, False),
    "catchments": (_catchment_style, frozenset({"type"}), _POLYGON, False),
    "isochrones": (_isochrone_style, frozenset({"threshold_min"}), _POLYGON, True),
    "sites": (_site_style, frozenset({"rank"}), _POINT, False),
    "accessibility": (_access_style, _ACCESS, _ANY, False),
    "accessibility_sites": (_receiving_sites_style, frozenset({"supply_added"}), _POINT, False),
    "budget_sites": (_budget_style, frozenset({"rank"}), _POINT, False),
    "departments": (_outline("#000000", 2.5, "solid"), frozenset(), _POLYGON, False),
    "cantons": (_outline("#606060", 1.0, "dot"), frozenset(), _POLYGON, False),
    "epci": (_outline("#404040", 1.2, "dash"), frozenset(), _POLYGON, False),
}


# ----------------------------------------------------------------------------- QML


def _options(parent: ET.Element, props: dict[str, str]) -> None:
    """The properties of a symbol layer as QGIS writes them: an ``Option`` map, then ``prop`` pairs."""
    options = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(options, "Option", name=key, type="QString", value=value)
    for key, value in props.items():
        ET.SubElement(parent, "prop", k=key, v=value)


def _data_defined(parent: ET.Element, expressions: dict[str, str]) -> None:
    """``data_defined_properties``: each property given by an expression (type 3)."""
    collection = ET.SubElement(ET.SubElement(parent, "data_defined_properties"), "Option", type="Map")
    ET.SubElement(collection, "Option", name="name", type="QString", value="")
    properties = ET.SubElement(collection, "Option", name="properties")
    if expressions:
        properties.set("type", "Map")
    for key, expression in expressions.items():
        prop = ET.SubElement(properties, "Option", name=key, type="Map")
        ET.SubElement(prop, "Option", name="active", type="bool", value="true")
        ET.SubElement(prop, "Option", name="expression", type="QString", value=expression)
        ET.SubElement(prop, "Option", name="type", type="int", value="3")
    ET.SubElement(collection, "Option", name="type", type="QString", value="collection")


def _symbol_layer(symbol: ET.Element, cls: str, props: dict[str, str], expressions: dict[str, str]) -> None:
    layer = ET.SubElement(symbol, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    _options(layer, props)
    _data_defined(layer, expressions)


def _qml_symbol(parent: ET.Element, name: str, spec: _Marker | _Fill) -> None:
    kind = "marker" if isinstance(spec, _Marker) else "fill"
    attrs = {"type": kind, "name": name, "alpha": "1", "clip_to_extent": "1", "force_rhr": "0"}
    symbol = ET.SubElement(parent, "symbol", attrs)
    _data_defined(symbol, {})
    px = {"offset": "0,0", "offset_unit": "Pixel", "outline_width_unit": "Pixel"}
    if isinstance(spec, _Fill):
        fill = "0,0,0,0" if spec.fill is None else _rgba(spec.fill, spec.alpha)
        props = {"color": fill, "joinstyle": "bevel", "outline_color": _rgba(spec.stroke)}
        props |= {"outline_style": spec.dash, "outline_width": f"{spec.stroke_width:g}"}
        props |= {"style": "no" if spec.fill is None else "solid", **px}
        _symbol_layer(symbol, "SimpleFill", props, {})
        return
    props = {"angle": "0", "color": _rgba(spec.fill, spec.alpha), "horizontal_anchor_point": "1"}
    props |= {"joinstyle": "bevel", "name": spec.shape, "outline_color": _rgba(spec.stroke), "outline_style": "solid"}
    props |= {"outline_width": f"{spec.stroke_width:g}", "scale_method": "diameter", "size": f"{spec.size:g}"}
    props |= {"size_unit": "Pixel", "vertical_anchor_point": "1", **px}
    size = {"size": spec.size_expression} if spec.size_expression and not spec.letter_expression else {}
    _symbol_layer(symbol, "SimpleMarker", props, size)
    if spec.letter or spec.letter_expression:
        font_size = 10.0 if len(spec.letter) > 1 else 12.0
        letter = {"angle": "0", "chr": spec.letter, "color": _rgba(spec.letter_colour), "font": _FONT}
        letter |= {"font_style": "Bold", "horizontal_anchor_point": "1", "joinstyle": "miter"}
        letter |= {"outline_color": _rgba(spec.letter_colour), "outline_width": "0", "size": f"{font_size:g}"}
        letter |= {"size_unit": "Pixel", "vertical_anchor_point": "1", **px}
        dd = {"char": spec.letter_expression} if spec.letter_expression else {}
        dd |= {"size": spec.size_expression} if spec.letter_expression and spec.size_expression else {}
        _symbol_layer(symbol, "FontMarker", letter, dd)


def _qml(style: _Style, kind: str, columns: frozenset[str]) -> str:
    """The QML document of a style, for a layer of points or polygons."""
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology|Rendering")
    attrs = {"forceraster": "0", "symbollevels": "0", "referencescale": "-1"}
    attrs |= {"enableorderby": "1" if style.order_by else "0"}
    renderer = ET.SubElement(root, "renderer-v2", attrs)
    if style.attr is None:
        renderer.set("type", "singleSymbol")
        _qml_symbol(ET.SubElement(renderer, "symbols"), "0", style.classes[0].symbol)
    else:
        renderer.set("type", "categorizedSymbol")
        renderer.set("attr", style.attr)
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for i, cls in enumerate(style.classes):
            render = "true" if cls.render else "false"
            ET.SubElement(categories, "category", render=render, symbol=str(i), value=cls.value, label=cls.label)
            _qml_symbol(symbols, str(i), cls.symbol)
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    if style.order_by:
        clause = ET.SubElement(ET.SubElement(renderer, "orderby"), "orderByClause", asc="0", nullsFirst="0")
        clause.text = style.order_by
    for tag, text in (("blendMode", "0"), ("featureBlendMode", "0"), ("layerOpacity", "1")):
        ET.SubElement(root, tag).text = text
    ET.SubElement(root, "previewExpression").text = _field("name") if "name" in columns else ""
    ET.SubElement(root, "layerGeometryType").text = "0" if kind == "point" else "2"
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


# ----------------------------------------------------------------------------- the GeoPackage


def _columns(con: sqlite3.Connection, table: str) -> frozenset[str]:
    return frozenset(row[1] for row in con.execute(f"PRAGMA table_info({_field(table)})"))


def _distinct(con: sqlite3.Connection, table: str, column: str) -> list[str]:
    query = f"SELECT DISTINCT {_field(column)} FROM {_field(table)} WHERE {_field(column)} IS NOT NULL LIMIT ?"
    return sorted(str(v) for (v,) in con.execute(query, (_MAX_TYPES,)))


def _run_thresholds(con: sqlite3.Connection, tables: dict[str, tuple[str, str]]) -> tuple[float, ...]:
    """The run's thresholds: the ``beyond_*min`` columns of ``uncovered``, else the isochrones'."""
    found = set()
    for name in _columns(con, "uncovered") if "uncovered" in tables else ():
        match = re.fullmatch(r"beyond_(\d+(?:\.\d+)?)min", name)
        found |= {float(match.group(1))} if match else set()
    if not found and "isochrones" in tables and "threshold_min" in _columns(con, "isochrones"):
        found = {float(v) for (v,) in con.execute('SELECT DISTINCT "threshold_min" FROM "isochrones"') if v is not None}
    return tuple(sorted(found))


def add_layer_styles(gpkg: Path, *, thresholds: Sequence[float] | None = None) -> list[str]:
    """Write the default QGIS style of every known layer of ``gpkg`` into its ``layer_styles`` table.

    Parameters
    ----------
    gpkg
        A GeoPackage written by a run (``coverage.gpkg``), every layer already written.
    thresholds
        The run's thresholds in minutes (its ``config.thresholds_min``); by default read
        from the ``beyond_*min`` columns of the ``uncovered`` layer, else from the
        isochrones.

    Returns
    -------
    list of str
        The layers styled, in the order of ``gpkg_contents``.  Layers not in
        :data:`STYLED_LAYERS` (logged at debug level), or without the columns or geometry
        their style needs (a warning), are left unstyled.  The styles are named
        :data:`STYLE_NAME` and are the layers' default; a second call replaces them.  All
        is written in one transaction, and no layer's rows are changed.
    """
    if thresholds is not None and any(not math.isfinite(float(t)) or float(t) <= 0 for t in thresholds):
        raise InputDataError(f"thresholds: expected positive minutes, got {list(thresholds)}")
    con = sqlite3.connect(gpkg)
    try:
        with con:
            rows = con.execute(
                "SELECT c.table_name, g.column_name, upper(g.geometry_type_name) FROM gpkg_contents c "
                "JOIN gpkg_geometry_columns g ON g.table_name = c.table_name "
                "WHERE c.data_type = 'features' ORDER BY c.rowid"
            ).fetchall()
            tables = {name: (geometry, kind) for name, geometry, kind in rows}
            ts = tuple(sorted({float(t) for t in thresholds})) if thresholds is not None else None
            styles = []
            for name, (geometry, geometry_type) in tables.items():
                if name not in STYLED_LAYERS:
                    logger.debug("layer %s of %s has no QGIS style: left as it is", name, gpkg.name)
                    continue
                builder, needs, kinds, needs_thresholds = STYLED_LAYERS[name]
                kind = (
                    "point" if geometry_type in _POINT_KINDS else "polygon" if geometry_type in _POLYGON_KINDS else ""
                )
                columns = _columns(con, name)
                if ts is None and needs_thresholds:
                    ts = _run_thresholds(con, tables)
                if kind not in kinds or not needs <= columns or (needs_thresholds and not ts):
                    logger.warning("layer %s (%s) lacks what its QGIS style needs: left unstyled", name, geometry_type)
                    continue
                style = builder(_Layer(columns, kind, ts or (), partial(_distinct, con, name)))
                styles.append((name, geometry, _qml(style, kind, columns)))
            _write_styles(con, styles)
    finally:
        con.close()
    return [name for name, *_ in styles]


def _write_styles(con: sqlite3.Connection, styles: list[tuple[str, str, str]]) -> None:
    """The ``layer_styles`` table (created and registered if absent), each layer's style replaced."""
    con.execute(LAYER_STYLES_DDL)
    now = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"
    con.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) "
        f"VALUES ('layer_styles', 'attributes', 'layer_styles', '', {now}, 0)"
    )
    counted = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone() is not None
    for trigger in _COUNT_TRIGGERS if counted else ():
        con.execute(trigger)
    for name, geometry, qml in styles:
        con.execute('UPDATE "layer_styles" SET "useAsDefault" = 0 WHERE "f_table_name" = ?', (name,))
        con.execute('DELETE FROM "layer_styles" WHERE "f_table_name" = ? AND "styleName" = ?', (name, STYLE_NAME))
        con.execute(
            'INSERT INTO "layer_styles" ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", '
            '"styleName", "styleQML", "useAsDefault", "description", "owner") '
            "VALUES ('', '', ?, ?, ?, ?, 1, ?, '')",
            (name, geometry, STYLE_NAME, qml, _DESCRIPTION),
        )
    if counted:
        con.execute(
            "INSERT OR REPLACE INTO gpkg_ogr_contents (table_name, feature_count) "
            "VALUES ('layer_styles', (SELECT count(*) FROM layer_styles))"
        )
    con.execute(f"UPDATE gpkg_contents SET last_change = {now} WHERE table_name = 'layer_styles'")
