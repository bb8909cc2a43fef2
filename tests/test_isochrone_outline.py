"""How far an isochrone's outline lies from the exact band around the roads reached: within
the documented ``(SIMPLIFY_RATIO + ROAD_SIMPLIFY_RATIO + 0.02) * buffer_m``, on a road that
wiggles by less than the road tolerance (so that the simplifications have work to do)."""

from __future__ import annotations

import numpy as np
import shapely
from conftest import LOCAL_CRS, make_graph

from coverage.analysis import compile_network
from coverage.isochrones import ROAD_SIMPLIFY_RATIO, SIMPLIFY_RATIO, isochrones


def test_the_outline_is_within_the_documented_distance_of_the_exact_band() -> None:
    # 81 nodes every 50 m eastwards, alternately 8 m north and south, then a branch north
    # of 20 nodes; 5 s per edge, so 200 s reach 40 edges east, 100 s 20 edges
    nodes = {f"e{i}": (50.0 * i, 8.0 * (-1) ** i) for i in range(81)}
    nodes |= {f"n{i}": (2000.0 + 4.0 * (-1) ** i, 50.0 * i) for i in range(1, 21)}
    edges = [(f"e{i}", f"e{i + 1}", 5.0) for i in range(80)]
    edges += [("e40", "n1", 5.0)] + [(f"n{i}", f"n{i + 1}", 5.0) for i in range(1, 20)]
    network = compile_network(make_graph(nodes, edges), metric_crs=LOCAL_CRS)
    buffer_m = 500.0
    frame = isochrones(
        network, np.array([network.index_of("e0")]), np.array([0.0]), ["f"], [100 / 60, 250 / 60], buffer_m=buffer_m
    )
    tolerance = buffer_m * (SIMPLIFY_RATIO + ROAD_SIMPLIFY_RATIO + 0.02)
    for limit_s, shape in zip((100.0, 250.0), frame.geometry, strict=True):
        # the exact band: every road point reached within the limit, buffered with fine arcs
        east = [nodes[f"e{i}"] for i in range(min(80, int(limit_s // 5)) + 1)]
        lines = [shapely.LineString(east)]
        if limit_s > 200:
            north = [nodes["e40"]] + [nodes[f"n{i}"] for i in range(1, int((limit_s - 200) // 5) + 1)]
            lines.append(shapely.LineString(north))
        exact = shapely.union_all([shapely.buffer(line, buffer_m, quad_segs=64) for line in lines])
        distance = shapely.hausdorff_distance(shape.exterior, exact.exterior, densify=0.05)
        assert distance <= tolerance + 1e-6, (limit_s, distance)
        # and the simplifications did something: the outline has far fewer points than the wiggles
        assert len(shape.exterior.coords) < len(east)
