"""Benchmark of the maximal covering (MCLP) solvers on hard instances: ours against PuLP + CBC and spopt.

Two instances are built in the run, each ``--candidates`` candidate sites (default 2,000) x
``--units`` demand points (default 20,000), ``--k`` new sites (default 20), no required
site, every demand point weighted by a random population drawn uniformly from the integers
1..100 (seeded by ``--seed``):

1. ``network``: the synthetic road-like graph of ``bench_nearest.py`` (``--nodes``, default
   300,000), compiled by :func:`coverage.network.compile_network`; candidates and demand
   points at distinct random nodes, no access legs; coverage by road within the threshold,
   from :func:`coverage.matrix.coverage_matrix`.  The threshold is ``--threshold-min`` if
   given; by default it is calibrated so that the matrix is ``--density`` dense (2.5 %, the
   density of a 20-minute catchment on a 300,000-node regional road network): the synthetic
   grid has a node every 100 m, so 300,000 nodes span only ~55 x 55 km and 20 minutes reach
   ~42 % of them.  The calibration takes the quantile of the times from the first 50
   candidates to every demand point (a search bounded at 20 minutes), rounded to 0.01 min.
2. ``uniform``: every (site, point) pair covered independently with probability
   ``--uniform-density`` (2 %): a :class:`coverage.matrix.CoverageMatrix` built directly with
   1.0 minute on each covered pair and a threshold of 1 minute.

On each instance, in this order, each timed once:

* ``greedy``: :func:`coverage.siting.mclp_greedy`;
* ``greedy + local search``: ``coverage.siting.mclp_local_search`` (reported "not available"
  when the package has none);
* ``ours`` at the short and the long limit (30 s and 300 s; ``--quick``: 10 s and 30 s):
  :func:`coverage.siting.mclp_exact` with ``time_limit_s`` (HiGHS, started from the greedy);
* ``PuLP + CBC``: the same sparse model (binary x per candidate, y in [0, 1] per group of
  demand points reached by the same candidates, ``y_g <= sum_j a_gj x_j``, ``sum_j x_j <= k``;
  points reached by no candidate left out), written with PuLP and solved by its bundled CBC
  with ``timeLimit`` the long limit.  CBC's bound is read from its log ("Upper bound"), or is
  its objective when it says it proved optimality;
* ``spopt + CBC``: spopt's ``MCLP.from_cost_matrix`` on the dense units x sites minutes
  (inf beyond the threshold), solved by the same CBC with the same ``timeLimit`` (binary y,
  spopt's model), through the child runner of ``bench_siting.py``.

PuLP and spopt run in forked children, each in its own process group, under a wall-clock
guard (``--guard-s``, default the long limit + max(30 s, a third of it)) that kills the
child with its CBC: PuLP labels "Optimal" a CBC stopped by its time limit and CBC has been
seen to ignore the limit.  CBC's own status is read (``LpSolution[sol_status]``), never
PuLP's label; their temporary files go to a scratch folder removed afterwards.

Every answer is judged on the covered population recomputed from its chosen sites
(:func:`coverage.siting.covered_population`), never on the solver's value.  The table gives
per method: seconds, covered population, % of the best answer any method found, sites,
bound and gap (``SitingResult.bound``/``.gap`` for ours; CBC's for PuLP; the gap of CBC's
answers is recomputed from its bound and the covered population), our status and the
solver's.  Goals (printed PASS/MISS, never a failure): ours at the short limit >= the best
anchor (PuLP or spopt at the long limit), and ours at the short limit with a proven gap
under 1 %.  Checks (the script exits with 1 if one fails): each answer has at most k sites;
ours' value equals the population its sites cover, a CBC value is not above it; no bound is
below the best answer found (such a bound would be false).

``--quick`` (30,000 nodes, 300 x 3,000, limits 10 s and 30 s) is a smoke run of ~2.5 minutes:
the small uniform instance is already hard enough to run every solver to its limit.  Run
``python bench/bench_mclp.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

import coverage.siting
from coverage.matrix import CoverageMatrix, coverage_matrix
from coverage.network import compile_network
from coverage.siting import SitingResult, covered_population, mclp_exact, mclp_greedy

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))
from bench_nearest import max_rss_mb, synthetic_graph  # noqa: E402
from bench_siting import children_max_rss_mb, environment, run_spopt, spopt_cost_matrix  # noqa: E402

#: Instance sizes (full run, then ``--quick``).
FULL = {"nodes": 300_000, "candidates": 2_000, "units": 20_000}
QUICK = {"nodes": 30_000, "candidates": 300, "units": 3_000}
#: Time limits of ours (short, long); the long one is CBC's too.
LIMITS_S = (30.0, 300.0)
QUICK_LIMITS_S = (10.0, 30.0)
#: Network instance: target density of the calibrated threshold, and the cap of the calibration searches.
NETWORK_DENSITY = 0.025
CALIBRATION_SITES = 50
CALIBRATION_CAP_MIN = 20.0
#: Uniform instance.
UNIFORM_DENSITY = 0.02
UNIFORM_MINUTES = 1.0
#: Populations: integers drawn uniformly from POP_LOW..POP_HIGH.
POP_LOW, POP_HIGH = 1, 100
#: Goal on ours' proven gap at the short limit.
GAP_GOAL = 0.01
#: Populations are integers summed as floats.
TOLERANCE_POP = 0.5


# --------------------------------------------------------------------------- instances


@dataclass
class Instance:
    """One MCLP instance: a coverage matrix, a population, a threshold and k."""

    name: str
    description: str
    matrix: CoverageMatrix
    population: np.ndarray
    threshold_min: float
    k: int
    setup_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def cover(self) -> sp.csr_array:
        """Boolean CSR sites x units at the threshold."""
        return self.matrix.covers(self.threshold_min)

    def summary(self) -> dict[str, Any]:
        cover = self.cover
        reached = np.bincount(cover.indices, minlength=cover.shape[1]) > 0
        return {
            "name": self.name,
            "description": self.description,
            "n_sites": cover.shape[0],
            "n_units": cover.shape[1],
            "threshold_min": self.threshold_min,
            "k": self.k,
            "pairs": int(cover.nnz),
            "density": cover.nnz / (cover.shape[0] * cover.shape[1]),
            "population_total": float(self.population.sum()),
            "population_reachable": float(self.population[reached].sum()),
            "units_reached_by_no_site": int((~reached).sum()),
            "setup_s": self.setup_s,
            "notes": self.notes,
        }


def random_population(n: int, rng: np.random.Generator) -> np.ndarray:
    """Integers drawn uniformly from POP_LOW..POP_HIGH, as floats."""
    return rng.integers(POP_LOW, POP_HIGH + 1, n).astype(float)


def calibrated_threshold(
    reverse: sp.csr_array, cand_nodes: np.ndarray, unit_nodes: np.ndarray, density: float
) -> tuple[float, float]:
    """Threshold (minutes, rounded to 0.01) at which about ``density`` of the pairs are covered.

    Estimated on the first ``CALIBRATION_SITES`` candidates, searches bounded at
    ``CALIBRATION_CAP_MIN``; returns the threshold and the share covered at the cap.
    """
    probe = cand_nodes[:CALIBRATION_SITES]
    dist = np.atleast_2d(dijkstra(reverse, directed=True, indices=probe, limit=CALIBRATION_CAP_MIN * 60.0))
    minutes = dist[:, unit_nodes].ravel() / 60.0
    share_at_cap = float(np.isfinite(minutes).mean())
    if density >= share_at_cap:
        return CALIBRATION_CAP_MIN, share_at_cap
    return max(0.01, round(float(np.quantile(minutes, density)), 2)), share_at_cap


def network_instance(args: argparse.Namespace) -> Instance:
    """Instance 1: coverage by road on the synthetic graph."""
    setup: dict[str, float] = {}
    start = time.perf_counter()
    graph = synthetic_graph(args.nodes, args.seed)
    setup["build graph (NetworkX)"] = time.perf_counter() - start
    n_edges = graph.number_of_edges()
    start = time.perf_counter()
    net = compile_network(graph, metric_crs="EPSG:2154")
    reverse = net.reverse_matrix
    setup["compile_network + reverse"] = time.perf_counter() - start
    del graph
    gc.collect()
    n = net.n_nodes
    if args.candidates > n or args.units > n:
        raise SystemExit(f"--candidates and --units must be at most the {n:,} nodes of the graph")
    rng = np.random.default_rng(args.seed + 1)
    cand_nodes = rng.choice(n, size=args.candidates, replace=False)
    unit_nodes = rng.choice(n, size=args.units, replace=False)
    population = random_population(args.units, rng)
    notes: list[str] = []
    start = time.perf_counter()
    if args.threshold_min is None:
        threshold, share_at_cap = calibrated_threshold(reverse, cand_nodes, unit_nodes, args.density)
        notes.append(
            f"threshold {threshold:g} min calibrated for {args.density:.1%} density on {CALIBRATION_SITES} candidates; "
            f"{CALIBRATION_CAP_MIN:g} min would cover {share_at_cap:.1%} of the pairs"
        )
    else:
        threshold = float(args.threshold_min)
        notes.append(f"threshold {threshold:g} min given by --threshold-min")
    setup["threshold"] = time.perf_counter() - start
    start = time.perf_counter()
    matrix = coverage_matrix(
        net,
        cand_nodes,
        np.zeros(args.candidates),
        unit_nodes,
        np.zeros(args.units),
        threshold,
        site_ids=np.array([f"s{j}" for j in range(args.candidates)]),
        unit_ids=np.array([f"u{i}" for i in range(args.units)]),
    )
    setup["coverage_matrix"] = time.perf_counter() - start
    description = (
        f"synthetic road-like graph, {n:,} nodes, {n_edges:,} directed edges; {args.candidates:,} candidates and "
        f"{args.units:,} demand points at distinct random nodes, no access legs; coverage by road within "
        f"{threshold:g} min"
    )
    del net, reverse
    gc.collect()
    return Instance("network", description, matrix, population, threshold, args.k, setup, notes)


def uniform_instance(args: argparse.Namespace) -> Instance:
    """Instance 2: every pair covered independently with probability ``--uniform-density``."""
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed + 2)
    n_sites, n_units = args.candidates, args.units
    counts = rng.binomial(n_units, args.uniform_density, n_sites)
    cols = [np.sort(rng.choice(n_units, size=c, replace=False)) for c in counts.tolist()]
    indices = np.concatenate(cols).astype(np.int32) if cols else np.empty(0, np.int32)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    minutes = sp.csr_array((np.full(len(indices), UNIFORM_MINUTES), indices, indptr), shape=(n_sites, n_units))
    matrix = CoverageMatrix(
        site_ids=np.array([f"s{j}" for j in range(n_sites)]),
        unit_ids=np.array([f"u{i}" for i in range(n_units)]),
        minutes=minutes,
        max_minutes=UNIFORM_MINUTES,
    )
    population = random_population(n_units, rng)
    description = (
        f"uniform random coverage, each of the {n_sites:,} x {n_units:,} pairs covered with probability "
        f"{args.uniform_density:.1%} (CoverageMatrix built directly, {UNIFORM_MINUTES:g} min per pair)"
    )
    setup = {"build matrix": time.perf_counter() - start}
    return Instance("uniform", description, matrix, population, UNIFORM_MINUTES, args.k, setup)


# --------------------------------------------------------------------------- answers


@dataclass
class MethodRun:
    """One method on one instance, judged on the population its sites cover."""

    method: str
    seconds: float | None = None
    sites: list[str] | None = None  # None: no answer
    covered: float | None = None  # recomputed from the sites
    claimed: float | None = None  # the solver's own value
    bound: float | None = None
    gap: float | None = None
    status: str = ""
    solver_status: str = ""
    note: str = ""
    anchor: bool = False  # PuLP / spopt at the long limit
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.sites is not None and self.covered is not None


def from_siting(method: str, instance: Instance, fn: Callable[[], SitingResult]) -> MethodRun:
    """Time one call of one of our solvers and recompute the population its sites cover."""
    start = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # reported, the benchmark goes on
        return MethodRun(method, time.perf_counter() - start, status="failed", note=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    sites = list(result.sites)
    return MethodRun(
        method,
        seconds,
        sites=sites,
        covered=covered_population(instance.matrix, instance.population, instance.threshold_min, sites),
        claimed=result.objective_value,
        bound=result.bound,
        gap=result.gap,
        status=result.status,
        solver_status=result.solver_status,
        figures={"solver_seconds": result.seconds},
    )


def recompute(run: MethodRun, instance: Instance, site_rows: Sequence[int]) -> None:
    """Set the sites of an outside solver's answer and the population they cover."""
    run.sites = [str(instance.matrix.site_ids[j]) for j in site_rows]
    run.covered = covered_population(instance.matrix, instance.population, instance.threshold_min, run.sites)
    if run.bound is not None:
        run.gap = max(0.0, (run.bound - run.covered) / run.bound) if run.bound > 0 else 0.0


