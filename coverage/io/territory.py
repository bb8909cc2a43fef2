"""The area around a territory and the road lines near it.

:func:`territory_area` is the territory widened by a buffer in metres;
:func:`_read_lines_near` reads, from a line layer, only the lines within that buffer
(through the band's bounding box, then the exact distance in the metric CRS), for
:class:`coverage.io.roads.RoadLayer` when it is given ``within``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from coverage.config import DEFAULT_METRIC_CRS
from coverage.crs import parse_metric_crs
from coverage.errors import InputDataError
from coverage.io._common import check_finite_coordinates
from coverage.numbers import is_number

__all__ = ["DEFAULT_TERRITORY_BUFFER_M", "territory_area"]

logger = logging.getLogger(__name__)

#: Metres around a territory within which the lines of a road layer are kept when only
#: the area is given (:attr:`RoadLayer.within`): a route that leaves the territory and
#: comes back stays routable.
DEFAULT_TERRITORY_BUFFER_M = 30_000.0

#: Vertex spacing (degrees) of an area given in a geographic CRS before it is projected,
#: so that its edges follow the meridians and parallels they were drawn along.
_AREA_STEP_DEG = 0.01
#: Margin (metres) added to the bounding box passed to the file reader: the box is
#: projected into the layer's CRS through sampled points, which can cut a corner.
_BBOX_MARGIN_M = 1_000.0


def territory_area(
    polygons: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame,
    buffer_m: float = DEFAULT_TERRITORY_BUFFER_M,
    *,
    metric_crs: str = DEFAULT_METRIC_CRS,
    crs: str | None = None,
) -> gpd.GeoSeries:
    """The territory and the band of ``buffer_m`` metres around it, as one polygon.

    Parameters
    ----------
    polygons
        The territory: a GeoSeries or GeoDataFrame with a CRS (e.g. its commune
        polygons in EPSG:4326), or a shapely geometry in ``crs``.
    buffer_m
        Width of the band in metres (0: the territory alone, its parts merged).
    metric_crs
        CRS in which the band is drawn (never degrees), and of the result.
    crs
        CRS of a bare shapely geometry (default: ``metric_crs``).

    Returns
    -------
    geopandas.GeoSeries
        One (Multi)Polygon in ``metric_crs``.  Its rounded corners are drawn with chords,
        so it lies up to 0.5 % of ``buffer_m`` inside the set of points within
        ``buffer_m`` of the territory, which :func:`read_road_lines` measures exactly.
    """
    buffer_m = _checked_buffer(buffer_m, "territory_area: buffer_m")
    parse_metric_crs(metric_crs, what="territory_area: metric_crs")
    geometry, area_crs = _merged_area(polygons, crs, metric_crs, "territory_area: polygons")
    area = _area_in(geometry, area_crs, metric_crs, "territory_area: polygons")
    if buffer_m > 0:
        area = shapely.buffer(area, buffer_m)
    return gpd.GeoSeries([area], crs=metric_crs, name="geometry")


def _checked_buffer(value: object, what: str) -> float:
    """A buffer width in metres: a finite number, 0 or more."""
    if not (is_number(value) and float(value) >= 0):  # type: ignore[arg-type]
        raise InputDataError(f"{what} = {value!r}; expected a finite number of metres, 0 or more (e.g. 30000)")
    return float(value)  # type: ignore[arg-type]


def _merged_area(area: object, crs: str | None, metric_crs: str, what: str) -> tuple[BaseGeometry, str]:
    """One valid geometry of the area's parts, and the CRS its coordinates are in."""
    given = None
    if crs is not None:
        try:
            given = CRS.from_user_input(crs)
        except CRSError:
            raise InputDataError(f"{what}: CRS {crs!r} is not known to PROJ (e.g. 'EPSG:4326')") from None
    if isinstance(area, gpd.GeoDataFrame):
        area = area.geometry
    if isinstance(area, gpd.GeoSeries):
        if area.crs is None:
            raise InputDataError(f"{what}: the GeoSeries has no CRS; set it (e.g. .set_crs('EPSG:4326'))")
        if given is not None and given != area.crs:
            raise InputDataError(f"{what}: CRS {crs!r} differs from the CRS of the GeoSeries ({area.crs})")
        parts = area.to_numpy()
        crs = area.crs.to_string()
    elif isinstance(area, BaseGeometry):
        parts = np.array([area], dtype=object)
        crs = metric_crs if given is None else given.to_string()
    else:
        kind = type(area).__name__
        raise InputDataError(
            f"{what}: expected a GeoSeries or GeoDataFrame with a CRS, or a shapely geometry; got {kind}"
        )
    parts = parts[~(shapely.is_missing(parts) | shapely.is_empty(parts))]
    if len(parts) == 0:
        raise InputDataError(f"{what}: the area is empty; expected the territory's polygons")
    if not np.isfinite(shapely.get_coordinates(parts)).all():
        raise InputDataError(f"{what}: the area has coordinates that are not finite numbers (NaN or infinite)")
    west, south, east, north = shapely.total_bounds(parts)
    if CRS.from_user_input(crs).is_geographic and not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InputDataError(
            f"{what}: the area is in {crs}, but its coordinates (bounds {west:g}, {south:g}, {east:g}, {north:g}) "
            "are not longitudes and latitudes; is its CRS right?"
        )
    merged = shapely.union_all(shapely.make_valid(parts))
    return merged, crs


