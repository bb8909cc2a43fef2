"""The web map's polygon layers written once as text: the same features, properties and styles as Folium's.

:func:`~coverage.outputs.webmap.features.feature_collection` writes the GeoJSON of a
layer with vectorised shapely instead of Folium's feature-by-feature path, and
:class:`~coverage.outputs.webmap.elements.GeoJsonLayer` puts it on the page with a style
looked up by a property instead of a switch on every feature's id.  On small hand-made
layers, every feature, property, id and style must be the ones that Folium's own
:class:`folium.GeoJson` (fed by GeoPandas' ``to_json``) puts on its page, and hostile
text must stay inert.  The EPCI outlines, unions of the units' areas taken as a coverage,
must be the squares' unions worked out by hand.
"""

from __future__ import annotations

import json
import math
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from coverage.outputs.webmap.features import feature_collection
from coverage.outputs.webmap.layers import _dissolve
from coverage.outputs.webmap.page import geojson

SCRIPT = "</script><script>alert(1)</script>"
JINJA = "MSP {{ 7*7 }} Blois {% if true %}x{% endif %} {# c"
IMG = "<img src=x onerror=\"alert('1')\">"
QUOTES = 'L\'Île "Verte" \\ & Co'

# a square with a hole, a multipolygon, a missing and an empty geometry, a triangle
GEOMETRIES = [
    Polygon([(1.0, 47.0), (1.1, 47.0), (1.1, 47.1), (1.0, 47.1)], [[(1.02, 47.02), (1.05, 47.02), (1.05, 47.05)]]),
    MultiPolygon([box(1.2, 47.0, 1.25, 47.05), box(1.3, 47.0, 1.35, 47.05)]),
    None,
    Polygon(),
    Polygon([(0.5, 46.5), (0.60001, 46.5), (0.5, 46.61234)]),
]
PROPERTIES = pd.DataFrame(
    {
        "name": [SCRIPT, JINJA, "gone", "empty", IMG],
        "other": [QUOTES, None, "x", "y", "Châteaudun"],
        "band": [0, 2, 1, 1, 1],
        "share": [0.25, float("nan"), 1.0, 2.0, 1e-7],
    },
    index=[10, 11, 12, 13, 14],  # not written: features are numbered from 0
)
STYLES = [{"fillColor": "#440154", "weight": 0.4}, {"fillColor": "#21918c", "weight": 0.4}, {"fillColor": "#fde725"}]


def folium_page_data(layer: folium.GeoJson) -> tuple[dict, list[dict]]:
    """The FeatureCollection and the style of each feature that Folium writes for ``layer``."""
    fmap = folium.Map(tiles=None)
    layer.add_to(fmap)
    page = fmap.get_root().render()
    data = json.loads(re.search(r"_add\((\{\"features\".*?\})\);\n", page, re.S).group(1))  # type: ignore[union-attr]
    body = re.search(r"_styler\(feature\) \{\s*switch\(feature\.id\) \{(.*?)\n\s*\}\n\s*\}", page, re.S).group(1)  # type: ignore[union-attr]
    by_id = {}
    for cases, style in re.findall(r"((?:case \"\d+\": )+)\s*return (\{.*?\});", body):
        for i in re.findall(r'"(\d+)"', cases):
            by_id[i] = json.loads(style)
    default = json.loads(re.search(r"default:\s*return (\{.*?\});", body).group(1))  # type: ignore[union-attr]
    return data, [by_id.get(f["id"], default) for f in data["features"]]


def our_page_data(layer: folium.map.Layer) -> tuple[str, dict, list[dict]]:
    """The page, the FeatureCollection and the style of each feature of one of our layers."""
    fmap = folium.Map(tiles=None)
    layer.add_to(fmap)
    page = fmap.get_root().render()
    name = layer.get_name()
    data = json.loads(re.search(name + r"_add\((\{\"features\".*?\})\);\n", page, re.S).group(1))  # type: ignore[union-attr]
    styles = json.loads(re.search(name + r"_styles = (\[.*?\]);\n", page).group(1))  # type: ignore[union-attr]
    key = re.search(name + r"_styler\(feature\) \{\s*return " + name + r"_styles\[(.*?)\];", page).group(1)  # type: ignore[union-attr]
    if key == "0":
        return page, data, [styles[0]] * len(data["features"])
    prop = json.loads(re.fullmatch(r"feature\.properties\[(.*)\]", key).group(1))  # type: ignore[union-attr]
    return page, data, [styles[f["properties"][prop]] for f in data["features"]]


def reference_frame() -> gpd.GeoDataFrame:
    """What Folium was given before: the rows with a geometry, numbered from 0."""
    frame = gpd.GeoDataFrame(PROPERTIES, geometry=GEOMETRIES, crs="EPSG:4326")
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)].reset_index(drop=True)
    return frame


def braces_as_entities(frame: pd.DataFrame) -> pd.DataFrame:
    """Text whose ``{`` is ``&#123;``, which Folium's own elements need (they read their output as a template)."""
    return frame.assign(
        **{c: frame[c].map(lambda v: v.replace("{", "&#123;") if isinstance(v, str) else v) for c in ("name", "other")}
    )