# --------------------------------------------------------------------------- children under a guard


@contextlib.contextmanager
def scratch_tmpdir() -> Iterator[Path]:
    """A scratch folder as ``TMPDIR`` for the children (PuLP and CBC files, left behind when killed)."""
    saved = {name: os.environ.get(name) for name in ("TMPDIR", "TMP")}
    with tempfile.TemporaryDirectory(prefix="bench_mclp_", ignore_cleanup_errors=True) as folder:
        os.environ["TMPDIR"] = os.environ["TMP"] = folder
        try:
            yield Path(folder)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@dataclass
class GuardedRun:
    """What a child sent before it ended or was killed."""

    figures: dict[str, Any]
    killed: bool
    wall_s: float


def run_guarded(target: Callable[..., None], args: tuple[Any, ...], guard_s: float) -> GuardedRun:
    """Run ``target(conn, *args)`` in a forked child; kill its process group after ``guard_s`` seconds.

    The child sends dictionaries and a last one with ``"done"``; it must call ``os.setpgrp()``.
    """
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=target, args=(send, *args), daemon=True)
    start = time.perf_counter()
    child.start()
    send.close()
    figures: dict[str, Any] = {}
    killed = False
    deadline = start + guard_s
    while not figures.get("done"):
        remaining = deadline - time.perf_counter()
        if remaining <= 0 or not receive.poll(remaining):
            killed = True
            break
        try:
            figures.update(receive.recv())
        except EOFError:
            figures.setdefault("error", f"the child process ended (exit code {child.exitcode})")
            break
    wall_s = time.perf_counter() - start
    if killed and child.is_alive() and child.pid is not None:
        try:
            os.killpg(child.pid, signal.SIGKILL)  # the child and its CBC (its own process group)
        except ProcessLookupError:
            child.kill()
    child.join()
    receive.close()
    return GuardedRun(figures, killed, wall_s)


