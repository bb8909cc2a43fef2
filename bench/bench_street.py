# ruff: noqa: E501, N806, B023, F821  (a benchmark: long table lines, T for minutes, closures called in their loop, names freed with del)
"""Street level, in simulation and on paper (issue 15, part 4).

OpenStreetMap's drivable network of France is tens of millions of nodes. This script builds
synthetic street-level networks of ``--sizes`` million nodes (default 5, 10, 20; stopping
when the memory or the time it predicts for the next size is past ``--max-gib`` or
``--max-minutes-per-size``) and measures on each, in the same run:

* building the arrays, and compiling them: ``RoadEdges`` + ``coverage.network.compile_network``
  (the library's path) up to ``--compile-max`` million nodes, else the same CSR built directly
  (Morton order, fastest parallel edge, as ``compile_network`` does); the memory of the
  compiled network against the reversed CSR alone, which is all a search needs;
* the cost of one bounded search, ``scipy.sparse.csgraph.dijkstra(reverse, indices=[site],
  limit=T)`` as ``coverage.matrix`` calls it at this size (one site per call: its chunk is
  64 MiB of dense rows), at 0 (no node settled but the source: the fixed cost of a call), 20 and
  30 minutes, with the nodes reached and the RSS growth of one call; against ``np.full(n, inf)``
  (the dense output row alone): SciPy allocates and initialises O(n) per search whatever the limit;
* reading the units off a dense row (``coverage.matrix``'s ``dist[:, unit_nodes]`` and
  ``nonzero``) for 35,000 units (communes) and 2,300,000 (a 200 m grid);
* ``coverage_matrix`` on a Dask LocalCluster of 1 and 2 workers (``--workers``) on a sample of
  sites: sites per second, the 2 vs 1 ratio, the RSS of each worker holding the scattered graph
  (psutil, sampled every 0.1 s), the time to scatter the graph, and the identity of the two
  matrices (and with one process on the first sites).

Then the scaling table: what a national street-level coverage matrix (and the APL, which is a
floating catchment on the 20-minute matrix) would cost on N machines, from a per-search model
fitted on these measurements; every assumption is printed with it.

The synthetic network: a grid of ``--spacing`` m (117 m: 73 nodes per km², the density of a
40-million-node France, 550,000 km²) with 20 m of jitter, 4 % of the blocks removed, 8 % of the
local streets one way; local streets at 40 km/h (±15 %), collectors at 60 every 5 blocks,
arterials at 80 every 25, expressways at 110 every 150 lines with an interchange every 10 nodes.

Run ``python bench/bench_street.py --help`` for the options; ``--sizes 1`` for a quick check.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import pickle
import sys
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")

import numpy as np
import psutil
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))
from bench_national import (  # noqa: E402
    ChildSampler,
    environment,
    load_average,
    peak_mb,
    reset_peak,
    rss_mb,
    trim_heap,
)

#: Grid and speeds of the synthetic street network.
ORIGIN_X_M = 150_000.0
ORIGIN_Y_M = 6_150_000.0
JITTER_M = 20.0
REMOVED_SHARE = 0.04
ONE_WAY_SHARE = 0.08
LOCAL_KPH = 40.0
SPEED_NOISE = 0.15
COLLECTOR_KPH, COLLECTOR_EVERY = 60.0, 5
ARTERIAL_KPH, ARTERIAL_EVERY = 80.0, 25
EXPRESS_KPH, EXPRESS_EVERY, EXPRESS_SKIP = 110.0, 150, 10
#: The scaling table's assumptions (printed with it).
FRANCE_NODES = 40e6  # see the docstring of scaling_table
FRANCE_AREA_KM2 = 550_000.0
SITES = 35_000
UNITS = {"communes": 35_000, "200 m grid": 2_300_000}
MACHINES = (1, 4, 16, 64)
#: Pairs kept per site and unit set at 30 min, bytes per pair in the CSR (int32 + float64).
PAIR_BYTES = 12
#: Network between machines, GB/s (10 Gb/s Ethernet), for the scatter of the graph.
NETWORK_GB_S = 1.0


def build_arrays(n_nodes: int, spacing: float, seed: int) -> dict[str, Any]:
    """Directed street edges (u, v, seconds, metres, class) and node coordinates (EPSG:2154)."""
    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_nodes))
    rows = math.ceil(n_nodes / cols)
    n = rows * cols
    x = (ORIGIN_X_M + np.tile(np.arange(cols) * spacing, rows) + rng.uniform(-JITTER_M, JITTER_M, n)).astype(float)
    y = (ORIGIN_Y_M + np.repeat(np.arange(rows) * spacing, cols) + rng.uniform(-JITTER_M, JITTER_M, n)).astype(float)

    def line_class(index: np.ndarray) -> np.ndarray:
        cls = np.zeros(len(index), dtype=np.int8)
        cls[index % COLLECTOR_EVERY == 0] = 1
        cls[index % ARTERIAL_EVERY == 0] = 2
        return cls

    # horizontal blocks (along a row) and vertical blocks (along a column)
    hr = np.repeat(np.arange(rows, dtype=np.int64), cols - 1)
    hc = np.tile(np.arange(cols - 1, dtype=np.int64), rows)
    h_u = hr * cols + hc
    h_cls = line_class(hr)
    vr = np.repeat(np.arange(rows - 1, dtype=np.int64), cols)
    vc = np.tile(np.arange(cols, dtype=np.int64), rows - 1)
    v_u = vr * cols + vc
    v_cls = line_class(vc)
    del hr, hc, vr, vc
    u = np.concatenate([h_u, v_u])
    v = np.concatenate([h_u + 1, v_u + cols])
    cls = np.concatenate([h_cls, v_cls])
    del h_u, v_u, h_cls, v_cls
    keep = (rng.random(len(u)) >= REMOVED_SHARE) | (cls > 0)
    u, v, cls = u[keep], v[keep], cls[keep]
    # expressways: long edges every EXPRESS_SKIP nodes on every EXPRESS_EVERY-th row and column
    eu, ev = [], []
    for r in range(EXPRESS_EVERY // 2, rows, EXPRESS_EVERY):
        line = r * cols + np.arange(0, cols, EXPRESS_SKIP, dtype=np.int64)
        eu.append(line[:-1])
        ev.append(line[1:])
    for c in range(EXPRESS_EVERY // 2, cols, EXPRESS_EVERY):
        line = np.arange(0, rows, EXPRESS_SKIP, dtype=np.int64) * cols + c
        eu.append(line[:-1])
        ev.append(line[1:])
    if eu:
        u = np.concatenate([u, *eu])
        v = np.concatenate([v, *ev])
        cls = np.concatenate([cls, np.full(sum(len(a) for a in eu), 3, dtype=np.int8)])
    length = np.hypot(x[v] - x[u], y[v] - y[u])
    kph = np.array([LOCAL_KPH, COLLECTOR_KPH, ARTERIAL_KPH, EXPRESS_KPH])[cls] * rng.uniform(
        1 - SPEED_NOISE, 1 + SPEED_NOISE, len(u)
    )
    seconds = length / (kph / 3.6)
    # both directions, except one-way local streets (either direction)
    one_way = (cls == 0) & (rng.random(len(u)) < ONE_WAY_SHARE)
    flip = rng.random(len(u)) < 0.5
    fwd = ~one_way | ~flip
    back = ~one_way | flip
    out = {
        "n": n,
        "rows": rows,
        "cols": cols,
        "x": x,
        "y": y,
        "u": np.concatenate([u[fwd], v[back]]),
        "v": np.concatenate([v[fwd], u[back]]),
        "seconds": np.concatenate([seconds[fwd], seconds[back]]),
        "length": np.concatenate([length[fwd], length[back]]),
        "kph": np.concatenate([kph[fwd], kph[back]]),
        "cls": np.concatenate([cls[fwd], cls[back]]),
    }
    return out


def compile_library(a: dict[str, Any]) -> Any:
    """``RoadEdges`` of the arrays, then ``coverage.network.compile_network`` (the library's path)."""
    from coverage.network import compile_network
    from coverage.road_edges import RoadEdges

    m = len(a["u"])
    names = np.array(["local", "collector", "arterial", "expressway"], dtype=object)
    row_class = names[a["cls"]]
    edges = RoadEdges(
        crs="EPSG:2154",
        name="synthetic street grid",
        node_id=np.arange(a["n"], dtype=np.int64),
        node_x=a["x"],
        node_y=a["y"],
        edge_u=a["u"],
        edge_v=a["v"],
        length=a["length"],
        speed_kph=a["kph"],
        travel_time=a["seconds"],
        edge_row=np.arange(m, dtype=np.int64),
        row_highway=row_class,
        row_class=row_class,
        row_source=np.arange(m, dtype=np.int64),
        row_name=np.full(m, None, dtype=object),
    )
    return compile_network(edges, metric_crs="EPSG:2154")


def compile_direct(a: dict[str, Any]) -> sp.csr_array:
    """The CSR ``compile_network`` would make (Morton order, fastest parallel edge), built directly."""
    from coverage.network import _morton_codes

    n = a["n"]
    order = np.argsort(_morton_codes(a["x"], a["y"]), kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    del order
    u, v, w = rank[a["u"]], rank[a["v"]], a["seconds"]
    del rank
    order = np.lexsort((w, v, u))
    u, v, w = u[order], v[order], w[order]
    del order
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    u, v, w = u[first], v[first], w[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, u + 1, 1)
    np.cumsum(indptr, out=indptr)
    return sp.csr_array((w, v.astype(np.int32), indptr.astype(np.int32)), shape=(n, n))


def csr_mb(m: sp.csr_array) -> float:
    return (m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**20


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def search_costs(reverse: sp.csr_array, sites: np.ndarray, limits_min: Sequence[float]) -> dict[str, Any]:
    """Per-search seconds, nodes reached and RSS growth of single-site calls, per limit."""
    n = reverse.shape[0]
    out: dict[str, Any] = {}
    # the dense output row alone, as a floor of the O(n) part
    t = [timed(lambda: np.full(n, np.inf))[0] for _ in range(len(sites))]
    out["np.full(n, inf)"] = {"ms": 1000 * float(np.median(t))}
    dijkstra(reverse, directed=True, indices=sites[:1], limit=0.0)  # warm-up
    for T in limits_min:
        times, reached = [], []
        for s in sites.tolist():
            sec, dist = timed(lambda s=s: dijkstra(reverse, directed=True, indices=[s], limit=T * 60.0))
            times.append(sec)
            reached.append(int(np.isfinite(dist).sum()))
            del dist
        gc.collect()
        trim_heap()
        before = rss_mb()
        reset_peak()
        dist = dijkstra(reverse, directed=True, indices=sites[:1], limit=T * 60.0)
        growth = peak_mb() - before
        del dist
        out[f"{T:g} min"] = {
            "ms": 1000 * float(np.median(times)),
            "ms_mean": 1000 * float(np.mean(times)),
            "reached_mean": float(np.mean(reached)),
            "rss_growth_mb": growth,
        }
    return out


def readoff_costs(n: int, rng: np.random.Generator, unit_counts: dict[str, int], repeat: int = 5) -> dict[str, float]:
    """Milliseconds per site of ``coverage.matrix``'s read-off of a dense row for so many units."""
    row = np.full((1, n), np.inf)
    reach = rng.choice(n, size=min(n, 200_000), replace=False)
    row[0, reach] = rng.uniform(0, 1800, len(reach))
    out = {}
    for name, count in unit_counts.items():
        nodes = rng.integers(0, n, count)
        access = rng.uniform(0, 120, count)
        positions = np.arange(count)

        def read() -> Any:
            seconds = row[:, nodes] + access[None, :] + 30.0
            r, c = np.nonzero(seconds <= 1800.0)
            return np.bincount(r, minlength=1), positions[c].astype(np.int32), seconds[r, c] / 60.0

        out[name] = 1000 * min(timed(read)[0] for _ in range(repeat))
    return out


def dask_throughput(
    reverse: sp.csr_array, sites: np.ndarray, units: np.ndarray, workers: Sequence[int], max_minutes: float
) -> dict[str, Any]:
    """``coverage_matrix`` of ``sites`` x ``units`` in one process (first sites) and on 1 and 2 Dask workers."""
    from coverage.cluster import dask_cluster
    from coverage.matrix import coverage_matrix

    net = types.SimpleNamespace(reverse_matrix=reverse, n_nodes=reverse.shape[0])
    zeros_s, zeros_u = np.zeros(len(sites)), np.zeros(len(units))
    sid, uid = np.arange(len(sites)).astype(str), np.arange(len(units)).astype(str)

    def run(k: int | None = None) -> Any:
        k = len(sites) if k is None else k
        return coverage_matrix(net, sites[:k], zeros_s[:k], units, zeros_u, max_minutes, site_ids=sid[:k], unit_ids=uid)  # type: ignore[arg-type]

    out: dict[str, Any] = {"sites": len(sites), "units": len(units), "max_minutes": max_minutes}
    few = min(len(sites), 8)
    sec, one = timed(lambda: run(few))
    out["one process"] = {"sites": few, "seconds": sec, "sites_per_s": few / sec}
    print(f"      one process, {few} sites: {sec:.1f} s ({few / sec:.2f} sites/s)", flush=True)
    matrices = {}
    for w in workers:
        with ChildSampler() as sampler:
            start = time.perf_counter()
            with dask_cluster(workers=w) as client:
                client.run(lambda: __import__("coverage.matrix"))
                started = time.perf_counter() - start
                idle = client.run(lambda: psutil.Process().memory_info().rss / 2**20)
                scatter_s, state = timed(lambda: client.scatter([reverse], broadcast=True, hash=False))
                holding = client.run(lambda: psutil.Process().memory_info().rss / 2**20)
                client.cancel(state)
                del state
                small = 2 * w
                sec_small, _ = timed(lambda: run(small))
                sec, matrices[w] = timed(run)
        peaks = sampler.worker_peaks()[:w]
        marginal = (len(sites) - small) / max(sec - sec_small, 1e-9)
        r = {
            "seconds": sec,
            "sites_per_s_raw": len(sites) / sec,
            "sites_per_s": marginal,
            "small_call": {"sites": small, "seconds": sec_small},
            "cluster_start_s": started,
            "scatter_s": scatter_s,
            "worker_rss_idle_mb": sorted(idle.values()),
            "worker_rss_holding_graph_mb": sorted(holding.values()),
            "worker_peak_rss_mb": peaks,
        }
        out[f"dask {w}"] = r
        print(
            f"      Dask {w} worker{'s' if w > 1 else ''}: {sec:.1f} s for {len(sites)} sites, {sec_small:.1f} s for {small}: "
            f"{marginal:.2f} sites/s marginal ({len(sites) / sec:.2f} raw; scatter alone "
            f"{scatter_s:.1f} s); worker RSS idle {', '.join(f'{v:,.0f}' for v in r['worker_rss_idle_mb'])} MiB, holding "
            f"the graph {', '.join(f'{v:,.0f}' for v in r['worker_rss_holding_graph_mb'])} MiB, peak while searching "
            f"{', '.join(f'{v:,.0f}' for v in peaks)} MiB",
            flush=True,
        )
    checks = []
    if len(workers) == 2:
        a, b = (matrices[w].minutes for w in workers)
        same = a.nnz == b.nnz and np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
        same = same and np.array_equal(a.data, b.data)
        first = matrices[workers[-1]].minutes[:few]
        same_one = np.array_equal(first.indices, one.minutes.indices) and np.array_equal(first.data, one.minutes.data)
        out["identical"] = bool(same and same_one)
        checks.append(out["identical"])
        ratio = out[f"dask {workers[-1]}"]["sites_per_s"] / out[f"dask {workers[0]}"]["sites_per_s"]
        out["ratio"] = ratio
        print(
            f"      ratio {workers[-1]} workers / {workers[0]} (marginal sites per second: the fixed costs of a call, "
            f"the graph's scatter, left out) {ratio:.2f}x; matrices identical "
            f"({a.nnz:,} pairs) and equal to one process on the first {few} sites: {out['identical']}",
            flush=True,
        )
    out["checks"] = checks
    return out


def bench_size(millions: float, args: argparse.Namespace) -> dict[str, Any]:
    n_req = int(millions * 1_000_000)
    print(f"\n== {millions:g} million nodes requested (load average {load_average()})", flush=True)
    rec: dict[str, Any] = {"requested_nodes": n_req}
    gc.collect()
    trim_heap()
    base = rss_mb()
    reset_peak()
    sec, arrays = timed(lambda: build_arrays(n_req, args.spacing, args.seed))
    n, m = arrays["n"], len(arrays["u"])
    rec.update(nodes=n, directed_edges=m, build_s=sec, build_peak_mb=peak_mb(), rss_before_mb=base)
    area = (arrays["rows"] * args.spacing) * (arrays["cols"] * args.spacing) / 1e6
    print(
        f"   built {n:,} nodes, {m:,} directed edges ({m / n:.2f} per node), {area:,.0f} km² "
        f"({n / area:.0f} nodes/km²) in {sec:.1f} s; peak RSS {rec['build_peak_mb']:,.0f} MiB",
        flush=True,
    )
    library = n <= args.compile_max * 1_000_000
    reset_peak()
    before = rss_mb()
    if library:
        sec, network = timed(lambda: compile_library(arrays))
        rec["compile"] = "RoadEdges + compile_network"
        rec["compile_s"] = sec
        rec["compile_peak_mb"] = peak_mb()
        sec_r, reverse = timed(lambda: network.reverse_matrix)
        rec["reverse_s"] = sec_r
        held = rss_mb()
        rec["network_held_mb"] = held - before
        del network
    else:
        sec, matrix = timed(lambda: compile_direct(arrays))
        rec["compile"] = "CSR built directly (as compile_network does)"
        rec["compile_s"] = sec
        rec["compile_peak_mb"] = peak_mb()
        sec_r, reverse = timed(lambda: sp.csr_array(matrix.T))
        rec["reverse_s"] = sec_r
        del matrix
    del arrays
    gc.collect()
    trim_heap()
    rec["reverse_csr_mb"] = csr_mb(reverse)
    rec["rss_reverse_only_mb"] = rss_mb()
    print(
        f"   compiled ({rec['compile']}) in {rec['compile_s']:.1f} s, peak RSS {rec['compile_peak_mb']:,.0f} MiB"
        + (f"; the RoutingNetwork holds {rec['network_held_mb']:,.0f} MiB" if library else "")
        + f"; reversed CSR {rec['reverse_csr_mb']:,.0f} MiB ({rec['reverse_s']:.1f} s); RSS with it alone "
        f"{rec['rss_reverse_only_mb']:,.0f} MiB",
        flush=True,
    )
    rng = np.random.default_rng(args.seed + 1)
    sites = rng.choice(n, size=args.searches, replace=False)
    sec_p, blob = timed(lambda: pickle.dumps(reverse, protocol=5))
    sec_u, _ = timed(lambda: pickle.loads(blob))
    rec["pickle_s"] = {"dumps": sec_p, "loads": sec_u, "mb": len(blob) / 2**20}
    del blob
    print(f"   pickle of the reversed CSR (protocol 5): dumps {sec_p:.2f} s, loads {sec_u:.2f} s", flush=True)
    rec["search"] = search_costs(reverse, sites, (0.0, 20.0, 30.0))
    s = rec["search"]
    print(
        f"   one search (median of {args.searches}): np.full(n, inf) {s['np.full(n, inf)']['ms']:.1f} ms; "
        + "; ".join(
            f"limit {k} {v['ms']:.1f} ms, {v['reached_mean']:,.0f} nodes reached, +{v['rss_growth_mb']:,.0f} MiB RSS"
            for k, v in s.items()
            if k.endswith("min")
        ),
        flush=True,
    )
    rec["readoff_ms"] = readoff_costs(n, rng, UNITS)
    print(
        "   read-off of one dense row: "
        + ", ".join(f"{k} ({UNITS[k]:,} units) {v:.1f} ms" for k, v in rec["readoff_ms"].items()),
        flush=True,
    )
    if not args.skip_dask:
        per = s["30 min"]["ms"] / 1000 + rec["readoff_ms"]["communes"] / 1000
        k = int(max(2 * max(args.workers, 1) * 4, min(args.max_dask_sites, math.ceil(args.dask_seconds / per))))
        dsites = rng.choice(n, size=k, replace=False)
        units = rng.choice(n, size=min(n, args.units), replace=False)
        print(f"   coverage_matrix, {k} random sites x {len(units):,} random units, 30 min:", flush=True)
        rec["dask"] = dask_throughput(reverse, dsites, units, sorted({1, args.workers}), 30.0)
    rec["peak_mb"] = peak_mb()
    del reverse
    gc.collect()
    trim_heap()
    return rec


def fit_model(sizes: list[dict[str, Any]]) -> dict[str, float]:
    """Per-search seconds = a * n + b * reached (least squares over sizes and limits); memory per node."""
    xs, ys = [], []
    for r in sizes:
        for k in ("0 min", "20 min", "30 min"):
            v = r["search"][k]
            xs.append((r["nodes"], v["reached_mean"]))
            ys.append(v["ms"] / 1000)
    a_mat = np.array(xs, dtype=float)
    coef, *_ = np.linalg.lstsq(a_mat, np.array(ys), rcond=None)
    largest = max(sizes, key=lambda r: r["nodes"])
    csr_per_node = largest["reverse_csr_mb"] * 2**20 / largest["nodes"]
    search_growth = largest["search"]["30 min"]["rss_growth_mb"] * 2**20 / largest["nodes"]
    out = {
        "a_s_per_node": float(coef[0]),
        "b_s_per_reached_node": float(coef[1]),
        "csr_bytes_per_node": csr_per_node,
        "search_bytes_per_node": search_growth,
        "reached_20": largest["search"]["20 min"]["reached_mean"],
        "reached_30": largest["search"]["30 min"]["reached_mean"],
        "readoff_ms": largest["readoff_ms"],
        "edges_per_node": largest["directed_edges"] / largest["nodes"],
    }
    d = largest.get("dask")
    if d and "ratio" in d:
        out["two_worker_ratio"] = d["ratio"]
        w = d[f"dask {max(k for k in (1, 2) if f'dask {k}' in d)}"]
        out["worker_idle_mb"] = float(np.median(w["worker_rss_idle_mb"]))
        out["worker_peak_mb"] = max(w["worker_peak_rss_mb"]) if w["worker_peak_rss_mb"] else math.nan
        out["worker_peak_per_node"] = (out["worker_peak_mb"] - out["worker_idle_mb"]) * 2**20 / largest["nodes"]
        out["scatter_gb_s_local"] = (largest["reverse_csr_mb"] / 1024) / d["dask 1"]["scatter_s"]
    return out


def scaling_table(model: dict[str, float], args: argparse.Namespace) -> tuple[list[str], list[dict[str, Any]]]:
    """Hours and memory per worker of a national street-level matrix on N machines.

    Assumptions (printed): France's OSM drivable network as a routing graph of ``--france-nodes``
    nodes (40 M; an OSRM extraction of France gave "a little more than 30 million nodes" in 2014,
    T. Gräbener, blog.tristramg.eu/roads-from-notre-dame.html, and OSM has grown since; an
    intersection-only graph as OSMnx simplifies it would be several times smaller), with the
    synthetic grid's edges per node and node density (the grid's spacing is chosen for it), so
    that a search reaches as many nodes as measured here; sites = 35,000 town halls; units = the
    35,000 communes or ~2.3 M populated 200 m cells; machines like this one (``--workers`` worker
    processes each, the throughput of one machine = one worker's x the 2 / 1 ratio measured here)
    and perfect scaling across machines (the blocks are independent; the client only gathers);
    the graph scattered at ``NETWORK_GB_S`` (or Dask's scatter rate measured here, if slower) in
    1 + log2(workers) rounds.
    """
    n = args.france_nodes
    a, b = model["a_s_per_node"], model["b_s_per_reached_node"]
    per_machine = min(float(args.workers), model.get("two_worker_ratio", float(args.workers)))
    rows, recs = [], []
    header = (
        "| machines (workers) | units | matrix 20 min (APL) | matrix 30 min | memory per worker | "
        "graph scatter | matrix in the client, 30 min |"
    )
    rows += [header, "|---|---|---|---|---|---|---|"]
    csr_gb = model["csr_bytes_per_node"] * n / 2**30
    per_node = model.get("worker_peak_per_node", model["csr_bytes_per_node"] + model["search_bytes_per_node"])
    for unit_name, units in UNITS.items():
        readoff = model["readoff_ms"][unit_name] / 1000 * (units / UNITS[unit_name])
        t20 = a * n + b * model["reached_20"] + readoff
        t30 = a * n + b * model["reached_30"] + readoff
        units_per_site = model["reached_30"] / n * units if unit_name != "communes" else args.communes_per_site
        matrix_gb = SITES * units_per_site * PAIR_BYTES / 2**30
        for machines in MACHINES:
            workers = machines * args.workers
            speed = machines * per_machine
            # Dask's broadcast scatter sends to one worker, then replicates between workers (about
            # log2(workers) rounds); each round moves the graph at NETWORK_GB_S.
            rate = min(NETWORK_GB_S, model.get("scatter_gb_s_local", NETWORK_GB_S))
            scatter = csr_gb / rate * (1 + math.ceil(math.log2(workers)))
            h20 = (SITES * t20 / speed + scatter) / 3600
            h30 = (SITES * t30 / speed + scatter) / 3600
            mem = (model.get("worker_idle_mb", 200.0) * 2**20 + per_node * n + 8 * units) / 2**30
            recs.append(
                {
                    "machines": machines,
                    "workers": workers,
                    "units": unit_name,
                    "hours_20": h20,
                    "hours_30": h30,
                    "worker_gib": mem,
                    "scatter_s": scatter,
                    "search_s_20": t20,
                    "search_s_30": t30,
                    "matrix_gib_30": matrix_gb,
                }
            )
            rows.append(
                f"| {machines} ({workers}) | {unit_name} ({units:,}) | {h20:,.2f} h | {h30:,.2f} h | {mem:,.1f} GiB | "
                f"{scatter / 60:,.1f} min | ~{matrix_gb * 2:,.1f} GiB (CSR {matrix_gb:,.1f} GiB, doubled while assembled) |"
            )
    return rows, recs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="5,10,20", help="millions of nodes, in order (5,10,20)")
    p.add_argument("--spacing", type=float, default=117.0, help="grid spacing in metres (117: 73 nodes/km²)")
    p.add_argument("--searches", type=int, default=12, help="single-site searches timed per limit (12)")
    p.add_argument("--units", type=int, default=35_000, help="random units of the Dask matrix (35,000)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dask-seconds", type=float, default=40.0, help="aim of the 1-worker run, sets its sites (40)")
    p.add_argument("--max-dask-sites", type=int, default=400)
    p.add_argument("--skip-dask", action="store_true")
    p.add_argument("--compile-max", type=float, default=10.0, help="millions of nodes compiled by the library (10)")
    p.add_argument("--max-gib", type=float, default=18.0, help="stop before a size predicted to peak past this")
    p.add_argument("--max-minutes-per-size", type=float, default=15.0, help="stop before a size predicted longer")
    p.add_argument("--france-nodes", type=float, default=FRANCE_NODES)
    p.add_argument(
        "--communes-per-site",
        type=float,
        default=170.0,
        help="communes within 30 min of a town hall (170: bench_national.py's 5.9 M pairs / 34,829 sites)",
    )
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    for name in ("distributed", "coverage"):
        logging.getLogger(name).setLevel(logging.ERROR)
    begin = time.perf_counter()
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "environment": environment()}
    report["load_average_start"] = load_average()
    print(
        f"bench_street: sizes {args.sizes} M nodes; load average {report['load_average_start']}; "
        f"{psutil.virtual_memory().available / 2**30:.1f} GiB available",
        flush=True,
    )
    sizes: list[dict[str, Any]] = []
    checks: list[bool] = []
    for millions in [float(s) for s in args.sizes.split(",") if s.strip()]:
        if sizes:
            last = sizes[-1]
            scale = millions * 1e6 / last["nodes"]
            peak = max(last["peak_mb"], last["compile_peak_mb"], last["build_peak_mb"]) * scale / 1024
            minutes = (time.perf_counter() - last["_start"]) / 60 * scale
            if peak > args.max_gib or minutes > args.max_minutes_per_size:
                print(
                    f"\n== {millions:g} M nodes: not run (predicted peak {peak:.1f} GiB, {minutes:.0f} min, "
                    f"limits {args.max_gib:g} GiB, {args.max_minutes_per_size:g} min)"
                )
                report.setdefault("not_run", []).append({"millions": millions, "peak_gib": peak, "minutes": minutes})
                break
        start = time.perf_counter()
        rec = bench_size(millions, args)
        rec["_start"] = start
        rec["seconds"] = time.perf_counter() - start
        checks += rec.get("dask", {}).get("checks", [])
        sizes.append(rec)
    for r in sizes:
        r.pop("_start", None)
    report["sizes"] = sizes
    # per-size table
    rows = [
        "| nodes | directed edges | build | compile | reversed CSR | search 0 / 20 / 30 min | reached 20 / 30 min | "
        "RSS growth per search | 1 worker | 2 workers | 2 / 1 | worker RSS holding graph / peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sizes:
        s = r["search"]
        d = r.get("dask", {})
        d1, d2 = d.get("dask 1", {}), d.get(f"dask {args.workers}", {})
        rows.append(
            f"| {r['nodes'] / 1e6:.1f} M | {r['directed_edges'] / 1e6:.1f} M | {r['build_s']:.0f} s | "
            f"{r['compile_s']:.0f} s ({'library' if r['compile'].startswith('RoadEdges') else 'direct'}, peak "
            f"{r['compile_peak_mb'] / 1024:.1f} GiB) | {r['reverse_csr_mb']:,.0f} MiB | "
            f"{s['0 min']['ms']:.0f} / {s['20 min']['ms']:.0f} / {s['30 min']['ms']:.0f} ms | "
            f"{s['20 min']['reached_mean']:,.0f} / {s['30 min']['reached_mean']:,.0f} | "
            f"{s['30 min']['rss_growth_mb']:,.0f} MiB | "
            + (
                f"{d1['sites_per_s']:.2f} sites/s | {d2['sites_per_s']:.2f} sites/s | {d.get('ratio', math.nan):.2f}x | "
                f"{max(d2['worker_rss_holding_graph_mb']):,.0f} / {max(d2['worker_peak_rss_mb'] or [math.nan]):,.0f} MiB |"
                if d1 and d2
                else " | | | |"
            )
        )
    print("\n" + "\n".join(rows))
    report["table_sizes"] = rows
    if sizes:
        model = fit_model(sizes)
        report["model"] = model
        print(
            f"\nmodel: one search = {model['a_s_per_node'] * 1e9:.1f} ns x nodes + {model['b_s_per_reached_node'] * 1e9:.0f} ns "
            f"x nodes reached (+ read-off); reached at 20 / 30 min {model['reached_20']:,.0f} / {model['reached_30']:,.0f}; "
            f"reversed CSR {model['csr_bytes_per_node']:.0f} bytes per node; one search's RSS growth "
            f"{model['search_bytes_per_node']:.0f} bytes per node"
            + (
                f"; worker peak {model['worker_peak_per_node']:.0f} bytes per node over {model['worker_idle_mb']:,.0f} MiB idle; "
                f"2 / 1 workers {model['two_worker_ratio']:.2f}x"
                if "worker_peak_per_node" in model
                else ""
            )
        )
        table, recs = scaling_table(model, args)
        report["scaling"] = recs
        report["table_scaling"] = table
        print(
            f"\nscaling (assumptions: France's drivable OSM graph {args.france_nodes / 1e6:.0f} M nodes with this grid's "
            f"{model['edges_per_node']:.2f} directed edges per node and density; {SITES:,} sites; "
            f"{args.workers} workers per machine giving {min(float(args.workers), model.get('two_worker_ratio', 2.0)):.2f}x one "
            f"worker (measured); machines added scale perfectly; the graph ({model['csr_bytes_per_node'] * args.france_nodes / 2**30:.1f} GiB) "
            f"scattered at {min(NETWORK_GB_S, model.get('scatter_gb_s_local', NETWORK_GB_S)):.2f} GB/s (the lesser of {NETWORK_GB_S:g} GB/s and Dask's scatter measured here) in 1 + log2(workers) rounds; {args.communes_per_site:g} communes "
            f"within 30 min of a town hall; ~2.3 M populated 200 m cells):"
        )
        print("\n".join(table))
    report["load_average_end"] = load_average()
    report["total_s"] = time.perf_counter() - begin
    report["checks_ok"] = all(checks)
    print(
        f"\ntotal {report['total_s']:.0f} s; load average {report['load_average_start']} -> {report['load_average_end']}; "
        f"{'every check passed' if all(checks) else 'A CHECK FAILED'}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"figures written to {args.json}")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
