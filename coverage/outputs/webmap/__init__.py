"""Interactive map of a gap analysis and of its siting plan (Folium / Leaflet).

:func:`gap_map` returns a :class:`folium.Map` with one layer per theme, labelled in
French and English: communes shaded by minutes to the nearest facility, isochrones,
the population beyond the largest threshold as proportional circles, the facilities by
type, the new sites and the next-best candidates, department and EPCI boundaries.  A
legend explains the symbols and the minute classes.

Every text that comes from an input file is HTML-escaped before it reaches a popup, a
tooltip or a layer name; it then travels to the page as a JSON string, never as code.
With ``offline=True`` the page carries Leaflet and its fullscreen plugin itself
(:mod:`coverage.outputs.webmap.assets`) and loads no script or style from the network.
"""

from __future__ import annotations

import functools
import html
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    import folium
    from branca.element import MacroElement

    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = ["gap_map"]

# ---------------------------------------------------------------- symbols and colours


@dataclass(frozen=True)
class _Symbol:
    letter: str
    shape: str
    fill: str
    text: str
    label: str


# Okabe-Ito colours (colour-blind safe), each with its own shape and letter, so that a
# type reads without colour too.
_FACILITY_SYMBOLS = {
    "msp": _Symbol("M", "circle", "#0072B2", "#ffffff", "Maisons de santé (MSP) / Multi-professional health centres"),
    "centre_sante": _Symbol("C", "square", "#D55E00", "#ffffff", "Centres de santé / Health centres"),
    "centre_regional_gip": _Symbol("R", "diamond", "#CC79A7", "#000000", "Centres régionaux (GIP) / Regional centres"),
    "pole_sante": _Symbol("P", "hexagon", "#009E73", "#ffffff", "Pôles de santé / Health hubs"),
    "antenne": _Symbol("A", "triangle", "#56B4E9", "#000000", "Antennes / Satellite sites"),
}
_OTHER_SYMBOL = _Symbol("?", "pentagon", "#E69F00", "#000000", "Autres structures / Other facilities")
_SITE_SYMBOL = _Symbol("1", "circle", "#000000", "#ffffff", "Nouveau site retenu (ordre du choix) / Selected new site")
_CANDIDATE_SYMBOL = _Symbol("", "cross", "#ffffff", "#000000", "Candidat suivant / Next-best candidate")

_SHAPES = {
    "circle": '<circle cx="12" cy="12" r="10"/>',
    "square": '<rect x="3" y="3" width="18" height="18"/>',
    "diamond": '<polygon points="12,1 23,12 12,23 1,12"/>',
    "hexagon": '<polygon points="6.5,2.5 17.5,2.5 23,12 17.5,21.5 6.5,21.5 1,12"/>',
    "triangle": '<polygon points="12,1 23,22 1,22"/>',
    "pentagon": '<polygon points="12,1 23,9 19,22 5,22 1,9"/>',
    "cross": '<polygon points="9,2 15,2 15,9 22,9 22,15 15,15 15,22 9,22 9,15 2,15 2,9 9,9"/>',
}

# viridis from yellow (short drives) to dark purple (long drives), 11 stops
_VIRIDIS = [
    "#fde725",
    "#bddf26",
    "#7ad151",
    "#44bf70",
    "#22a884",
    "#21918c",
    "#2a788e",
    "#355f8d",
    "#414487",
    "#482475",
    "#440154",
]
_UNREACHABLE_COLOUR = "#bdbdbd"
_UNREACHABLE_LABEL = "inaccessible / unreachable"

_MAX_CIRCLE_PX = 28.0  # radius of the most populated uncovered unit
_MIN_CIRCLE_PX = 2.0  # smallest drawn radius, so that a hamlet stays visible
_SIMPLIFY_M = 100.0  # outlines move by about this much at most (isochrones are 500 m bands): a lighter page
_PRECISION_DEG = 1e-4  # about 10 m
_RIGHT_PANEL_PX = 400  # width of the layer control and legend, kept clear when fitting the map

# Leaflet panes: polygons under boundaries, circles above them, markers (600) on top.
_PANES = {"communes": 405, "isochrones": 410, "boundaries": 415, "circles": 420, "doctors": 425}


@dataclass(frozen=True)
class _Band:
    label: str
    colour: str


def _minute_bands(thresholds: Sequence[float]) -> list[_Band]:
    """Classes ≤ t1, t1–t2, …, > tn, then unreachable; colours from viridis."""
    ts = sorted(thresholds)
    n = len(ts) + 1
    colours = [_VIRIDIS[round(i * (len(_VIRIDIS) - 1) / max(n - 1, 1))] for i in range(n)]
    labels = [f"≤ {ts[0]:g} min", *(f"{a:g}–{b:g} min" for a, b in itertools.pairwise(ts)), f"> {ts[-1]:g} min"]
    return [_Band(label, colour) for label, colour in zip(labels, colours, strict=True)] + [
        _Band(_UNREACHABLE_LABEL, _UNREACHABLE_COLOUR)
    ]