def merged_columns(cover: sp.csr_array, weights: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
    """Demand points reached by the same candidates merged into one group; points reached by none left out.

    Returns the CSR groups x candidates and the population of each group.
    """
    csc = sp.csc_array(cover)
    csc.sort_indices()
    reached = np.flatnonzero(np.diff(csc.indptr) > 0)
    keys: dict[bytes, int] = {}
    group = np.empty(len(reached), dtype=np.int64)
    for pos, u in enumerate(reached.tolist()):
        group[pos] = keys.setdefault(csc.indices[csc.indptr[u] : csc.indptr[u + 1]].tobytes(), len(keys))
    first = np.unique(group, return_index=True)[1]
    link = sp.csr_array(sp.csc_array(csc[:, reached[first]]).T)
    link.sort_indices()
    return link, np.bincount(group, weights=weights[reached], minlength=len(first))


def cbc_log_figures(text: str) -> dict[str, Any]:
    """CBC's result line, objective and bound from its log, in the model's sense (``-max``)."""
    out: dict[str, Any] = {}
    for key, pattern in (
        ("cbc_result", r"^Result - (.+)$"),
        ("cbc_log_objective", r"^Objective value:\s+(\S+)"),
        ("cbc_log_bound", r"^(?:Upper|Lower) bound:\s+(\S+)"),
    ):
        match = re.search(pattern, text, re.MULTILINE)
        if match:
            value = match.group(1).strip()
            with contextlib.suppress(ValueError):  # a number CBC printed oddly is left out
                out[key] = value if key == "cbc_result" else float(value)
    return out


def _pulp_child(
    conn: Connection, link: sp.csr_array, weights: np.ndarray, k: int, time_limit_s: float, log_path: str
) -> None:
    """Write the sparse MCLP with PuLP and solve it with CBC, sending the figures as they come."""
    os.setpgrp()  # own process group: the parent kills this process and its CBC together
    try:
        import pulp

        start = time.perf_counter()
        n_groups, n_x = link.shape
        x = [pulp.LpVariable(f"x{j}", cat=pulp.LpBinary) for j in range(n_x)]
        y = [pulp.LpVariable(f"y{g}", lowBound=0, upBound=1) for g in range(n_groups)]
        problem = pulp.LpProblem("mclp", pulp.LpMaximize)
        problem += pulp.LpAffineExpression(list(zip(y, weights.tolist(), strict=True)))
        for g in range(n_groups):
            terms = [(x[j], 1.0) for j in link.indices[link.indptr[g] : link.indptr[g + 1]].tolist()]
            terms.append((y[g], -1.0))
            problem += pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintGE, f"c{g}", 0.0)
        problem += pulp.LpConstraint(
            pulp.LpAffineExpression([(v, 1.0) for v in x]), pulp.LpConstraintLE, "sites", float(k)
        )
        conn.send({"build_s": time.perf_counter() - start})
        start = time.perf_counter()
        problem.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, logPath=log_path))
        solve_s = time.perf_counter() - start
        log = Path(log_path).read_text("utf-8", errors="replace") if Path(log_path).exists() else ""
        conn.send(
            {
                "solve_s": solve_s,
                "pulp_status": pulp.LpStatus[problem.status],
                "cbc_status": pulp.LpSolution[problem.sol_status],
                "objective": pulp.value(problem.objective),
                "sites": [j for j, var in enumerate(x) if (var.value() or 0.0) > 0.5],
                **cbc_log_figures(log),
                "done": True,
            }
        )
    except Exception as exc:  # reported to the parent, which carries on
        conn.send({"error": f"{type(exc).__name__}: {exc}", "done": True})
    finally:
        conn.close()


