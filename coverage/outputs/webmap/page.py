"""The page around the layers: Leaflet map, panes, elements, icons, legend box, controls.

This module draws nothing of the analysis itself; it holds what every layer of the web map
stands on:

- the :class:`folium.Map`, fitted to the territory with room on the right for the layer
  control and the legend, and its panes (polygons under boundaries, circles above them,
  markers on top);
- the Jinja/branca elements: :func:`point_layer` (markers and circle markers drawn by
  one loop), :func:`geojson` (polygon layers, a style per value of a property), the
  legend as a Leaflet control, the metric scale, the full-screen button and the layer
  control (put on the page last, when the map is rendered:
  :class:`~coverage.outputs.webmap.elements.CoverageMap`);
- the SVG markers of facilities, sites and candidates (:func:`icon_svg`, :func:`icon`),
  in the shapes and colours of :mod:`coverage.outputs.style`;
- the light geometry of the page: outlines simplified to about 100 m and rounded to
  about 10 m (:func:`light`);
- with ``offline=True``, the vendored Leaflet and fullscreen plugin inlined as ``data:``
  URIs when the map is rendered (:class:`~coverage.outputs.webmap.elements.CoverageMap`).

Text from input files is data, never code.  The points of :func:`point_layer` reach the
page through ``|tojson``, so that a name, already HTML text made by
:mod:`~coverage.outputs.webmap.popups`, cannot break out of its string; the legend body
is HTML in which :mod:`~coverage.outputs.webmap.legend` has escaped every label; and
what these elements render is put on the page as it is
(:class:`~coverage.outputs.webmap.elements.DataElement`), never read again as a Jinja
template; the polygon layers of :func:`geojson` are such elements too
(:class:`~coverage.outputs.webmap.elements.GeoJsonLayer`, their features written once by
:func:`~coverage.outputs.webmap.features.feature_collection`).  Folium's own elements
(the layer control's names) do read their output again as a template: the names, and
the text of every property and tooltip label for good measure, pass through
:func:`inert`, which writes every ``{`` as ``&#123;``.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    import folium

    from coverage.outputs.style import Symbol
    from coverage.outputs.webmap.elements import CoverageMap, DataElement, GeoJsonLayer

__all__ = [
    "add_controls",
    "add_legend",
    "element",
    "geojson",
    "icon",
    "icon_svg",
    "inert",
    "latlon",
    "light",
    "new_map",
    "point_layer",
    "polygonal",
]

_SIMPLIFY_M = 100.0  # outlines move by about this much at most (isochrones are 500 m bands): a lighter page
_PRECISION_DEG = 1e-4  # about 10 m
_RIGHT_PANEL_PX = 400  # width of the layer control and legend, kept clear when fitting the map

# Leaflet panes: polygons under boundaries, circles above them, markers (600) on top.  The
# communes lie under Leaflet's overlay pane (400), where the layers a user adds to the map
# go, so that these are drawn over the communes' fill.
_PANES = {"communes": 395, "isochrones": 410, "boundaries": 415, "circles": 420, "doctors": 425}

# SVG shapes of the markers, keyed by Symbol.shape; the PNG figures use matplotlib's
# markers of the same shapes instead.
_SHAPES = {
    "circle": '<circle cx="12" cy="12" r="10"/>',
    "square": '<rect x="3" y="3" width="18" height="18"/>',
    "diamond": '<polygon points="12,1 23,12 12,23 1,12"/>',
    "hexagon": '<polygon points="6.5,2.5 17.5,2.5 23,12 17.5,21.5 6.5,21.5 1,12"/>',
    "triangle": '<polygon points="12,1 23,22 1,22"/>',
    "pentagon": '<polygon points="12,1 23,9 19,22 5,22 1,9"/>',
    "cross": '<polygon points="9,2 15,2 15,9 22,9 22,15 15,15 15,22 9,22 9,15 2,15 2,9 9,9"/>',
}

# ---------------------------------------------------------------- Leaflet elements


@functools.cache
def _template(source: str) -> Any:
    from folium.template import Template

    return Template(source)


def inert(html_text: str) -> str:
    """HTML text in which no template engine finds code: every ``{`` written ``&#123;``.

    Folium and branca compile what an element renders as a Jinja template once more; with
    no ``{`` left, ``{{``, ``{%`` and ``{#`` cannot occur, and the browser still shows ``{``.
    For text that a browser reads as HTML (tooltips, popups, layer names, the legend).
    """
    return html_text.replace("{", "&#123;")


def element(source: str, **attributes: Any) -> DataElement:
    """A branca element rendered by the Jinja ``source``, with ``attributes`` set on it.

    What it renders goes on the page as it is, never compiled again as a template.
    """
    from coverage.outputs.webmap.elements import DataElement

    return DataElement(_template(source), **attributes)


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


def icon_svg(symbol: Symbol, *, size: int = 24, letter: str | None = None) -> str:
    """SVG of a marker: the symbol's shape and fill, its letter (or ``letter``) inside."""
    stroke = "#000000" if symbol.fill == "#ffffff" else "#ffffff"
    text = symbol.letter if letter is None else letter
    y = 17 if symbol.shape == "triangle" else 16
    font = 10 if len(text) > 1 else 12
    label = (
        f'<text x="12" y="{y}" text-anchor="middle" font-family="sans-serif" font-size="{font}" '
        f'font-weight="bold" fill="{symbol.text}">{inert(html.escape(text))}</text>'
        if text
        else ""
    )
    return (
        f'<svg width="{size}" height="{size}" viewBox="0 0 24 24">'
        f'<g fill="{symbol.fill}" stroke="{stroke}" stroke-width="1.5">{_SHAPES[symbol.shape]}</g>{label}</svg>'
    )


def icon(symbol: Symbol, css_class: str, *, size: int = 24, letter: str | None = None) -> dict:
    """Options of a Leaflet ``divIcon`` drawing :func:`icon_svg`, centred on its point."""
    return {
        "html": icon_svg(symbol, size=size, letter=letter),
        "className": f"coverage-icon {css_class}",
        "iconSize": [size, size],
        "iconAnchor": [size // 2, size // 2],
        "popupAnchor": [0, -size // 2],
    }


def latlon(point: shapely.Point) -> list[float]:
    """Leaflet's ``[lat, lon]`` of a point in EPSG:4326, to about 10 cm."""
    return [round(point.y, 6), round(point.x, 6)]


def point_layer(name: str, points: list[dict], *, show: bool = True) -> folium.FeatureGroup:
    """A layer of markers (``icon``) or circle markers (``style``), each with its tooltip and popup.

    ``points`` are dicts of ``location``, ``icon`` or ``style``, and optionally ``z``,
    ``tooltip`` and ``popup`` (HTML text, already escaped); they reach the page as JSON.
    ``name`` is HTML text too (the layer control shows it as HTML).
    """
    import folium

    group = folium.FeatureGroup(name=inert(name), show=show)
    group.add_child(element(_POINTS, points=points))
    return group


def geojson(
    geometries: Sequence[shapely.Geometry] | np.ndarray,
    properties: pd.DataFrame | None = None,
    *,
    name: str,
    show: bool,
    pane: str,
    styles: list[dict],
    style_property: str | None = None,
    tooltip: Sequence[tuple[str, str]] = (),
    interactive: bool = True,
) -> GeoJsonLayer:
    """A polygon layer of ``geometries`` (EPSG:4326) with the ``properties`` of each.

    Each feature is drawn in ``styles[properties[style_property]]``, or in ``styles[0]``
    without a ``style_property``.  ``tooltip`` = (column, bilingual label) of HTML-text
    columns.  ``name``, the labels and every text column are HTML text; they pass through
    :func:`inert`.  Missing and empty geometries are left out, and the features are
    numbered from 0 (the index of ``properties`` is not written).
    """
    from coverage.outputs.webmap.elements import GeoJsonLayer
    from coverage.outputs.webmap.features import feature_collection

    if properties is not None and len(properties.columns):
        properties = properties.apply(lambda column: column.map(lambda v: inert(v) if isinstance(v, str) else v))
    missing = [c for c, _ in tooltip if properties is None or c not in properties.columns]
    if missing:
        raise ValueError(f"tooltip fields not in the properties: {missing}")
    return GeoJsonLayer(
        feature_collection(geometries, properties),
        name=inert(name),
        show=show,
        styles=styles,
        style_property=style_property,
        highlight={"color": "#000000", "weight": 3} if interactive and tooltip else None,
        tooltip_fields=[c for c, _ in tooltip],
        tooltip_aliases=[inert(a) for _, a in tooltip],
        pane=pane,
        interactive=interactive,
    )


# ---------------------------------------------------------------- geometry for the page


def polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """Only the polygons of a geometry (a union may also hold lines or points)."""
    if geometry is None or geometry.is_empty or geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def light(shapes: gpd.GeoSeries, metric_crs: str, *, coverage: bool) -> gpd.GeoSeries:
    """Simplified (shared edges kept shared when ``coverage``), in EPSG:4326, on a ~10 m grid."""
    metric = shapes.to_crs(metric_crs).to_numpy()
    simple = None
    if coverage and hasattr(shapely, "coverage_simplify"):
        try:
            simple = shapely.coverage_simplify(metric, _SIMPLIFY_M)
        except shapely.errors.GEOSException:  # not a clean coverage (shapes simplified one by one upstream)
            simple = None
    if simple is None:
        simple = shapely.simplify(metric, _SIMPLIFY_M, preserve_topology=True)
    lonlat = gpd.GeoSeries(simple, index=shapes.index, crs=metric_crs).to_crs("EPSG:4326")
    return gpd.GeoSeries(
        shapely.set_precision(lonlat.to_numpy(), _PRECISION_DEG, mode="pointwise"), index=shapes.index, crs="EPSG:4326"
    )


# ---------------------------------------------------------------- the map and its controls


def _bounds(boxes: Sequence[np.ndarray]) -> list[list[float]]:
    """``[[south, west], [north, east]]`` around the finite ``(minx, miny, maxx, maxy)`` boxes."""
    stack = np.array([b for b in boxes if np.isfinite(b).all()])
    return [[float(stack[:, 1].min()), float(stack[:, 0].min())], [float(stack[:, 3].max()), float(stack[:, 2].max())]]


def new_map(tiles: str | folium.TileLayer | None, boxes: Sequence[np.ndarray], *, offline: bool) -> CoverageMap:
    """An empty map fitted to ``boxes`` (EPSG:4326 bounds), with the panes of the layers.

    With ``offline``, the page it renders carries Leaflet itself (see
    :class:`~coverage.outputs.webmap.elements.CoverageMap`).
    """
    import folium

    from coverage.outputs.webmap.elements import CoverageMap

    fmap = CoverageMap(offline=offline, tiles=tiles, control_scale=False)
    # room on the right for the layer control and the legend
    fmap.fit_bounds(_bounds(boxes), padding_top_left=(10, 10), padding_bottom_right=(_RIGHT_PANEL_PX, 10))
    for pane, z_index in _PANES.items():
        folium.map.CustomPane(pane, z_index=z_index, pointer_events=pane in ("communes", "circles", "doctors")).add_to(
            fmap
        )
    return fmap


def add_legend(fmap: folium.Map, body: str) -> None:
    """The legend box, bottom right, holding ``body`` (HTML, already escaped), and the page's CSS."""
    legend_id = "coverage-legend"
    fmap.add_child(
        element(
            _LEGEND,
            css=_CSS,
            div_id=legend_id,
            body=f'<div id="{legend_id}" class="coverage-legend leaflet-control">{body}</div>',
        )
    )


def add_controls(fmap: CoverageMap) -> None:
    """Metric scale, full-screen button and layer control.

    The layer control is put on the page when the map is rendered, after every layer
    (:class:`~coverage.outputs.webmap.elements.CoverageMap`), so that it also lists the
    layers added to the map later.
    """
    import folium
    from folium.plugins import Fullscreen

    fmap.add_child(element(_SCALE))
    Fullscreen(
        position="topleft", title="Plein écran / Full screen", title_cancel="Quitter le plein écran / Exit full screen"
    ).add_to(fmap)
    fmap.layer_control = folium.LayerControl(collapsed=False)
