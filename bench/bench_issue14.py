"""Benchmark of issue 14's solvers on the regional data, each against the obvious baseline in the same run.

1. Patient lists: :func:`coverage.capacity.assign_patients` (two HiGHS LPs and our certificate)
   against NetworkX's ``max_flow_min_cost`` (network simplex) on the same transportation network
   (source -> units -> sites within 20 min -> sink; whole people, minutes rounded to 1/1000 for
   NetworkX's integer costs); time, peak memory, people followed and person-minutes, and NetworkX's
   flow checked by our certificate.
2. Budget: :func:`coverage.siting.mclp_budget` against PuLP + CBC on the same knapsack-constrained
   MCLP, at a few budgets with illustrative costs; :func:`coverage.siting.mclp_budget_greedy` beside.
3. Phasing: :func:`coverage.phasing.phase_sites` against PuLP + CBC on the same multi-period model
   (a brute force is not tractable: the number of schedules is printed); the greedy order beside.
4. The pool's phasing: :func:`coverage.phasing_pool.phase_pool` against the pool's own order
   (:func:`coverage.pool.allocate_pool`), both recomputed year by year with ``floating_catchment``.

Every answer is judged on what our own code recomputes from it, never on a solver's word.  Fast
steps are interleaved and repeated (best and median kept); NetworkX and CBC run in forked children
under a wall-clock guard.  Run ``python bench/bench_issue14.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import logging
import math
import multiprocessing
import os
import platform
import re
import resource
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import psutil
import scipy.sparse as sp

import coverage
from coverage.access_study import study_access
from coverage.accessibility import floating_catchment
from coverage.candidates import candidates_from_units, communes_with_facility, exclude_candidates
from coverage.capacity import DEFAULT_PATIENTS_PER_GP, assign_patients, certify_flow
from coverage.matrix import CoverageMatrix, analysis_matrix
from coverage.phasing import Schedule, phase_sites
from coverage.phasing_pool import phase_pool
from coverage.planning import plan_sites
from coverage.pool import allocate_pool
from coverage.scenarios import AccessSettings, Pool, Scenario
from coverage.siting import candidate_costs, covered_population, mclp_budget, mclp_budget_greedy

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))
from bench_mclp import cbc_log_figures, merged_columns, scratch_tmpdir  # noqa: E402

THRESHOLD_MIN = 20.0
#: The demo's target (125 structures, 88 exist): 37 new sites; its phasing; the Region's pool.
NEW_SITES, PHASING, POOL_GPS, POOL_TEAM, POOL_SCHEDULE = 37, "2023-2025", 300.0, 3.0, "2021-2028"
#: NetworkX's network simplex wants integer costs: minutes x 1000, rounded.
COST_SCALE = 1000
#: Illustrative costs (euros) of the kinds of `candidate_costs`, drawn per candidate with these shares.
KIND_COSTS = {"new": 1_500_000.0, "extension": 400_000.0, "premises": 150_000.0}
KIND_SHARES = (0.5, 0.3, 0.2)
BUDGETS_EUR = (2e6, 5e6, 10e6, 20e6)
#: A step whose first run takes longer than this is run `--slow-repeat` times only.
SLOW_S = 10.0

failures: list[str] = []


def check(ok: bool, what: str) -> bool:
    if not ok:
        failures.append(what)
        print(f"  CHECK FAILED: {what}")
    return ok


# --------------------------------------------------------------------------- timing and children


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds) if self.seconds else math.nan

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else math.nan

    def text(self) -> str:
        if not self.seconds:
            return "not run"
        more = f" (median {self.median:.3g}, {len(self.seconds)} runs)" if len(self.seconds) > 1 else " (1 run)"
        return f"{self.best:.3g} s{more}"


def interleave(
    steps: dict[str, Callable[[], Any]], repeat: int, slow_repeat: int
) -> tuple[dict[str, Runs], dict[str, Any]]:
    """Each step once per round, ``repeat`` rounds (``slow_repeat`` for a step whose first run was slow).

    A step returning a dict with ``seconds`` (a child's own measure) is timed by it; one with
    ``killed`` is not run again.
    """
    runs = {name: Runs() for name in steps}
    last: dict[str, Any] = {}
    for r in range(repeat):
        for name, fn in steps.items():
            done = runs[name].seconds
            if done and (
                (r >= slow_repeat and done[0] > SLOW_S) or (isinstance(last[name], dict) and last[name].get("killed"))
            ):
                continue
            start = time.perf_counter()
            out = fn()
            wall = time.perf_counter() - start
            last[name] = out
            done.append(float(out["seconds"]) if isinstance(out, dict) and "seconds" in out else wall)
    return runs, last


def _child_main(conn: Any, fn: Callable[[], dict[str, Any]]) -> None:
    os.setpgrp()  # its own process group: the guard kills it with any CBC it started
    try:
        rss0 = psutil.Process().memory_info().rss
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
        # ru_maxrss starts at the RSS inherited at the fork: the growth is this child's own
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send({"wall_s": seconds, "peak_mb": max(0.0, (peak - rss0) / 2**20), **out})
    except Exception as exc:  # reported to the parent, which carries on
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def in_child(fn: Callable[[], dict[str, Any]], guard_s: float) -> dict[str, Any]:
    """``fn()`` in a forked child, killed (with its process group) after ``guard_s`` seconds."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(send, fn), daemon=True)
    start = time.perf_counter()
    child.start()
    send.close()
    out: dict[str, Any] = {}
    if receive.poll(guard_s):
        try:
            out = receive.recv()
        except EOFError:
            out = {"error": "the child ended without an answer"}
    else:
        out = {"killed": True, "seconds": time.perf_counter() - start}
        if child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
    child.join()
    receive.close()
    out.setdefault("seconds", out.get("wall_s", time.perf_counter() - start))
    return out


# --------------------------------------------------------------------------- the regional inputs


@dataclass
class Region:
    name: str
    analysis: coverage.GapAnalysis
    population: np.ndarray
    required: list[str]
    candidates: pd.DataFrame
    plan_matrix: CoverageMatrix
    exact_sites: list[str]
    greedy_sites: list[str]
    setup_s: float


def load_region(data_dir: Path | None, units: str) -> Region:
    """The demo's inputs and siting run (no curve) at 20 min with 37 new sites."""
    start = time.perf_counter()
    buffer = 30_000.0 if units == "grid" else 0.0  # the demo's defaults with grid units
    inputs = coverage.load_regional_inputs(data_dir, population=units, road_buffer_m=buffer)
    analysis = coverage.analyse(
        inputs.roads, inputs.facilities, inputs.units, coverage.AnalysisConfig(isochrones=False)
    )
    town_halls = inputs.town_halls if inputs.town_halls is not None else analysis.units
    hosting = communes_with_facility(analysis.facilities, analysis.units)
    candidates = exclude_candidates(candidates_from_units(town_halls), communes=hosting, known=hosting)
    plan = plan_sites(analysis, candidates, threshold_min=THRESHOLD_MIN, k=NEW_SITES, exact_curve=False, curve_k_max=1)
    return Region(
        name=units,
        analysis=analysis,
        population=analysis.units["population"].to_numpy(dtype=float),
        required=analysis.facilities["facility_id"].astype(str).tolist(),
        candidates=candidates,
        plan_matrix=plan.matrix,
        exact_sites=list(plan.selection.sites),
        greedy_sites=list(plan.greedy.sites),
        setup_s=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- 1. patient lists


def networkx_flow(matrix: CoverageMatrix, doctors: np.ndarray, people: np.ndarray, per_gp: float) -> dict[str, Any]:
    """NetworkX's max_flow_min_cost on the transportation network, in whole people and integer costs."""
    start = time.perf_counter()
    capacity = np.floor(doctors * per_gp + 1e-9).astype(np.int64)  # a list holds whole people
    whole = np.rint(people).astype(np.int64)
    m = matrix.minutes.tocoo()
    keep = (m.data <= THRESHOLD_MIN) & (capacity[m.row] > 0) & (whole[m.col] > 0)
    site, unit, minutes = m.row[keep], m.col[keep], m.data[keep]
    graph = nx.DiGraph()
    graph.add_edges_from(("s", ("u", int(i)), {"capacity": int(whole[i]), "weight": 0}) for i in np.unique(unit))
    graph.add_edges_from((("f", int(j)), "t", {"capacity": int(capacity[j]), "weight": 0}) for j in np.unique(site))
    costs = np.rint(minutes * COST_SCALE).astype(np.int64)
    graph.add_edges_from(
        (("u", int(i)), ("f", int(j)), {"weight": int(c)}) for i, j, c in zip(unit, site, costs, strict=True)
    )
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    flow = nx.max_flow_min_cost(graph, "s", "t")
    solve_s = time.perf_counter() - start
    x = np.array([flow[("u", int(i))][("f", int(j))] for i, j in zip(unit, site, strict=True)], dtype=float)
    return {
        "build_s": build_s,
        "solve_s": solve_s,
        "seconds": build_s + solve_s,
        "arcs": int(graph.number_of_edges()),
        "site": site[x > 0],
        "unit": unit[x > 0],
        "x": x[x > 0],
        "rounded_people": int((whole != people).sum()),
    }


def bench_capacity(
    name: str, matrix: CoverageMatrix, doctors: np.ndarray, people: np.ndarray, per_gp: float, args: argparse.Namespace
) -> dict[str, Any]:
    print(
        f"\n[1] patient lists, {name}: {int((doctors > 0).sum())} sites with {doctors.sum():,.0f} GPs x "
        f"{per_gp:,.0f} = {doctors.sum() * per_gp:,.0f} places; {len(people):,} units, {people.sum():,.0f} people"
    )

    def ours() -> Any:
        return assign_patients(matrix, doctors, people, threshold_min=THRESHOLD_MIN, patients_per_gp=per_gp)

    def theirs() -> dict[str, Any]:
        return in_child(lambda: networkx_flow(matrix, doctors, people, per_gp), args.nx_guard)

    runs, last = interleave({"ours": ours, "networkx": theirs}, args.repeat, args.slow_repeat)
    mine, nxr = last["ours"], last["networkx"]
    memory = in_child(lambda: {"served": ours().people_served}, args.nx_guard)
    out: dict[str, Any] = {
        "instance": name,
        "ours_s": runs["ours"].seconds,
        "networkx_s": runs["networkx"].seconds,
        "served": mine.people_served,
        "unmet": mine.people_unmet,
        "person_minutes": mine.person_minutes,
        "minutes_bound": mine.minutes_bound,
        "status": mine.status,
        "ours_peak_mb": memory.get("peak_mb"),
    }
    print(
        f"  ours (assign_patients)       {runs['ours'].text()}; "
        f"peak RSS growth {memory.get('peak_mb', math.nan):.0f} MiB"
    )
    print(
        f"    followed {mine.people_served:,.1f}, without a doctor with room {mine.people_unmet:,.1f}; "
        f"{mine.person_minutes:,.0f} person-minutes (bound {mine.minutes_bound:,.0f}); {mine.status}"
    )
    check(mine.status == "optimal", f"{name}: ours proven optimal")
    if nxr.get("killed"):
        print(f"  NetworkX max_flow_min_cost   stopped after {nxr['seconds']:.0f} s without an answer")
        out["networkx_killed_s"] = nxr["seconds"]
        return out
    if "error" in nxr:
        print(f"  NetworkX failed: {nxr['error']}")
        check(False, f"{name}: NetworkX answered")
        return out
    flows = sp.csr_array((nxr["x"], (nxr["site"], nxr["unit"])), shape=matrix.minutes.shape)
    judged = certify_flow(
        matrix,
        doctors,
        people,
        flows,
        threshold_min=THRESHOLD_MIN,
        patients_per_gp=per_gp,
        minutes_bound=mine.minutes_bound,
    )
    ratio = runs["networkx"].best / runs["ours"].best
    print(
        f"  NetworkX max_flow_min_cost   {runs['networkx'].text()} (last: build {nxr['build_s']:.2f} s, solve "
        f"{nxr['solve_s']:.2f} s, {nxr['arcs']:,} arcs); peak RSS growth {nxr['peak_mb']:.0f} MiB"
    )
    print(
        f"    followed {judged.people_served:,.0f}; {judged.person_minutes:,.0f} person-minutes at the true minutes; "
        f"our certificate on its flow: {judged.status}"
    )
    slack = 0.5 / COST_SCALE * judged.people_served  # the costs' rounding, at most half a unit per person
    tol = 1e-7 * max(1.0, float(people.sum())) + 0.5 * nxr["rounded_people"]
    print(
        f"  NetworkX / ours {ratio:.1f}x; followed: ours - NetworkX = "
        f"{mine.people_served - judged.people_served:+.3g}; "
        f"person-minutes: ours - NetworkX = {mine.person_minutes - judged.person_minutes:+,.1f} (rounding allows "
        f"{slack:,.0f}); people rounded for NetworkX: {nxr['rounded_people']}"
    )
    check(abs(mine.people_served - judged.people_served) <= tol, f"{name}: the same people followed")
    check(
        judged.person_minutes >= mine.minutes_bound - 1e-7 * abs(mine.minutes_bound),
        f"{name}: NetworkX above our bound",
    )
    check(mine.person_minutes <= judged.person_minutes + slack + 1e-6, f"{name}: ours within the rounding of NetworkX")
    out.update(
        networkx_served=judged.people_served,
        networkx_person_minutes=judged.person_minutes,
        networkx_certified=judged.status,
        networkx_peak_mb=nxr["peak_mb"],
        ratio=ratio,
    )
    return out


def capacity_inputs(region: Region, sites: pd.DataFrame) -> tuple[CoverageMatrix, pd.Series, pd.Series]:
    """The region's matrix against the facilities and the communes' town halls of the commune study,
    and the doctors per site before and after the 300 GPs (the commune study's placement)."""
    new = sites.loc[sites["kind"] != "facility", ["site_id", "name", "geometry"]].copy()
    matrix = analysis_matrix(
        region.analysis, new.reset_index(drop=True), THRESHOLD_MIN, id_column="site_id", new_first=False, what="sites"
    )
    by_id = sites.set_index("site_id")
    before = by_id["supply_before"].reindex(matrix.site_ids)
    after = by_id["supply_after"].reindex(matrix.site_ids)
    if before.isna().any() or after.isna().any():
        raise RuntimeError("the grid's sites differ from the commune study's")
    return matrix, before, after


# --------------------------------------------------------------------------- 2. budget


def illustrative_costs(candidates: pd.DataFrame, seed: int) -> pd.Series:
    """Each candidate a kind drawn with KIND_SHARES (seeded), priced by KIND_COSTS via candidate_costs."""
    frame = candidates[["candidate_id"]].astype(str).copy()
    rng = np.random.default_rng(seed)
    frame["kind"] = rng.choice(list(KIND_COSTS), size=len(frame), p=list(KIND_SHARES))
    return candidate_costs(frame, kind_costs=KIND_COSTS)


def open_groups(region: Region, sites: Sequence[str]) -> tuple[sp.csr_array, np.ndarray, float]:
    """Groups of the units left uncovered by the existing sites, merged when the same ``sites``
    reach them (groups x sites), their people, and the people the existing sites cover."""
    m = region.plan_matrix
    covers = m.covers(THRESHOLD_MIN)
    covered0 = np.zeros(len(region.population), dtype=bool)
    covered0[covers[m.rows(region.required)].indices] = True
    left = np.flatnonzero(~covered0 & (region.population > 0))
    cover = sp.csr_array(covers[m.rows(list(sites))][:, left], dtype=np.int8)
    link, weights = merged_columns(cover, region.population[left])
    return link, weights, float(region.population[covered0].sum())


def _cbc_budget(
    link: sp.csr_array, weights: np.ndarray, costs: np.ndarray, budget: float, limit: float, log: str
) -> dict[str, Any]:
    import pulp

    start = time.perf_counter()
    n_groups, n_x = link.shape
    x = [pulp.LpVariable(f"x{j}", cat=pulp.LpBinary) for j in range(n_x)]
    y = [pulp.LpVariable(f"y{g}", lowBound=0, upBound=1) for g in range(n_groups)]
    problem = pulp.LpProblem("mclp_budget", pulp.LpMaximize)
    problem += pulp.LpAffineExpression(list(zip(y, weights.tolist(), strict=True)))
    for g in range(n_groups):
        terms = [(x[j], 1.0) for j in link.indices[link.indptr[g] : link.indptr[g + 1]].tolist()] + [(y[g], -1.0)]
        problem += pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintGE, f"c{g}", 0.0)
    problem += pulp.LpConstraint(
        pulp.LpAffineExpression(list(zip(x, costs.tolist(), strict=True))), pulp.LpConstraintLE, "budget", budget
    )
    return _solve_pulp(problem, [x], start, limit, log)


def _solve_pulp(problem: Any, x: list[Any], start: float, limit: float, log: str) -> dict[str, Any]:
    import pulp

    build_s = time.perf_counter() - start
    start = time.perf_counter()
    problem.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=limit, logPath=log))
    solve_s = time.perf_counter() - start
    text = Path(log).read_text("utf-8", errors="replace") if Path(log).exists() else ""
    values = [[(v.value() or 0.0) > 0.5 for v in row] for row in x]
    return {
        "build_s": build_s,
        "solve_s": solve_s,
        "seconds": build_s + solve_s,
        "pulp_status": pulp.LpStatus[problem.status],
        "cbc_status": pulp.LpSolution[problem.sol_status],
        "x": np.array(values, dtype=bool),
        **cbc_log_figures(text),
    }