CBC_ANSWERS = ("Optimal Solution Found", "Solution Found")


def run_pulp(instance: Instance, time_limit_s: float, guard_s: float, scratch: Path) -> MethodRun:
    """PuLP + CBC on the merged sparse model, in a child under the guard."""
    run = MethodRun(f"PuLP + CBC {time_limit_s:g} s", anchor=True)
    start = time.perf_counter()
    link, weights = merged_columns(instance.cover, instance.population)
    merge_s = time.perf_counter() - start
    log_path = scratch / f"cbc_{instance.name}.log"
    guarded = run_guarded(_pulp_child, (link, weights, instance.k, time_limit_s, str(log_path)), guard_s)
    f = guarded.figures
    run.figures = {
        "merge_s": merge_s,
        "groups": int(link.shape[0]),
        "nonzeros": int(link.nnz),
        "wall_s": guarded.wall_s,
        "killed": guarded.killed,
        **{key: value for key, value in f.items() if key not in ("sites", "done")},
    }
    built = f" (model built in {f['build_s']:.1f} s)" if "build_s" in f else " (model not built)"
    if guarded.killed:
        run.seconds = guarded.wall_s
        run.status = "killed"
        run.note = f"killed at {guarded.wall_s:.0f} s, no answer{built}"
        return run
    run.solver_status = f"PuLP {f.get('pulp_status')!r}"
    if "error" in f:
        run.seconds = guarded.wall_s
        run.status = "failed"
        run.note = str(f["error"])
        return run
    run.seconds = merge_s + f["build_s"] + f["solve_s"]
    run.status = f"CBC {f['cbc_status']!r}"
    run.claimed = f.get("objective")
    if f["cbc_status"] not in CBC_ANSWERS or not f.get("sites"):
        run.note = f"no answer: CBC {f['cbc_status']!r}"
        return run
    if "cbc_log_bound" in f:
        run.bound = float(f["cbc_log_bound"])
        run.note = "bound from CBC's log"
    elif f["cbc_status"] == "Optimal Solution Found" and "cbc_log_objective" in f:
        run.bound = float(f["cbc_log_objective"])
        run.note = "CBC says optimal: its objective is its bound"
    recompute(run, instance, f["sites"])
    return run


