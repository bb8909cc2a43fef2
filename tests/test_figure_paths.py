"""The map figure's polygon paths, built from every ring at once: shells counter-clockwise,
holes clockwise, one path per geometry, an empty path where there is no polygon."""

from __future__ import annotations

from matplotlib.path import Path as MplPath
from shapely.geometry import MultiPolygon, Point, Polygon

from coverage.outputs.figure_map import _polygon_paths

M, L = MplPath.MOVETO, MplPath.LINETO


def test_shells_and_holes_by_hand() -> None:
    # a clockwise shell with a counter-clockwise hole: both must be turned round
    shell_cw = [(0, 0), (0, 4), (4, 4), (4, 0), (0, 0)]
    hole_ccw = [(1, 1), (2, 1), (2, 2), (1, 2), (1, 1)]
    square = Polygon([(10, 0), (11, 0), (11, 1), (10, 1), (10, 0)])  # already counter-clockwise
    paths = _polygon_paths(
        [Polygon(shell_cw, [hole_ccw]), None, MultiPolygon([square, Polygon(shell_cw)]), Point(0, 0), Polygon()]
    )
    assert len(paths) == 5
    first = paths[0]
    assert first.vertices.tolist() == [
        *([0, 0], [4, 0], [4, 4], [0, 4], [0, 0]),  # shell, counter-clockwise
        *([1, 1], [1, 2], [2, 2], [2, 1], [1, 1]),  # hole, clockwise
    ]
    assert first.codes.tolist() == [M, L, L, L, L] * 2
    assert len(paths[1].vertices) == len(paths[3].vertices) == len(paths[4].vertices) == 0
    third = paths[2]
    assert third.vertices[:5].tolist() == [[10, 0], [11, 0], [11, 1], [10, 1], [10, 0]]
    assert third.vertices[5:].tolist() == [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
    assert third.codes.tolist() == [M, L, L, L, L] * 2