CBC_ANSWERS = ("Optimal Solution Found", "Solution Found")


def cbc_outcome(f: dict[str, Any], runs: Runs, ours_best: float, before: float) -> str | None:
    """What CBC said and how long it took against ours; None when it gave no answer to judge."""
    if f.get("killed"):
        return f"killed at {f['seconds']:.0f} s, no answer"
    if "error" in f or f["cbc_status"] not in CBC_ANSWERS:
        return None
    bound = f", its bound {before + f['cbc_log_bound']:,.0f}" if "cbc_log_bound" in f else ""
    proven = f["cbc_status"] == "Optimal Solution Found"
    ratio = runs.best / ours_best
    return f"CBC {f['cbc_status']!r} (PuLP {f['pulp_status']!r}{bound}); CBC / ours " + (
        f"{ratio:.1f}x" if proven else f">= {ratio:.1f}x (stopped at its limit, not proven)"
    )


def no_answer(f: dict[str, Any]) -> str:
    return f"no answer ({f['error'] if 'error' in f else 'CBC ' + repr(f.get('cbc_status'))})"


def bench_budget(region: Region, args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    costs = illustrative_costs(region.candidates, args.seed)
    ids = region.candidates["candidate_id"].astype(str).tolist()
    link, weights, before = open_groups(region, ids)
    cost_of = costs.reindex(ids).to_numpy(dtype=float)
    total = float(region.population.sum())
    print(
        f"\n[2] budget, {region.name}: {len(ids):,} candidates (kinds drawn with seed {args.seed}: "
        + ", ".join(f"{k} {v / 1e6:g} M€ x {int((cost_of == v).sum())}" for k, v in KIND_COSTS.items())
        + f"), {len(region.required)} existing sites covering {before:,.0f} of {total:,.0f}; "
        f"{link.shape[0]:,} groups of units left for CBC"
    )
    settings = {"required": region.required, "candidates": ids}
    rows = []
    for budget in args.budgets:
        log = str(scratch / f"cbc_budget_{region.name}_{budget:.0f}.log")

        def ours(budget: float = budget) -> Any:
            return mclp_budget(
                region.plan_matrix, region.population, THRESHOLD_MIN, costs, budget, **settings, time_limit_s=60.0
            )

        def greedy(budget: float = budget) -> Any:
            return mclp_budget_greedy(region.plan_matrix, region.population, THRESHOLD_MIN, costs, budget, **settings)

        def cbc(budget: float = budget, log: str = log) -> dict[str, Any]:
            return in_child(lambda: _cbc_budget(link, weights, cost_of, budget, args.cbc_limit, log), args.cbc_guard)

        runs, last = interleave({"ours": ours, "greedy": greedy, "cbc": cbc}, args.repeat, args.slow_repeat)
        mine, quick, f = last["ours"], last["greedy"], last["cbc"]
        value = covered_population(
            region.plan_matrix, region.population, THRESHOLD_MIN, region.required + list(mine.selection.sites)
        )
        check(abs(value - mine.selection.objective_value) <= 0.5, f"budget {budget:g}: ours recomputed")
        check(
            float(costs.reindex(list(mine.selection.sites)).sum()) <= budget, f"budget {budget:g}: ours within budget"
        )
        check(quick.selection.objective_value <= value + 0.5, f"budget {budget:g}: greedy <= ours")
        row: dict[str, Any] = {
            "instance": region.name,
            "budget": budget,
            "ours_s": runs["ours"].seconds,
            "greedy_s": runs["greedy"].seconds,
            "cbc_s": runs["cbc"].seconds,
            "ours": value,
            "ours_status": mine.selection.status,
            "ours_bound": mine.selection.bound,
            "ours_sites": len(mine.selection.sites),
            "ours_spent": mine.spent,
            "greedy": quick.selection.objective_value,
            "greedy_rule": quick.heuristic,
        }
        print(
            f"  {budget / 1e6:5g} M€  ours {runs['ours'].text()}: {value:,.0f} ({mine.selection.status}, "
            f"{len(mine.selection.sites)} sites, {mine.spent / 1e6:.2f} M€)\n"
            f"           greedy {runs['greedy'].text()}: {quick.selection.objective_value:,.0f} "
            f"(by {quick.heuristic}; {value - quick.selection.objective_value:,.0f} fewer than ours)"
        )
        said = cbc_outcome(f, runs["cbc"], runs["ours"].best, before)
        if said is None or f.get("killed"):
            print(f"           PuLP + CBC {runs['cbc'].text()}: {said or no_answer(f)}")
            row["cbc"] = None
        else:
            chosen = [ids[j] for j in np.flatnonzero(f["x"][0])]
            theirs = covered_population(region.plan_matrix, region.population, THRESHOLD_MIN, region.required + chosen)
            spent = float(costs.reindex(chosen).sum())
            print(
                f"           PuLP + CBC {runs['cbc'].text()} (last: build {f['build_s']:.2f} s, solve "
                f"{f['solve_s']:.2f} s): {theirs:,.0f} ({len(chosen)} sites, {spent / 1e6:.2f} M€), {said}"
            )
            check(spent <= budget + 1e-6, f"budget {budget:g}: CBC within budget")
            check(theirs <= (mine.selection.bound or value) + 0.5, f"budget {budget:g}: CBC not above our bound")
            if "cbc_log_bound" in f:
                check(before + f["cbc_log_bound"] >= value - 0.5, f"budget {budget:g}: CBC's bound not below ours")
            if f["cbc_status"] == "Optimal Solution Found" and mine.selection.status == "optimal":
                check(abs(theirs - value) <= 0.5, f"budget {budget:g}: CBC = ours when both optimal")
            row.update(cbc=theirs, cbc_status=f["cbc_status"], cbc_spent=spent)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- 3. phasing


def _cbc_phasing(
    link: sp.csr_array, weights: np.ndarray, cumulative: np.ndarray, limit: float, log: str
) -> dict[str, Any]:
    """x_jt (site j open by the end of year t), y_gt <= sum_j a_gj x_jt, sum_j x_jt <= cumulative_t,
    x_jt <= x_j,t+1; maximise sum_t sum_g w_g y_gt."""
    import pulp

    start = time.perf_counter()
    n_groups, n_x = link.shape
    years = range(len(cumulative))
    x = [[pulp.LpVariable(f"x{j}_{t}", cat=pulp.LpBinary) for j in range(n_x)] for t in years]
    y = [[pulp.LpVariable(f"y{g}_{t}", lowBound=0, upBound=1) for g in range(n_groups)] for t in years]
    problem = pulp.LpProblem("phasing", pulp.LpMaximize)
    problem += pulp.LpAffineExpression([(y[t][g], float(weights[g])) for t in years for g in range(n_groups)])
    for t in years:
        for g in range(n_groups):
            terms = [(x[t][j], 1.0) for j in link.indices[link.indptr[g] : link.indptr[g + 1]].tolist()]
            problem += pulp.LpConstraint(
                pulp.LpAffineExpression([*terms, (y[t][g], -1.0)]), pulp.LpConstraintGE, f"c{g}_{t}", 0.0
            )
        problem += pulp.LpConstraint(
            pulp.LpAffineExpression([(v, 1.0) for v in x[t]]), pulp.LpConstraintLE, f"n{t}", float(cumulative[t])
        )
        if t + 1 < len(cumulative):
            for j in range(n_x):
                problem += pulp.LpConstraint(
                    pulp.LpAffineExpression([(x[t][j], 1.0), (x[t + 1][j], -1.0)]),
                    pulp.LpConstraintLE,
                    f"m{j}_{t}",
                    0.0,
                )
    return _solve_pulp(problem, x, start, limit, log)


def person_years(region: Region, sites: Sequence[str], years: np.ndarray, n_years: int, before: float) -> float:
    """People newly covered at the end of each year, summed, recomputed with covered_population."""
    total = 0.0
    for t in range(n_years):
        open_now = [s for s, y in zip(sites, years, strict=True) if y <= t]
        total += (
            covered_population(region.plan_matrix, region.population, THRESHOLD_MIN, region.required + open_now)
            - before
        )
    return total


def schedules_count(n: int, counts: Sequence[float]) -> int:
    """Distinct nested sets of open sites a brute force would try: n! / (c_1! ... c_T! (n - sum c)!)."""
    left, out = n, 1
    for c in counts:
        c = min(int(c), left)
        out *= math.comb(left, c)
        left -= c
    return out


def bench_phasing(
    region: Region, label: str, sites: list[str], schedule: Schedule, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    n_years = len(schedule.years)
    link, weights, before = open_groups(region, sites)
    cumulative = np.minimum(schedule.cumulative, len(sites))
    brute = schedules_count(len(sites), schedule.counts)
    what = (
        f"{schedule.years[0]}-{schedule.years[-1]}: "
        + ",".join(f"{c:g}" for c in schedule.counts[:6])
        + ("..." if n_years > 6 else "")
    )
    print(
        f"\n[3] phasing, {region.name}, {label}: {len(sites)} sites over {n_years} years ({what}); "
        f"{link.shape[0]:,} groups of units; a brute force would try {brute:.3g} schedules: not tractable"
    )
    slug = re.sub(r"\W+", "_", label)
    log = str(scratch / f"cbc_phasing_{region.name}_{slug}.log")

    def phase(exact: bool) -> Any:
        return phase_sites(
            region.plan_matrix,
            region.population,
            THRESHOLD_MIN,
            sites,
            schedule,
            required=region.required,
            exact=exact,
            time_limit_s=60.0,
        )

    def cbc() -> dict[str, Any]:
        return in_child(lambda: _cbc_phasing(link, weights, cumulative, args.cbc_limit, log), args.cbc_guard)

    steps = {"ours": lambda: phase(True), "greedy": lambda: phase(False), "cbc": cbc}
    runs, last = interleave(steps, args.repeat, args.slow_repeat)
    mine, f = last["ours"], last["cbc"]
    year_of = {y: t for t, y in enumerate(schedule.years)}
    ours_years = np.array([year_of.get(y, n_years) for y in mine.timeline.set_index("site_id").loc[sites, "year"]])
    value = person_years(region, sites, ours_years, n_years, before)
    check(abs(value - mine.objective) <= 0.5 * n_years, f"phasing {label}: ours recomputed")
    check(mine.greedy_objective <= value + 0.5, f"phasing {label}: greedy <= ours")
    gap = "" if mine.gap is None else f", gap {mine.gap:.2e}"
    print(
        f"  ours (phase_sites)    {runs['ours'].text()}: {value:,.0f} person-years ({mine.status}{gap}; "
        f"{mine.solver_status})\n"
        f"  greedy order          {runs['greedy'].text()}: {mine.greedy_objective:,.0f} person-years "
        f"({value - mine.greedy_objective:,.0f} fewer than ours)"
    )
    out: dict[str, Any] = {
        "instance": f"{region.name}, {label}",
        "sites": len(sites),
        "years": n_years,
        "brute_force_schedules": brute,
        "ours_s": runs["ours"].seconds,
        "greedy_s": runs["greedy"].seconds,
        "cbc_s": runs["cbc"].seconds,
        "ours": value,
        "ours_status": mine.status,
        "bound": mine.bound,
        "greedy": mine.greedy_objective,
    }
    said = cbc_outcome(f, runs["cbc"], runs["ours"].best, 0.0)
    if said is None or f.get("killed"):
        print(f"  PuLP + CBC            {runs['cbc'].text()}: {said or no_answer(f)}")
        return out
    opened = f["x"]  # years x sites
    years = np.where(opened.any(axis=0), opened.argmax(axis=0), n_years)
    nested = bool((opened[1:] >= opened[:-1]).all()) if n_years > 1 else True
    theirs = person_years(region, sites, years, n_years, before)
    print(
        f"  PuLP + CBC            {runs['cbc'].text()} (last: build {f['build_s']:.2f} s, solve "
        f"{f['solve_s']:.2f} s): {theirs:,.0f} person-years, {said}"
    )
    check(nested and bool((opened.sum(axis=1) <= cumulative + 1e-9).all()), f"phasing {label}: CBC's schedule valid")
    if "cbc_log_bound" in f:
        check(f["cbc_log_bound"] >= value - 0.5 * n_years, f"phasing {label}: CBC's bound not below ours")
    check(
        theirs <= (mine.bound if mine.bound is not None else value) + 0.5 * n_years,
        f"phasing {label}: CBC not above our bound",
    )
    if f["cbc_status"] == "Optimal Solution Found" and mine.status == "optimal":
        check(abs(theirs - value) <= 0.5 * n_years, f"phasing {label}: CBC = ours when both optimal")
    out.update(cbc=theirs, cbc_status=f["cbc_status"])
    return out


# --------------------------------------------------------------------------- 4. the pool's phasing


def yearly_above(
    matrix: CoverageMatrix,
    base: np.ndarray,
    demand: np.ndarray,
    decay: Any,
    people: np.ndarray,
    line: float,
    teams: pd.DataFrame,
    n_years: int,
) -> float:
    """People at or above the line at the end of each year, summed: an E2SFCA from scratch per year."""
    rows = matrix.rows(teams["site_id"].astype(str).tolist())
    total = 0.0
    for t in range(n_years):
        supply = base.copy()
        here = teams["year_index"].to_numpy() <= t
        np.add.at(supply, rows[here], teams["doctors"].to_numpy(dtype=float)[here])
        acc = floating_catchment(matrix, supply, demand, decay).accessibility
        total += float(people[acc >= line].sum())
    return total


def bench_pool(study: Any, settings: AccessSettings, args: argparse.Namespace) -> dict[str, Any]:
    m = study.matrix
    by_id = study.sites.set_index("site_id")
    base = by_id["supply_before"].reindex(m.site_ids).to_numpy(dtype=float)
    demand = study.units["demand"].to_numpy(dtype=float)
    people = study.units["population"].to_numpy(dtype=float)
    line = settings.priority_line_value / settings.scale
    schedule = Schedule.parse(POOL_SCHEDULE, total=POOL_GPS)
    print(
        f"\n[4] the pool's phasing, communes: {POOL_GPS:g} GPs in teams of {POOL_TEAM:g}, schedule "
        f"{','.join(f'{y}:{c:g}' for y, c in schedule.as_dict().items())}; line {settings.priority_line_value:g}; "
        f"{m.minutes.shape[0]:,} sites x {m.minutes.shape[1]:,} units"
    )

    def order() -> Any:
        return allocate_pool(
            m,
            base,
            demand,
            pool=POOL_GPS,
            team_size=POOL_TEAM,
            priority_line=line,
            decay=settings.decay,
            sites=list(m.site_ids),
            people=people,
        )

    steps = order().steps

    def ours() -> Any:
        return phase_pool(
            m,
            base,
            demand,
            steps,
            schedule,
            priority_line=line,
            decay=settings.decay,
            people=people,
            time_limit_s=args.pool_limit,
        )

    runs, last = interleave({"pool order": order, "ours": ours}, args.repeat, args.slow_repeat)
    mine = last["ours"]
    check(
        list(last["pool order"].steps["site_id"]) == list(study.allocation_steps["site_id"]), "pool: the study's order"
    )
    ends = np.cumsum(steps["supply_added"].to_numpy(dtype=float))
    pool_years = np.array([int(np.flatnonzero(schedule.cumulative >= e - 1e-9)[0]) for e in ends])
    year_of = {y: t for t, y in enumerate(schedule.years)}
    n_t = len(schedule.years)
    as_pool = pd.DataFrame({"site_id": steps["site_id"], "doctors": steps["supply_added"], "year_index": pool_years})
    as_ours = mine.timeline.assign(year_index=mine.timeline["year"].map(lambda y: year_of.get(y, n_t)))
    check(sorted(as_ours["site_id"]) == sorted(as_pool["site_id"]), "pool: the same teams in both orders")
    pool_value = yearly_above(m, base, demand, settings.decay, people, line, as_pool, n_t)
    ours_value = yearly_above(m, base, demand, settings.decay, people, line, as_ours, n_t)
    hit = " (stopped at its time limit)" if min(runs["ours"].seconds) >= args.pool_limit else ""
    print(
        f"  pool's order (allocate_pool)  {runs['pool order'].text()}: {mine.pool_objective:,.0f} person-years "
        f"at or above the line (recomputed: {pool_value:,.0f})\n"
        f"  ours (phase_pool, limit {args.pool_limit:g} s) {runs['ours'].text()}{hit}: {mine.objective:,.0f} "
        f"(recomputed: {ours_value:,.0f}), {mine.exchanges} exchanges; +{mine.objective - mine.pool_objective:,.0f} "
        f"person-years ({(mine.objective / mine.pool_objective - 1):+.2%})"
    )
    check(abs(pool_value - mine.pool_objective) <= 0.5, "pool: the pool's order recomputed")
    check(abs(ours_value - mine.objective) <= 0.5, "pool: ours recomputed")
    check(mine.objective >= mine.pool_objective - 0.5, "pool: ours >= the pool's order")
    return {
        "pool_order_s": runs["pool order"].seconds,
        "ours_s": runs["ours"].seconds,
        "pool_order": mine.pool_objective,
        "ours": mine.objective,
        "exchanges": mine.exchanges,
        "recomputed": [pool_value, ours_value],
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, help="data folder (default: as the demo finds it)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved rounds of each step (default 3)")
    p.add_argument("--slow-repeat", type=int, default=2, help=f"rounds of a step whose first run took > {SLOW_S:g} s")
    p.add_argument("--skip-grid", action="store_true", help="the communes only (no grid units)")
    p.add_argument("--nx-guard", type=float, default=300.0, help="seconds before a NetworkX run is stopped")
    p.add_argument("--cbc-limit", type=float, default=60.0, help="CBC's own time limit, seconds (ours' is 60 s)")
    p.add_argument("--cbc-guard", type=float, default=120.0, help="seconds before a PuLP + CBC child is killed")
    p.add_argument("--pool-limit", type=float, default=10.0, help="phase_pool's time limit (its default, 10 s)")
    p.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS_EUR), help="budgets in euros")
    p.add_argument("--seed", type=int, default=14, help="seed of the candidates' illustrative kinds")
    p.add_argument("--json", type=Path, help="save the figures here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    import pulp

    print(
        f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, networkx {nx.__version__}, "
        f"pulp {pulp.__version__}, highspy {importlib.metadata.version('highspy')}; load average "
        + " ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    results: dict[str, Any] = {"capacity": [], "budget": [], "phasing": [], "pool": None}
    regions = [load_region(args.data_dir, "communes")]
    print(
        f"communes: {len(regions[0].population):,} units, {len(regions[0].required)} facilities; "
        f"setup {regions[0].setup_s:.1f} s"
    )
    settings = AccessSettings(capacity_minutes=None)
    start = time.perf_counter()
    pool = Pool(supply=POOL_GPS, team_size=POOL_TEAM)
    study = study_access(regions[0].analysis, settings, Scenario(name="pool", pool=pool))
    print(f"commune study (the pool placed, not timed): {time.perf_counter() - start:.1f} s")
    if not args.skip_grid:
        regions.append(load_region(args.data_dir, "grid"))
        print(f"grid: {len(regions[1].population):,} units; setup {regions[1].setup_s:.1f} s")

    # 1. patient lists: the communes, today and after the 300 GPs, and a case where the lists do not all fill
    by_id = study.sites.set_index("site_id")
    m = study.matrix
    before = by_id["supply_before"].reindex(m.site_ids).to_numpy(dtype=float)
    after = by_id["supply_after"].reindex(m.site_ids).to_numpy(dtype=float)
    pop = regions[0].population
    per_gp = DEFAULT_PATIENTS_PER_GP
    cases = [
        ("communes, today's GPs", m, before, pop, per_gp),
        ("communes, after the 300 GPs", m, after, pop, per_gp),
        ("communes, today's GPs, 10x the patients per GP (lists not all full)", m, before, pop, 10 * per_gp),
    ]
    if not args.skip_grid:
        gm, gb, ga = capacity_inputs(regions[1], study.sites)
        cases += [
            ("grid, today's GPs", gm, gb.to_numpy(dtype=float), regions[1].population, per_gp),
            ("grid, after the 300 GPs", gm, ga.to_numpy(dtype=float), regions[1].population, per_gp),
        ]
    for name, matrix, doctors, people, ppg in cases:
        results["capacity"].append(bench_capacity(name, matrix, doctors, people, ppg, args))

    with scratch_tmpdir() as scratch:
        for region in regions:
            results["budget"] += bench_budget(region, args, scratch)
        for region in regions:
            schedule = Schedule.parse(PHASING, total=len(region.exact_sites))
            label = f"the demo's {len(region.exact_sites)} sites (exact, k = {NEW_SITES})"
            results["phasing"].append(bench_phasing(region, label, region.exact_sites, schedule, args, scratch))
        grid = regions[-1]
        sites = grid.greedy_sites
        label = f"the greedy's {len(sites)} sites (--solver greedy)"
        results["phasing"].append(
            bench_phasing(grid, label, sites, Schedule.parse(PHASING, total=len(sites)), args, scratch)
        )
        one = Schedule.per_year(1.0, 2023, len(sites))
        results["phasing"].append(bench_phasing(grid, label + ", one a year", sites, one, args, scratch))

    results["pool"] = bench_pool(study, settings, args)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s; load average " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=float), "utf-8")
    if failures:
        print(f"{len(failures)} checks failed: " + "; ".join(failures))
        return 1
    print("every check passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
