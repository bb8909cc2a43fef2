"""Benchmark of two output steps of the demo on the regional data, against their baselines.

- ``network.graphml``: :func:`coverage.outputs.graphml.write_graphml` against
  :func:`osmnx.save_graphml` (what the demo used before) on the same graph, and a check
  that NetworkX reads both files back to the same graph;
- isochrones of every facility at 10, 20 and 30 minutes: in one process, then in
  ``--workers`` forked processes, and a check that the polygons are the same.

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

import coverage
from coverage.isochrones import isochrones
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
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    inputs = coverage.load_regional_inputs(args.data_dir, population=args.population_units)
    graph = inputs.graph
    print(f"network: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges")

    print("network.graphml")
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "ours.graphml", Path(tmp) / "osmnx.graphml"
        base = timed("osmnx.save_graphml (baseline)", lambda: ox.save_graphml(graph, theirs))
        mine = timed("coverage write_graphml", lambda: write_graphml(graph, ours))
        a = nx.read_graphml(theirs, force_multigraph=True)
        b = nx.read_graphml(ours, force_multigraph=True)
        same = list(a.nodes(data=True)) == list(b.nodes(data=True)) and list(a.edges(keys=True, data=True)) == list(
            b.edges(keys=True, data=True)
        )
        print(f"  ratio {base / mine:.1f}x; read back identical by NetworkX: {same}")

    analysis = coverage.analyse(graph, inputs.facilities, inputs.units, coverage.AnalysisConfig(isochrones=False))
    network = analysis.network
    placed = analysis.facilities[analysis.facilities["node"].notna()]
    nodes = network.indices_of(placed["node"])
    access = placed["access_minutes"].to_numpy(dtype=float) * 60.0
    ids = placed["facility_id"].astype(str).tolist()
    print(f"isochrones: {len(ids)} facilities x 10/20/30 min")
    drawn: dict[int, object] = {}

    def draw(workers: int) -> None:
        drawn[workers] = isochrones(network, nodes, access, ids, [10, 20, 30], workers=workers)

    one = timed("1 process (baseline)", lambda: draw(1))
    many = timed(f"{args.workers} processes", lambda: draw(args.workers))
    first, other = drawn[1], drawn[args.workers]
    same = all(x.equals_exact(y, 0.0) for x, y in zip(first.geometry, other.geometry, strict=True))  # type: ignore[attr-defined]
    print(f"  ratio {one / many:.2f}x; the same polygons: {same}; total area {np.sum(first.area_km2):,.0f} km2")  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