def test_feature_collection_is_the_json_folium_writes_for_a_geodataframe() -> None:
    ours = feature_collection(np.array(GEOMETRIES, dtype=object), braces_as_entities(PROPERTIES))
    theirs = folium.GeoJson(braces_as_entities(reference_frame()).to_json())
    expected = json.loads(
        re.search(r"_add\((\{\"features\".*?\})\);\n", folium_map_page(theirs), re.S).group(1)  # type: ignore[union-attr]
    )
    assert json.loads(ours) == expected
    features = json.loads(ours)["features"]
    # by hand: three features kept, numbered 0..2, NaN written null, the hole kept
    assert [f["id"] for f in features] == ["0", "1", "2"]
    assert [f["properties"]["name"] for f in features] == [SCRIPT, JINJA.replace("{", "&#123;"), IMG]
    assert features[1]["properties"]["share"] is None and features[2]["properties"]["share"] == 1e-7
    assert features[0]["geometry"]["coordinates"][1] == [[1.02, 47.02], [1.05, 47.02], [1.05, 47.05], [1.02, 47.02]]
    assert features[2]["geometry"]["coordinates"][0][1:3] == [[0.60001, 46.5], [0.5, 46.61234]]
    assert features[1]["geometry"]["type"] == "MultiPolygon"
    # the text cannot close a script or an attribute, and stays ASCII; "features" first, as Folium writes it
    assert not re.search(r"[<>&'\u0080-\uffff]", ours)
    assert ours.startswith('{"features": [')


def folium_map_page(layer: folium.GeoJson) -> str:
    fmap = folium.Map(tiles=None)
    layer.add_to(fmap)
    return fmap.get_root().render()


def test_properties_of_every_kind_are_written_as_json_would() -> None:
    values = pd.DataFrame(
        {
            "i": np.array([3, -7], dtype=np.int64),
            "f": [math.inf, 2.5],
            "b": [True, False],
            "s": pd.array(["é", pd.NA], dtype="string"),
            "o": [None, "ok"],
        }
    )
    text = feature_collection([box(0, 0, 1, 1), box(1, 1, 2, 2)], values)
    props = [f["properties"] for f in json.loads(text)["features"]]
    assert props == [
        {"b": True, "f": None, "i": 3, "o": None, "s": "é"},
        {"b": False, "f": 2.5, "i": -7, "o": "ok", "s": None},
    ]
    assert "\\u00e9" in text
    with pytest.raises(ValueError, match="rows of properties"):
        feature_collection([box(0, 0, 1, 1)], values)


def test_layer_draws_the_features_and_styles_folium_draws() -> None:
    frame = reference_frame()
    tooltip = [("name", "Nom / Name"), ("other", "Autre {{ 1+1 }} / Other")]
    reference = folium.GeoJson(
        braces_as_entities(frame).to_json(),
        style_function=lambda f: STYLES[f["properties"]["band"]],
    )
    expected_data, expected_styles = folium_page_data(reference)
    layer = geojson(
        np.array(GEOMETRIES, dtype=object),
        PROPERTIES,
        name="Couche {{ 7*7 }} <b>x</b>",
        show=True,
        pane="communes",
        styles=STYLES,
        style_property="band",
        tooltip=tooltip,
    )
    page, data, styles = our_page_data(layer)
    assert data == expected_data
    assert styles == expected_styles == [STYLES[0], STYLES[2], STYLES[1]]  # bands 0, 2, 1
    # the tooltip lists the fields under their aliases, as GeoJsonTooltip does; hovering highlights
    fields = json.loads(re.search(r"let fields = (\[.*?\]);", page).group(1))  # type: ignore[union-attr]
    aliases = json.loads(re.search(r"let aliases = (\[.*?\]);", page).group(1))  # type: ignore[union-attr]
    assert fields == ["name", "other"]
    assert aliases == ["Nom / Name", "Autre &#123;&#123; 1+1 }} / Other"]
    assert '"sticky": true' in page and "resetStyle" in page and '"pane": "communes"' in page
    # hostile text is data: no template ran, nothing closes the script, no tag made from it
    assert (
        "MSP 49" not in page and "Couche 49" not in page and "{{" not in page and "{%" not in page and "{#" not in page
    )
    assert SCRIPT not in page and IMG not in page and "<b>x</b>" not in page
    assert page.count("</script>") == page.count("<script")
    assert layer.layer_name == "Couche &#123;&#123; 7*7 }} <b>x</b>"  # HTML text in the layer control, as before


def test_constant_style_layer_without_tooltip_is_neither_highlighted_nor_interactive() -> None:
    layer = geojson(
        [box(0, 45, 1, 46)], name="Isochrone", show=False, pane="isochrones", styles=[STYLES[2]], interactive=False
    )
    page, data, styles = our_page_data(layer)
    assert styles == [STYLES[2]] and len(data["features"]) == 1
    assert data["features"][0]["properties"] == {}
    assert "_highlighter" not in page and "bindTooltip" not in page and '"interactive": false' in page
    assert f"{layer.get_name()}.addTo(" not in page  # off at start
    with pytest.raises(ValueError, match="tooltip fields"):
        geojson([box(0, 0, 1, 1)], name="x", show=True, pane="p", styles=[{}], tooltip=[("name", "Nom")])


def test_epci_outlines_are_the_unions_of_their_squares() -> None:
    # 3 x 2 squares of 1 km, EPCI by column: A A B / A C B, and one square without a code
    squares = [box(x, y, x + 1, y + 1) for y in (0, 1) for x in (0, 1, 2)]
    codes = pd.Series(["A", "A", "B", "A", None, "B"], dtype="string")
    unions = _dissolve(np.array(squares, dtype=object), codes)
    expected = [
        Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]),  # the L of A
        box(2, 0, 3, 2),  # B
    ]
    assert len(unions) == 2
    for union, shape in zip(unions, expected, strict=True):
        assert shapely.equals(union, shape)
    # squares that overlap are no coverage: their union is still the union
    overlapping = np.array([box(0, 0, 2, 1), box(1, 0, 3, 1)], dtype=object)
    (union,) = _dissolve(overlapping, pd.Series(["X", "X"], dtype="string"))
    assert union.is_valid and union.area == pytest.approx(3.0)
