"""Benchmark of steps of the demo on the regional data, against their baselines.

- the network: the arrays of the line layer (:class:`coverage.road_edges.RoadEdges`),
  their largest strongly connected component and its compilation, against the same
  through the NetworkX graph (what the demo did before), and a check that the compiled
  networks are the same;
- ``network.graphml``: :func:`coverage.outputs.graphml.write_graphml` from the arrays (as
  the demo writes it) against :func:`osmnx.save_graphml` on the NetworkX graph, and a
  check that NetworkX reads both files back to the same graph;
- isochrones of every facility at 10, 20 and 30 minutes: in one process, then in
  ``--workers`` forked processes, and a check that the polygons are the same; then with
  the roads not simplified before buffering (the code before issue 13's third session),
  and how far the polygons moved;
- the demo's coverage curve (k = 0..37 at 20 minutes, the communes' town halls as
  candidates, ``--curve-time-limit`` seconds per point): in one process, then in
  ``--workers``, and a check that the values and bounds are the same where proven;
- every output of the analysis with the map: written in one process, then with the map
  and the network file in a forked process beside the rest, and a check that the same
  files are written.

Files go to a temporary folder that is removed afterwards.  Run ``python
bench/bench_outputs.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import shapely

import coverage
import coverage.isochrones as iso_module
from coverage.cli.parser import DEMO_CURVE_TIME_LIMIT_S
from coverage.io.regional import RegionalInputs
from coverage.isochrones import isochrones
from coverage.network import compile_network, largest_strong_component
from coverage.outputs.graphml import write_graphml


def timed(label: str, call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:8.2f} s")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="data folder (default: as the demo finds it)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for the isochrones")
    parser.add_argument("--population-units", choices=("communes", "grid"), default="communes")
    parser.add_argument("--road-buffer", type=float, default=0.0, metavar="METRES", help="as the demo's")
    parser.add_argument(
        "--curve-time-limit", type=float, default=DEMO_CURVE_TIME_LIMIT_S, help="seconds per point of the curve"
    )
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    inputs = coverage.load_regional_inputs(
        args.data_dir, population=args.population_units, road_buffer_m=args.road_buffer
    )
    roads = inputs.roads
    print(f"network: {roads.number_of_nodes():,} nodes, {roads.number_of_edges():,} edges")
    built: dict[str, object] = {}

    def through_networkx() -> None:
        built["graph"] = largest_strong_component(roads.to_networkx())
        built["nx"] = compile_network(built["graph"])

    def from_arrays() -> None:
        built["arrays"] = roads.largest_strong_component()
        built["ours"] = compile_network(built["arrays"])

    base = timed("NetworkX graph, component, compiled (baseline)", through_networkx)
    mine = timed("arrays, component, compiled", from_arrays)
    a, b = built["nx"], built["ours"]
    same = a.node_ids.tolist() == b.node_ids.tolist() and (a.matrix != b.matrix).nnz == 0  # type: ignore[attr-defined]
    print(f"  ratio {base / mine:.1f}x; the same compiled network: {same}")
    graph = built["graph"]

    print("network.graphml")
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "ours.graphml", Path(tmp) / "osmnx.graphml"
        base = timed("osmnx.save_graphml of the graph (baseline)", lambda: ox.save_graphml(graph, theirs))
        mine = timed("coverage write_graphml of the arrays", lambda: write_graphml(built["arrays"], ours))
        a = nx.read_graphml(theirs, force_multigraph=True)
        b = nx.read_graphml(ours, force_multigraph=True)
        same = list(a.nodes(data=True)) == list(b.nodes(data=True)) and list(a.edges(keys=True, data=True)) == list(
            b.edges(keys=True, data=True)
        )
        print(f"  ratio {base / mine:.1f}x; read back identical by NetworkX: {same}")

    analysis = coverage.analyse(roads, inputs.facilities, inputs.units, coverage.AnalysisConfig(isochrones=False))
    network = analysis.network
    placed = analysis.facilities[analysis.facilities["node"].notna()]
    nodes = network.indices_of(placed["node"])
    access = placed["access_minutes"].to_numpy(dtype=float) * 60.0
    ids = placed["facility_id"].astype(str).tolist()
    print(f"isochrones: {len(ids)} facilities x 10/20/30 min")
    drawn: dict[int, object] = {}

    def draw(key: int) -> None:
        drawn[key] = isochrones(network, nodes, access, ids, [10, 20, 30], workers=abs(key))

    one = timed("1 process (baseline)", lambda: draw(1))
    many = timed(f"{args.workers} processes", lambda: draw(args.workers))
    first, other = drawn[1], drawn[args.workers]
    same = all(x.equals_exact(y, 0.0) for x, y in zip(first.geometry, other.geometry, strict=True))  # type: ignore[attr-defined]
    print(f"  ratio {one / many:.2f}x; the same polygons: {same}; total area {np.sum(first.area_km2):,.0f} km2")  # type: ignore[attr-defined]
    ratio = iso_module.ROAD_SIMPLIFY_RATIO
    iso_module.ROAD_SIMPLIFY_RATIO = 0.0
    try:
        exact = timed(f"{args.workers} processes, roads not simplified (before)", lambda: draw(-1 * args.workers))
    finally:
        iso_module.ROAD_SIMPLIFY_RATIO = ratio
    pairs = zip(drawn[-args.workers].geometry, other.geometry, strict=True)  # type: ignore[attr-defined]
    moved = max(_farthest(x, y) for x, y in pairs)
    print(f"  ratio {exact / many:.2f}x; no point of one set of polygons lies more than {moved:.0f} m from the other")

    _curve(analysis, inputs, args)
    _outputs(analysis, args)
    return 0


def _farthest(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """The farthest a vertex of either polygon lies from the other (0 inside it): the
    Hausdorff distance of the two areas, on their vertices."""
    far = 0.0
    for one, other in ((a, b), (b, a)):
        xy = shapely.get_coordinates(one)
        shapely.prepare(other)
        outside = xy[~shapely.contains_xy(other, xy[:, 0], xy[:, 1])]
        if len(outside):
            far = max(far, float(shapely.distance(shapely.points(outside), other.boundary).max()))
    return far


def _curve(analysis: coverage.GapAnalysis, inputs: RegionalInputs, args: argparse.Namespace) -> None:
    from coverage.candidates import candidates_from_units, communes_with_facility, exclude_candidates
    from coverage.matrix import analysis_matrix
    from coverage.siting import coverage_curve

    town_halls = inputs.town_halls if inputs.town_halls is not None else analysis.units
    hosting = communes_with_facility(analysis.facilities, analysis.units)
    candidates = exclude_candidates(candidates_from_units(town_halls), communes=hosting, known=hosting)
    matrix = analysis_matrix(analysis, candidates, 30.0, id_column="candidate_id", new_first=True, what="candidates")
    population = analysis.units["population"].to_numpy(dtype=float)
    required = analysis.facilities["facility_id"].astype(str).tolist()
    limit = args.curve_time_limit
    print(f"coverage curve: k = 0..37 at 20 min, {len(candidates):,} candidates, {limit:g} s per point")
    curves = {}

    def run(workers: int) -> None:
        curves[workers] = coverage_curve(
            matrix, population, 20.0, 37, required=required, time_limit_s=limit, workers=workers
        )

    one = timed("1 process (baseline)", lambda: run(1))
    many = timed(f"{args.workers} processes", lambda: run(args.workers))
    a, b = curves[1], curves[args.workers]
    proven = (a["status_exact"] == "optimal") & (b["status_exact"] == "optimal")
    same = bool((a.loc[proven, "population_covered_exact"] == b.loc[proven, "population_covered_exact"]).all())
    print(
        f"  ratio {one / many:.2f}x; proven points {int((b['status_exact'] == 'optimal').sum())} of {len(b)}, "
        f"largest gap {b['gap_exact'].max():.3%}; the same values where both proved: {same}"
    )


def _outputs(analysis: coverage.GapAnalysis, args: argparse.Namespace) -> None:
    import coverage.outputs.write as write_module

    print(f"outputs (tables, layers, GraphML, map, report) of {len(analysis.units):,} units")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)

        def write(name: str) -> None:
            coverage.write_analysis(analysis, root / name, map=True, report=True)

        low = write_module._MIN_UNITS_FOR_A_SIDE_PROCESS
        write_module._MIN_UNITS_FOR_A_SIDE_PROCESS = 10**12
        try:
            one = timed("1 process (baseline)", lambda: write("one"))
        finally:
            write_module._MIN_UNITS_FOR_A_SIDE_PROCESS = low
        two = timed("map and GraphML in a forked process", lambda: write("two"))
        files = [sorted(p.name for p in (root / name).rglob("*")) for name in ("one", "two")]
        print(f"  ratio {one / two:.2f}x; the same files: {files[0] == files[1]}")


if __name__ == "__main__":
    raise SystemExit(main())