def _band_index(minutes: pd.Series, thresholds: Sequence[float]) -> np.ndarray:
    """Index into :func:`_minute_bands`: covered at T means minutes <= T."""
    values = minutes.to_numpy(dtype=float)
    index = np.searchsorted(np.sort(np.asarray(thresholds, dtype=float)), values, side="left")
    return np.where(np.isnan(values), len(thresholds) + 1, index)


# ---------------------------------------------------------------- text


def _text(value: object) -> str:
    """A value from an input file, as HTML text."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value))


def _count(value: object) -> str:
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return ""
    return f"{float(value):,.0f}".replace(",", "\u202f")  # type: ignore[arg-type]


def _minutes(value: object) -> str:
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return _UNREACHABLE_LABEL
    return f"{float(value):.1f} min"  # type: ignore[arg-type]


def _code_and_name(code: object, name: object) -> str:
    code, name = _text(code), _text(name)
    return f"{name} ({code})" if name and code and name != code else name or code


def _table(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """Popup body; ``title`` and the values must already be HTML text."""
    cells = "".join(f"<tr><th>{html.escape(label)}</th><td>{value}</td></tr>" for label, value in rows if value != "")
    return f'<div class="coverage-popup"><b>{title}</b><table>{cells}</table></div>'


# ---------------------------------------------------------------- Leaflet elements


@functools.cache
def _template(source: str) -> Any:
    from folium.template import Template

    return Template(source)


def _element(source: str, **attributes: Any) -> MacroElement:
    from branca.element import MacroElement

    element = MacroElement()
    element._template = _template(source)
    for key, value in attributes.items():
        setattr(element, key, value)
    return element


# Markers (a divIcon) and circle markers, all drawn by one loop; every text reaches the
# page through |tojson, so a name cannot break out of its string.
_POINTS = """
{% macro script(this, kwargs) %}
(function () {
    var layer = {{ this._parent.get_name() }};
    var points = {{ this.points|tojson }};
    points.forEach(function (p) {
        var feature = p.icon
            ? L.marker(p.location, {icon: L.divIcon(p.icon), zIndexOffset: p.z || 0, riseOnHover: true})
            : L.circleMarker(p.location, p.style);
        if (p.tooltip) { feature.bindTooltip(p.tooltip, {sticky: true}); }
        if (p.popup) { feature.bindPopup(p.popup, {minWidth: 300, maxWidth: 420}); }
        feature.addTo(layer);
    });
})();
{% endmacro %}
"""

# The legend is a Leaflet control, so that it stays on the map in full screen and
# stacks with the other controls instead of covering them.
_LEGEND = """
{% macro header(this, kwargs) %}<style>{{ this.css }}</style>{% endmacro %}
{% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
    var legend = L.control({position: "bottomright"});
    legend.onAdd = function () {
        var div = document.getElementById({{ this.div_id|tojson }});
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
    };
    legend.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
"""

_SCALE = """
{% macro script(this, kwargs) %}
L.control.scale({imperial: false, maxWidth: 150}).addTo({{ this._parent.get_name() }});
{% endmacro %}
"""

_CSS = """
.coverage-icon { background: none; border: none; }
.leaflet-control-layers-expanded { font: 12px/1.4 sans-serif; }
.coverage-legend { background: rgba(255,255,255,0.92); padding: 6px 8px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font: 12px/1.35 sans-serif; max-width: 300px; max-height: 70vh;
  overflow-y: auto; }
.coverage-legend summary { font-weight: bold; cursor: pointer; }
.coverage-legend h4 { margin: 6px 0 2px; font-size: 12px; }
.coverage-legend .row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.coverage-legend .swatch { width: 18px; height: 12px; border: 1px solid #555; flex: none; }
.coverage-popup { font: 12px/1.35 sans-serif; }
.coverage-popup table { border-collapse: collapse; margin-top: 4px; }
.coverage-popup th { text-align: left; font-weight: normal; color: #444; padding: 1px 8px 1px 0; }
.coverage-popup td { text-align: right; padding: 1px 0; }
"""


def _icon_svg(symbol: _Symbol, *, size: int = 24, letter: str | None = None) -> str:
    stroke = "#000000" if symbol.fill == "#ffffff" else "#ffffff"
    text = symbol.letter if letter is None else letter
    y = 17 if symbol.shape == "triangle" else 16
    font = 10 if len(text) > 1 else 12
    label = (
        f'<text x="12" y="{y}" text-anchor="middle" font-family="sans-serif" font-size="{font}" '
        f'font-weight="bold" fill="{symbol.text}">{html.escape(text)}</text>'
        if text
        else ""
    )
    return (
        f'<svg width="{size}" height="{size}" viewBox="0 0 24 24">'
        f'<g fill="{symbol.fill}" stroke="{stroke}" stroke-width="1.5">{_SHAPES[symbol.shape]}</g>{label}</svg>'
    )


def _icon(symbol: _Symbol, css_class: str, *, size: int = 24, letter: str | None = None) -> dict:
    return {
        "html": _icon_svg(symbol, size=size, letter=letter),
        "className": f"coverage-icon {css_class}",
        "iconSize": [size, size],
        "iconAnchor": [size // 2, size // 2],
        "popupAnchor": [0, -size // 2],
    }


def _latlon(point: shapely.Point) -> list[float]:
    return [round(point.y, 6), round(point.x, 6)]


# ---------------------------------------------------------------- geometry for the page


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """Only the polygons of a geometry (a union may also hold lines or points)."""
    if geometry is None or geometry.is_empty or geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _light(shapes: gpd.GeoSeries, metric_crs: str, *, coverage: bool) -> gpd.GeoSeries:
    """Simplified (shared edges kept shared when ``coverage``), in EPSG:4326, on a ~10 m grid."""
    metric = shapes.to_crs(metric_crs).to_numpy()
    if coverage and hasattr(shapely, "coverage_simplify"):
        simple = shapely.coverage_simplify(metric, _SIMPLIFY_M)
    else:
        simple = shapely.simplify(metric, _SIMPLIFY_M, preserve_topology=True)
    lonlat = gpd.GeoSeries(simple, index=shapes.index, crs=metric_crs).to_crs("EPSG:4326")
    return gpd.GeoSeries(
        shapely.set_precision(lonlat.to_numpy(), _PRECISION_DEG, mode="pointwise"), index=shapes.index, crs="EPSG:4326"
    )


def _unit_areas(result: GapAnalysis) -> gpd.GeoSeries | None:
    """The units' polygons, simplified for the page, or None when some unit has none."""
    units = result.units
    if "area" not in units or units["area"].isna().any():
        return None
    areas = gpd.GeoSeries(units["area"], crs=getattr(units["area"], "crs", None) or units.crs)
    return _light(areas, result.config.metric_crs, coverage=True)


def _geojson(
    frame: gpd.GeoDataFrame,
    *,
    name: str,
    show: bool,
    pane: str,
    style: Callable[[dict], dict],
    tooltip: Sequence[tuple[str, str]] = (),
    interactive: bool = True,
) -> folium.GeoJson:
    """A polygon layer; ``tooltip`` = (column, bilingual label) of HTML-text columns."""
    import folium

    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    return folium.GeoJson(
        frame.to_json(),
        name=name,
        show=show,
        style_function=style,
        highlight_function=(lambda _f: {"weight": 3, "color": "#000000"}) if interactive and tooltip else None,
        tooltip=folium.GeoJsonTooltip(fields=[c for c, _ in tooltip], aliases=[a for _, a in tooltip], sticky=True)
        if tooltip
        else None,
        pane=pane,
        interactive=interactive,
    )


def _constant_style(style: dict) -> Callable[[dict], dict]:
    return lambda _feature: style


def _point_layer(name: str, points: list[dict], *, show: bool = True) -> folium.FeatureGroup:
    import folium

    group = folium.FeatureGroup(name=name, show=show)
    group.add_child(_element(_POINTS, points=points))
    return group


# ---------------------------------------------------------------- layers


def _unit_labels(result: GapAnalysis) -> pd.DataFrame:
    """HTML text of each unit for tooltips: name, population, minutes, admin areas."""
    units = result.units
    names = dict(zip(result.facilities["facility_id"], result.facilities["name"], strict=True))

    def column(name: str) -> pd.Series:
        return units[name] if name in units else pd.Series([None] * len(units), index=units.index)

    commune = units["commune_name"] if "commune_name" in units else units["name"]
    return pd.DataFrame(
        {
            "name": commune.map(_text),
            "population": units["population"].map(_count),
            "minutes": units["minutes_to_nearest"].map(_minutes),
            "nearest": units["nearest_facility"].map(lambda f: _text(names.get(f, f)) if pd.notna(f) else ""),
            "epci": [_code_and_name(c, n) for c, n in zip(column("epci"), column("epci_name"), strict=True)],
            "department": [
                _code_and_name(c, n) for c, n in zip(column("department"), column("department_name"), strict=True)
            ],
        },
        index=units.index,
    )


_UNIT_TOOLTIP = [
    ("name", "Commune"),
    ("population", "Population"),
    ("minutes", "Minutes (structure la plus proche / nearest facility)"),
    ("nearest", "Structure la plus proche / Nearest facility"),
    ("epci", "EPCI"),
    ("department", "Département / Department"),
]


def _unit_tooltip(labels: Any) -> str:
    """Tooltip of a unit drawn as a point, from a row of :func:`_unit_labels`."""
    return _table(labels.name, [(label, getattr(labels, column)) for column, label in _UNIT_TOOLTIP[1:]])


def _unit_points(points: gpd.GeoSeries, colours: Sequence[str], tooltips: Sequence[str]) -> list[dict]:
    """Units drawn as small circles (when they have no polygon), one colour and tooltip each."""
    return [
        {
            "location": _latlon(point),
            "style": {
                "radius": 4,
                "weight": 1,
                "color": "#333333",
                "fillColor": colour,
                "fillOpacity": 0.9,
                "pane": "communes",
            },
            "tooltip": tip,
        }
        for point, colour, tip in zip(points, colours, tooltips, strict=True)
    ]


def _add_unit_minutes(
    fmap: folium.Map, result: GapAnalysis, areas: gpd.GeoSeries | None, bands: list[_Band], *, show: bool = True
) -> None:
    """Communes (or units) shaded by their class of minutes to the nearest facility."""
    name = "Communes par temps d'accès / Communes by drive time"
    labels = _unit_labels(result)
    band = _band_index(result.units["minutes_to_nearest"], result.config.thresholds_min)
    if areas is None:  # points only: small circles of the class colour
        colours = [bands[b].colour for b in band]
        tips = [_unit_tooltip(row) for row in labels.itertuples()]
        _point_layer(name, _unit_points(result.units.geometry, colours, tips), show=show).add_to(fmap)
        return
    frame = gpd.GeoDataFrame(labels.assign(band=band), geometry=areas.to_numpy(), crs="EPSG:4326")
    _geojson(
        frame,
        name=name,
        show=show,
        pane="communes",
        style=lambda f: {
            "fillColor": bands[f["properties"]["band"]].colour,
            "fillOpacity": 0.6,
            "color": "#ffffff",
            "weight": 0.4,
        },
        tooltip=_UNIT_TOOLTIP,
    ).add_to(fmap)


def _add_isochrones(fmap: folium.Map, result: GapAnalysis, bands: list[_Band]) -> None:
    """One layer per threshold: the union of every facility's isochrone (off at start).

    The largest comes first, so that the smaller ones are drawn over it.
    """
    iso = result.isochrones
    if not len(iso):
        return
    thresholds = sorted(result.config.thresholds_min)
    for i, t in reversed(list(enumerate(thresholds))):
        shapes = iso.loc[iso["threshold_min"] == t].geometry
        if not len(shapes):
            continue
        union = gpd.GeoSeries([_polygonal(shapes.union_all())], crs=iso.crs)
        frame = gpd.GeoDataFrame(geometry=_light(union, result.config.metric_crs, coverage=False))
        colour = bands[i].colour
        _geojson(
            frame,
            name=f"Isochrone {t:g} min / {t:g}-minute isochrone",
            show=False,
            pane="isochrones",
            style=_constant_style({"fillColor": colour, "fillOpacity": 0.3, "color": colour, "weight": 1.5}),
            interactive=False,
        ).add_to(fmap)


def _add_boundaries(
    fmap: folium.Map, result: GapAnalysis, areas: gpd.GeoSeries | None, departments: gpd.GeoDataFrame | None
) -> None:
    """EPCI (the units' areas dissolved on ``epci``) and department outlines."""
    units = result.units
    if areas is not None and "epci" in units and units["epci"].notna().any():
        frame = gpd.GeoDataFrame({"epci": units["epci"].astype("string")}, geometry=areas.to_numpy(), crs="EPSG:4326")
        epci = frame[frame["epci"].notna()].dissolve(by="epci").reset_index()
        _geojson(
            epci,
            name="Limites des EPCI / EPCI boundaries",
            show=True,
            pane="boundaries",
            style=_constant_style({"fill": False, "color": "#404040", "weight": 1.2, "dashArray": "4,3"}),
            interactive=False,
        ).add_to(fmap)
    if departments is not None and len(departments):
        outlines = _light(departments.geometry, result.config.metric_crs, coverage=True)
        _geojson(
            gpd.GeoDataFrame(geometry=outlines.to_numpy(), crs="EPSG:4326"),
            name="Départements / Departments",
            show=True,
            pane="boundaries",
            style=_constant_style({"fill": False, "color": "#000000", "weight": 2.5}),
            interactive=False,
        ).add_to(fmap)


def _circle_radius(population: np.ndarray, largest: float) -> np.ndarray:
    """Radius in pixels with the circle's area proportional to the population."""
    return np.maximum(_MAX_CIRCLE_PX * np.sqrt(population / largest), _MIN_CIRCLE_PX)


def _add_uncovered(fmap: folium.Map, result: GapAnalysis, *, show: bool = True) -> float | None:
    """Population beyond the largest threshold (or unreachable), as proportional circles.

    Returns the population of the largest circle (for the legend), None when nobody is left.
    """
    t_max = max(result.config.thresholds_min)
    far = result.uncovered(t_max)
    far = far[far["population"] > 0]
    if not len(far):
        return None
    population = far["population"].to_numpy(dtype=float)
    largest = float(population.max())
    labels = _unit_labels(result).loc[far.index]
    points = [
        {
            "location": _latlon(point),
            "style": {
                "radius": round(float(radius), 2),
                "color": "#000000",
                "weight": 1.2,
                "fillColor": "#ffffff",
                "fillOpacity": 0.55,
                "pane": "circles",
            },
            "tooltip": _unit_tooltip(row),
        }
        for point, radius, row in zip(
            far.geometry, _circle_radius(population, largest), labels.itertuples(), strict=True
        )
    ]
    _point_layer(
        f"Population au-delà de {t_max:g} min / Population beyond {t_max:g} min",
        points,
        show=show,
    ).add_to(fmap)
    return largest


def _facility_popup(row: pd.Series, symbol: _Symbol) -> str:
    rows = [
        ("Type", f"{symbol.label} <i>({_text(row['type'])})</i>"),
        ("Identifiant / Id", _text(row["facility_id"])),
        ("Commune", _text(row.get("commune", ""))),
        ("Accès à la route / Access to the road", f"{_count(row['snap_distance_m'])} m"),
    ]
    if bool(row.get("beyond_max_snap", False)):
        rows.append(("Réseau / Network", "hors réseau, ignorée / off the network, left out"))
    return _table(_text(row["name"]), rows)


def _add_facilities(fmap: folium.Map, result: GapAnalysis) -> list[str]:
    """One layer per facility type; returns the types drawn, in order."""
    facilities = result.facilities.to_crs("EPSG:4326")
    types = facilities["type"].astype(str)
    order = [t for t in _FACILITY_SYMBOLS if t in set(types)] + sorted(set(types) - set(_FACILITY_SYMBOLS))
    for kind in order:
        symbol = _FACILITY_SYMBOLS.get(kind, _OTHER_SYMBOL)
        rows = facilities[types == kind]
        points = [
            {
                "location": _latlon(row.geometry),
                "icon": _icon(symbol, f"coverage-facility coverage-facility-{_css_name(kind)}"),
                "tooltip": f"<b>{_text(row['name'])}</b><br>{html.escape(symbol.label)}",
                "popup": _facility_popup(row, symbol),
            }
            for _, row in rows.iterrows()
        ]
        name = symbol.label if kind in _FACILITY_SYMBOLS else f"{symbol.label} : {_text(kind)}"
        _point_layer(f"{name} ({len(rows)})", points).add_to(fmap)
    return order


def _css_name(kind: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in kind)


def _site_rows(row: pd.Series, thresholds: Sequence[float], departments: dict[str, str]) -> list[tuple[str, str]]:
    """The score components of a candidate, as popup rows."""
    rows = [
        (f"Nouveaux couverts ≤ {t:g} min (seul) / Newly covered ≤ {t:g} min (alone)", _count(row[col]))
        for t in thresholds
        if (col := f"newly_covered_{t:g}") in row
    ]
    rows += [
        (
            "Leur temps actuel moyen / Their mean minutes today",
            _minutes(row["served_current_minutes"]) if pd.notna(row.get("served_current_minutes")) else "",
        ),
        (
            "Structure existante la plus proche / Nearest existing facility",
            _minutes(row.get("minutes_to_nearest_existing")),
        ),
        ("Commune", _code_and_name(row.get("commune"), row.get("commune_name"))),
        ("EPCI", _code_and_name(row.get("epci"), row.get("epci_name"))),
        ("Département / Department", _code_and_name(row.get("department"), departments.get(row.get("department")))),
        ("Identifiant / Id", _text(row["candidate_id"])),
    ]
    return rows


def _add_sites(
    fmap: folium.Map,
    plan: SitingPlan,
    thresholds: Sequence[float],
    departments: dict[str, str],
    top_candidates: int,
) -> None:
    """The selected sites, numbered in the order chosen, and the best other candidates."""
    ts = sorted({*thresholds, plan.threshold_min})
    t_label = f"{plan.threshold_min:g}"
    selected = plan.selection_table.to_crs("EPSG:4326")
    chosen = set(selected["candidate_id"].astype(str))
    others = plan.candidates[~plan.candidates["candidate_id"].astype(str).isin(chosen)]
    others = others.sort_values("rank", kind="stable").head(top_candidates).to_crs("EPSG:4326")
    if len(others):
        points = [
            {
                "location": _latlon(row.geometry),
                "icon": _icon(_CANDIDATE_SYMBOL, "coverage-candidate", size=16),
                "z": -1000,
                "tooltip": f"<b>{_text(row['name'])}</b><br>Candidat / Candidate n° {int(row['rank'])}",
                "popup": _table(
                    _text(row["name"]),
                    [("Rang / Rank", str(int(row["rank"]))), *_site_rows(row, ts, departments)],
                ),
            }
            for _, row in others.iterrows()
        ]
        _point_layer(
            f"Candidats suivants ({len(others)}) / Next-best candidates ({len(others)})",
            points,
            show=False,
        ).add_to(fmap)
    if not len(selected):
        return
    points = []
    for _, row in selected.iterrows():
        order = int(row["rank"])
        rows = [
            ("Ordre du choix / Order chosen", str(order)),
            (f"Gain marginal ≤ {t_label} min / Marginal gain ≤ {t_label} min", _count(row["marginal_gain"])),
        ]
        if "population_covered" in row:
            share = f" ({row['share_covered']:.1%})" if pd.notna(row.get("share_covered")) else ""
            rows.append(("Population couverte cumulée / Cumulative covered", _count(row["population_covered"]) + share))
        points.append(
            {
                "location": _latlon(row.geometry),
                "icon": _icon(_SITE_SYMBOL, "coverage-site", size=26, letter=str(order)),
                "z": 1000,
                "tooltip": f"<b>{order}. {_text(row['name'])}</b><br>+{_count(row['marginal_gain'])} hab. / inh.",
                "popup": _table(f"{order}. {_text(row['name'])}", rows + _site_rows(row, ts, departments)),
            }
        )
    solver = _text(plan.selection.solver)
    _point_layer(f"Nouveaux sites ({len(points)}, {solver}, {t_label} min) / New sites", points).add_to(fmap)


# Accessibility classes before -> after a scenario (ColorBrewer RdYlBu / green, colour-blind safe
# enough with the tooltip's numbers; the classes also differ in lightness).
_ACCESS_CLASSES = [
    ("#b2182b", "Zone prioritaire, inchangée / Priority, unchanged"),
    ("#f4a582", "Zone prioritaire, améliorée / Priority, improved"),
    ("#1a9850", "Sortie de zone prioritaire / Lifted above the line"),
    ("#92c5de", "Au-dessus du seuil / Above the line"),
]
_ADDED_COLOUR = "#6a3d9a"


def _access_class(before: np.ndarray, after: np.ndarray, threshold: float) -> np.ndarray:
    """Index in :data:`_ACCESS_CLASSES` of each unit."""
    return np.select(
        [before >= threshold, after >= threshold, after > before + 1e-12],
        [3, 2, 1],
        default=0,
    )


def _number(value: object, digits: int = 2) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):,.{digits}f}".replace(",", "\u202f")  # type: ignore[arg-type]


def _add_access(fmap: folium.Map, study: AccessStudy, areas: gpd.GeoSeries | None) -> None:
    """Units by accessibility class before and after the scenario, and the sites that receive doctors."""
    units = study.units
    s = study.settings
    threshold = s.priority_line_value
    a0 = units["accessibility"].to_numpy(dtype=float)
    a1 = units["accessibility_scenario"].to_numpy(dtype=float)
    cls = _access_class(a0, a1, threshold)
    commune = units["commune_name"] if "commune_name" in units else units["name"]
    unit = html.escape(s.unit_label)
    labels = pd.DataFrame(
        {
            "name": commune.map(_text).to_numpy(),
            "population": units["population"].map(_count).to_numpy(),
            "before": [_number(v) for v in a0],
            "after": [_number(v) for v in a1],
            "change": [("+" if v > 0 else "") + _number(v) for v in a1 - a0],
            "klass": [_ACCESS_CLASSES[c][1] for c in cls],
        }
    )
    tooltip = [
        ("name", "Commune"),
        ("population", "Population"),
        ("before", f"Accessibilité, situation actuelle / Accessibility, baseline ({unit})"),
        ("after", f"Accessibilité, scénario / Accessibility, scenario ({unit})"),
        ("change", "Évolution / Change"),
        ("klass", f"Classe (seuil {threshold:g}) / Class (line {threshold:g})"),
    ]
    scenario = _text(study.scenario.name)
    name = f"Accessibilité : scénario « {scenario} » / Accessibility: scenario ({scenario})"
    if areas is None:
        colours = [_ACCESS_CLASSES[c][0] for c in cls]
        tips = [
            _table(row.name, [(label, getattr(row, col)) for col, label in tooltip[1:]]) for row in labels.itertuples()
        ]
        _point_layer(name, _unit_points(units.geometry, colours, tips)).add_to(fmap)
    else:
        frame = gpd.GeoDataFrame(labels.assign(cls=cls), geometry=areas.to_numpy(), crs="EPSG:4326")
        _geojson(
            frame,
            name=name,
            show=True,
            pane="communes",
            style=lambda f: {
                "fillColor": _ACCESS_CLASSES[f["properties"]["cls"]][0],
                "fillOpacity": 0.65,
                "color": "#ffffff",
                "weight": 0.4,
            },
            tooltip=tooltip,
        ).add_to(fmap)
    sites = study.sites[study.sites["supply_added"] > 0].to_crs("EPSG:4326")
    if not len(sites):
        return
    largest = float(sites["supply_added"].max())
    points = []
    for _, row in sites.iterrows():
        added = float(row["supply_added"])
        rows = [
            ("Médecins avant / Doctors before", _number(row["supply_before"], 1)),
            ("Médecins ajoutés / Doctors added", _number(added, 1)),
            ("Médecins après / Doctors after", _number(row["supply_after"], 1)),
            ("Origine / Added by", _text(row["added_by"])),
            ("Commune", _text(row.get("commune_name"))),
        ]
        points.append(
            {
                "location": _latlon(row.geometry),
                "style": {
                    "radius": 4 + 10 * math.sqrt(added / largest),
                    "weight": 2,
                    "color": "#ffffff",
                    "fillColor": _ADDED_COLOUR,
                    "fillOpacity": 0.9,
                    "pane": "doctors",
                },
                "tooltip": f"<b>{_text(row['name'])}</b><br>+{_number(added, 1)} médecins / doctors",
                "popup": _table(_text(row["name"]), rows),
            }
        )
    _point_layer(
        f"Médecins ajoutés ({_number(sites['supply_added'].sum(), 0)}, {len(points)} sites) / Doctors added",
        points,
    ).add_to(fmap)


def _access_legend(study: AccessStudy) -> str:
    s = study.settings
    rows = "".join(
        f'<div class="row"><span class="swatch" style="background:{colour}"></span>'
        f"<span>{html.escape(label)}</span></div>"
        for colour, label in _ACCESS_CLASSES
    )
    dot = f'<svg width="14" height="14"><circle cx="7" cy="7" r="6" fill="{_ADDED_COLOUR}" stroke="#fff"/></svg>'
    return (
        f"<h4>Accessibilité ({html.escape(s.unit_label)}), seuil {s.priority_line_value:g} / Accessibility, "
        f"line {s.priority_line_value:g}</h4>{rows}"
        f'<div class="row">{dot}<span>Site recevant des médecins / Site receiving doctors</span></div>'
    )


# ---------------------------------------------------------------- legend and page


def _legend(
    bands: list[_Band],
    facility_types: list[str],
    largest: float | None,
    plan: SitingPlan | None,
    access: AccessStudy | None = None,
) -> str:
    def row(symbol_html: str, label: str) -> str:
        return f'<div class="row">{symbol_html}<span>{html.escape(label)}</span></div>'

    parts = ["<h4>Structures / Facilities</h4>"]
    for kind in facility_types:
        symbol = _FACILITY_SYMBOLS.get(kind, _OTHER_SYMBOL)
        label = symbol.label if kind in _FACILITY_SYMBOLS else f"{symbol.label} ({kind})"
        parts.append(row(_icon_svg(symbol, size=18), label))
    if plan is not None:
        parts.append(row(_icon_svg(_SITE_SYMBOL, size=18), _SITE_SYMBOL.label))
        parts.append(row(_icon_svg(_CANDIDATE_SYMBOL, size=16), _CANDIDATE_SYMBOL.label))
    if access is not None:
        parts.append(_access_legend(access))
    parts.append("<h4>Minutes jusqu'à la structure la plus proche / Minutes to the nearest facility</h4>")
    for band in bands:
        parts.append(row(f'<span class="swatch" style="background:{band.colour}"></span>', band.label))
    if largest is not None:
        parts.append("<h4>Population au-delà du dernier seuil / Population beyond the last threshold</h4>")
        for value in (largest, largest / 4):
            r = _circle_radius(np.array([value]), largest)[0]
            d = 2 * r + 2
            circle = (
                f'<svg width="{d:.0f}" height="{d:.0f}"><circle cx="{d / 2:.1f}" cy="{d / 2:.1f}" r="{r:.1f}" '
                'fill="#ffffff" fill-opacity="0.55" stroke="#000000" stroke-width="1.2"/></svg>'
            )
            parts.append(row(circle, f"{_count(value)} hab. / inh."))
    parts.append(
        "<h4>Limites / Boundaries</h4>"
        + row(
            '<span class="swatch" style="border:2.5px solid #000;background:none"></span>', "Département / Department"
        )
        + row('<span class="swatch" style="border:1.2px dashed #404040;background:none"></span>', "EPCI")
    )
    return "<details open><summary>Légende / Legend</summary>" + "".join(parts) + "</details>"


def _bounds(result: GapAnalysis, areas: gpd.GeoSeries | None) -> list[list[float]]:
    boxes = [result.facilities.to_crs("EPSG:4326").total_bounds, result.units.total_bounds]
    if areas is not None:
        boxes.append(areas.total_bounds)
    stack = np.array([b for b in boxes if np.isfinite(b).all()])
    return [[float(stack[:, 1].min()), float(stack[:, 0].min())], [float(stack[:, 3].max()), float(stack[:, 2].max())]]


# What Folium and its fullscreen plugin link to, and what the page really needs: the
# rest (jQuery, Bootstrap, Font Awesome, awesome-markers) only serves folium.Icon and
# folium.Popup, which this map does not use.
_NEEDED_ASSETS = {
    "leaflet": "leaflet.js",
    "leaflet_css": "leaflet.css",
    "Control.Fullscreen.js": "Control.FullScreen.js",
    "Control.FullScreen.css": "Control.FullScreen.css",
}


def _inline_assets(fmap: folium.Map) -> None:
    """Link the vendored Leaflet and fullscreen plugin as data: URIs, and nothing else."""
    from folium.elements import JSCSSMixin

    from coverage.outputs.webmap.assets import data_uri

    def inlined(links: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, data_uri(_NEEDED_ASSETS[name])) for name, _ in links if name in _NEEDED_ASSETS]

    for element in [fmap, *_descendants(fmap)]:
        if isinstance(element, JSCSSMixin):
            # instance attributes: Folium's class-level lists must stay as they are
            element.default_js = inlined(element.default_js)
            element.default_css = inlined(element.default_css)