def _area_in(geometry: BaseGeometry, crs: str, metric_crs: str, what: str) -> BaseGeometry:
    """The area in ``metric_crs``; edges drawn in degrees get vertices every 0.01° first."""
    source = CRS.from_user_input(crs)
    if source == CRS.from_user_input(metric_crs):
        return geometry
    if source.is_geographic:
        geometry = shapely.segmentize(geometry, _AREA_STEP_DEG)
    to_metric = Transformer.from_crs(source, metric_crs, always_xy=True)
    projected = shapely.transform(geometry, lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.get_coordinates(projected)).all():
        raise InputDataError(f"{what}: the area cannot be projected from {crs} to {metric_crs}; is its CRS right?")
    return projected


def _read_lines_near(path: Path, spec: Any) -> gpd.GeoDataFrame:
    """The lines of the layer at most ``spec.area_buffer_m`` from ``spec.within``
    (``spec``: a :class:`~coverage.io.roads.RoadLayer` given ``within``).

    The file is read through the bounding box of the buffered area (pyogrio's ``bbox``,
    which a GeoPackage answers from its spatial index), then each line's distance to the
    area is measured in the metric CRS.
    """
    assert isinstance(spec.within, BaseGeometry) and spec.within_crs is not None
    what = "road layer"
    area = _area_in(spec.within, spec.within_crs, spec.metric_crs, f"{what} {path}: within")
    distance = spec.area_buffer_m
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise InputDataError(f"{what} {path}: not a readable vector file ({exc})") from exc
    names = [str(name) for name in layers[:, 0]]
    if spec.layer is not None and spec.layer not in names:
        raise InputDataError(f"{what} {path}: no layer {spec.layer!r}; layers are {names}")
    if spec.layer is None and len(names) > 1:
        raise InputDataError(f"{what} {path}: holds several layers {names}; say which one to read")
    layer = spec.layer or names[0]
    try:
        layer_crs = pyogrio.read_info(path, layer=layer)["crs"]
    except Exception as exc:
        raise InputDataError(f"{what} {path}: could not read layer {layer!r} ({exc})") from exc
    if layer_crs is None:
        raise InputDataError(f"{what} {path}: the layer has no CRS; expected one (e.g. EPSG:4326 or EPSG:2154)")
    reach = distance + _BBOX_MARGIN_M
    west, south, east, north = area.bounds
    to_layer = Transformer.from_crs(spec.metric_crs, layer_crs, always_xy=True)
    bbox = to_layer.transform_bounds(west - reach, south - reach, east + reach, north + reach, densify_pts=101)
    try:
        frame = gpd.read_file(
            path,
            layer=layer,
            engine="pyogrio",
            bbox=bbox if np.isfinite(bbox).all() else None,
            fid_as_index=True,
        )
    except Exception as exc:
        raise InputDataError(f"{what} {path}: could not read layer {layer!r} ({exc})") from exc
    if "geometry" not in frame:
        raise InputDataError(f"{what} {path}: the layer has no geometry")
    check_finite_coordinates(frame.geometry, where=f"{what} {path}")
    lines = frame.geometry.to_crs(spec.metric_crs).to_numpy()
    shapely.prepare(area)
    near = shapely.dwithin(area, lines, distance)
    if not near.any():
        raise InputDataError(
            f"{what} {path}: no line within {distance:,.0f} m of the area given as within "
            f"(bounds {tuple(round(b) for b in area.bounds)} in {spec.metric_crs}); "
            f"do the area (CRS {spec.within_crs}) and the layer cover the same place?"
        )
    logger.info(
        "%s %s: %d lines within %s m of the area (%d read in its bounding box)",
        what,
        path,
        int(near.sum()),
        f"{distance:,.0f}",
        len(frame),
    )
    return frame.loc[near]
