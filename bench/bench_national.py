# ruff: noqa: E501, N806  (a benchmark: long table lines, T for the minutes)
"""Benchmark of France on one machine (issue 15): every step at national size, with its baseline.

On the national inputs (``coverage.io.national.load_territory_inputs``, ``--territory``,
default ``france``: the Travel Mapping roads of metropolitan France and its ~34,700
communes at their town halls), in the same run:

1. reading the inputs; the gap analysis (``analyse``, no isochrones: largest strongly
   connected pieces, compilation, snapping, nearest facility, statistics), with its own
   timings per step;
2. nearest facility for every node (the 88 open facilities of Centre-Val de Loire, the only
   ones in the data) against NetworkX ``multi_source_dijkstra_path_length`` on the same graph
   (built once from the arrays, ``RoadEdges.to_networkx``);
3. the coverage matrix of every commune as a candidate against every commune at
   ``--max-minutes`` (30), ``analysis_matrix`` (the facilities are rows too), in one process,
   then on a Dask LocalCluster of 1 and of ``--workers`` (2) processes: sites per second, the
   1 vs 2 worker ratio, and a pair-for-pair identity check; the 20-minute matrix derived by
   ``CoverageMatrix.covers(20)``; NetworkX bounded ``single_source_dijkstra_path_length``
   (``cutoff=``) on ``--nx-sample`` random candidates, scaled up, and checked pair for pair;
4. LSCP (``--lscp-min``) and MCLP (``--k`` new sites at ``--mclp-min``) from scratch (every
   commune a candidate, no site required), exact under ``--time-limit`` against the greedy;
   status, objective, bound and gap as our code recomputes them;
5. the floating catchment, 2SFCA and E2SFCA (default bands, to 20 min), with a SYNTHETIC
   supply (one GP per ``--inhabitants-per-gp`` inhabitants, at the town halls of the
   communes of ``--gp-min-population`` inhabitants or more), against PySAL ``access`` on the
   same pairs;
6. in a fresh child process: ``analyse`` on a synthetic road-like network of ``--nodes``
   (1,000,000) nodes given as ``RoadEdges`` (the grid of ``bench_nearest.py``), against the
   same network given as a NetworkX graph (the baseline), peak RSS of each child.

Memory: for each step, the RSS high-water mark of this process (reset before the step
through ``/proc/self/clear_refs``, so it is the step's own peak, the data held before it
included), its growth over the RSS before the step, and for the Dask steps the largest RSS
of each worker process (sampled every 0.1 s with psutil). ``tracemalloc`` (Python and NumPy
allocations) on the cheap steps only (it slows PySAL ~9x).

Run ``python bench/bench_national.py --help`` for the options; ``--territory region:53``
for a quick check (~2 min).
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import logging
import math
import multiprocessing
import os
import platform
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Dask's scheduler logs at INFO in this process unless told before distributed is imported.
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")

import numpy as np
import pandas as pd
import psutil
import scipy.sparse as sp

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

#: Goals of issue 15 on this machine.
MATRIX_GOAL_S = 300.0  # the national matrix at 30 min, one machine
WORKERS_GOAL = 1.7  # 2 workers / 1 worker, sites per second
ANALYSE_1M_GOAL_MB = 1536.0  # peak RSS of the analysis at 1,000,000 nodes
#: Largest difference accepted between two answers.
TOLERANCE_S = 1e-6
TOLERANCE_POP = 1e-6
#: Synthetic 1M-node analysis: units and facilities at random nodes.
SYNTH_UNITS = 100_000
SYNTH_FACILITIES = 500
SAMPLE_S = 0.1  # psutil sampling period of the worker processes


# --------------------------------------------------------------------------- memory


def _status_mb(key: str, pid: str = "self") -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Resident set size of this process now, in MiB."""
    return psutil.Process().memory_info().rss / 2**20


def reset_peak() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """RSS high-water mark of this process since the last reset (or since it started), in MiB."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else rss_mb()


def trim_heap() -> None:
    """Give freed C heap pages back (glibc), so that a step's RSS is not hidden by earlier frees."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class ChildSampler:
    """Largest RSS of every child process of this one (recursive), sampled in a thread."""

    def __init__(self, period_s: float = SAMPLE_S) -> None:
        self.period_s = period_s
        self.peaks: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self.total_peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0.0
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss / 2**20
                    if child.pid not in self.names:
                        self.names[child.pid] = " ".join(child.cmdline()[-2:])[-60:]
                except psutil.Error:
                    continue
                total += rss
                self.peaks[child.pid] = max(self.peaks.get(child.pid, 0.0), rss)
            self.total_peak = max(self.total_peak, total)
            self._stop.wait(self.period_s)

    def __enter__(self) -> ChildSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def worker_peaks(self, min_mb: float = 150.0) -> list[float]:
        """Peaks of the children that held real data (a Dask worker, not a resource tracker)."""
        return sorted((v for v in self.peaks.values() if v >= min_mb), reverse=True)


