"""The GeoJSON text of the web map's polygon layers, written once and vectorised.

:func:`feature_collection` writes a FeatureCollection as the text that goes on the page:
the geometries by GEOS (:func:`shapely.to_geojson`, one call for the whole layer), the
properties column by column.  It is the JSON that Folium writes for the same features
(a GeoDataFrame's ``to_json`` read back and written again through Jinja's ``|tojson``):
the same keys (sorted), ``id`` the feature's number as a string, NaN and None as
``null``, every non-ASCII character as ``\\uXXXX``, and ``<``, ``>``, ``&`` and ``'``
written ``\\u003c``, ``\\u003e``, ``\\u0026`` and ``\\u0027``, so that no text in it can
close the ``<script>`` that holds it.  Only the spaces inside the geometries differ.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["feature_collection", "html_safe", "json_values"]


def html_safe(json_text: str) -> str:
    """JSON text that cannot end a ``<script>`` element nor an HTML attribute (as ``|tojson``)."""
    return json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")


def _json_value(value: object) -> str:
    if value is None or value is pd.NA:
        return "null"
    if isinstance(value, str):
        return str(encode_basestring_ascii(value))
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return float.__repr__(float(value)) if math.isfinite(value) else "null"
    return json.dumps(value, sort_keys=True)


def json_values(values: Iterable[object]) -> list[str]:
    """Each value as JSON text (ASCII, NaN and None as ``null``), not yet :func:`html_safe`."""
    return [_json_value(v) for v in values]


def feature_collection(geometries: Sequence[object] | np.ndarray, properties: pd.DataFrame | None = None) -> str:
    """A FeatureCollection of the ``geometries`` (EPSG:4326), as HTML-safe JSON text.

    Missing and empty geometries are left out, with their row of ``properties`` (a
    DataFrame in the order of ``geometries``, its index not written); the features
    kept are numbered from 0 (``"id": "0"``).
    """
    geoms = np.asarray(geometries, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kept = np.flatnonzero(keep)
    shapes = shapely.to_geojson(geoms[kept]).tolist()
    if properties is None or not len(properties.columns):
        props = ["{}"] * len(kept)
    else:
        if len(properties) != len(geoms):
            raise ValueError(f"{len(properties)} rows of properties for {len(geoms)} geometries")
        columns = sorted(properties.columns, key=str)
        keys = [f"{encode_basestring_ascii(str(c))}: " for c in columns]
        encoded = [json_values(properties[c].to_numpy(dtype=object)[kept]) for c in columns]
        props = [
            "{" + ", ".join(k + v for k, v in zip(keys, row, strict=True)) + "}" for row in zip(*encoded, strict=True)
        ]
    features = ", ".join(
        f'{{"geometry": {shape}, "id": "{i}", "properties": {prop}, "type": "Feature"}}'
        for i, (shape, prop) in enumerate(zip(shapes, props, strict=True))
    )
    return html_safe(f'{{"features": [{features}], "type": "FeatureCollection"}}')
