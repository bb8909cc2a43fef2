"""Benchmark of the nearest-facility step against the raw SciPy call and NetworkX.

Two graphs, each in OSMnx conventions (``networkx.MultiDiGraph``, node ``x``/``y``, edge
``length``/``travel_time``, graph ``crs``):

* the regional network of the demo (Travel Mapping roads of Centre-Val de Loire,
  largest strongly connected component) with the open facilities snapped to it;
* a synthetic road-like graph of about ``--nodes`` nodes: a jittered grid in
  Lambert-93 metres with a few per cent of its streets removed, faster "secondary"
  roads every 20 rows and columns, long motorway edges skipping 10 nodes every 100
  rows and columns, and a few parallel edges; facilities at random nodes with random
  access legs of 0-120 s.

On each graph, in the same run:

* ours: :func:`nearest_facility` (zero access legs, and the real ones);
* raw: the compiled call it wraps, ``scipy.sparse.csgraph.dijkstra(reverse_matrix,
  indices=facility nodes, min_only=True, return_predecessors=True)``, which takes no
  access legs;
* NetworkX: ``multi_source_dijkstra_path_length`` on the reversed graph from the
  facility nodes (zero access legs: the same answer as ours), plus, as a check of the
  access legs, ``single_source_dijkstra_path_length`` from a virtual node joined to
  every facility node by its access leg.

Compile time is reported apart from the step.  Fast steps are timed best of
``--repeat`` runs, interleaved so that noise from other processes hits them alike;
memory is one more run of each step under ``tracemalloc`` (NumPy reports its buffers
to it; C allocations inside SciPy's Dijkstra are not seen), and the process's maximum
RSS (``resource.getrusage``) is read after each step.

Run ``python bench/bench_nearest.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy
from scipy.sparse.csgraph import dijkstra

import coverage
from coverage.analysis import prepare_network
from coverage.network import RoutingNetwork, compile_network
from coverage.snapping import snap_points
from coverage.traveltime import nearest_facility

#: Goals printed beside the figures.
NX_SPEEDUP_GOAL = 30.0  # NetworkX seconds / ours, on the large graph
RAW_OVERHEAD_GOAL = 1.2  # ours seconds / raw csgraph call
#: Largest difference in seconds accepted between two answers.
TOLERANCE_S = 1e-6

# Synthetic graph: Lambert-93 metres somewhere in Centre-Val de Loire.
ORIGIN_X_M = 600_000.0
ORIGIN_Y_M = 6_700_000.0
SPACING_M = 100.0
JITTER_M = 30.0
REMOVED_SHARE = 0.03
PARALLEL_SHARE = 0.01
LOCAL_KPH = 45.0
SECONDARY_KPH = 80.0
SECONDARY_EVERY = 20
MOTORWAY_KPH = 110.0
MOTORWAY_EVERY = 100
MOTORWAY_SKIP = 10
MAX_ACCESS_S = 120.0
# NetworkX runs: a few on small graphs (best kept), one above this many nodes (tens of seconds).
NX_REPEAT_SMALL = 5
NX_SINGLE_RUN_NODES = 200_000
VIRTUAL_SOURCE = "__bench_virtual_source__"


@dataclass
class StepResult:
    """Figures of one timed step."""

    name: str
    seconds: list[float]
    tracemalloc_peak_mb: float | None
    max_rss_mb: float
    note: str = ""

    @property
    def best_s(self) -> float:
        return min(self.seconds)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_s": self.best_s, "median_s": self.median_s}


@dataclass
class Check:
    """Agreement of two answers over all nodes."""

    name: str
    n_nodes: int
    n_reached_a: int
    n_reached_b: int
    same_reached: bool
    max_abs_diff_s: float

    @property
    def ok(self) -> bool:
        return self.same_reached and self.max_abs_diff_s <= TOLERANCE_S

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "tolerance_s": TOLERANCE_S}


@dataclass
class GraphReport:
    """Everything measured on one graph."""

    name: str
    n_nodes: int
    n_edges: int
    n_facilities: int
    setup_s: dict[str, float] = field(default_factory=dict)
    setup_max_rss_mb: float = 0.0
    steps: dict[str, StepResult] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    ratios: dict[str, float] = field(default_factory=dict)
    goals: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_nodes": self.n_nodes,
            "n_edges": self.n_edges,
            "n_facilities": self.n_facilities,
            "setup_s": self.setup_s,
            "setup_max_rss_mb": self.setup_max_rss_mb,
            "steps": {k: v.as_dict() for k, v in self.steps.items()},
            "checks": [c.as_dict() for c in self.checks],
            "ratios": self.ratios,
            "goals_met": self.goals,
        }


# --------------------------------------------------------------------------- measuring


def max_rss_mb() -> float:
    """Maximum resident set size of this process so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by one call and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def traced_peak_mb(fn: Callable[[], Any]) -> float:
    """Peak of the memory allocated during one call, as seen by ``tracemalloc``, in MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def run_steps(
    steps: dict[str, Callable[[], Any]],
    repeat: int,
    *,
    warmup: bool = True,
    min_total_s: float = 1.0,
    max_repeat: int = 30,
    trace: bool = True,
    notes: dict[str, str] | None = None,
) -> tuple[dict[str, StepResult], dict[str, Any]]:
    """Time the steps in interleaved rounds, then trace each one once.

    With ``warmup``, each step is first run once untimed, and steps so fast that
    ``repeat`` rounds take less than ``min_total_s`` get more rounds (up to
    ``max_repeat``), so that the best time is not one unlucky slice of a shared machine.
    The garbage collector is run once before, not before every run: on a graph of
    millions of Python objects one collection takes longer than the step.
    Returns the figures and the result of each step's last timed run.
    """
    gc.collect()
    rounds = repeat
    if warmup:
        round_s = sum(timed(fn)[0] for fn in steps.values())
        rounds = max(repeat, min(max_repeat, math.ceil(min_total_s / max(round_s, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in steps}
    results: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in steps.items():
            seconds, results[name] = timed(fn)
            times[name].append(seconds)
    figures = {}
    for name, fn in steps.items():
        peak = traced_peak_mb(fn) if trace else None
        figures[name] = StepResult(name, times[name], peak, max_rss_mb(), (notes or {}).get(name, ""))
    return figures, results


def compare(name: str, a: np.ndarray, b: np.ndarray) -> Check:
    """Compare two arrays of seconds per node (NaN or inf = not reached)."""
    reached_a = np.isfinite(a)
    reached_b = np.isfinite(b)
    both = reached_a & reached_b
    diff = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
    return Check(
        name=name,
        n_nodes=len(a),
        n_reached_a=int(reached_a.sum()),
        n_reached_b=int(reached_b.sum()),
        same_reached=bool(np.array_equal(reached_a, reached_b)),
        max_abs_diff_s=diff,
    )


def as_node_array(lengths: dict[Any, float], node_ids: np.ndarray) -> np.ndarray:
    """NetworkX's ``{node: seconds}`` as an array aligned on the network's matrix index."""
    return np.fromiter((lengths.get(node, np.nan) for node in node_ids), dtype=float, count=len(node_ids))


# --------------------------------------------------------------------------- graphs


def synthetic_graph(n_nodes: int, seed: int) -> nx.MultiDiGraph:
    """A road-like graph of at least ``n_nodes`` nodes in OSMnx conventions (EPSG:2154).

    A grid of ``SPACING_M`` with jittered nodes; ``REMOVED_SHARE`` of the streets
    removed; every street two-way.  Rows and columns multiple of ``SECONDARY_EVERY``
    are secondary roads; every ``MOTORWAY_EVERY`` rows and columns (offset by half) a
    motorway joins every ``MOTORWAY_SKIP``-th node with long edges; ``PARALLEL_SHARE``
    of the streets get a parallel edge (key 1) slower or faster than the first.
    """
    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_nodes))
    rows = math.ceil(n_nodes / cols)
    n = rows * cols
    ids = np.arange(n).reshape(rows, cols)
    row, col = np.divmod(np.arange(n), cols)
    x = ORIGIN_X_M + col * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, n)
    y = ORIGIN_Y_M + row * SPACING_M + rng.uniform(-JITTER_M, JITTER_M, n)

    # Streets: horizontal then vertical, secondary on every SECONDARY_EVERY-th line.
    secondary_row = np.arange(rows) % SECONDARY_EVERY == 0
    secondary_col = np.arange(cols) % SECONDARY_EVERY == 0
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    kph = np.where(
        np.concatenate([np.repeat(secondary_row, cols - 1), np.tile(secondary_col, rows - 1)]),
        SECONDARY_KPH,
        LOCAL_KPH,
    )
    keep = rng.random(len(u)) >= REMOVED_SHARE
    u, v, kph = u[keep], v[keep], kph[keep]
    length = np.hypot(x[v] - x[u], y[v] - y[u])
    key = np.zeros(len(u), dtype=np.int64)

    # Parallel edges (key 1) on a few streets, up to 40 % faster or 60 % slower.
    par = rng.random(len(u)) < PARALLEL_SHARE
    par_u, par_v = u[par], v[par]
    par_length = length[par] * 1.1
    par_kph = kph[par] * 1.1 / rng.uniform(0.6, 1.6, int(par.sum()))

    # Motorways: long edges joining every MOTORWAY_SKIP-th node of some rows and columns.
    mw_u: list[np.ndarray] = []
    mw_v: list[np.ndarray] = []
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
    motor_length = np.hypot(x[motor_v] - x[motor_u], y[motor_v] - y[motor_u]) * 1.02

    one_way_u = np.concatenate([u, par_u, motor_u])
    one_way_v = np.concatenate([v, par_v, motor_v])
    one_way_key = np.concatenate([key, np.ones(len(par_u), dtype=np.int64), np.zeros(len(motor_u), dtype=np.int64)])
    one_way_length = np.concatenate([length, par_length, motor_length])
    one_way_kph = np.concatenate([kph, par_kph, np.full(len(motor_u), MOTORWAY_KPH)])
    # Two-way: every edge in both directions, each with its own attribute dict.
    all_u = np.concatenate([one_way_u, one_way_v]).tolist()
    all_v = np.concatenate([one_way_v, one_way_u]).tolist()
    all_key = np.concatenate([one_way_key, one_way_key]).tolist()
    all_length = np.concatenate([one_way_length, one_way_length])
    all_time = (all_length / (np.concatenate([one_way_kph, one_way_kph]) / 3.6)).tolist()
    all_length = all_length.tolist()

    graph = nx.MultiDiGraph(crs="EPSG:2154", name=f"synthetic road-like grid {rows}x{cols}", simplified=True)
    node_attrs = ({"x": a, "y": b} for a, b in zip(x.tolist(), y.tolist(), strict=True))
    graph.add_nodes_from(zip(range(n), node_attrs, strict=False))  # a generator has no length to check
    graph.add_edges_from(
        zip(
            all_u,
            all_v,
            all_key,
            ({"length": a, "travel_time": t} for a, t in zip(all_length, all_time, strict=True)),
            strict=True,
        )
    )
    return graph


# --------------------------------------------------------------------------- benchmark


def bench_graph(
    report: GraphReport,
    net: RoutingNetwork,
    fac_index: np.ndarray,
    access_s: np.ndarray,
    *,
    repeat: int,
    nx_repeat: int,
    skip_networkx: bool,
    large: bool,
) -> GraphReport:
    """Time ours, the raw call and NetworkX on one compiled network; check the answers."""
    graph = net.graph
    zeros = np.zeros(len(fac_index))
    start = time.perf_counter()
    reverse = net.reverse_matrix  # cached on the network: built once, outside the step
    report.setup_s["reverse_matrix"] = time.perf_counter() - start
    report.setup_max_rss_mb = max_rss_mb()

    steps: dict[str, Callable[[], Any]] = {
        "ours": lambda: nearest_facility(net, fac_index, zeros),
        "ours_access": lambda: nearest_facility(net, fac_index, access_s),
        "raw": lambda: dijkstra(reverse, directed=True, indices=fac_index, min_only=True, return_predecessors=True),
    }
    notes = {
        "ours": "nearest_facility, zero access legs",
        "ours_access": "nearest_facility, real access legs",
        "raw": "csgraph.dijkstra(reverse_matrix, min_only) - no access legs",
    }
    figures, results = run_steps(steps, repeat, notes=notes)
    report.steps.update(figures)
    ours = results["ours"].seconds
    ours_access = results["ours_access"].seconds
    raw_dist = results["raw"][0]
    report.checks.append(compare("ours (zero access) vs raw csgraph call", ours, raw_dist))
    report.ratios["ours/raw"] = figures["ours"].best_s / figures["raw"].best_s
    report.ratios["ours_access/raw"] = figures["ours_access"].best_s / figures["raw"].best_s
    report.goals["ours <= 1.2x raw"] = report.ratios["ours/raw"] <= RAW_OVERHEAD_GOAL

    if skip_networkx:
        return report
    fac_nodes = [net.node_ids[i] for i in fac_index]
    reverse_view = graph.reverse(copy=False)
    nx_figures, nx_results = run_steps(
        {"networkx": lambda: nx.multi_source_dijkstra_path_length(reverse_view, set(fac_nodes), weight="travel_time")},
        nx_repeat,
        warmup=False,
        notes={"networkx": "multi_source_dijkstra_path_length(G.reverse(copy=False)), zero access legs"},
    )
    report.steps.update(nx_figures)
    report.checks.append(
        compare("ours (zero access) vs NetworkX", ours, as_node_array(nx_results["networkx"], net.node_ids))
    )

    # Access legs in NetworkX: a virtual node joined to each facility node by its leg
    # (an edge facility -> virtual in the graph, virtual -> facility in its reverse).
    graph.add_edges_from(
        (node, VIRTUAL_SOURCE, {"travel_time": float(t)}) for node, t in zip(fac_nodes, access_s, strict=True)
    )
    try:
        access_figures, access_results = run_steps(
            {
                "networkx_access": lambda: nx.single_source_dijkstra_path_length(
                    reverse_view, VIRTUAL_SOURCE, weight="travel_time"
                )
            },
            nx_repeat,
            warmup=False,
            trace=False,
            notes={"networkx_access": "single_source_dijkstra_path_length from a virtual node, real access legs"},
        )
    finally:
        graph.remove_node(VIRTUAL_SOURCE)
    report.steps.update(access_figures)
    report.checks.append(
        compare(
            "ours (access legs) vs NetworkX from a virtual node",
            ours_access,
            as_node_array(access_results["networkx_access"], net.node_ids),
        )
    )
    report.ratios["networkx/ours"] = nx_figures["networkx"].best_s / figures["ours"].best_s
    report.ratios["networkx_access/ours_access"] = (
        access_figures["networkx_access"].best_s / figures["ours_access"].best_s
    )
    if large:
        report.goals["ours >= 30x faster than NetworkX"] = report.ratios["networkx/ours"] >= NX_SPEEDUP_GOAL
    return report


def default_nx_repeat(n_nodes: int) -> int:
    """Runs of NetworkX when ``--nx-repeat`` is not given."""
    return NX_REPEAT_SMALL if n_nodes < NX_SINGLE_RUN_NODES else 1


def bench_regional(args: argparse.Namespace) -> GraphReport | None:
    """The demo's regional network with its open facilities; None without the data folder."""
    start = time.perf_counter()
    try:
        inputs = coverage.load_regional_inputs(args.data_dir)
    except coverage.InputFileNotFoundError as exc:
        print(f"regional network skipped: {exc}")
        return None
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    net = prepare_network(inputs.graph, metric_crs="EPSG:2154")
    prepare_s = time.perf_counter() - start
    snap = snap_points(inputs.facilities, net, access_speed_kph=30, max_snap_m=5000, what="facilities")
    on = snap.snapped
    report = GraphReport(
        name="regional (Centre-Val de Loire, largest strong component)",
        n_nodes=net.n_nodes,
        n_edges=net.graph.number_of_edges(),
        n_facilities=int(on.sum()),
        setup_s={"load_regional_inputs": load_s, "prepare_network (component + compile)": prepare_s},
    )
    return bench_graph(
        report,
        net,
        snap.node_index[on],
        snap.access_seconds[on],
        repeat=args.repeat,
        nx_repeat=args.nx_repeat or default_nx_repeat(net.n_nodes),
        skip_networkx=args.skip_networkx,
        large=False,
    )