def _descendants(element: Any) -> list[Any]:
    out = []
    for child in element._children.values():
        out += [child, *_descendants(child)]
    return out


def gap_map(
    result: GapAnalysis,
    *,
    plan: SitingPlan | None = None,
    departments: gpd.GeoDataFrame | None = None,
    offline: bool = False,
    tiles: str | folium.TileLayer | None = "OpenStreetMap",
    top_candidates: int = 20,
    access: AccessStudy | None = None,
) -> folium.Map:
    """Folium map of a :class:`~coverage.analysis.GapAnalysis` and of its siting plan.

    Parameters
    ----------
    result
        The gap analysis.  Units with an ``area`` polygon column are drawn as polygons
        (and their ``epci`` codes give the EPCI outlines), otherwise as points.
    plan
        New sites to draw, numbered in the order chosen, with the ``top_candidates``
        best other candidates (layer off at start); popups give their score components.
    departments
        Department polygons (``department``, ``name``) for outlines and names.
    offline
        Inline Leaflet and the fullscreen plugin (vendored in :mod:`coverage.outputs.webmap.assets`)
        so that the saved page is one file that loads no script or style from the
        network; jQuery and Bootstrap are left out, so Folium elements that need them
        (``folium.Popup``, ``folium.Icon``) should not be added to such a map.  Tiles,
        if any, still come from their server: without it the vector layers draw on a
        grey background.  Otherwise the page links Folium's usual CDN copies.
    tiles
        Background tiles (a Folium ``tiles`` name or ``TileLayer``), or None for none.
    top_candidates
        How many of the best candidates not selected to show.
    access
        An accessibility study (:func:`coverage.scenarios.study_access`): its layer,
        shown at start (the drive-time layer and the circles of the population beyond
        the largest threshold are then off at start), shades the units by
        class before and after the scenario (priority unchanged, improved, lifted above
        the line, above it) with both values in the tooltip, and a second layer marks the
        sites that receive doctors.

    Layers, each in the layer control: communes by class of minutes to the nearest
    facility (viridis, unreachable in grey), one isochrone union per threshold (off at
    start), the population beyond the largest threshold as circles whose area is
    proportional to it, the facilities by type, the candidates and the selected sites,
    EPCI and department outlines.  Names from input files are HTML-escaped.
    """
    import folium
    from folium.plugins import Fullscreen

    bands = _minute_bands(result.config.thresholds_min)
    areas = _unit_areas(result)
    fmap = folium.Map(tiles=tiles, control_scale=False)
    # room on the right for the layer control and the legend
    fmap.fit_bounds(_bounds(result, areas), padding_top_left=(10, 10), padding_bottom_right=(_RIGHT_PANEL_PX, 10))
    for pane, z_index in _PANES.items():
        folium.map.CustomPane(pane, z_index=z_index, pointer_events=pane in ("communes", "circles", "doctors")).add_to(
            fmap
        )

    _add_unit_minutes(fmap, result, areas, bands, show=access is None)
    if access is not None:
        _add_access(fmap, access, areas)
    _add_isochrones(fmap, result, bands)
    _add_boundaries(fmap, result, areas, departments)
    largest = _add_uncovered(fmap, result, show=access is None)
    facility_types = _add_facilities(fmap, result)
    if plan is not None:
        names = {} if departments is None else dict(zip(departments["department"], departments["name"], strict=True))
        _add_sites(fmap, plan, result.config.thresholds_min, names, top_candidates)

    legend_id = "coverage-legend"
    fmap.add_child(
        _element(
            _LEGEND,
            css=_CSS,
            div_id=legend_id,
            body=f'<div id="{legend_id}" class="coverage-legend leaflet-control">'
            f"{_legend(bands, facility_types, largest, plan, access)}</div>",
        )
    )
    fmap.add_child(_element(_SCALE))
    Fullscreen(
        position="topleft", title="Plein écran / Full screen", title_cancel="Quitter le plein écran / Exit full screen"
    ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    if offline:
        _inline_assets(fmap)
    return fmap
