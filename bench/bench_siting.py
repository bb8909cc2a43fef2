"""Benchmark of the siting engine: the coverage matrix against NetworkX, the exact MCLP against spopt.

Three parts, in the same run:

1. Coverage matrix on the region: the 1,754 communes of Centre-Val de Loire (population
   units, at their town hall) x the 1,754 town halls as candidate sites
   (:func:`coverage.candidates.candidates_from_units`), within 30 minutes.
   :func:`coverage.matrix.coverage_matrix` with one and two worker processes, the
   compiled searches alone (serial ``csgraph.dijkstra`` calls), and NetworkX: one
   ``single_source_dijkstra_path_length`` per candidate on the reversed graph, bounded
   by the time left after the candidate's access leg, then the units' nodes read off
   and their access legs added.  NetworkX runs every candidate if that fits in
   ``--nx-budget`` seconds, else a random sample whose time is scaled up (said in the
   output).  Both answers are compared pair by pair.
2. Exact MCLP on the region, thresholds 20 and 30 min, k = 10, 25, 50 new sites, the
   open facilities required: :func:`coverage.siting.mclp_exact` (HiGHS) beside
   :func:`coverage.siting.mclp_greedy`, and spopt's ``MCLP.from_cost_matrix`` solved
   by PuLP's bundled CBC on the same coverage matrix, build and solve timed apart.
   spopt runs in a child process under a wall-clock guard of its own (``--spopt-guard``),
   killed with its CBC process when the guard expires, because PuLP may report
   "Optimal" at CBC's time limit and CBC may ignore the limit; CBC's own status is read
   from PuLP's ``sol_status``.
3. Coverage matrix on the synthetic road-like graph of ``bench_nearest.py`` (``--nodes``,
   default 1,000,000) with ``--candidates`` candidate sites and ``--units`` population
   units at random nodes (random access legs of 0-120 s), within 20 minutes: ours with
   two workers (one run, under ``tracemalloc``), the compiled searches alone on a
   sample scaled up, and NetworkX on ``--nx-sample`` random candidates scaled up.

Run ``python bench/bench_siting.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import resource
import signal
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

import coverage
from coverage.analysis import GapAnalysis
from coverage.candidates import candidates_from_units
from coverage.matrix import CoverageMatrix, coverage_matrix
from coverage.network import RoutingNetwork, compile_network
from coverage.siting import SitingResult, covered_population, mclp_exact, mclp_greedy
from coverage.snapping import snap_points

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))
from bench_nearest import MAX_ACCESS_S, StepResult, max_rss_mb, run_steps, synthetic_graph  # noqa: E402

#: Goals printed beside the figures.
NX_SPEEDUP_GOAL = 30.0  # NetworkX seconds / ours (two workers)
NX_SPEEDUP_AIM = 50.0
EXACT_GOAL_S = 60.0  # exact MCLP, k <= 50, on the region
#: Regional instance.
REGION_MATRIX_MIN = 30.0
SITING_THRESHOLDS_MIN = (20.0, 30.0)
SITING_K = (10, 25, 50)
HIGHS_TIME_LIMIT_S = 60.0
#: Synthetic instance.
SYNTHETIC_MATRIX_MIN = 20.0
RAW_SAMPLE_CALLS = 10  # compiled calls timed to estimate the searches alone on the synthetic graph
#: Rows of one compiled call, as coverage.matrix sizes them: at most 64 sites and 64 MiB of dense rows.
CALL_BYTES = 64 * 1024 * 1024
CALL_MAX_SITES = 64
#: Largest differences accepted between two answers.
TOLERANCE_MIN = 1e-6  # minutes of one pair
TOLERANCE_POP = 1e-6  # inhabitants of one objective value


# --------------------------------------------------------------------------- measuring


def children_max_rss_mb() -> float:
    """Largest maximum RSS of the child processes waited for so far, in MiB.

    Forked workers share the parent's pages, which their RSS counts too: not additive.
    """
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def traced_run(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Seconds, ``tracemalloc`` peak in MiB and result of one call.

    The peak counts allocations made in this process (NumPy buffers included), not
    those of worker processes nor C allocations inside SciPy's Dijkstra.
    """
    gc.collect()
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak / 2**20, result