def bench_synthetic(args: argparse.Namespace) -> GraphReport:
    """The synthetic road-like graph with facilities at random nodes."""
    start = time.perf_counter()
    graph = synthetic_graph(args.nodes, args.seed)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    net = compile_network(graph, metric_crs="EPSG:2154")
    compile_s = time.perf_counter() - start
    rng = np.random.default_rng(args.seed + 1)
    k = min(args.facilities, net.n_nodes)
    fac_nodes = rng.choice(graph.number_of_nodes(), size=k, replace=False)
    fac_index = np.fromiter((net.index_of(int(node)) for node in fac_nodes), dtype=np.int64, count=k)
    access_s = rng.uniform(0.0, MAX_ACCESS_S, k)
    report = GraphReport(
        name=graph.graph["name"],
        n_nodes=net.n_nodes,
        n_edges=graph.number_of_edges(),
        n_facilities=k,
        setup_s={"build graph (NetworkX)": build_s, "compile_network": compile_s},
    )
    return bench_graph(
        report,
        net,
        fac_index,
        access_s,
        repeat=args.repeat,
        nx_repeat=args.nx_repeat or default_nx_repeat(net.n_nodes),
        skip_networkx=args.skip_networkx,
        large=True,
    )


# --------------------------------------------------------------------------- output


