"""Unions of tiles: the coverage union where the parts tile the ground, the ordinary union
where they overlap (a coverage union would be wrong there), by key."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Point, box

from coverage.shapes import union_of_tiles, unions_by_key


def test_a_tiling_and_an_overlap() -> None:
    tiles = np.array([box(i, j, i + 1, j + 1) for i in range(4) for j in range(3)], dtype=object)
    union = union_of_tiles(tiles)
    assert union.equals(box(0, 0, 4, 3)) and union.area == 12.0
    # two 2 x 2 squares overlapping on a 1 x 1 square: 4 + 4 - 1 = 7, not 8
    overlap = union_of_tiles(np.array([box(0, 0, 2, 2), box(1, 1, 3, 3)], dtype=object))
    assert overlap.area == 7.0 and overlap.is_valid
    points = union_of_tiles(np.array([Point(0, 0), Point(1, 1)], dtype=object))
    assert points.equals(shapely.MultiPoint([(0, 0), (1, 1)]))


def test_unions_by_key_sorted_whatever_the_row_order() -> None:
    squares = np.array([box(0, 0, 1, 1), box(5, 5, 6, 6), box(1, 0, 2, 1), box(6, 5, 7, 6)], dtype=object)
    keys, unions = unions_by_key(squares, np.array(["b", "a", "b", "a"]))
    assert keys.tolist() == ["a", "b"]
    assert unions[0].equals(box(5, 5, 7, 6)) and unions[1].equals(box(0, 0, 2, 1))