def call_size(n_nodes: int) -> int:
    """Sites per compiled call, the way :func:`coverage.matrix.coverage_matrix` chunks them."""
    return int(max(1, min(CALL_MAX_SITES, CALL_BYTES // (8 * n_nodes))))


def searches_only(
    reverse: sp.csr_array, site_nodes: np.ndarray, site_access_s: np.ndarray, limit_s: float, *, count: bool = False
) -> int:
    """The compiled bounded searches alone, serial, in the chunks ours uses.

    Returns the number of nodes reached when ``count`` (an extra pass, left out of timed steps), else 0.
    """
    size = call_size(reverse.shape[0])
    reached = 0
    for a in range(0, len(site_nodes), size):
        limit = limit_s - float(site_access_s[a : a + size].min())
        if limit >= 0:
            dist = dijkstra(reverse, directed=True, indices=site_nodes[a : a + size], limit=limit)
            if count:
                reached += int(np.isfinite(dist).sum())
    return reached


def matrix_mb(matrix: CoverageMatrix) -> float:
    """Memory of the CSR arrays of a coverage matrix, in MiB."""
    m = matrix.minutes
    return (m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) / 2**20


# --------------------------------------------------------------------------- NetworkX and checks


@dataclass
class NetworkXRun:
    """Pairs found by NetworkX for the candidates it searched, and its time."""

    seconds: float
    done: int
    total: int
    rows: np.ndarray = field(repr=False)
    cols: np.ndarray = field(repr=False)
    minutes: np.ndarray = field(repr=False)

    @property
    def sampled(self) -> bool:
        return self.done < self.total

    @property
    def scaled_s(self) -> float:
        """Time for every candidate: measured, or scaled up from the sample."""
        return self.seconds / self.done * self.total if self.done else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds_measured": self.seconds,
            "candidates_searched": self.done,
            "candidates_total": self.total,
            "sampled": self.sampled,
            "seconds_all_candidates": self.scaled_s,
            "pairs": len(self.rows),
        }


def units_by_node(node_ids: Sequence[Any], access_s: np.ndarray) -> dict[Any, list[tuple[int, float]]]:
    """Graph node -> (unit position, access leg in seconds) of the units on it (None: off the network)."""
    out: dict[Any, list[tuple[int, float]]] = {}
    for pos, (node, access) in enumerate(zip(node_ids, access_s.tolist(), strict=True)):
        if node is not None:
            out.setdefault(node, []).append((pos, access))
    return out


def networkx_matrix(
    reverse_view: nx.MultiDiGraph,
    site_nodes: Sequence[Any],
    site_access_s: np.ndarray,
    units_at: dict[Any, list[tuple[int, float]]],
    limit_s: float,
    order: np.ndarray,
    budget_s: float | None,
) -> NetworkXRun:
    """The coverage matrix the NetworkX way, one bounded search per candidate.

    Candidates are searched in ``order``; after ``budget_s`` seconds the loop stops
    and the rest is left out (the caller scales the time up).  Each search is bounded
    by the time left after the candidate's access leg, the tightest exact bound.
    """
    rows: list[int] = []
    cols: list[int] = []
    minutes: list[float] = []
    done = 0
    start = time.perf_counter()
    for j in order.tolist():
        site_access = float(site_access_s[j])
        cutoff = limit_s - site_access
        if cutoff >= 0:
            lengths = nx.single_source_dijkstra_path_length(
                reverse_view, site_nodes[j], cutoff=cutoff, weight="travel_time"
            )
            for node, seconds in lengths.items():
                at = units_at.get(node)
                if at is None:
                    continue
                for unit, unit_access in at:
                    total = seconds + unit_access + site_access  # summed in ours' order
                    if total <= limit_s:
                        rows.append(j)
                        cols.append(unit)
                        minutes.append(total / 60.0)
        done += 1
        if budget_s is not None and time.perf_counter() - start >= budget_s:
            break
    seconds = time.perf_counter() - start
    return NetworkXRun(
        seconds, done, len(order), np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(minutes)
    )


@dataclass
class PairCheck:
    """Agreement of two coverage matrices over some rows."""

    name: str
    rows_compared: int
    pairs_a: int
    pairs_b: int
    same_pairs: bool
    max_abs_diff_min: float

    @property
    def ok(self) -> bool:
        return self.same_pairs and self.max_abs_diff_min <= TOLERANCE_MIN

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "tolerance_min": TOLERANCE_MIN}

    def line(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        return (
            f"check {self.name}: {verdict} ({self.rows_compared:,} candidates, pairs {self.pairs_a:,} / "
            f"{self.pairs_b:,}, same pairs: {self.same_pairs}, max |diff| {self.max_abs_diff_min:.3g} min)"
        )


def csr_pairs(m: sp.csr_array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys ``row * n_cols + col`` and values of the stored pairs of some rows, sorted by key."""
    keys: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for r in np.unique(rows).tolist():
        a, b = m.indptr[r], m.indptr[r + 1]
        keys.append(r * m.shape[1] + m.indices[a:b].astype(np.int64))
        vals.append(m.data[a:b])
    key = np.concatenate(keys) if keys else np.empty(0, np.int64)
    val = np.concatenate(vals) if vals else np.empty(0)
    order = np.argsort(key, kind="stable")
    return key[order], val[order]


def compare_pairs(name: str, a: sp.csr_array, rows: np.ndarray, b_keys: np.ndarray, b_vals: np.ndarray) -> PairCheck:
    """Compare the rows ``rows`` of ``a`` with pairs given as sorted keys and values."""
    a_keys, a_vals = csr_pairs(a, rows)
    common, ia, ib = np.intersect1d(a_keys, b_keys, assume_unique=True, return_indices=True)
    diff = float(np.max(np.abs(a_vals[ia] - b_vals[ib]))) if len(common) else 0.0
    return PairCheck(
        name=name,
        rows_compared=len(np.unique(rows)),
        pairs_a=len(a_keys),
        pairs_b=len(b_keys),
        same_pairs=bool(np.array_equal(a_keys, b_keys)),
        max_abs_diff_min=diff,
    )


def compare_with_networkx(name: str, ours: CoverageMatrix, run: NetworkXRun, order: np.ndarray) -> PairCheck:
    """Ours against NetworkX on the candidates NetworkX searched."""
    n_units = ours.minutes.shape[1]
    keys = run.rows * n_units + run.cols
    sort = np.argsort(keys, kind="stable")
    return compare_pairs(name, ours.minutes, order[: run.done], keys[sort], run.minutes[sort])


# --------------------------------------------------------------------------- spopt in a child process


@dataclass
class SpoptRun:
    """spopt's MCLP on one instance, as seen from the parent."""

    build_s: float | None = None
    solve_s: float | None = None
    pulp_status: str | None = None
    cbc_status: str | None = None
    objective: float | None = None
    sites: list[int] = field(default_factory=list)
    cut: bool = False
    error: str = ""
    wall_s: float = 0.0

    @property
    def optimal(self) -> bool:
        """Optimal by CBC's own status (PuLP says "Optimal" at a time limit too)."""
        return not self.cut and not self.error and self.cbc_status == "Optimal Solution Found"

    @property
    def feasible(self) -> bool:
        """CBC returned an integer solution (proven optimal or not): its value is a real coverage."""
        return not self.cut and not self.error and self.cbc_status in ("Optimal Solution Found", "Solution Found")

    def describe(self) -> str:
        if self.cut:
            built = f"built in {self.build_s:.1f} s, " if self.build_s is not None else "not built, "
            return f"CUT by the {self.wall_s:.0f} s guard ({built}killed)"
        if self.error:
            return f"failed: {self.error}"
        return f"PuLP {self.pulp_status!r}, CBC {self.cbc_status!r}"


def _spopt_child(
    conn: Connection,
    cost: np.ndarray,
    weights: np.ndarray,
    radius: float,
    p: int,
    predefined: np.ndarray,
    time_limit_s: float,
) -> None:
    """Build and solve spopt's MCLP, sending the figures to the parent as they come."""
    os.setpgrp()  # own process group: the parent can kill this process and its CBC together
    try:
        import pulp
        from spopt.locate import MCLP

        start = time.perf_counter()
        model = MCLP.from_cost_matrix(
            cost, weights, service_radius=radius, p_facilities=p, predefined_facilities_arr=predefined
        )
        conn.send({"build_s": time.perf_counter() - start})
        start = time.perf_counter()
        try:
            model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s), results=False)
        except RuntimeError as exc:  # spopt's check_status: PuLP's status is not "Optimal"
            conn.send({"error": str(exc)})
        solve_s = time.perf_counter() - start
        problem = model.problem
        conn.send(
            {
                "solve_s": solve_s,
                "pulp_status": pulp.LpStatus[problem.status],
                "cbc_status": pulp.LpSolution[problem.sol_status],
                "objective": pulp.value(problem.objective),
                "sites": [j for j, var in enumerate(model.fac_vars) if (var.value() or 0.0) > 0.5],
                "done": True,
            }
        )
    except Exception as exc:  # reported to the parent, which carries on
        conn.send({"error": f"{type(exc).__name__}: {exc}", "done": True})
    finally:
        conn.close()


def run_spopt(
    cost: np.ndarray,
    weights: np.ndarray,
    radius: float,
    p: int,
    predefined: np.ndarray,
    *,
    time_limit_s: float,
    guard_s: float,
) -> SpoptRun:
    """spopt's MCLP in a forked child, killed (with its CBC) after ``guard_s`` seconds."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_spopt_child, args=(send, cost, weights, radius, p, predefined, time_limit_s), daemon=True
    )
    run = SpoptRun()
    start = time.perf_counter()
    child.start()
    send.close()
    figures: dict[str, Any] = {}
    deadline = start + guard_s
    while not figures.get("done"):
        remaining = deadline - time.perf_counter()
        if remaining <= 0 or not receive.poll(remaining):
            run.cut = True
            break
        try:
            figures.update(receive.recv())
        except EOFError:  # the child died without a word
            figures.setdefault("error", f"the child process ended (exit code {child.exitcode})")
            break
    run.wall_s = time.perf_counter() - start
    if run.cut and child.is_alive() and child.pid is not None:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the child and the CBC it started (its own group)
        except ProcessLookupError:  # not yet in its own group
            child.kill()
    child.join()
    receive.close()
    run.build_s = figures.get("build_s")
    run.solve_s = figures.get("solve_s")
    run.pulp_status = figures.get("pulp_status")
    run.cbc_status = figures.get("cbc_status")
    run.objective = figures.get("objective")
    run.sites = list(figures.get("sites", []))
    run.error = figures.get("error", "") if not run.cut else ""
    return run


def spopt_cost_matrix(matrix: CoverageMatrix) -> np.ndarray:
    """Dense ``units x sites`` minutes (inf beyond the matrix's largest threshold), as spopt takes it."""
    m = sp.coo_array(matrix.minutes)
    site, unit = m.coords
    cost = np.full((m.shape[1], m.shape[0]), np.inf)
    cost[unit, site] = m.data
    return cost


# --------------------------------------------------------------------------- part 1: regional matrix


@dataclass
class Region:
    """The regional instance: network, units, candidates and facilities as matrix inputs."""

    analysis: GapAnalysis
    setup_s: dict[str, float]
    unit_nodes: np.ndarray
    unit_access_s: np.ndarray
    unit_ids: np.ndarray
    population: np.ndarray
    cand_nodes: np.ndarray
    cand_access_s: np.ndarray
    cand_ids: np.ndarray
    fac_nodes: np.ndarray
    fac_access_s: np.ndarray
    fac_ids: np.ndarray


def node_indices(network: RoutingNetwork, nodes: pd.Series) -> np.ndarray:
    """Matrix index of each graph node (-1 where missing: unsnapped)."""
    return np.array([network.index_of(n) if pd.notna(n) else -1 for n in nodes], dtype=np.int64)


def load_region(data_dir: Path | None) -> Region | None:
    """Load the regional inputs, run the analysis and snap the town-hall candidates."""
    setup: dict[str, float] = {}
    start = time.perf_counter()
    try:
        inputs = coverage.load_regional_inputs(data_dir)
    except coverage.InputFileNotFoundError as exc:
        print(f"regional parts skipped: {exc}")
        return None
    setup["load_regional_inputs"] = time.perf_counter() - start
    start = time.perf_counter()
    analysis = coverage.analyse(
        inputs.graph, inputs.facilities, inputs.units, coverage.AnalysisConfig(isochrones=False)
    )
    setup["analyse (no isochrones)"] = time.perf_counter() - start
    net, config, units, fac = analysis.network, analysis.config, analysis.units, analysis.facilities
    start = time.perf_counter()
    cand = candidates_from_units(units)
    snap = snap_points(
        cand, net, access_speed_kph=config.access_speed_kph, max_snap_m=config.max_snap_m, what="candidates"
    )
    setup["candidates + snapping"] = time.perf_counter() - start
    unit_nodes = node_indices(net, units["node"])
    fac_nodes = node_indices(net, fac["node"])
    return Region(
        analysis=analysis,
        setup_s=setup,
        unit_nodes=unit_nodes,
        unit_access_s=np.where(unit_nodes >= 0, units["access_minutes"].to_numpy(float) * 60.0, 0.0),
        unit_ids=units["unit_id"].astype(str).to_numpy(),
        population=units["population"].to_numpy(float),
        cand_nodes=snap.node_index,
        cand_access_s=np.nan_to_num(snap.access_seconds),
        cand_ids=cand["candidate_id"].astype(str).to_numpy(),
        fac_nodes=fac_nodes,
        fac_access_s=np.where(fac_nodes >= 0, fac["access_minutes"].to_numpy(float) * 60.0, 0.0),
        fac_ids=fac["facility_id"].astype(str).to_numpy(),
    )


def print_steps(steps: Sequence[StepResult], traced: dict[str, float]) -> None:
    """A table of timed steps."""
    print(f"   {'step':<22} {'best s':>9} {'median s':>9} {'runs':>4} {'traced s':>9} {'tracemalloc':>11}  what")
    for s in steps:
        peak = "-" if s.tracemalloc_peak_mb is None else f"{s.tracemalloc_peak_mb:,.1f} MiB"
        traced_s = f"{traced[s.name]:.3f}" if s.name in traced else "-"
        print(
            f"   {s.name:<22} {s.best_s:>9.3f} {s.median_s:>9.3f} {len(s.seconds):>4} {traced_s:>9} {peak:>11}"
            f"  {s.note}"
        )


def part_region_matrix(region: Region, args: argparse.Namespace, report: dict[str, Any]) -> list[PairCheck]:
    """Part 1: coverage matrix units x town halls at 30 min, ours against NetworkX."""
    net = region.analysis.network
    limit_s = REGION_MATRIX_MIN * 60.0
    n_cand, n_units = len(region.cand_ids), len(region.unit_ids)
    print(
        f"\n== 1. coverage matrix on the region: {n_units:,} units x {n_cand:,} candidates, {REGION_MATRIX_MIN:g} min"
    )
    print(
        f"   network {net.n_nodes:,} nodes, {net.matrix.nnz:,} edges; setup (not timed as steps): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in region.setup_s.items())
    )
    _ = net.reverse_matrix  # built once, outside the steps

    def ours(workers: int) -> CoverageMatrix:
        return coverage_matrix(
            net,
            region.cand_nodes,
            region.cand_access_s,
            region.unit_nodes,
            region.unit_access_s,
            REGION_MATRIX_MIN,
            site_ids=region.cand_ids,
            unit_ids=region.unit_ids,
            workers=workers,
        )

    steps: dict[str, Callable[[], Any]] = {
        "ours workers=1": lambda: ours(1),
        "ours workers=2": lambda: ours(2),
        "searches only": lambda: searches_only(net.reverse_matrix, region.cand_nodes, region.cand_access_s, limit_s),
    }
    notes = {
        "ours workers=1": "coverage_matrix(..., workers=1)",
        "ours workers=2": "coverage_matrix(..., workers=2)",
        "searches only": f"serial csgraph.dijkstra calls, {call_size(net.n_nodes)} sites each, no unit read-off",
    }
    figures, results = run_steps(steps, args.repeat, trace=False, notes=notes)
    traced: dict[str, float] = {}
    for name in ("ours workers=1", "ours workers=2"):
        traced[name], figures[name].tracemalloc_peak_mb, _ = traced_run(steps[name])
    m1: CoverageMatrix = results["ours workers=1"]
    m2: CoverageMatrix = results["ours workers=2"]

    rng = np.random.default_rng(args.seed)
    order = rng.permutation(n_cand)
    graph = net.graph
    units_at = units_by_node(
        [net.node_ids[i] if i >= 0 else None for i in region.unit_nodes.tolist()], region.unit_access_s
    )
    site_nodes = [net.node_ids[i] if i >= 0 else None for i in region.cand_nodes.tolist()]
    nx_run = networkx_matrix(
        graph.reverse(copy=False), site_nodes, region.cand_access_s, units_at, limit_s, order, args.nx_budget
    )
    nx_step = StepResult(
        "networkx",
        [nx_run.scaled_s],
        None,
        max_rss_mb(),
        (
            f"{nx_run.done:,} of {n_cand:,} candidates in {nx_run.seconds:.1f} s (random sample), SCALED UP"
            if nx_run.sampled
            else f"all {n_cand:,} candidates measured"
        )
        + "; single_source_dijkstra_path_length(G.reverse(copy=False), cutoff=limit - access) + unit read-off",
    )
    print_steps([*figures.values(), nx_step], traced)
    print(
        f"   matrix: {m2.minutes.nnz:,} pairs within {REGION_MATRIX_MIN:g} min ({matrix_mb(m2):.1f} MiB as CSR); "
        f"max RSS {max_rss_mb():,.0f} MiB, largest child {children_max_rss_mb():,.0f} MiB"
    )
    ratios = {
        "networkx/ours workers=2": nx_run.scaled_s / figures["ours workers=2"].best_s,
        "networkx/ours workers=1": nx_run.scaled_s / figures["ours workers=1"].best_s,
        "ours workers=1/workers=2": figures["ours workers=1"].best_s / figures["ours workers=2"].best_s,
        "ours workers=1/searches only": figures["ours workers=1"].best_s / figures["searches only"].best_s,
    }
    for name, value in ratios.items():
        print(f"   ratio {name:<30} {value:8.2f}x")
    speedup = ratios["networkx/ours workers=2"]
    goal_met = speedup >= NX_SPEEDUP_GOAL
    print(
        f"   goal  ours (2 workers) >= {NX_SPEEDUP_GOAL:g}x NetworkX (aim {NX_SPEEDUP_AIM:g}x): "
        f"{'met' if goal_met else 'NOT MET'} ({speedup:.1f}x{', aim reached' if speedup >= NX_SPEEDUP_AIM else ''})"
    )
    checks = [
        compare_pairs(
            "ours workers=1 vs workers=2",
            m1.minutes,
            np.arange(n_cand),
            *csr_pairs(m2.minutes, np.arange(n_cand)),
        ),
        compare_with_networkx("ours vs NetworkX", m2, nx_run, order),
    ]
    for check in checks:
        print(f"   {check.line()}")
    report["region_matrix"] = {
        "n_units": n_units,
        "n_candidates": n_cand,
        "threshold_min": REGION_MATRIX_MIN,
        "n_nodes": net.n_nodes,
        "pairs": int(m2.minutes.nnz),
        "setup_s": region.setup_s,
        "steps": {k: v.as_dict() for k, v in figures.items()},
        "traced_run_s": traced,
        "networkx": nx_run.as_dict(),
        "ratios": ratios,
        "goal_met": goal_met,
        "checks": [c.as_dict() for c in checks],
    }
    return checks


# --------------------------------------------------------------------------- part 2: exact MCLP


def best_of(fn: Callable[[], SitingResult], repeat: int, fast_s: float = 2.0) -> tuple[float, SitingResult]:
    """Best wall time of ``repeat`` calls (one call when the first takes over ``fast_s``) and the last result."""
    times: list[float] = []
    result: SitingResult | None = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if times[0] > fast_s:
            break
    assert result is not None
    return min(times), result


def part_region_siting(region: Region, args: argparse.Namespace, report: dict[str, Any]) -> list[tuple[str, bool]]:
    """Part 2: exact MCLP (HiGHS) against greedy and spopt + CBC, existing facilities required."""
    net = region.analysis.network
    clash = sorted(set(region.cand_ids) & set(region.fac_ids))
    if clash:
        raise SystemExit(f"candidate ids that are also facility ids: {clash[:5]}")
    required = list(region.fac_ids)
    n_req = len(required)
    print(
        f"\n== 2. exact MCLP on the region: {len(region.unit_ids):,} units, {len(region.cand_ids):,} candidates + "
        f"{n_req} open facilities required, thresholds {', '.join(f'{t:g}' for t in SITING_THRESHOLDS_MIN)} min, "
        f"k = {', '.join(map(str, SITING_K))}"
    )
    start = time.perf_counter()
    matrix = coverage_matrix(
        net,
        np.concatenate([region.cand_nodes, region.fac_nodes]),
        np.concatenate([region.cand_access_s, region.fac_access_s]),
        region.unit_nodes,
        region.unit_access_s,
        max(SITING_THRESHOLDS_MIN),
        site_ids=np.concatenate([region.cand_ids, region.fac_ids]),
        unit_ids=region.unit_ids,
        workers=2,
    )
    matrix_s = time.perf_counter() - start
    pop = region.population
    cost: np.ndarray | None = None
    cost_s = 0.0
    if not args.skip_spopt:
        import pulp  # noqa: F401 - imported here (2-4 s) so that the forked children inherit it
        import spopt.locate  # noqa: F401

        start = time.perf_counter()
        cost = spopt_cost_matrix(matrix)
        cost_s = time.perf_counter() - start
    print(
        f"   coverage matrix of the {matrix.minutes.shape[0]:,} sites: {matrix_s:.2f} s, {matrix.minutes.nnz:,} pairs"
        + (
            f"; dense cost matrix for spopt {cost.shape[0]:,} x {cost.shape[1]:,}: {cost_s:.2f} s"
            if cost is not None
            else ""
        )
    )
    if cost is not None:
        print(
            f"   spopt: MCLP.from_cost_matrix(p = k + {n_req}, the facilities predefined) then "
            f"solve(PULP_CBC_CMD(timeLimit={args.spopt_time_limit:g})), in a child killed after {args.spopt_guard:g} s"
        )
    predefined = np.r_[np.zeros(len(region.cand_ids), dtype=int), np.ones(n_req, dtype=int)]
    header = (
        f"   {'T':>3} {'k':>3} | {'exact s':>7} {'status':<8} {'covered':>10} {'share':>6} {'sites':>5} | "
        f"{'greedy s':>8} {'covered':>10} {'sites':>5} | {'spopt build s':>13} {'solve s':>8} {'covered':>10}  status"
    )
    print(header)
    rows: list[dict[str, Any]] = []
    checks: list[tuple[str, bool]] = []
    for threshold in SITING_THRESHOLDS_MIN:
        for k in SITING_K:
            exact_s, exact = best_of(
                partial(mclp_exact, matrix, pop, threshold, k, required=required, time_limit_s=HIGHS_TIME_LIMIT_S),
                args.repeat,
            )
            greedy_s, greedy = best_of(partial(mclp_greedy, matrix, pop, threshold, k, required=required), args.repeat)
            recheck = covered_population(matrix, pop, threshold, [*required, *exact.sites])
            row: dict[str, Any] = {
                "threshold_min": threshold,
                "k": k,
                "exact_s": exact_s,
                "exact_status": exact.status,
                "exact_value": exact.objective_value,
                "exact_bound": exact.bound,
                "exact_gap": exact.gap,
                "exact_new_sites": len(exact.sites),
                "greedy_s": greedy_s,
                "greedy_value": greedy.objective_value,
                "greedy_new_sites": len(greedy.sites),
                "covered_before": exact.population_covered_before,
                "population_total": exact.population_total,
            }
            tag = f"T={threshold:g} k={k}"
            checks.append(
                (
                    f"{tag}: exact value = population its sites cover",
                    abs(recheck - exact.objective_value) <= TOLERANCE_POP,
                )
            )
            checks.append((f"{tag}: greedy <= exact", greedy.objective_value <= exact.objective_value + TOLERANCE_POP))
            spopt_text = f"{'-':>13} {'-':>8} {'-':>10}  skipped"
            if cost is not None:
                run = run_spopt(
                    cost,
                    pop,
                    threshold,
                    k + n_req,
                    predefined,
                    time_limit_s=args.spopt_time_limit,
                    guard_s=args.spopt_guard,
                )
                row["spopt"] = asdict(run) | {"optimal": run.optimal}
                build = f"{run.build_s:13.1f}" if run.build_s is not None else f"{'-':>13}"
                solve = f"{run.solve_s:8.1f}" if run.solve_s is not None else f"{'-':>8}"
                value = f"{run.objective:10,.0f}" if run.objective is not None and run.feasible else f"{'-':>10}"
                spopt_text = f"{build} {solve} {value}  {run.describe()}"
                if run.objective is not None and run.feasible:
                    new_sites = [str(matrix.site_ids[j]) for j in run.sites if j < len(region.cand_ids)]
                    spopt_recheck = covered_population(matrix, pop, threshold, [*required, *new_sites])
                    checks.append(
                        (f"{tag}: spopt value = population its sites cover", abs(spopt_recheck - run.objective) <= 0.5)
                    )
                if run.objective is not None and run.optimal and exact.status == "optimal":
                    checks.append(
                        (f"{tag}: spopt = exact (both optimal)", abs(run.objective - exact.objective_value) <= 0.5)
                    )
                elif run.objective is not None and run.feasible:
                    checks.append((f"{tag}: spopt <= exact", run.objective <= exact.objective_value + 0.5))
            rows.append(row)
            print(
                f"   {threshold:>3g} {k:>3} | {exact_s:7.3f} {exact.status:<8} {exact.objective_value:10,.0f} "
                f"{exact.share_covered_after:6.1%} {len(exact.sites):>5} | "
                f"{greedy_s:8.3f} {greedy.objective_value:10,.0f} {len(greedy.sites):>5} | "
                f"{spopt_text}"
            )
    total = rows[0]["population_total"]
    for threshold in SITING_THRESHOLDS_MIN:
        before = next(r["covered_before"] for r in rows if r["threshold_min"] == threshold)
        print(
            f"   T={threshold:g}: {before:,.0f} of {total:,.0f} inhabitants ({before / total:.1%}) already within "
            f"{threshold:g} min of an open facility"
        )
    slowest = max(r["exact_s"] for r in rows)
    goal_met = slowest < EXACT_GOAL_S
    print(
        f"   goal  exact MCLP for k <= {max(SITING_K)} on the region in under {EXACT_GOAL_S:g} s: "
        f"{'met' if goal_met else 'NOT MET'} (slowest {slowest:.3f} s)"
    )
    if cost is not None:
        spopt_total = sum((r["spopt"]["wall_s"] or 0.0) for r in rows)
        cut = [f"T={r['threshold_min']:g} k={r['k']}" for r in rows if r["spopt"]["cut"]]
        print(
            f"   spopt wall time over the {len(rows)} instances {spopt_total:.0f} s"
            + (f"; cut by the guard: {', '.join(cut)}" if cut else "; none cut by the guard")
        )
    for name, ok in checks:
        if not ok or args.verbose:
            print(f"   check {name}: {'OK' if ok else 'FAILED'}")
    print(f"   checks: {sum(ok for _, ok in checks)} of {len(checks)} OK; max RSS {max_rss_mb():,.0f} MiB")
    report["region_siting"] = {
        "matrix_s": matrix_s,
        "highs_time_limit_s": HIGHS_TIME_LIMIT_S,
        "spopt_time_limit_s": None if args.skip_spopt else args.spopt_time_limit,
        "spopt_guard_s": None if args.skip_spopt else args.spopt_guard,
        "instances": rows,
        "goal_met": goal_met,
        "checks": [{"name": n, "ok": ok} for n, ok in checks],
    }
    return checks


# --------------------------------------------------------------------------- part 3: synthetic graph


def part_synthetic(args: argparse.Namespace, report: dict[str, Any]) -> list[PairCheck]:
    """Part 3: the coverage matrix on the large synthetic graph, ours against NetworkX (sampled)."""
    print(
        f"\n== 3. coverage matrix on the synthetic graph ({args.nodes:,} nodes requested), {SYNTHETIC_MATRIX_MIN:g} min"
    )
    setup: dict[str, float] = {}
    start = time.perf_counter()
    graph = synthetic_graph(args.nodes, args.seed)
    setup["build graph (NetworkX)"] = time.perf_counter() - start
    start = time.perf_counter()
    net = compile_network(graph, metric_crs="EPSG:2154")
    setup["compile_network"] = time.perf_counter() - start
    start = time.perf_counter()
    reverse = net.reverse_matrix
    setup["reverse_matrix"] = time.perf_counter() - start
    setup_rss = max_rss_mb()
    n = net.n_nodes
    n_cand = min(args.candidates, n)
    n_units = args.units
    rng = np.random.default_rng(args.seed + 2)
    cand_nodes = rng.choice(n, size=n_cand, replace=False)
    unit_nodes = rng.choice(n, size=n_units, replace=n_units > n)
    cand_access = rng.uniform(0.0, MAX_ACCESS_S, n_cand)
    unit_access = rng.uniform(0.0, MAX_ACCESS_S, n_units)
    limit_s = SYNTHETIC_MATRIX_MIN * 60.0
    print(
        f"   {graph.graph['name']}: {n:,} nodes, {graph.number_of_edges():,} directed edges; {n_cand:,} candidates and "
        f"{n_units:,} units at random nodes, access legs 0-{MAX_ACCESS_S:g} s"
    )
    print(
        "   setup (not timed as steps): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in setup.items())
        + f"; max RSS after setup {setup_rss:,.0f} MiB"
    )

    # The compiled searches alone, on a sample of calls, scaled up.
    size = call_size(n)
    calls = min(RAW_SAMPLE_CALLS, math.ceil(n_cand / size))
    sample = cand_nodes[: calls * size]
    start = time.perf_counter()
    reached = searches_only(reverse, sample, cand_access[: calls * size], limit_s, count=True)
    raw_s = time.perf_counter() - start
    raw_scaled = raw_s / len(sample) * n_cand
    print(
        f"   searches only: {calls} csgraph calls of {size} sites in {raw_s:.2f} s "
        f"({1000 * raw_s / len(sample):.1f} ms and {reached / len(sample):,.0f} nodes reached per site) "
        f"-> {raw_scaled:.0f} s for {n_cand:,} sites, serial (SCALED UP)"
    )

    # Ours, once, under tracemalloc (a run takes minutes).
    gc.collect()
    ours_s, ours_peak, matrix = traced_run(
        lambda: coverage_matrix(
            net,
            cand_nodes,
            cand_access,
            unit_nodes,
            unit_access,
            SYNTHETIC_MATRIX_MIN,
            site_ids=np.arange(n_cand).astype(str),
            unit_ids=np.arange(n_units).astype(str),
            workers=2,
        )
    )
    ours_rss, child_rss = max_rss_mb(), children_max_rss_mb()
    print(
        f"   ours workers=2: {ours_s:.1f} s (one run, under tracemalloc), {matrix.minutes.nnz:,} pairs "
        f"({matrix.minutes.nnz / (n_cand * n_units):.1%} of all, {matrix_mb(matrix):,.0f} MiB as CSR); "
        f"tracemalloc peak {ours_peak:,.0f} MiB; max RSS {ours_rss:,.0f} MiB "
        f"(+{ours_rss - setup_rss:,.0f} MiB over setup), "
        f"largest child process {child_rss:,.0f} MiB (pages shared with the parent included)"
    )

    # NetworkX on a random sample of candidates, scaled up.
    order = rng.permutation(n_cand)[: min(args.nx_sample, n_cand)]
    units_at = units_by_node(net.node_ids[unit_nodes].tolist(), unit_access)
    nx_run = networkx_matrix(
        graph.reverse(copy=False), net.node_ids[cand_nodes].tolist(), cand_access, units_at, limit_s, order, None
    )
    nx_run.total = n_cand
    print(
        f"   networkx: {nx_run.done} random candidates in {nx_run.seconds:.1f} s "
        f"({nx_run.seconds / max(nx_run.done, 1):.2f} s each) -> {nx_run.scaled_s:,.0f} s for {n_cand:,} (SCALED UP)"
    )
    ratios = {
        "networkx (scaled)/ours workers=2": nx_run.scaled_s / ours_s,
        "ours workers=2/searches only (scaled, serial)": ours_s / raw_scaled,
    }
    for name, value in ratios.items():
        print(f"   ratio {name:<46} {value:8.2f}x")
    speedup = ratios["networkx (scaled)/ours workers=2"]
    goal_met = speedup >= NX_SPEEDUP_GOAL
    print(
        f"   goal  ours (2 workers) >= {NX_SPEEDUP_GOAL:g}x NetworkX (aim {NX_SPEEDUP_AIM:g}x): "
        f"{'met' if goal_met else 'NOT MET'} ({speedup:.1f}x{', aim reached' if speedup >= NX_SPEEDUP_AIM else ''})"
    )
    check = compare_with_networkx("ours vs NetworkX (sampled candidates)", matrix, nx_run, order)
    print(f"   {check.line()}")
    report["synthetic"] = {
        "n_nodes": n,
        "n_edges": graph.number_of_edges(),
        "n_candidates": n_cand,
        "n_units": n_units,
        "threshold_min": SYNTHETIC_MATRIX_MIN,
        "setup_s": setup,
        "setup_max_rss_mb": setup_rss,
        "searches_only": {"calls": calls, "sites_per_call": size, "seconds": raw_s, "seconds_scaled": raw_scaled},
        "ours_workers2": {
            "seconds": ours_s,
            "traced": True,
            "tracemalloc_peak_mb": ours_peak,
            "max_rss_mb": ours_rss,
            "children_max_rss_mb": child_rss,
            "pairs": int(matrix.minutes.nnz),
            "csr_mb": matrix_mb(matrix),
        },
        "networkx": nx_run.as_dict(),
        "ratios": ratios,
        "goal_met": goal_met,
        "checks": [check.as_dict()],
    }
    return [check]


# --------------------------------------------------------------------------- main


def environment() -> dict[str, Any]:
    """Versions and machine, to read the figures against."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "networkx": nx.__version__,
        "coverage": coverage.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_start": os.getloadavg(),
    }
    for package in ("highspy", "pulp", "spopt"):
        try:
            env[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            env[package] = None
    return env


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="nodes of the synthetic graph (default 1,000,000)")
    parser.add_argument(
        "--candidates", type=int, default=10_000, help="candidate sites on the synthetic graph (default 10,000)"
    )
    parser.add_argument(
        "--units", type=int, default=100_000, help="population units on the synthetic graph (default 100,000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (graph, sites, samples; default 0)")
    parser.add_argument("--skip-synthetic", action="store_true", help="skip part 3 (the synthetic graph)")
    parser.add_argument("--skip-spopt", action="store_true", help="skip spopt in part 2")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast steps, best kept (default 3)")
    parser.add_argument(
        "--nx-budget",
        type=float,
        default=180.0,
        help="seconds of NetworkX on the region before sampling takes over (default 180)",
    )
    parser.add_argument(
        "--nx-sample", type=int, default=20, help="candidates searched by NetworkX on the synthetic graph (default 20)"
    )
    parser.add_argument(
        "--spopt-time-limit", type=float, default=120.0, help="timeLimit given to CBC, seconds (default 120)"
    )
    parser.add_argument(
        "--spopt-guard", type=float, default=300.0, help="wall-clock guard of one spopt build + solve (default 300 s)"
    )
    parser.add_argument("--data-dir", type=Path, help="data folder of the regional network (default: as the demo)")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print every check, not only the failed ones")
    args = parser.parse_args(argv)
    if min(args.nodes, args.candidates, args.units, args.repeat, args.nx_sample) < 1 or args.nodes < 4:
        parser.error("--nodes >= 4 and --candidates, --units, --repeat, --nx-sample >= 1 are required")
    if args.nx_budget <= 0 or args.spopt_time_limit <= 0 or args.spopt_guard <= 0:
        parser.error("--nx-budget, --spopt-time-limit and --spopt-guard must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment()
    print(
        f"bench_siting: Python {env['python']}, NumPy {env['numpy']}, SciPy {env['scipy']}, "
        f"NetworkX {env['networkx']}, highspy {env['highspy']}, PuLP {env['pulp']}, spopt {env['spopt']}, "
        f"{env['cpus']} CPUs, "
        f"load average {env['load_average_start'][0]:.2f}"
    )
    print(
        f"goals: coverage matrix >= {NX_SPEEDUP_GOAL:g}x NetworkX (aim {NX_SPEEDUP_AIM:g}x); "
        f"exact MCLP for k <= {max(SITING_K)} on the region in under {EXACT_GOAL_S:g} s"
    )
    start = time.perf_counter()
    report: dict[str, Any] = {}
    pair_checks: list[PairCheck] = []
    siting_checks: list[tuple[str, bool]] = []
    region = load_region(args.data_dir)
    if region is not None:
        pair_checks += part_region_matrix(region, args, report)
        siting_checks += part_region_siting(region, args, report)
        del region
        gc.collect()
    if not args.skip_synthetic:
        pair_checks += part_synthetic(args, report)
    env["load_average_end"] = os.getloadavg()
    env["total_s"] = time.perf_counter() - start
    env["max_rss_mb"] = max_rss_mb()
    env["children_max_rss_mb"] = children_max_rss_mb()
    print(
        f"\ntotal {env['total_s']:.0f} s, process max RSS {env['max_rss_mb']:,.0f} MiB, largest child "
        f"{env['children_max_rss_mb']:,.0f} MiB, load average at the end {env['load_average_end'][0]:.2f}"
    )
    all_ok = all(c.ok for c in pair_checks) and all(ok for _, ok in siting_checks)
    print("answers agree everywhere" if all_ok else "SOME ANSWERS DISAGREE (see the checks above)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "environment": env,
            "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "goals": {
                "networkx_over_ours_min": NX_SPEEDUP_GOAL,
                "networkx_over_ours_aim": NX_SPEEDUP_AIM,
                "exact_mclp_max_s": EXACT_GOAL_S,
            },
            **report,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=float), "utf-8")
        print(f"figures written to {args.json}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