@dataclass
class Step:
    """One measured step."""

    name: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None  # this process's RSS high-water mark during the (first) run
    rss_before_mb: float | None = None
    traced_peak_mb: float | None = None  # tracemalloc peak of one more run (None: not traced)
    workers_peak_mb: list[float] | None = None  # largest RSS of each worker process
    note: str = ""

    @property
    def best_s(self) -> float:
        return min(self.seconds)

    @property
    def growth_mb(self) -> float | None:
        if self.peak_rss_mb is None or self.rss_before_mb is None:
            return None
        return self.peak_rss_mb - self.rss_before_mb

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seconds": self.seconds,
            "best_s": self.best_s,
            "peak_rss_mb": self.peak_rss_mb,
            "rss_before_mb": self.rss_before_mb,
            "growth_mb": self.growth_mb,
            "tracemalloc_peak_mb": self.traced_peak_mb,
            "workers_peak_rss_mb": self.workers_peak_mb,
            "note": self.note,
        }

    def line(self) -> str:
        runs = f" (best of {len(self.seconds)})" if len(self.seconds) > 1 else ""
        mem = f"peak RSS {self.peak_rss_mb:,.0f} MiB (+{self.growth_mb:,.0f})" if self.peak_rss_mb else ""
        if self.traced_peak_mb is not None:
            mem += f", tracemalloc {self.traced_peak_mb:,.0f} MiB"
        if self.workers_peak_mb:
            mem += ", workers " + " / ".join(f"{w:,.0f}" for w in self.workers_peak_mb) + " MiB"
        return f"   {self.name:<44} {self.best_s:10.2f} s{runs:<14} {mem}" + (f"  [{self.note}]" if self.note else "")


def measure(
    name: str,
    fn: Callable[[], Any],
    *,
    repeat: int = 1,
    trace: bool = False,
    note: str = "",
    steps: dict[str, Step] | None = None,
    quiet: bool = False,
) -> tuple[Step, Any]:
    """Run ``fn`` ``repeat`` times (the first with the RSS high-water mark reset), then once
    more under ``tracemalloc`` when ``trace``. Returns the step and the last result."""
    step = Step(name, note=note)
    result: Any = None
    for i in range(repeat):
        if i == 0:
            gc.collect()
            trim_heap()
            step.rss_before_mb = rss_mb()
            reset_peak()
        start = time.perf_counter()
        result = fn()
        step.seconds.append(time.perf_counter() - start)
        if i == 0:
            step.peak_rss_mb = peak_mb()
    if trace:
        gc.collect()
        tracemalloc.start()
        try:
            fn()
            step.traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    if steps is not None:
        steps[name] = step
    if not quiet:
        print(step.line(), flush=True)
    return step, result


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --------------------------------------------------------------------------- synthetic network


def grid_road_edges(n_nodes: int, seed: int) -> Any:
    """The road-like grid of ``bench_nearest.synthetic_graph`` (same constants) as ``RoadEdges``.

    A jittered grid of 100 m in Lambert-93 with 3 % of the streets removed, secondary roads
    every 20 lines, motorway edges skipping 10 nodes every 100 lines; every street two-way
    (each reverse right after its forward edge). The parallel edges of the NetworkX version
    are left out (RoadEdges from lines have none here either).
    """
    from bench_nearest import (
        JITTER_M,
        LOCAL_KPH,
        MOTORWAY_EVERY,
        MOTORWAY_KPH,
        MOTORWAY_SKIP,
        ORIGIN_X_M,
        ORIGIN_Y_M,
        REMOVED_SHARE,
        SECONDARY_EVERY,
        SECONDARY_KPH,
        SPACING_M,
    )

    from coverage.road_edges import RoadEdges

    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_nodes))
    rows = math.ceil(n_nodes / cols)
    n = rows * cols
    ids = np.arange(n).reshape(rows, cols)
    row, col = np.divmod(np.arange(n), cols)
    x = ORIGIN_X_M + col * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, n)
    y = ORIGIN_Y_M + row * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, n)
    secondary_row = np.arange(rows) % SECONDARY_EVERY == 0
    secondary_col = np.arange(cols) % SECONDARY_EVERY == 0
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    secondary = np.concatenate([np.repeat(secondary_row, cols - 1), np.tile(secondary_col, rows - 1)])
    keep = rng.random(len(u)) >= REMOVED_SHARE
    u, v, secondary = u[keep], v[keep], secondary[keep]
    kph = np.where(secondary, SECONDARY_KPH, LOCAL_KPH)
    cls = np.where(secondary, 1, 0)
    mw_u, mw_v = [], []
    for r in range(MOTORWAY_EVERY // 2, rows, MOTORWAY_EVERY):
        line = ids[r, ::MOTORWAY_SKIP]
        mw_u.append(line[:-1])
        mw_v.append(line[1:])
    for c in range(MOTORWAY_EVERY // 2, cols, MOTORWAY_EVERY):
        line = ids[::MOTORWAY_SKIP, c]
        mw_u.append(line[:-1])
        mw_v.append(line[1:])
    motor_u = np.concatenate(mw_u) if mw_u else np.empty(0, dtype=np.int64)
    motor_v = np.concatenate(mw_v) if mw_v else np.empty(0, dtype=np.int64)
    u = np.concatenate([u, motor_u])
    v = np.concatenate([v, motor_v])
    kph = np.concatenate([kph, np.full(len(motor_u), MOTORWAY_KPH)])
    cls = np.concatenate([cls, np.full(len(motor_u), 2)])
    length = np.hypot(x[v] - x[u], y[v] - y[u]) * np.where(cls == 2, 1.02, 1.0)
    m = len(u)
    # two-way: forward then reverse, interleaved
    eu = np.empty(2 * m, dtype=np.int64)
    ev = np.empty(2 * m, dtype=np.int64)
    eu[0::2], eu[1::2] = u, v
    ev[0::2], ev[1::2] = v, u
    lengths = np.repeat(length, 2)
    speeds = np.repeat(kph.astype(float), 2)
    names = np.array(["local", "secondary", "motorway"], dtype=object)
    row_class = names[cls]
    return RoadEdges(
        crs="EPSG:2154",
        name=f"synthetic road-like grid {rows}x{cols}",
        node_id=np.arange(n, dtype=np.int64),
        node_x=x,
        node_y=y,
        edge_u=eu,
        edge_v=ev,
        length=lengths,
        speed_kph=speeds,
        travel_time=lengths / (speeds / 3.6),
        edge_row=np.repeat(np.arange(m), 2),
        row_highway=row_class,
        row_class=row_class.copy(),
        row_source=np.arange(m).astype(object),
        row_name=np.full(m, None, dtype=object),
    )


def _synthetic_points(edges: Any, seed: int) -> tuple[Any, Any]:
    """Units and facilities at random nodes of the grid, jittered by up to 50 m."""
    import geopandas as gpd

    rng = np.random.default_rng(seed + 1)
    n = len(edges.node_id)

    def points(count: int) -> Any:
        at = rng.choice(n, size=min(count, n), replace=False)
        return gpd.points_from_xy(
            edges.node_x[at] + rng.uniform(-50, 50, len(at)), edges.node_y[at] + rng.uniform(-50, 50, len(at))
        )

    ug = points(SYNTH_UNITS)
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"u{i}" for i in range(len(ug))],
            "name": [f"unit {i}" for i in range(len(ug))],
            "population": rng.integers(10, 2000, len(ug)),
        },
        geometry=ug,
        crs="EPSG:2154",
    )
    fg = points(SYNTH_FACILITIES)
    facilities = gpd.GeoDataFrame(
        {"facility_id": [f"f{i}" for i in range(len(fg))], "name": "synthetic", "type": "msp"},
        geometry=fg,
        crs="EPSG:2154",
    )
    return units, facilities