def run_spopt_method(
    instance: Instance, cost: np.ndarray, cost_s: float, time_limit_s: float, guard_s: float
) -> MethodRun:
    """spopt's MCLP solved by CBC, through bench_siting's guarded child."""
    run = MethodRun(f"spopt + CBC {time_limit_s:g} s", anchor=True)
    spopt = run_spopt(
        cost,
        instance.population,
        instance.threshold_min,
        instance.k,
        np.zeros(cost.shape[1], dtype=int),
        time_limit_s=time_limit_s,
        guard_s=guard_s,
    )
    run.figures = {"cost_matrix_s": cost_s, **{key: v for key, v in asdict(spopt).items() if key != "sites"}}
    built = f" (model built in {spopt.build_s:.1f} s)" if spopt.build_s is not None else " (model not built)"
    if spopt.cut:
        run.seconds = spopt.wall_s
        run.status = "killed"
        run.note = f"killed at {spopt.wall_s:.0f} s, no answer{built}"
        return run
    run.seconds = (spopt.build_s or 0.0) + (spopt.solve_s or 0.0) if spopt.solve_s is not None else spopt.wall_s
    run.solver_status = f"PuLP {spopt.pulp_status!r}"
    run.status = f"CBC {spopt.cbc_status!r}" if spopt.cbc_status else "failed"
    run.claimed = spopt.objective
    if not spopt.feasible or not spopt.sites:
        run.note = f"no answer: {spopt.describe()}"
        return run
    if spopt.optimal and spopt.objective is not None:
        run.bound = float(spopt.objective)
        run.note = f"CBC says optimal: its objective is its bound; model built in {spopt.build_s:.1f} s"
    else:
        run.note = f"model built in {spopt.build_s:.1f} s"
    recompute(run, instance, spopt.sites)
    return run