def print_report(report: GraphReport) -> None:
    """The figures of one graph as a table, then ratios, goals and checks."""
    print(f"\n== {report.name}")
    print(f"   {report.n_nodes:,} nodes, {report.n_edges:,} directed edges, {report.n_facilities} facilities")
    setup = ", ".join(f"{name} {value:,.2f} s" for name, value in report.setup_s.items())
    print(f"   setup (not timed as the step): {setup}; max RSS after setup {report.setup_max_rss_mb:,.0f} MiB")
    print(f"   {'step':<16} {'best s':>9} {'median s':>9} {'runs':>4} {'tracemalloc':>11} {'max RSS':>8}  what")
    print(f"   {'':<16} {'':>9} {'':>9} {'':>4} {'peak MiB':>11} {'MiB':>8}")
    for step in report.steps.values():
        peak = "-" if step.tracemalloc_peak_mb is None else f"{step.tracemalloc_peak_mb:,.1f}"
        print(
            f"   {step.name:<16} {step.best_s:>9.4f} {step.median_s:>9.4f} {len(step.seconds):>4} {peak:>11} "
            f"{step.max_rss_mb:>8,.0f}  {step.note}"
        )
    for name, value in report.ratios.items():
        print(f"   ratio {name:<28} {value:8.2f}x")
    for name, met in report.goals.items():
        print(f"   goal  {name:<36} {'met' if met else 'NOT MET'}")
    for check in report.checks:
        verdict = "OK" if check.ok else "MISMATCH"
        print(
            f"   check {check.name}: {verdict} (reached {check.n_reached_a:,} / {check.n_reached_b:,} "
            f"of {check.n_nodes:,} nodes, same set: {check.same_reached}, max |diff| {check.max_abs_diff_s:.3g} s)"
        )