def _analyse_child(n_nodes: int, seed: int, as_networkx: bool, queue: Any) -> None:
    """In a fresh process: build the grid, then ``analyse`` it; report time and memory."""
    try:
        logging.disable(logging.WARNING)
        from coverage.analysis import analyse
        from coverage.config import AnalysisConfig

        start = time.perf_counter()
        edges = grid_road_edges(n_nodes, seed)
        units, facilities = _synthetic_points(edges, seed)
        graph: Any = edges
        if as_networkx:
            graph = edges.to_networkx()
            del edges
        build_s = time.perf_counter() - start
        n, m = graph.number_of_nodes(), graph.number_of_edges()
        gc.collect()
        trim_heap()
        before = rss_mb()
        peak_inputs = peak_mb()
        reset_peak()
        start = time.perf_counter()
        result = analyse(graph, facilities, units, AnalysisConfig(isochrones=False))
        seconds = time.perf_counter() - start
        queue.put(
            {
                "input": "NetworkX MultiDiGraph" if as_networkx else "RoadEdges",
                "nodes": n,
                "edges": m,
                "network_nodes": result.network.n_nodes,
                "units": len(units),
                "facilities": len(facilities),
                "build_s": build_s,
                "analyse_s": seconds,
                "timings": result.timings,
                "rss_before_mb": before,
                "peak_before_mb": peak_inputs,
                "analyse_peak_rss_mb": peak_mb(),
                "process_peak_rss_mb": max(peak_inputs, peak_mb()),
            }
        )
    except BaseException as exc:  # report, never hang the parent
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