# --------------------------------------------------------------------------- one instance


def fmt(value: float | None, spec: str, width: int) -> str:
    return f"{value:{width}{spec}}" if value is not None and math.isfinite(value) else f"{'-':>{width}}"


def print_table(runs: Sequence[MethodRun], best: float) -> None:
    """The table of one instance."""
    print(
        f"   {'method':<26} {'seconds':>8} {'covered':>10} {'% best':>7} {'sites':>5} {'bound':>10} {'gap':>7}  "
        "status (solver's own); note"
    )
    for r in runs:
        seconds = fmt(r.seconds, ".2f", 8)
        if not r.answered:
            print(f"   {r.method:<26} {seconds} {r.note or r.status}")
            continue
        assert r.covered is not None and r.sites is not None
        share = f"{r.covered / best:7.2%}" if best > 0 else f"{'-':>7}"
        gap = f"{r.gap:7.2%}" if r.gap is not None else f"{'-':>7}"
        status = r.status + (f" ({r.solver_status})" if r.solver_status else "")
        print(
            f"   {r.method:<26} {seconds} {r.covered:10,.0f} {share} {len(r.sites):>5} {fmt(r.bound, ',.0f', 10)} "
            f"{gap}  {status}" + (f"; {r.note}" if r.note else "")
        )