def environment() -> dict[str, Any]:
    """Versions and machine, to read the figures against."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "networkx": nx.__version__,
        "coverage": coverage.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_start": os.getloadavg(),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="nodes of the synthetic graph (default 1,000,000)")
    parser.add_argument("--facilities", type=int, default=500, help="facilities of the synthetic graph (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the synthetic graph (default 0)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast steps, best kept (default 3)")
    parser.add_argument(
        "--nx-repeat",
        type=int,
        default=None,
        help=f"runs of NetworkX (default {NX_REPEAT_SMALL}, or 1 above {NX_SINGLE_RUN_NODES:,} nodes)",
    )
    parser.add_argument("--skip-regional", action="store_true", help="skip the regional network")
    parser.add_argument("--skip-networkx", action="store_true", help="skip NetworkX (and the checks against it)")
    parser.add_argument("--data-dir", type=Path, help="data folder of the regional network (default: as the demo)")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.nodes < 4 or args.facilities < 1 or args.repeat < 1 or (args.nx_repeat is not None and args.nx_repeat < 1):
        parser.error("--nodes >= 4, --facilities >= 1, --repeat >= 1 and --nx-repeat >= 1 are required")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment()
    print(
        f"bench_nearest: Python {env['python']}, NumPy {env['numpy']}, SciPy {env['scipy']}, "
        f"NetworkX {env['networkx']}, {env['cpus']} CPUs, load average {env['load_average_start'][0]:.2f}"
    )
    print(f"goals: ours >= {NX_SPEEDUP_GOAL:g}x faster than NetworkX (large graph), ours <= {RAW_OVERHEAD_GOAL:g}x raw")
    start = time.perf_counter()
    reports: list[GraphReport] = []
    if not args.skip_regional:
        regional = bench_regional(args)
        if regional is not None:
            reports.append(regional)
            print_report(regional)
    synthetic = bench_synthetic(args)
    reports.append(synthetic)
    print_report(synthetic)
    env["load_average_end"] = os.getloadavg()
    env["total_s"] = time.perf_counter() - start
    env["max_rss_mb"] = max_rss_mb()
    print(
        f"\ntotal {env['total_s']:.0f} s, process max RSS {env['max_rss_mb']:,.0f} MiB, "
        f"load average at the end {env['load_average_end'][0]:.2f}"
    )
    all_ok = all(check.ok for report in reports for check in report.checks)
    print("answers agree on every graph" if all_ok else "SOME ANSWERS DISAGREE (see the checks above)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "environment": env,
            "goals": {"networkx_over_ours_min": NX_SPEEDUP_GOAL, "ours_over_raw_max": RAW_OVERHEAD_GOAL},
            "graphs": [report.as_dict() for report in reports],
        }
        args.json.write_text(json.dumps(payload, indent=2), "utf-8")
        print(f"figures written to {args.json}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