def run_in_child(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    """Run ``target(*args, queue)`` in a fresh (spawned) process and return what it put."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


# --------------------------------------------------------------------------- parts


@dataclass
class National:
    inputs: Any = None
    analysis: Any = None
    candidates: Any = None
    matrix: Any = None
    nearest: Any = None


def part_inputs(args: argparse.Namespace, steps: dict[str, Step], report: dict[str, Any], nat: National) -> None:
    from coverage.analysis import analyse
    from coverage.config import AnalysisConfig
    from coverage.io.national import load_territory_inputs

    print(f"\n== 1. inputs and gap analysis: {args.territory}", flush=True)
    _, nat.inputs = measure(
        "read national inputs",
        lambda: load_territory_inputs(args.territory, args.data_dir),
        steps=steps,
        note="load_territory_inputs",
    )
    inp = nat.inputs
    _, nat.analysis = measure(
        "analyse (no isochrones)",
        lambda: analyse(inp.roads, inp.facilities, inp.units, AnalysisConfig(isochrones=False)),
        steps=steps,
        note="components, compile, snapping, nearest, statistics",
    )
    res = nat.analysis
    timings = dict(res.timings)
    print("      its own timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    report["territory"] = {
        "territory": args.territory,
        "road_nodes": inp.roads.number_of_nodes(),
        "road_edges": inp.roads.number_of_edges(),
        "network_nodes": res.network.n_nodes,
        "network_edges": int(res.network.matrix.nnz),
        "communes": len(inp.units),
        "population": float(inp.units["population"].sum()),
        "facilities": len(inp.facilities),
        "analyse_timings_s": timings,
    }
    print(
        f"   {len(inp.units):,} communes, {inp.units['population'].sum():,.0f} inhabitants, "
        f"{len(inp.facilities)} facilities; network {res.network.n_nodes:,} nodes, {res.network.matrix.nnz:,} edges",
        flush=True,
    )


def part_nearest(
    args: argparse.Namespace, steps: dict[str, Step], report: dict[str, Any], nat: National, graph: Any
) -> list[bool]:
    """Ours (``graph`` None) or NetworkX against the answer ours kept in ``nat``."""
    import networkx as nx
    from bench_nearest import as_node_array, compare

    from coverage.traveltime import nearest_facility

    if graph is None:
        print("\n== 2. nearest facility for every node", flush=True)
    res = nat.analysis
    fac = res.facilities
    on = fac["node"].notna().to_numpy()
    if not on.any():
        print("   no facility on this territory's network: skipped")
        return []
    nodes = res.network.indices_of(fac.loc[on, "node"])
    nodes = np.unique(nodes)
    zeros = np.zeros(len(nodes))
    net = res.network
    _ = net.reverse_matrix
    checks: list[bool] = []
    if graph is None:
        _, nat.nearest = measure(
            "nearest facility, ours",
            lambda: nearest_facility(net, nodes, zeros),
            repeat=args.repeat,
            steps=steps,
            note=f"{len(nodes)} facility nodes, zero access legs",
        )
    else:
        ours = nat.nearest
        reverse = graph.reverse(copy=False)
        sources = set(net.node_ids[nodes].tolist())
        _, lengths = measure(
            "nearest facility, NetworkX",
            lambda: nx.multi_source_dijkstra_path_length(reverse, sources, weight="travel_time"),
            steps=steps,
            note="multi_source_dijkstra_path_length on the reversed graph",
        )
        theirs = as_node_array(lengths, net.node_ids)
        check = compare("nearest facility, ours vs NetworkX", ours.seconds, theirs)
        print(
            f"   check {check.name}: {'OK' if check.ok else 'MISMATCH'} ({check.n_reached_a:,} nodes reached, "
            f"max |diff| {check.max_abs_diff_s:.2g} s)"
        )
        ratio = steps["nearest facility, NetworkX"].best_s / steps["nearest facility, ours"].best_s
        print(f"   ratio NetworkX / ours {ratio:.1f}x")
        report["nearest"] = {"facility_nodes": len(nodes), "ratio_networkx_over_ours": ratio, "check": check.as_dict()}
        checks.append(check.ok)
    return checks


def _same_matrix(a: Any, b: Any) -> tuple[bool, str]:
    ma, mb = a.minutes, b.minutes
    if ma.shape != mb.shape or ma.nnz != mb.nnz:
        return False, f"shapes {ma.shape}/{mb.shape}, pairs {ma.nnz:,}/{mb.nnz:,}"
    same = (
        np.array_equal(ma.indptr, mb.indptr)
        and np.array_equal(ma.indices, mb.indices)
        and np.array_equal(ma.data, mb.data)
        and np.array_equal(a.site_ids, b.site_ids)
        and np.array_equal(a.unit_ids, b.unit_ids)
    )
    diff = float(np.max(np.abs(ma.data - mb.data))) if np.array_equal(ma.indices, mb.indices) and ma.nnz else math.nan
    return same, f"{ma.nnz:,} pairs, identical structure and minutes" if same else f"max |diff| {diff:g} min"


def part_matrix(args: argparse.Namespace, steps: dict[str, Step], report: dict[str, Any], nat: National) -> list[bool]:
    from coverage.candidates import candidates_from_units
    from coverage.cluster import dask_cluster
    from coverage.matrix import analysis_matrix

    T = args.max_minutes
    print(f"\n== 3. coverage matrix, every commune a candidate, {T:g} min", flush=True)
    res = nat.analysis
    cands = candidates_from_units(res.units)
    n_sites = len(cands) + len(res.facilities)

    def build(frame: Any = None) -> Any:  # the first call snaps ``cands`` in place (node, access_minutes)
        return analysis_matrix(
            res,
            cands.copy() if frame is None else frame,
            T,
            id_column="candidate_id",
            new_first=True,
            what="candidates",
        )

    key = f"matrix {T:g} min"
    runs: dict[str, Any] = {}
    _, runs["one process"] = measure(
        f"{key}, one process", lambda: build(cands), steps=steps, note=f"{n_sites:,} sites x {len(res.units):,} units"
    )
    nat.matrix = runs["one process"]
    nat.candidates = cands
    m = nat.matrix.minutes
    print(
        f"      {m.nnz:,} pairs ({m.nnz / (m.shape[0] * m.shape[1]):.2%}), CSR "
        f"{(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**20:,.0f} MiB; "
        f"{n_sites / steps[f'{key}, one process'].best_s:,.0f} sites/s",
        flush=True,
    )
    checks: list[bool] = []
    ratios: dict[str, float] = {}
    worker_counts = [] if args.skip_dask else sorted({1, args.workers})
    for w in worker_counts:
        label = f"{key}, Dask {w} worker{'s' if w > 1 else ''}"
        with ChildSampler() as sampler:
            start = time.perf_counter()
            with dask_cluster(workers=w) as client:
                # workers import the package on their first task: done here, timed apart
                client.run(lambda: __import__("coverage.matrix"))
                started = time.perf_counter() - start
                step, runs[label] = measure(label, build, steps=steps, quiet=True)
                in_workers = client.run(lambda: psutil.Process().memory_info().rss / 2**20)
            closed = time.perf_counter() - start - started - step.best_s
        step.workers_peak_mb = sampler.worker_peaks()[:w] or sorted(in_workers.values(), reverse=True)
        step.note = f"cluster start and package import {started:.1f} s, close {closed:.1f} s (not counted)"
        print(step.line(), flush=True)
        same, text = _same_matrix(runs["one process"], runs[label])
        print(f"   check {label} = one process: {'OK' if same else 'MISMATCH'} ({text})", flush=True)
        checks.append(same)
        del runs[label]
        gc.collect()
    one = steps[f"{key}, one process"].best_s
    rate = {k: n_sites / s.best_s for k, s in steps.items() if k.startswith(key)}
    if len(worker_counts) == 2:
        w1 = steps[f"{key}, Dask 1 worker"].best_s
        w2 = steps[f"{key}, Dask {args.workers} workers"].best_s
        ratios[f"Dask {args.workers} workers / Dask 1 worker (throughput)"] = w1 / w2
        ratios[f"Dask {args.workers} workers / one process (throughput)"] = one / w2
        ratios["one process / Dask 1 worker (throughput)"] = w1 / one
    for k, v in ratios.items():
        goal = (
            f"  goal >= {WORKERS_GOAL}: {'met' if v >= WORKERS_GOAL else 'NOT MET'}"
            if k.startswith("Dask") and "/ Dask 1" in k
            else ""
        )
        print(f"   ratio {k:<52} {v:6.2f}x{goal}")
    best = min(s.best_s for k, s in steps.items() if k.startswith(key))
    print(
        f"   goal national matrix at 30 min < {MATRIX_GOAL_S:.0f} s: {'met' if best < MATRIX_GOAL_S else 'NOT MET'} ({best:.0f} s)"
    )
    report["matrix"] = {
        "max_minutes": T,
        "sites": n_sites,
        "units": len(res.units),
        "pairs": int(m.nnz),
        "csr_mb": (m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**20,
        "sites_per_s": rate,
        "ratios": ratios,
        "goal_s": MATRIX_GOAL_S,
        "goal_met": best < MATRIX_GOAL_S,
    }
    # the 20-minute matrix, derived
    _, cover20 = measure(
        "matrix 20 min = covers(20)", lambda: nat.matrix.covers(20.0), repeat=args.repeat, trace=True, steps=steps
    )
    report["matrix"]["pairs_20min"] = int(cover20.nnz)
    print(f"      {cover20.nnz:,} pairs within 20 min")
    return checks


def part_matrix_networkx(
    args: argparse.Namespace, steps: dict[str, Step], report: dict[str, Any], nat: National, graph: Any
) -> list[bool]:
    from bench_siting import compare_with_networkx, networkx_matrix, units_by_node

    T = args.max_minutes
    res, mat, cands = nat.analysis, nat.matrix, nat.candidates
    n_c = len(cands)
    site_nodes = pd.concat([cands["node"], res.facilities["node"]], ignore_index=True)
    site_access = np.nan_to_num(
        np.concatenate([cands["access_minutes"].to_numpy(float), res.facilities["access_minutes"].to_numpy(float)])
        * 60.0
    )
    site_nodes_list = [None if pd.isna(n) else n for n in site_nodes.tolist()]
    unit_nodes = [None if pd.isna(n) else n for n in res.units["node"].tolist()]
    unit_access = np.where(res.units["node"].notna(), res.units["access_minutes"].to_numpy(float) * 60.0, 0.0)
    rng = np.random.default_rng(args.seed)
    order = rng.choice(
        np.flatnonzero(site_nodes.notna().to_numpy()[:n_c]), size=min(args.nx_sample, n_c), replace=False
    )
    units_at = units_by_node(unit_nodes, unit_access)
    reverse = graph.reverse(copy=False)
    step, run = measure(
        f"matrix {T:g} min, NetworkX sample",
        lambda: networkx_matrix(reverse, site_nodes_list, site_access, units_at, T * 60.0, order, None),
        steps=steps,
        quiet=True,
    )
    run.total = mat.minutes.shape[0]
    per = run.seconds / max(run.done, 1)
    step.note = f"{run.done} random candidates, {per:.2f} s each; SCALED UP to {run.total:,}: {run.scaled_s:,.0f} s"
    print(step.line())
    check = compare_with_networkx("ours vs NetworkX (sampled candidates)", mat, run, order)
    print(f"   {check.line()}")
    one = steps[f"matrix {T:g} min, one process"].best_s
    ratios = {"NetworkX (scaled) / ours one process": run.scaled_s / one}
    k2 = f"matrix {T:g} min, Dask {args.workers} workers"
    if k2 in steps:
        ratios[f"NetworkX (scaled) / ours Dask {args.workers} workers"] = run.scaled_s / steps[k2].best_s
    for k, v in ratios.items():
        print(f"   ratio {k:<52} {v:6.1f}x")
    report["matrix"]["networkx"] = run.as_dict() | {"ratios": ratios, "check": check.as_dict()}
    return [check.ok]


def _print_siting(name: str, r: Any, recomputed: float) -> None:
    bound = "-" if r.bound is None else f"{r.bound:,.1f}"
    gap = "-" if r.gap is None else f"{r.gap:.3%}"
    print(
        f"      {name}: status {r.status}, objective {r.objective_value:,.1f}, bound {bound}, gap {gap}, "
        f"{len(r.sites)} sites, covered {r.population_covered_after:,.0f} (recomputed {recomputed:,.0f}); "
        f"solver said: {r.solver_status}",
        flush=True,
    )


def _siting_dict(r: Any, recomputed: float) -> dict[str, Any]:
    return {
        "solver": r.solver,
        "status": r.status,
        "objective": r.objective_value,
        "bound": r.bound,
        "gap": r.gap,
        "sites": len(r.sites),
        "covered": r.population_covered_after,
        "covered_recomputed": recomputed,
        "uncoverable_units": len(r.uncoverable),
        "solver_status": r.solver_status,
        "seconds": r.seconds,
    }


def part_siting(args: argparse.Namespace, steps: dict[str, Step], report: dict[str, Any], nat: National) -> list[bool]:
    from coverage.siting import covered_population, lscp, mclp_exact, mclp_greedy

    mat, cands = nat.matrix, nat.candidates
    pop = nat.analysis.units.set_index("unit_id")["population"].astype(float)
    ids = cands["candidate_id"].astype(str).tolist()
    k = min(args.k, len(ids))
    print(
        f"\n== 4. siting from scratch: {len(ids):,} candidates (every commune), no site required; "
        f"HiGHS limit {args.time_limit:g} s",
        flush=True,
    )
    out: dict[str, Any] = {}
    checks: list[bool] = []

    def run(label: str, fn: Callable[[], Any], threshold: float, *, lscp_run: bool) -> Any:
        _, r = measure(label, fn, steps=steps)
        recomputed = covered_population(mat, pop, threshold, list(r.sites))
        _print_siting(label, r, recomputed)
        ok = abs(recomputed - r.population_covered_after) <= TOLERANCE_POP * max(1.0, recomputed)
        if lscp_run:  # every unit some candidate reaches is covered
            cover = mat.covers(threshold)[mat.rows(ids)]
            reach = np.zeros(cover.shape[1], dtype=bool)
            reach[cover.indices] = True
            got = np.zeros(cover.shape[1], dtype=bool)
            got[mat.covers(threshold)[mat.rows(list(r.sites))].indices] = True
            ok &= bool(np.all(got[reach]))
        checks.append(ok)
        out[label] = _siting_dict(r, recomputed)
        return r

    T = args.lscp_min
    g = run(f"LSCP {T:g} min, greedy", lambda: lscp(mat, pop, T, candidates=ids, exact=False), T, lscp_run=True)
    e = run(
        f"LSCP {T:g} min, exact",
        lambda: lscp(mat, pop, T, candidates=ids, exact=True, time_limit_s=args.time_limit),
        T,
        lscp_run=True,
    )
    print(f"      LSCP: exact {len(e.sites)} sites against greedy {len(g.sites)} ({len(g.sites) - len(e.sites)} fewer)")
    T = args.mclp_min
    g = run(f"MCLP {T:g} min k={k}, greedy", lambda: mclp_greedy(mat, pop, T, k, candidates=ids), T, lscp_run=False)
    e = run(
        f"MCLP {T:g} min k={k}, exact",
        lambda: mclp_exact(mat, pop, T, k, candidates=ids, time_limit_s=args.time_limit),
        T,
        lscp_run=False,
    )
    print(
        f"      MCLP: exact covers {e.population_covered_after - g.population_covered_after:+,.0f} against greedy; "
        f"{e.population_covered_after / pop.sum():.3%} of everyone"
    )
    report["siting"] = {"candidates": len(ids), "k": k, "time_limit_s": args.time_limit, "runs": out}
    return checks


def part_access(args: argparse.Namespace, steps: dict[str, Step], report: dict[str, Any], nat: National) -> list[bool]:
    from coverage.accessibility import DEFAULT_BANDS, StepDecay, floating_catchment
    from coverage.matrix import CoverageMatrix

    res, mat = nat.analysis, nat.matrix
    units = res.units
    pop = units["population"].to_numpy(float)
    big = pop >= args.gp_min_population
    gps = np.maximum(1, np.round(pop[big] / args.inhabitants_per_gp))
    site_ids = units.loc[big, "unit_id"].astype(str).to_numpy()
    print(
        f"\n== 5. floating catchment, SYNTHETIC supply: {gps.sum():,.0f} GPs (one per {args.inhabitants_per_gp:g} "
        f"inhabitants) at the town halls of the {big.sum():,} communes of {args.gp_min_population:,} inhabitants or more",
        flush=True,
    )
    rows = mat.rows(site_ids)
    sub = mat.minutes[rows]
    keep = sub.data <= 20.0
    row_of = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row_of[keep], minlength=sub.shape[0]))])
    m20 = CoverageMatrix(
        site_ids=site_ids,
        unit_ids=mat.unit_ids,
        minutes=sp.csr_array((sub.data[keep], sub.indices[keep], indptr), shape=sub.shape),
        max_minutes=20.0,
    )
    supply = pd.Series(gps, index=site_ids)
    demand = pd.Series(pop, index=units["unit_id"].astype(str).to_numpy())
    print(f"   {len(site_ids):,} sites x {len(units):,} units, {m20.minutes.nnz:,} pairs within 20 min", flush=True)
    plain = StepDecay(((20.0, 1.0),))
    checks: list[bool] = []
    trace = not args.no_trace
    _, ours2 = measure(
        "2SFCA, ours",
        lambda: floating_catchment(m20, supply, demand, plain),
        repeat=args.repeat,
        trace=trace,
        steps=steps,
    )
    _, ours_e = measure(
        "E2SFCA, ours",
        lambda: floating_catchment(m20, supply, demand, DEFAULT_BANDS),
        repeat=args.repeat,
        trace=trace,
        steps=steps,
    )
    acc = ours_e.accessibility
    print(
        f"      E2SFCA: {float(pop @ acc):,.0f} GP reached in total (supply {gps.sum():,.0f}); "
        f"median {np.median(acc) * 1e5:.1f} GPs per 100,000; {int((acc == 0).sum()):,} communes with none within 20 min"
    )
    out: dict[str, Any] = {
        "synthetic_supply": True,
        "sites": len(site_ids),
        "gps": float(gps.sum()),
        "inhabitants_per_gp": args.inhabitants_per_gp,
        "gp_min_population": args.gp_min_population,
        "pairs": int(m20.minutes.nnz),
    }
    if not args.skip_pysal:
        try:
            import access
            from access import weights as access_weights
            from bench_access import compare_access
        except ImportError as exc:
            print(f"   PySAL access not available ({exc}): skipped")
            report["access"] = out
            return checks
        coo = sp.coo_array(m20.minutes)
        table = pd.DataFrame({"origin": m20.unit_ids[coo.coords[1]], "dest": site_ids[coo.coords[0]], "cost": coo.data})
        model = access.Access(
            demand_df=pd.DataFrame({"population": pop}, index=pd.Index(m20.unit_ids, name="unit")),
            demand_value="population",
            supply_df=pd.DataFrame({"gp": gps}, index=pd.Index(site_ids, name="site")),
            supply_value="gp",
            cost_df=table,
            cost_origin="origin",
            cost_dest="dest",
            cost_name="cost",
        )
        logging.getLogger("access").setLevel(logging.WARNING)  # Access() sets it to INFO: "Overwriting ..."
        step_fn = access_weights.step_fn({float(u): float(w) for u, w in DEFAULT_BANDS.bands})
        _, t2 = measure(
            "2SFCA, PySAL access", lambda: model.two_stage_fca(name="fca", max_cost=20.0), steps=steps, trace=trace
        )
        _, te = measure(
            "E2SFCA, PySAL access",
            lambda: model.enhanced_two_stage_fca(name="efca", weight_fn=step_fn),
            steps=steps,
            trace=trace,
        )
        for label, ours, theirs, col in (("2SFCA", ours2, t2, "fca_gp"), ("E2SFCA", ours_e, te, "efca_gp")):
            agreement = compare_access(
                f"{label}, ours vs PySAL", ours, theirs[col].reindex(m20.unit_ids).to_numpy(float)
            )
            print(f"   {agreement.line()}")
            checks.append(agreement.ok)
            ratio = steps[f"{label}, PySAL access"].best_s / steps[f"{label}, ours"].best_s
            print(f"   ratio {label} PySAL / ours {ratio:.1f}x")
            out[f"{label}_pysal_over_ours"] = ratio
            out[f"{label}_check"] = agreement.as_dict()
    report["access"] = out
    return checks


def part_synthetic(args: argparse.Namespace, report: dict[str, Any]) -> list[bool]:
    print(f"\n== 6. analyse on a synthetic {args.nodes:,}-node road-like grid, each in a fresh process", flush=True)
    out: dict[str, Any] = {}
    variants = [False] if args.skip_networkx else [False, True]
    for as_nx in variants:
        r = run_in_child(_analyse_child, args.nodes, args.seed, as_nx)
        if "error" in r:
            print(f"   {'NetworkX' if as_nx else 'RoadEdges'}: FAILED {r['error']}")
            out["networkx" if as_nx else "road_edges"] = r
            continue
        print(
            f"   from {r['input']}: {r['nodes']:,} nodes, {r['edges']:,} edges; build {r['build_s']:.1f} s "
            f"(RSS {r['rss_before_mb']:,.0f} MiB after it, peak {r['peak_before_mb']:,.0f}); analyse {r['analyse_s']:.1f} s, "
            f"peak RSS during analyse {r['analyse_peak_rss_mb']:,.0f} MiB (+{r['analyse_peak_rss_mb'] - r['rss_before_mb']:,.0f}); "
            f"process peak {r['process_peak_rss_mb']:,.0f} MiB",
            flush=True,
        )
        print("      its timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in r["timings"].items()))
        out["networkx" if as_nx else "road_edges"] = r
    ok: list[bool] = []
    if "road_edges" in out and "error" not in out["road_edges"]:
        peak = out["road_edges"]["process_peak_rss_mb"]
        met = peak < ANALYSE_1M_GOAL_MB
        print(
            f"   goal process peak < {ANALYSE_1M_GOAL_MB:,.0f} MiB at {args.nodes:,} nodes: {'met' if met else 'NOT MET'} ({peak:,.0f} MiB)"
        )
        out["goal_met"] = met
        if "networkx" in out and "error" not in out["networkx"]:
            r = out["networkx"]["process_peak_rss_mb"] / peak
            t = (out["networkx"]["build_s"] + out["networkx"]["analyse_s"]) / (
                out["road_edges"]["build_s"] + out["road_edges"]["analyse_s"]
            )
            print(f"   ratio peak RSS NetworkX / RoadEdges {r:.2f}x; time (build + analyse) {t:.2f}x")
            out["ratio_peak_networkx_over_road_edges"] = r
            out["ratio_time_networkx_over_road_edges"] = t
    report["synthetic_analyse"] = out
    return ok


# --------------------------------------------------------------------------- main


def summary_table(steps: dict[str, Step], report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The README table: step, ours, baseline, ratio, peak memory."""
    T = args.max_minutes

    def s(name: str) -> Step | None:
        return steps.get(name)

    def mem(step: Step | None) -> str:
        if step is None or step.peak_rss_mb is None:
            return ""
        text = f"{step.peak_rss_mb:,.0f} MiB (+{step.growth_mb:,.0f})"
        if step.workers_peak_mb:
            text += "; workers " + " / ".join(f"{w:,.0f}" for w in step.workers_peak_mb)
        return text

    rows = ["| step | ours | baseline | ratio | peak RSS (growth) |", "|---|---|---|---|---|"]

    def add(label: str, ours: Step | None, base: str, ratio: str, memory: str | None = None) -> None:
        if ours is not None:
            rows.append(
                f"| {label} | {ours.best_s:,.2f} s | {base} | {ratio} | {mem(ours) if memory is None else memory} |"
            )

    add("read national inputs", s("read national inputs"), "", "")
    t = report.get("territory", {}).get("analyse_timings_s", {})
    add("analyse (no isochrones)", s("analyse (no isochrones)"), ", ".join(f"{k} {v:.1f} s" for k, v in t.items()), "")
    no, nn = s("nearest facility, ours"), s("nearest facility, NetworkX")
    add(
        "nearest facility",
        no,
        f"NetworkX {nn.best_s:,.1f} s" if nn else "",
        f"{nn.best_s / no.best_s:,.0f}x" if nn and no else "",
    )
    m1 = s(f"matrix {T:g} min, one process")
    nx_ = report.get("matrix", {}).get("networkx")
    if m1:
        add(
            f"matrix {T:g} min, one process",
            m1,
            f"NetworkX {nx_['seconds_all_candidates']:,.0f} s ({nx_['candidates_searched']} searched, scaled up)"
            if nx_
            else "",
            f"{nx_['ratios']['NetworkX (scaled) / ours one process']:,.0f}x" if nx_ else "",
        )
    d1, d2 = s(f"matrix {T:g} min, Dask 1 worker"), s(f"matrix {T:g} min, Dask {args.workers} workers")
    add(f"matrix {T:g} min, Dask 1 worker", d1, "one process", f"{m1.best_s / d1.best_s:.2f}x" if d1 and m1 else "")
    add(
        f"matrix {T:g} min, Dask {args.workers} workers",
        d2,
        "Dask 1 worker",
        f"{d1.best_s / d2.best_s:.2f}x" if d1 and d2 else "",
    )
    add("matrix 20 min = covers(20)", s("matrix 20 min = covers(20)"), "", "")
    for k in steps:
        if k.startswith("LSCP") or k.startswith("MCLP"):
            r = report["siting"]["runs"][k]
            gap = "" if r["gap"] is None else f", gap {r['gap']:.3%}"
            add(k, steps[k], f"{r['status']}: {r['objective']:,.0f}{gap}", "")
    for label in ("2SFCA", "E2SFCA"):
        o, p = s(f"{label}, ours"), s(f"{label}, PySAL access")
        add(
            f"{label} (synthetic supply)",
            o,
            f"PySAL {p.best_s:,.2f} s" if p else "",
            f"{p.best_s / o.best_s:,.0f}x" if p and o else "",
        )
    syn = report.get("synthetic_analyse", {})
    re_, nx2 = syn.get("road_edges"), syn.get("networkx")
    if re_ and "error" not in re_:
        base = (
            f"NetworkX graph: {nx2['analyse_s']:.1f} s, peak {nx2['process_peak_rss_mb']:,.0f} MiB"
            if nx2 and "error" not in nx2
            else ""
        )
        ratio = (
            f"{nx2['process_peak_rss_mb'] / re_['process_peak_rss_mb']:.1f}x memory"
            if nx2 and "error" not in nx2
            else ""
        )
        rows.append(
            f"| analyse, synthetic {re_['nodes']:,} nodes (RoadEdges) | {re_['analyse_s']:.1f} s | {base} | {ratio} | "
            f"{re_['process_peak_rss_mb']:,.0f} MiB (process) |"
        )
    return rows


def environment() -> dict[str, Any]:
    versions = {}
    for name in ("numpy", "scipy", "networkx", "dask", "distributed", "highspy", "access", "pandas"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": psutil.virtual_memory().total / 2**30,
        "versions": versions,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--territory", default="france", help="france (default), region:53, departments:18,36, epci:SIREN")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--max-minutes", type=float, default=30.0, help="largest threshold of the matrix (30)")
    p.add_argument("--workers", type=int, default=2, help="Dask workers compared with 1 (2)")
    p.add_argument("--repeat", type=int, default=3, help="runs of the fast steps, best kept (3)")
    p.add_argument("--nx-sample", type=int, default=50, help="candidates NetworkX searches, scaled up (50)")
    p.add_argument("--k", type=int, default=500, help="new sites of the MCLP (500)")
    p.add_argument("--lscp-min", type=float, default=30.0)
    p.add_argument("--mclp-min", type=float, default=20.0)
    p.add_argument("--time-limit", type=float, default=120.0, help="HiGHS limit per exact solve, s (120)")
    p.add_argument("--inhabitants-per-gp", type=float, default=1100.0)
    p.add_argument("--gp-min-population", type=int, default=2000)
    p.add_argument("--nodes", type=int, default=1_000_000, help="synthetic grid of part 6 (1,000,000)")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--skip-networkx", action="store_true", help="no NetworkX baseline (parts 2, 3, 6)")
    p.add_argument("--skip-dask", action="store_true")
    p.add_argument("--skip-siting", action="store_true")
    p.add_argument("--skip-access", action="store_true")
    p.add_argument("--skip-pysal", action="store_true")
    p.add_argument("--skip-synthetic", action="store_true")
    p.add_argument("--no-trace", action="store_true", help="no tracemalloc runs")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    for name in ("distributed", "coverage", "access"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    begin = time.perf_counter()
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "environment": environment()}
    report["load_average_start"] = load_average()
    print(
        f"bench_national: {args.territory}; load average {report['load_average_start']}; "
        f"{psutil.virtual_memory().available / 2**30:.1f} GiB available",
        flush=True,
    )
    steps: dict[str, Step] = {}
    checks: list[bool] = []
    if not args.skip_synthetic:  # first: a fresh child, before this process holds anything
        checks += part_synthetic(args, report)
    nat = National()
    part_inputs(args, steps, report, nat)
    checks += part_nearest(args, steps, report, nat, None)
    checks += part_matrix(args, steps, report, nat)
    if not args.skip_networkx:
        print("\n== 2-3. NetworkX baselines on the same graph", flush=True)
        _, graph = measure(
            "NetworkX graph from the arrays",
            lambda: nat.analysis.network.source.to_networkx(),
            steps=steps,
            note="RoadEdges.to_networkx of the compiled component (setup, not a step)",
        )
        checks += part_nearest(args, steps, report, nat, graph)
        checks += part_matrix_networkx(args, steps, report, nat, graph)
        del graph
        gc.collect()
        trim_heap()
    if not args.skip_siting:
        checks += part_siting(args, steps, report, nat)
    if not args.skip_access:
        checks += part_access(args, steps, report, nat)
    report["steps"] = {k: v.as_dict() for k, v in steps.items()}
    report["load_average_end"] = load_average()
    report["total_s"] = time.perf_counter() - begin
    report["checks_ok"] = all(checks)
    table = summary_table(steps, report, args)
    report["table"] = table
    print("\n" + "\n".join(table))
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
