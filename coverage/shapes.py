"""Unions of areas that tile the ground: the fast coverage union, checked.

Grid cells and commune polygons form a *coverage*: no two overlap and neighbours share
their edges vertex for vertex.  GEOS then merges them along those edges
(:func:`shapely.coverage_union_all`) many times faster than an ordinary union, but gives
a wrong answer, valid or not, when they are not a coverage.  :func:`union_of_tiles` keeps
the coverage union only when it is valid and covers the whole of every part (its area
is the sum of the parts' areas: no overlap was lost), and takes the ordinary union
otherwise.
"""

from __future__ import annotations

import itertools

import numpy as np
import shapely

__all__ = ["union_of_tiles", "unions_by_key"]

#: Relative difference of areas within which the coverage union is taken as exact.
_AREA_TOLERANCE = 1e-9


def union_of_tiles(parts: np.ndarray) -> shapely.Geometry:
    """The union of ``parts``: their coverage union where it is right, else the ordinary union."""
    parts = np.asarray(parts, dtype=object)
    polygons = np.isin(shapely.get_type_id(parts), [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    if len(parts) and polygons.all():
        try:
            union = shapely.coverage_union_all(parts)
        except shapely.errors.GEOSException:  # "incorrectly noded": not a coverage (simplified polygons)
            return shapely.union_all(parts)
        total = float(shapely.area(parts).sum())
        if shapely.is_valid(union) and abs(shapely.area(union) - total) <= _AREA_TOLERANCE * max(total, 1.0):
            return union
    return shapely.union_all(parts)


def unions_by_key(geometries: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, list[shapely.Geometry]]:
    """The sorted distinct ``keys`` and the :func:`union_of_tiles` of the geometries of each."""
    geometries, keys = np.asarray(geometries, dtype=object), np.asarray(keys)
    distinct, group = np.unique(keys, return_inverse=True)
    order = np.argsort(group.ravel(), kind="stable")
    ends = np.searchsorted(group.ravel()[order], np.arange(len(distinct) + 1))
    return distinct, [union_of_tiles(geometries[order[a:b]]) for a, b in itertools.pairwise(ends)]