def run_instance(
    instance: Instance, args: argparse.Namespace, scratch: Path
) -> tuple[dict[str, Any], list[tuple[str, bool]]]:
    """Every method on one instance, the table, the goals and the checks."""
    summary = instance.summary()
    short_s, long_s = args.limits
    print(f"\n== {instance.name}: {instance.description}")
    print(
        f"   {summary['pairs']:,} pairs covered, density {summary['density']:.3%}; population {POP_LOW}..{POP_HIGH} "
        f"uniform, total {summary['population_total']:,.0f}, reachable by some candidate "
        f"{summary['population_reachable']:,.0f} ({summary['units_reached_by_no_site']:,} points reached by none); "
        f"k = {instance.k}"
    )
    for note in instance.notes:
        print(f"   {note}")
    print("   setup (not timed as methods): " + ", ".join(f"{k} {v:.1f} s" for k, v in instance.setup_s.items()))
    m, pop, t, k = instance.matrix, instance.population, instance.threshold_min, instance.k
    runs: list[MethodRun] = [from_siting("greedy", instance, partial(mclp_greedy, m, pop, t, k))]
    local_search: Callable[..., SitingResult] | None = getattr(coverage.siting, "mclp_local_search", None)
    if local_search is not None:
        runs.append(from_siting("greedy + local search", instance, partial(local_search, m, pop, t, k)))
    else:
        runs.append(
            MethodRun(
                "greedy + local search", status="n/a", note="not available (no coverage.siting.mclp_local_search)"
            )
        )
    for limit in (short_s, long_s):
        runs.append(
            from_siting(
                f"ours (HiGHS) {limit:g} s",
                instance,
                partial(mclp_exact, m, pop, t, k, time_limit_s=limit),
            )
        )
    if args.skip_pulp:
        runs.append(MethodRun(f"PuLP + CBC {long_s:g} s", status="skipped", note="skipped (--skip-pulp)", anchor=True))
    else:
        runs.append(run_pulp(instance, long_s, args.guard_s, scratch))
    if args.skip_spopt:
        runs.append(
            MethodRun(f"spopt + CBC {long_s:g} s", status="skipped", note="skipped (--skip-spopt)", anchor=True)
        )
    else:
        start = time.perf_counter()
        cost = spopt_cost_matrix(m)
        cost_s = time.perf_counter() - start
        runs.append(run_spopt_method(instance, cost, cost_s, long_s, args.guard_s))
        del cost
        gc.collect()

    answered = [r for r in runs if r.answered]
    best = max((r.covered or 0.0) for r in answered) if answered else 0.0
    print_table(runs, best)
    bounds = [(r.bound, r.method) for r in runs if r.answered and r.bound is not None]
    if bounds:
        tightest, by = min(bounds)
        print(
            f"   best answer {best:,.0f}; tightest bound {tightest:,.0f} ({by}): "
            f"the best answer is within {(tightest - best) / tightest:.2%} of the optimum"
        )

    # Goals (PASS / MISS, never a failure).
    ours_short = next(r for r in runs if r.method == f"ours (HiGHS) {short_s:g} s")
    anchors = [r for r in runs if r.anchor and r.answered]
    goals: dict[str, str] = {}
    label = f"ours at {short_s:g} s >= best anchor (PuLP/spopt at {long_s:g} s)"
    if not ours_short.answered:
        goals[label] = "MISS"
        detail = f"ours gave no answer ({ours_short.note})"
    elif not anchors:
        goals[label] = "n/a"
        detail = "no anchor answered (killed, failed or skipped)"
    else:
        anchor = max(anchors, key=lambda r: r.covered or 0.0)
        assert ours_short.covered is not None and anchor.covered is not None
        goals[label] = "PASS" if ours_short.covered >= anchor.covered - TOLERANCE_POP else "MISS"
        detail = f"ours {ours_short.covered:,.0f}, anchor {anchor.covered:,.0f} ({anchor.method})"
    print(f"   goal  {label}: {goals[label]} ({detail})")
    label = f"ours at {short_s:g} s proven gap < {GAP_GOAL:.0%}"
    gap = ours_short.gap if ours_short.answered else None
    goals[label] = "PASS" if gap is not None and gap < GAP_GOAL else "MISS"
    print(
        f"   goal  {label}: {goals[label]} "
        + (f"(gap {gap:.3%}, status {ours_short.status!r})" if gap is not None else "(no gap)")
    )

    # Checks (a failure makes the script exit with 1).
    checks: list[tuple[str, bool]] = []
    for r in answered:
        assert r.sites is not None and r.covered is not None
        checks.append((f"{r.method}: at most k = {k} sites", len(r.sites) <= k))
        if r.claimed is not None:
            if r.anchor:
                checks.append(
                    (f"{r.method}: its value is not above the population its sites cover", r.claimed <= r.covered + 0.5)
                )
            else:
                checks.append(
                    (f"{r.method}: its value = the population its sites cover", abs(r.claimed - r.covered) <= 0.5)
                )
        if r.bound is not None:
            checks.append((f"{r.method}: bound >= the best answer found", r.bound >= best - TOLERANCE_POP))
    for name, ok in checks:
        if not ok or args.verbose:
            print(f"   check {name}: {'OK' if ok else 'FAILED'}")
    print(f"   checks: {sum(ok for _, ok in checks)} of {len(checks)} OK; max RSS {max_rss_mb():,.0f} MiB")
    report = {
        **summary,
        "best_covered": best,
        "methods": [
            {**asdict(r), "share_of_best": r.covered / best if r.covered is not None and best > 0 else None}
            for r in runs
        ],
        "goals": goals,
        "checks": [{"name": n, "ok": ok} for n, ok in checks],
    }
    return report, checks


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 30,000 nodes, 300 candidates x 3,000 points, limits 10 and 30 s",
    )
    parser.add_argument("--nodes", type=int, help="nodes of the synthetic graph (default 300,000; quick 30,000)")
    parser.add_argument("--candidates", type=int, help="candidate sites (default 2,000; quick 300)")
    parser.add_argument("--units", type=int, help="demand points (default 20,000; quick 3,000)")
    parser.add_argument("--k", type=int, default=20, help="new sites to choose (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--threshold-min",
        type=float,
        help="coverage threshold of the network instance (default: calibrated to --density)",
    )
    parser.add_argument(
        "--density",
        type=float,
        default=NETWORK_DENSITY,
        help=f"target density of the network instance's calibrated threshold (default {NETWORK_DENSITY})",
    )
    parser.add_argument(
        "--uniform-density",
        type=float,
        default=UNIFORM_DENSITY,
        help=f"probability of each pair in the uniform instance (default {UNIFORM_DENSITY})",
    )
    parser.add_argument(
        "--guard-s",
        type=float,
        help="wall-clock guard of each PuLP / spopt child (default long limit + max(30 s, a third of it))",
    )
    parser.add_argument("--skip-pulp", action="store_true", help="skip PuLP + CBC")
    parser.add_argument("--skip-spopt", action="store_true", help="skip spopt + CBC")
    parser.add_argument("--skip-network", action="store_true", help="skip the network instance")
    parser.add_argument("--skip-uniform", action="store_true", help="skip the uniform instance")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print every check, not only the failed ones")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.limits = QUICK_LIMITS_S if args.quick else LIMITS_S
    if args.guard_s is None:
        args.guard_s = args.limits[1] + max(30.0, args.limits[1] / 3)
    if args.nodes < 4 or min(args.candidates, args.units, args.k) < 1:
        parser.error("--nodes >= 4 and --candidates, --units, --k >= 1 are required")
    if args.k > args.candidates:
        parser.error("--k must be at most --candidates")
    if args.guard_s <= 0 or not 0 < args.density < 1 or not 0 < args.uniform_density < 1:
        parser.error("--guard-s must be positive, --density and --uniform-density in (0, 1)")
    if args.threshold_min is not None and args.threshold_min <= 0:
        parser.error("--threshold-min must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment()
    short_s, long_s = args.limits
    print(
        f"bench_mclp: Python {env['python']}, NumPy {env['numpy']}, SciPy {env['scipy']}, highspy {env['highspy']}, "
        f"PuLP {env['pulp']}, spopt {env['spopt']}, {env['cpus']} CPUs, load average {env['load_average_start'][0]:.2f}"
    )
    print(
        f"{args.candidates:,} candidates x {args.units:,} points, k = {args.k}, seed {args.seed}; ours at {short_s:g} "
        f"and {long_s:g} s, CBC timeLimit {long_s:g} s, guard {args.guard_s:g} s; goals: ours at {short_s:g} s >= "
        f"PuLP/spopt at {long_s:g} s, proven gap < {GAP_GOAL:.0%}"
    )
    if not (args.skip_pulp and args.skip_spopt):
        import pulp  # noqa: F401 - imported here (2-4 s) so that the forked children inherit it
        import spopt.locate  # noqa: F401
    start = time.perf_counter()
    report: dict[str, Any] = {}
    checks: list[tuple[str, bool]] = []
    builders: list[Callable[[argparse.Namespace], Instance]] = []
    if not args.skip_network:
        builders.append(network_instance)
    if not args.skip_uniform:
        builders.append(uniform_instance)
    with scratch_tmpdir() as scratch:
        for build in builders:
            instance = build(args)
            figures, instance_checks = run_instance(instance, args, scratch)
            report[instance.name] = figures
            checks += instance_checks
            del instance
            gc.collect()
    env["load_average_end"] = os.getloadavg()
    env["total_s"] = time.perf_counter() - start
    env["max_rss_mb"] = max_rss_mb()
    env["children_max_rss_mb"] = children_max_rss_mb()
    print(
        f"\ntotal {env['total_s']:.0f} s, process max RSS {env['max_rss_mb']:,.0f} MiB, largest child "
        f"{env['children_max_rss_mb']:,.0f} MiB, load average at the end {env['load_average_end'][0]:.2f}"
    )
    all_ok = all(ok for _, ok in checks)
    print("every check OK" if all_ok else "SOME CHECKS FAILED (see above)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "environment": env,
            "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "goals": {"ours_short_limit_s": short_s, "anchor_limit_s": long_s, "gap_goal": GAP_GOAL},
            "population": f"integers {POP_LOW}..{POP_HIGH}, uniform",
            "instances": report,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=float), "utf-8")
        print(f"figures written to {args.json}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
