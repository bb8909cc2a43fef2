"""Benchmark of the floating catchment (2SFCA and enhanced 2SFCA) against PySAL access.

Three parts, in the same run:

1. The region of the demo: the 1,754 communes of Centre-Val de Loire (population units,
   at their town hall) and the open facilities; the matrix of door-to-door minutes from
   the facilities to the communes up to 20 minutes, built as
   :func:`coverage.planning.plan_sites` builds it (``coverage_matrix`` on the analysis's
   snapped nodes and access legs).  Supply: the facilities' ``n_gp`` where it is a
   number, else 3 GPs; demand: the communes' population.  Tiny, so every step is timed
   best of many runs.
2. The pool of the Region's scenario on the same region: sites are the open facilities and
   every commune's town hall (the matrix :func:`coverage.study_access` builds for a pool),
   and ``--pool`` doctors (300) go out in teams of 3 to lift the most people to 2.5
   consultations or more.  Ours (:func:`coverage.pool.allocate_pool`, which updates
   only the catchment of the site that receives a team) against the obvious greedy that,
   for every team, recomputes the whole E2SFCA once per eligible site with the team added
   there (with our own engine, the faster of the two), on the first ``--pool-steps`` teams
   (about 2 s a team); the sites chosen and their gains are compared step by step.
3. Synthetic: ``--units`` population units and ``--facilities`` facilities at random
   nodes of the road-like graph of ``bench_nearest.py`` (``--nodes`` nodes), access legs
   of 0-120 s, random GPs and populations.  The graph and the coverage matrix are built
   in a child process and timed apart (they are not the engine), so that the memory
   figures of this process are those of the engines.

On the instances of 1 and 3, ours (:func:`coverage.accessibility.floating_catchment`, end to end from
the ``CoverageMatrix``: plain 2SFCA with ``StepDecay(((20, 1),))``, enhanced 2SFCA with
``DEFAULT_BANDS``) against PySAL access on the same pairs given as a long table (origin,
dest, cost): the ``Access`` object built apart from its ``two_stage_fca(max_cost=20)`` and
``enhanced_two_stage_fca(weight_fn=step_fn({10: 1, 15: 2/3, 20: 1/3}))`` calls.  The answers
are compared unit by unit.  Memory: one more run of each step under ``tracemalloc``, and the
peak RSS of the first timed run of each step (on Linux: the C heap trimmed with glibc's
``malloc_trim`` and the high-water mark reset through ``/proc/self/clear_refs`` before it).

Run ``python bench/bench_access.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.metadata
import json
import logging
import math
import multiprocessing
import os
import pickle
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy
import scipy.sparse as sp

import coverage
from coverage.access_study import study_access
from coverage.accessibility import DEFAULT_BANDS, FloatingCatchment, StepDecay, floating_catchment
from coverage.analysis import GapAnalysis
from coverage.config import AnalysisConfig
from coverage.io.regional import load_regional_inputs
from coverage.matrix import CoverageMatrix, coverage_matrix
from coverage.network import compile_network
from coverage.pool import allocate_pool
from coverage.scenarios import AccessSettings, Pool, Scenario

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))
from bench_nearest import MAX_ACCESS_S, max_rss_mb, synthetic_graph  # noqa: E402

try:
    import access  # PySAL access (pyproject's [test] extra)
    from access import weights as access_weights
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise SystemExit("bench_access needs PySAL access: pip install -e '.[test]'") from exc

#: The catchment, in minutes: plain 2SFCA band and last E2SFCA band.
CATCHMENT_MIN = 20.0
PLAIN = StepDecay(((CATCHMENT_MIN, 1.0),))
ENHANCED = DEFAULT_BANDS
#: The same bands for PySAL's step_fn: {upper minutes: weight}.
PYSAL_STEPS = {float(upper): float(weight) for upper, weight in DEFAULT_BANDS.bands}
#: Supply of a regional facility whose n_gp is not a number.
DEFAULT_GPS = 3.0
#: Largest relative difference per unit accepted between ours and PySAL.
TOLERANCE_REL = 1e-9
#: Band edges: pairs this close to an edge are all checked, plus a random sample.
EDGE_NEAR_MIN = 1e-6
WEIGHT_SAMPLE = 100_000
#: The pool of part 2: the Region's 300 salaried GPs in teams of 3; steps compared with the obvious greedy.
POOL_GPS = 300.0
POOL_TEAM = 3.0
POOL_COMPARED_STEPS = 10
#: Largest relative difference accepted between the two greedies' gains of one step.
POOL_TOLERANCE_REL = 1e-9
#: Sizes of the synthetic instance: default and --quick.
DEFAULT_SIZES = {"nodes": 1_000_000, "units": 100_000, "facilities": 1_000}
QUICK_SIZES = {"nodes": 160_000, "units": 10_000, "facilities": 200}
#: Region: steps so fast that --repeat rounds take under this get more rounds (at most MAX_ROUNDS).
REGION_MIN_TOTAL_S = 1.0
MAX_ROUNDS = 30
#: Names of the PySAL columns (PySAL returns access_df.filter(regex="^" + name): keep them
#: unlike the demand column's name) and of the supply and demand columns.
PYSAL_PLAIN = "fca"
PYSAL_ENHANCED = "efca"
PYSAL_NORMALISED = "nefca"
SUPPLY_COLUMN = "gp"
DEMAND_COLUMN = "population"


# --------------------------------------------------------------------------- measuring


def _proc_status_mb(key: str) -> float | None:
    """A ``VmRSS``/``VmHWM`` line of ``/proc/self/status`` in MiB (None where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_now_mb() -> float | None:
    """Resident set size of this process now, in MiB (Linux)."""
    return _proc_status_mb("VmRSS")


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # glibc
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _load_malloc_trim()


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc), so that a step that reuses
    them shows in the RSS instead of hiding in memory freed by earlier steps."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def reset_peak_rss() -> bool:
    """Reset the RSS high-water mark of this process to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float | None:
    """RSS high-water mark of this process since the last reset, in MiB (Linux)."""
    return _proc_status_mb("VmHWM")


def children_max_rss_mb() -> float:
    """Largest maximum RSS of the child processes waited for so far, in MiB."""
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


@dataclass
class Step:
    """Figures of one timed step."""

    name: str
    note: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None  # RSS high-water mark of the first timed run (heap trimmed, mark reset before it)
    rss_growth_mb: float | None = None  # that mark minus the RSS just before the run
    traced_s: float | None = None  # the run under tracemalloc
    tracemalloc_peak_mb: float | None = None

    @property
    def best_s(self) -> float:
        return min(self.seconds)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_s": self.best_s, "median_s": self.median_s, "runs": len(self.seconds)}


def run_once(fn: Callable[[], Any], *, memory: bool = False) -> tuple[float, Any, float | None, float | None]:
    """Seconds and result of one call; with ``memory``, also its peak RSS and RSS growth in MiB.

    A memory run starts with the C heap trimmed and the RSS high-water mark reset, so that it
    pays its page faults as in a fresh process: only the first timed run of each step does.
    """
    before: float | None = None
    reset = False
    if memory:
        trim_heap()
        before = rss_now_mb()
        reset = reset_peak_rss()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = peak_rss_mb() if reset else None
    growth = peak - before if peak is not None and before is not None else None
    return seconds, result, peak, growth


def measure(
    steps: dict[str, tuple[Callable[[], Any], str]],
    rounds: dict[str, int],
    *,
    warmup: Sequence[str] = (),
    min_total_s: float | None = None,
    trace: bool = True,
) -> tuple[dict[str, Step], dict[str, Any], float]:
    """Time the steps in interleaved rounds, then (``trace``) run each once more under ``tracemalloc``.

    Steps named in ``warmup`` are first run once untimed; with ``min_total_s``, when the
    warm-up round of those steps took less, they get more rounds (up to ``MAX_ROUNDS``).
    Step ``name`` runs ``rounds[name]`` times, the first of them a memory run (see
    :func:`run_once`).  The garbage collector runs once before.  Returns the figures, the
    result of each step's last timed run and the process's max RSS before the traced runs.
    """
    gc.collect()
    rounds = dict(rounds)
    if warmup:
        round_s = sum(run_once(steps[name][0])[0] for name in warmup)
        if min_total_s is not None:
            extra = min(MAX_ROUNDS, math.ceil(min_total_s / max(round_s, 1e-9)))
            rounds.update({name: max(rounds[name], extra) for name in warmup})
    figures = {name: Step(name, note) for name, (_, note) in steps.items()}
    results: dict[str, Any] = {}
    for r in range(max(rounds.values())):
        for name, (fn, _) in steps.items():
            if r < rounds[name]:
                seconds, results[name], peak, growth = run_once(fn, memory=r == 0)
                figures[name].seconds.append(seconds)
                if r == 0:
                    figures[name].peak_rss_mb, figures[name].rss_growth_mb = peak, growth
    untraced_rss = max_rss_mb()
    for name, (fn, _) in steps.items() if trace else ():
        gc.collect()
        tracemalloc.start()
        try:
            start = time.perf_counter()
            fn()
            figures[name].traced_s = time.perf_counter() - start
            figures[name].tracemalloc_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    return figures, results, untraced_rss


def print_steps(steps: Sequence[Step]) -> None:
    """A table of timed steps."""
    print(
        f"   {'step':<22} {'best s':>9} {'median s':>9} {'runs':>4} {'traced s':>9} {'tracemalloc':>11} "
        f"{'peak RSS':>9} {'+RSS':>8}  what"
    )
    print(f"   {'':<22} {'':>9} {'':>9} {'':>4} {'':>9} {'peak MiB':>11} {'MiB':>9} {'MiB':>8}")

    def mb(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    for s in steps:
        traced = "-" if s.traced_s is None else f"{s.traced_s:.4f}"
        print(
            f"   {s.name:<22} {s.best_s:>9.4f} {s.median_s:>9.4f} {len(s.seconds):>4} {traced:>9} "
            f"{mb(s.tracemalloc_peak_mb):>11} {mb(s.peak_rss_mb):>9} {mb(s.rss_growth_mb):>8}  {s.note}"
        )


# --------------------------------------------------------------------------- checks


@dataclass
class Agreement:
    """Ours against PySAL, unit by unit (PySAL's NaN = the unit has no pair in its table)."""

    name: str
    n_units: int
    units_with_access: int  # ours > 0
    pysal_nan: int
    pysal_inf: int
    ours_zero_where_pysal_nan: bool
    max_abs_diff: float
    max_rel_diff: float
    pysal_over_ours_min: float  # over the units where both are > 0: a constant factor would show here
    pysal_over_ours_max: float
    weighted_sum_ours: float  # sum_i D_i A_i
    weighted_sum_pysal: float
    supply_reaching_someone: float  # sum_j S_j - unused supply

    @property
    def ok(self) -> bool:
        conserved = abs(self.weighted_sum_ours - self.supply_reaching_someone) <= TOLERANCE_REL * max(
            1.0, self.supply_reaching_someone
        )
        return (
            self.pysal_inf == 0 and self.ours_zero_where_pysal_nan and self.max_rel_diff <= TOLERANCE_REL and conserved
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "tolerance_rel": TOLERANCE_REL}

    def line(self) -> str:
        return (
            f"check {self.name}: {'OK' if self.ok else 'MISMATCH'} ({self.n_units:,} units, "
            f"{self.units_with_access:,} with access > 0; PySAL NaN on {self.pysal_nan:,} (ours 0 there: "
            f"{self.ours_zero_where_pysal_nan}), inf on {self.pysal_inf:,}; max |diff| {self.max_abs_diff:.3g}, "
            f"max rel diff {self.max_rel_diff:.3g}; PySAL / ours from {self.pysal_over_ours_min:.15g}"
            f" to {self.pysal_over_ours_max:.15g}; sum D*A: ours {self.weighted_sum_ours:,.6f}, PySAL "
            f"{self.weighted_sum_pysal:,.6f}, supply reaching someone {self.supply_reaching_someone:,.6f})"
        )


def compare_access(name: str, ours: FloatingCatchment, theirs: np.ndarray) -> Agreement:
    """Compare our accessibility with PySAL's, aligned on the same units."""
    a = ours.accessibility
    nan = np.isnan(theirs)
    inf = np.isinf(theirs)
    b = np.where(nan, 0.0, theirs)
    finite = ~inf
    diff = np.abs(a - b)[finite]
    scale = np.maximum(np.abs(a), np.abs(b))[finite]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, diff / scale, 0.0)
        both = (a > 0) & (b > 0) & finite
        factor = b[both] / a[both]
    d = ours.demand
    return Agreement(
        name=name,
        n_units=len(a),
        units_with_access=int((a > 0).sum()),
        pysal_nan=int(nan.sum()),
        pysal_inf=int(inf.sum()),
        ours_zero_where_pysal_nan=bool(np.all(a[nan] == 0)),
        max_abs_diff=float(diff.max()) if len(diff) else 0.0,
        max_rel_diff=float(rel.max()) if len(rel) else 0.0,
        pysal_over_ours_min=float(factor.min()) if len(factor) else math.nan,
        pysal_over_ours_max=float(factor.max()) if len(factor) else math.nan,
        weighted_sum_ours=float(d @ a),
        weighted_sum_pysal=float(d[finite] @ b[finite]),
        supply_reaching_someone=float(ours.supply.sum() - ours.unused_supply),
    )


def weight_check(minutes: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Our band weights against PySAL's ``step_fn`` (and ``max_cost`` for the plain 2SFCA).

    Checked on probes at each band edge and one float either side, on every pair within
    ``EDGE_NEAR_MIN`` of an edge, and on a random sample of the pairs.
    """
    step = access_weights.step_fn(PYSAL_STEPS)
    edges = sorted(PYSAL_STEPS)
    probes = [0.0]
    for edge in edges:
        probes += [float(np.nextafter(edge, -np.inf)), edge, float(np.nextafter(edge, np.inf))]
    near = np.zeros(len(minutes), dtype=bool)
    for edge in edges:
        near |= np.abs(minutes - edge) <= EDGE_NEAR_MIN
    sample = minutes if len(minutes) <= WEIGHT_SAMPLE else minutes[rng.integers(0, len(minutes), WEIGHT_SAMPLE)]
    values = np.concatenate([np.array(probes), minutes[near], sample])
    theirs_enhanced = np.fromiter((step(v) for v in values.tolist()), dtype=float, count=len(values))
    theirs_plain = (values <= CATCHMENT_MIN).astype(float)  # two_stage_fca(max_cost=20), no weight function
    probe_table = [
        {"minutes": p, "ours_e2sfca": float(ENHANCED(np.array([p]))[0]), "pysal_step_fn": float(step(p))}
        for p in probes
    ]
    return {
        "on_edge": {f"{edge:g}": int((minutes == edge).sum()) for edge in edges},
        "near_edge": int(near.sum()),
        "values_checked": len(values),
        "probes": probe_table,
        "enhanced_equal": bool(np.array_equal(ENHANCED(values), theirs_enhanced)),
        "plain_equal": bool(np.array_equal(PLAIN(values), theirs_plain)),
    }


# --------------------------------------------------------------------------- instances


@dataclass
class Instance:
    """A coverage matrix (sites x units within 20 min) with supply and demand."""

    name: str
    matrix: CoverageMatrix
    supply: np.ndarray  # per site (row)
    demand: np.ndarray  # per unit (column)
    site_labels: np.ndarray  # the ids PySAL gets, in row / column order
    unit_labels: np.ndarray
    setup_s: dict[str, float]
    info: dict[str, Any]
    analysis: GapAnalysis | None = None  # the region's, for the pool of part 2


def snapped(analysis: GapAnalysis, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Matrix index of each row's node (-1 off the network) and its access leg in seconds.

    The two lines of ``coverage.planning._snapped`` (copied rather than importing a private helper).
    """
    nodes = analysis.network.indices_of(frame["node"])
    access_s = frame["access_minutes"].to_numpy(dtype=float) * 60.0
    return nodes, np.where(nodes >= 0, access_s, 0.0)


def load_region(data_dir: Path | None) -> Instance | None:
    """The demo's inputs, the gap analysis and the facilities x communes matrix; None without the data."""
    setup: dict[str, float] = {}
    start = time.perf_counter()
    try:
        inputs = load_regional_inputs(data_dir)
    except coverage.InputFileNotFoundError as exc:
        print(f"region skipped: {exc}")
        return None
    setup["load_regional_inputs"] = time.perf_counter() - start
    start = time.perf_counter()
    analysis = coverage.analyse(inputs.graph, inputs.facilities, inputs.units, AnalysisConfig(isochrones=False))
    setup["analyse (no isochrones)"] = time.perf_counter() - start
    fac, units = analysis.facilities, analysis.units
    fac_nodes, fac_access = snapped(analysis, fac)
    unit_nodes, unit_access = snapped(analysis, units)
    start = time.perf_counter()
    matrix = coverage_matrix(
        analysis.network,
        fac_nodes,
        fac_access,
        unit_nodes,
        unit_access,
        CATCHMENT_MIN,
        site_ids=fac["facility_id"].astype(str).to_numpy(),
        unit_ids=units["unit_id"].astype(str).to_numpy(),
    )
    setup["coverage_matrix (not the engine)"] = time.perf_counter() - start
    n_gp = pd.to_numeric(fac["n_gp"], errors="coerce") if "n_gp" in fac else pd.Series(np.nan, index=fac.index)
    supply = n_gp.fillna(DEFAULT_GPS).to_numpy(dtype=float)
    info = {
        "n_nodes": analysis.network.n_nodes,
        "facilities": len(fac),
        "facilities_on_network": int((fac_nodes >= 0).sum()),
        "units": len(units),
        "units_on_network": int((unit_nodes >= 0).sum()),
        "facilities_with_n_gp": int(n_gp.notna().sum()),
        "gps_from_n_gp": float(n_gp.sum()),
        "facilities_with_default_gps": int(n_gp.isna().sum()),
        "default_gps": DEFAULT_GPS,
    }
    return Instance(
        name="region",
        matrix=matrix,
        supply=supply,
        demand=units["population"].to_numpy(dtype=float),
        site_labels=matrix.site_ids,
        unit_labels=matrix.unit_ids,
        setup_s=setup,
        info=info,
        analysis=analysis,
    )


def build_synthetic_matrix(nodes: int, units: int, facilities: int, seed: int, workers: int | None, out: str) -> None:
    """Child process: graph, network and coverage matrix, written as ``matrix.pickle`` and ``info.json`` in ``out``."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    graph = synthetic_graph(nodes, seed)
    timings["build graph (NetworkX)"] = time.perf_counter() - start
    start = time.perf_counter()
    net = compile_network(graph, metric_crs="EPSG:2154")
    timings["compile_network"] = time.perf_counter() - start
    start = time.perf_counter()
    _ = net.reverse_matrix
    timings["reverse_matrix"] = time.perf_counter() - start
    n = net.n_nodes
    n_fac = min(facilities, n)
    rng = np.random.default_rng(seed + 3)
    site_nodes = rng.choice(n, size=n_fac, replace=False)
    unit_nodes = rng.choice(n, size=units, replace=units > n)
    site_access = rng.uniform(0.0, MAX_ACCESS_S, n_fac)
    unit_access = rng.uniform(0.0, MAX_ACCESS_S, units)
    start = time.perf_counter()
    matrix = coverage_matrix(
        net,
        site_nodes,
        site_access,
        unit_nodes,
        unit_access,
        CATCHMENT_MIN,
        site_ids=np.arange(n_fac).astype(str),
        unit_ids=np.arange(units).astype(str),
        workers=workers,
    )
    timings["coverage_matrix"] = time.perf_counter() - start
    with open(Path(out) / "matrix.pickle", "wb") as f:
        pickle.dump(matrix, f, protocol=pickle.HIGHEST_PROTOCOL)
    info = {
        "graph": graph.graph["name"],
        "n_nodes": n,
        "n_edges": graph.number_of_edges(),
        "facilities": n_fac,
        "units": units,
        "workers_requested": workers or os.cpu_count(),
        "setup_s": timings,
        "child_max_rss_mb": max_rss_mb(),
        "matrix_workers_max_rss_mb": children_max_rss_mb(),
    }
    (Path(out) / "info.json").write_text(json.dumps(info), "utf-8")


def load_synthetic(args: argparse.Namespace) -> Instance:
    """Build the synthetic matrix in a spawned child (a fresh process), then read it back."""
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench_access_") as tmp:
        child = ctx.Process(
            target=build_synthetic_matrix,
            args=(args.nodes, args.units, args.facilities, args.seed, args.workers, tmp),
        )
        start = time.perf_counter()
        child.start()
        child.join()
        child_s = time.perf_counter() - start
        if child.exitcode != 0:
            raise SystemExit(f"building the synthetic matrix failed in the child process (exit code {child.exitcode})")
        info = json.loads((Path(tmp) / "info.json").read_text("utf-8"))
        start = time.perf_counter()
        with open(Path(tmp) / "matrix.pickle", "rb") as f:
            matrix: CoverageMatrix = pickle.load(f)  # written by our own child just now
        load_s = time.perf_counter() - start
    setup = dict(info.pop("setup_s"))
    setup["child process wall time"] = child_s
    setup["matrix read back"] = load_s
    n_fac, n_units = matrix.minutes.shape
    rng = np.random.default_rng(args.seed + 4)
    return Instance(
        name="synthetic",
        matrix=matrix,
        supply=rng.integers(1, 11, n_fac).astype(float),  # 1-10 GPs
        demand=rng.integers(10, 2001, n_units).astype(float),  # 10-2,000 inhabitants: no unit is empty
        site_labels=np.arange(n_fac, dtype=np.int64),
        unit_labels=np.arange(n_units, dtype=np.int64),
        setup_s=setup,
        info=info,
    )


def cost_table(inst: Instance) -> pd.DataFrame:
    """The matrix's pairs as PySAL's long table: origin (unit), dest (site), cost (minutes)."""
    m = sp.coo_array(inst.matrix.minutes)
    site, unit = m.coords
    return pd.DataFrame({"origin": inst.unit_labels[unit], "dest": inst.site_labels[site], "cost": m.data})


# --------------------------------------------------------------------------- one instance


def bench_instance(inst: Instance, args: argparse.Namespace, *, tiny: bool) -> tuple[dict[str, Any], list[bool]]:
    """Time ours and PySAL on one instance, compare the answers; the JSON section and the checks."""
    m = inst.matrix
    n_sites, n_units = m.minutes.shape
    pairs = int(m.minutes.nnz)
    print(
        f"   {n_sites:,} facilities x {n_units:,} units, {pairs:,} pairs within {CATCHMENT_MIN:g} min "
        f"({pairs / max(n_sites, 1):,.0f} units per facility, {pairs / max(n_units, 1):,.1f} facilities per unit; "
        f"units with none: {int((np.diff(sp.csc_array(m.minutes).indptr) == 0).sum()):,}); "
        f"supply {inst.supply.sum():,.0f}, demand {inst.demand.sum():,.0f}"
    )
    print("   setup (not timed as steps): " + ", ".join(f"{k} {v:.2f} s" for k, v in inst.setup_s.items()))
    supply, demand = inst.supply, inst.demand
    table = cost_table(inst)
    if len(table) != pairs:
        raise SystemExit(f"the cost table has {len(table):,} rows for {pairs:,} pairs")
    demand_df = pd.DataFrame({DEMAND_COLUMN: demand}, index=pd.Index(inst.unit_labels, name="unit"))
    supply_df = pd.DataFrame({SUPPLY_COLUMN: supply}, index=pd.Index(inst.site_labels, name="site"))

    def build_model() -> access.Access:
        return access.Access(
            demand_df=demand_df,
            demand_value=DEMAND_COLUMN,
            supply_df=supply_df,
            supply_value=SUPPLY_COLUMN,
            cost_df=table,
            cost_origin="origin",
            cost_dest="dest",
            cost_name="cost",
        )

    model = build_model()
    logging.getLogger("access").setLevel(logging.WARNING)  # its "Overwriting <column>" on every repeated call
    step_fn = access_weights.step_fn(PYSAL_STEPS)
    steps: dict[str, tuple[Callable[[], Any], str]] = {
        "ours 2SFCA": (
            lambda: floating_catchment(m, supply, demand, PLAIN),
            f"floating_catchment(matrix, S, D, StepDecay((({CATCHMENT_MIN:g}, 1),)))",
        ),
        "ours E2SFCA": (
            lambda: floating_catchment(m, supply, demand, ENHANCED),
            "floating_catchment(matrix, S, D, DEFAULT_BANDS)",
        ),
        "cost table": (lambda: cost_table(inst), "CSR -> long DataFrame (origin, dest, cost); counted in neither"),
        "pysal Access()": (build_model, "access.Access(demand_df, supply_df, cost_df=table, ...)"),
        "pysal 2SFCA": (
            lambda: model.two_stage_fca(name=PYSAL_PLAIN, max_cost=CATCHMENT_MIN),
            f"Access.two_stage_fca(max_cost={CATCHMENT_MIN:g})",
        ),
        "pysal E2SFCA": (
            lambda: model.enhanced_two_stage_fca(name=PYSAL_ENHANCED, weight_fn=step_fn),
            "Access.enhanced_two_stage_fca(weight_fn=step_fn({10: 1, 15: 2/3, 20: 1/3}))",
        ),
    }
    fast = ["ours 2SFCA", "ours E2SFCA", "cost table", "pysal Access()"]
    if tiny:
        rounds = dict.fromkeys(steps, args.repeat)
        figures, results, untraced_rss = measure(
            steps, rounds, warmup=list(steps), min_total_s=REGION_MIN_TOTAL_S, trace=not args.no_trace
        )
    else:
        rounds = {name: args.repeat if name in fast else args.pysal_repeat for name in steps}
        figures, results, untraced_rss = measure(
            steps, rounds, warmup=["ours 2SFCA", "ours E2SFCA"], trace=not args.no_trace
        )
    print_steps(list(figures.values()))

    def ratio(a: str, b: str) -> float:
        return figures[a].best_s / figures[b].best_s

    def traced_ratio(a: str, b: str) -> float:
        return (figures[a].tracemalloc_peak_mb or 0.0) / max(figures[b].tracemalloc_peak_mb or 0.0, 1e-9)

    access_s = figures["pysal Access()"].best_s
    ratios = {
        "pysal 2SFCA / ours 2SFCA": ratio("pysal 2SFCA", "ours 2SFCA"),
        "pysal Access() + 2SFCA / ours 2SFCA": (access_s + figures["pysal 2SFCA"].best_s)
        / figures["ours 2SFCA"].best_s,
        "pysal E2SFCA / ours E2SFCA": ratio("pysal E2SFCA", "ours E2SFCA"),
        "pysal Access() + E2SFCA / ours E2SFCA": (access_s + figures["pysal E2SFCA"].best_s)
        / figures["ours E2SFCA"].best_s,
    }
    if not args.no_trace:
        ratios["tracemalloc peak, pysal 2SFCA / ours 2SFCA"] = traced_ratio("pysal 2SFCA", "ours 2SFCA")
        ratios["tracemalloc peak, pysal E2SFCA / ours E2SFCA"] = traced_ratio("pysal E2SFCA", "ours E2SFCA")
    for name, value in ratios.items():
        print(f"   ratio {name:<46} {value:9.2f}x")

    plain_theirs = results["pysal 2SFCA"][f"{PYSAL_PLAIN}_{SUPPLY_COLUMN}"].reindex(inst.unit_labels).to_numpy(float)
    enh_theirs = results["pysal E2SFCA"][f"{PYSAL_ENHANCED}_{SUPPLY_COLUMN}"].reindex(inst.unit_labels).to_numpy(float)
    agreements = [
        compare_access("2SFCA, ours vs PySAL", results["ours 2SFCA"], plain_theirs),
        compare_access("E2SFCA, ours vs PySAL", results["ours E2SFCA"], enh_theirs),
    ]
    for agreement in agreements:
        print(f"   {agreement.line()}")
    weights = weight_check(m.minutes.data, np.random.default_rng(args.seed + 5))
    weights_ok = weights["enhanced_equal"] and weights["plain_equal"]
    on_edge = ", ".join(f"{k} min: {v:,}" for k, v in weights["on_edge"].items())
    print(
        f"   check band weights, ours vs PySAL step_fn / max_cost: {'OK' if weights_ok else 'MISMATCH'} "
        f"({weights['values_checked']:,} values: probes at each edge and one float either side, "
        f"the pairs within {EDGE_NEAR_MIN:g} min of an edge ({weights['near_edge']:,}), a sample of the pairs); "
        f"pairs exactly on an edge: {on_edge}"
    )
    checks = [a.ok for a in agreements] + [weights_ok]
    section: dict[str, Any] = {
        "n_facilities": n_sites,
        "n_units": n_units,
        "pairs": pairs,
        "catchment_min": CATCHMENT_MIN,
        "pysal_ids": "strings (the matrix's ids)" if tiny else "int64 positions",
        "info": inst.info,
        "setup_s": inst.setup_s,
        "steps": {k: v.as_dict() for k, v in figures.items()},
        "ratios": ratios,
        "checks": [a.as_dict() for a in agreements],
        "band_weights": weights | {"ok": weights_ok},
    }
    if tiny:
        # normalize=True divides by the demand-weighted mean of the access values: a constant factor.
        ours_enh: FloatingCatchment = results["ours E2SFCA"]
        factor = float(demand @ ours_enh.accessibility / demand.sum())
        normalised = model.enhanced_two_stage_fca(name=PYSAL_NORMALISED, weight_fn=step_fn, normalize=True)
        theirs = normalised[f"{PYSAL_NORMALISED}_{SUPPLY_COLUMN}"].reindex(inst.unit_labels).to_numpy(float)
        norm = compare_access("E2SFCA, ours / factor vs PySAL normalize=True", ours_enh, theirs * factor)
        norm_ok = norm.max_rel_diff <= TOLERANCE_REL and norm.pysal_inf == 0
        print(
            f"   check PySAL normalize=True = ours / {factor:.6g} (the demand-weighted mean of ours): "
            f"{'OK' if norm_ok else 'MISMATCH'} (max rel diff {norm.max_rel_diff:.3g})"
        )
        checks.append(norm_ok)
        section["normalize_true"] = {"factor": factor, "max_rel_diff": norm.max_rel_diff, "ok": norm_ok}
    section["max_rss_mb_before_traced_runs"] = untraced_rss
    section["max_rss_mb_after"] = max_rss_mb()
    print(
        f"   max RSS of this process so far: {untraced_rss:,.0f} MiB"
        + (
            ""
            if args.no_trace
            else f" before the tracemalloc runs, {section['max_rss_mb_after']:,.0f} MiB after them "
            "(tracemalloc's own records count)"
        )
    )
    return section, checks


# --------------------------------------------------------------------------- the pool


def obvious_greedy(
    matrix: CoverageMatrix,
    supply: np.ndarray,
    demand: np.ndarray,
    people: np.ndarray,
    *,
    eligible: np.ndarray,
    teams: int,
    team_size: float,
    line: float,
) -> list[tuple[int, float, float]]:
    """The greedy of ``allocate_pool`` done the obvious way: for every team, one full floating
    catchment per eligible site with the team added there; the site that lifts the most people
    to the priority line, then reduces the shortfall most, then comes first.  Returns (row, people
    lifted, shortfall reduced) per team."""
    s = np.asarray(supply, dtype=float).copy()
    acc = floating_catchment(matrix, s, demand, ENHANCED).accessibility
    chosen: list[tuple[int, float, float]] = []
    for _ in range(teams):
        best: tuple[float, float, int] | None = None
        for row in np.flatnonzero(eligible):
            s[row] += team_size
            after = floating_catchment(matrix, s, demand, ENHANCED).accessibility
            s[row] -= team_size
            lifted = float(people[(acc < line) & (after >= line)].sum())
            reduced = float(demand @ (np.minimum(after, line) - np.minimum(acc, line)))
            if best is None or (lifted, reduced) > best[:2]:
                best = (lifted, reduced, int(row))
        if best is None or (best[0] <= 0 and best[1] <= 1e-15):
            break
        lifted, reduced, row = best
        s[row] += team_size
        acc = floating_catchment(matrix, s, demand, ENHANCED).accessibility
        chosen.append((row, lifted, reduced))
    return chosen


def bench_pool(analysis: GapAnalysis, args: argparse.Namespace) -> tuple[dict[str, Any], list[bool]]:
    """Part 2: ``allocate_pool`` against the obvious greedy on the region's pool scenario."""
    settings = AccessSettings(decay=ENHANCED, default_supply=DEFAULT_GPS)
    package_logger = logging.getLogger("coverage")
    level = package_logger.level
    package_logger.setLevel(logging.ERROR)  # part 1 says which facilities get the default supply
    try:
        start = time.perf_counter()
        study = study_access(analysis, settings, Scenario(pool=Pool(supply=args.pool, team_size=POOL_TEAM)))
        setup_s = time.perf_counter() - start
    finally:
        package_logger.setLevel(level)
    m = study.matrix
    supply = study.sites["supply_before"].to_numpy(dtype=float)
    demand = study.units["demand"].to_numpy(dtype=float)
    people = study.units["population"].to_numpy(dtype=float)
    line = settings.priority_line_value / settings.scale
    eligible = ~np.isnan(study.baseline.supply_ratio)  # every site with demand in reach, as allocate_pool
    n_fac = int((study.sites["kind"] == "facility").sum())
    print(
        f"   {m.minutes.shape[0]:,} sites ({n_fac} facilities, {m.minutes.shape[0] - n_fac:,} town halls; "
        f"{int(eligible.sum()):,} with demand in reach) x {m.minutes.shape[1]:,} communes, {m.minutes.nnz:,} pairs "
        f"within {CATCHMENT_MIN:g} min; pool {args.pool:g} in teams of {POOL_TEAM:g}, line "
        f"{settings.priority_line_value:g} consultations ({line:.4g} GPs per person); "
        f"setup (study_access, matrix included) {setup_s:.2f} s"
    )

    def ours(pool: float) -> Any:
        return allocate_pool(
            m, supply, demand, pool=pool, team_size=POOL_TEAM, priority_line=line, decay=ENHANCED, people=people
        )

    compared = min(args.pool_steps, math.ceil(args.pool / POOL_TEAM))
    steps: dict[str, tuple[Callable[[], Any], str]] = {
        "ours, whole pool": (lambda: ours(args.pool), f"allocate_pool: {args.pool:g} GPs in teams of {POOL_TEAM:g}"),
        f"ours, {compared} teams": (lambda: ours(compared * POOL_TEAM), f"allocate_pool, pool of {compared} teams"),
        f"obvious, {compared} teams": (
            lambda: obvious_greedy(
                m,
                supply,
                demand,
                people,
                eligible=eligible,
                teams=compared,
                team_size=POOL_TEAM,
                line=line,
            ),
            "one full E2SFCA per eligible site and team",
        ),
    }
    rounds = {name: (1 if name.startswith("obvious") else args.repeat) for name in steps}
    figures, results, _ = measure(steps, rounds, trace=False)
    print_steps(list(figures.values()))
    ratio = figures[f"obvious, {compared} teams"].best_s / figures[f"ours, {compared} teams"].best_s
    print(f"   ratio obvious greedy / ours, first {compared} teams {ratio:>21.0f}x")
    ours_steps = results[f"ours, {compared} teams"].steps
    theirs = results[f"obvious, {compared} teams"]
    rows = [int(r) for r in m.rows(ours_steps["site_id"].tolist())]
    same_sites = rows == [row for row, _, _ in theirs]

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= POOL_TOLERANCE_REL * max(1.0, abs(a), abs(b))

    same_gains = same_sites and all(
        close(lifted, float(o.people_lifted)) and close(reduced, float(o.shortfall_reduced))
        for (_, lifted, reduced), o in zip(theirs, ours_steps.itertuples(), strict=True)
    )
    whole = results["ours, whole pool"]
    recomputed = floating_catchment(m, whole.supply, demand, ENHANCED).accessibility
    incremental_ok = bool(np.allclose(whole.accessibility, recomputed, rtol=1e-9, atol=1e-15))
    lifted_total = float(people[recomputed >= line].sum())
    print(
        f"   check first {compared} teams, ours vs obvious greedy: {'OK' if same_gains else 'MISMATCH'} (same sites in "
        f"the same order: {same_sites}; people lifted and shortfall reduced equal to {POOL_TOLERANCE_REL:g})"
    )
    print(
        f"   check whole pool ({len(whole.steps)} teams at {whole.steps['site_id'].nunique()} sites): accessibility "
        f"updated step by step = E2SFCA recomputed on the final supply: {'OK' if incremental_ok else 'MISMATCH'}; "
        f"{lifted_total:,.0f} inhabitants at or above the line after it, {whole.steps['people_above'].iloc[-1]:,.0f} "
        "by the greedy's own count"
    )
    checks = [same_gains, incremental_ok, close(lifted_total, float(whole.steps["people_above"].iloc[-1]))]
    section = {
        "sites": int(m.minutes.shape[0]),
        "eligible_sites": int(eligible.sum()),
        "units": int(m.minutes.shape[1]),
        "pairs": int(m.minutes.nnz),
        "pool": args.pool,
        "team_size": POOL_TEAM,
        "compared_teams": compared,
        "setup_s": setup_s,
        "steps": {k: v.as_dict() for k, v in figures.items()},
        "ratio_obvious_over_ours": ratio,
        "same_sites": same_sites,
        "same_gains": same_gains,
        "incremental_equals_recomputed": incremental_ok,
        "people_above_after": lifted_total,
    }
    return section, checks


# --------------------------------------------------------------------------- main


def environment() -> dict[str, Any]:
    """Versions and machine, to read the figures against."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "coverage": coverage.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_start": os.getloadavg(),
    }
    try:
        env["access"] = importlib.metadata.version("access")
    except importlib.metadata.PackageNotFoundError:
        env["access"] = None
    return env


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    what_of = {"nodes": "nodes of the synthetic graph", "units": "population units", "facilities": "facilities"}
    for name, what in what_of.items():
        parser.add_argument(
            f"--{name}",
            type=int,
            default=None,
            help=f"{what} (default {DEFAULT_SIZES[name]:,}; {QUICK_SIZES[name]:,} with --quick)",
        )
    parser.add_argument("--quick", action="store_true", help="small synthetic instance (a run of well under a minute)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (graph, nodes, supply, demand; default 0)")
    parser.add_argument(
        "--workers", type=int, default=None, help="processes of the synthetic coverage matrix (default: every core)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of the fast steps, best kept (default 3)")
    parser.add_argument(
        "--pysal-repeat", type=int, default=2, help="runs of PySAL's calls on the synthetic instance (default 2)"
    )
    parser.add_argument(
        "--no-trace", action="store_true", help="no tracemalloc runs (they slow PySAL's E2SFCA about tenfold)"
    )
    parser.add_argument("--skip-region", action="store_true", help="skip the regional instance")
    parser.add_argument("--skip-synthetic", action="store_true", help="skip the synthetic instance")
    parser.add_argument("--skip-pool", action="store_true", help="skip the pool allocation (part 2)")
    parser.add_argument("--pool", type=float, default=POOL_GPS, help=f"doctors of the pool (default {POOL_GPS:g})")
    parser.add_argument(
        "--pool-steps",
        type=int,
        default=POOL_COMPARED_STEPS,
        help=f"teams compared with the obvious greedy, about 2 s each (default {POOL_COMPARED_STEPS})",
    )
    parser.add_argument("--data-dir", type=Path, help="data folder of the regional inputs (default: as the demo)")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    for name in sizes:
        if getattr(args, name) is None:
            setattr(args, name, sizes[name])
    if args.nodes < 4 or min(args.units, args.facilities, args.repeat, args.pysal_repeat) < 1:
        parser.error("--nodes >= 4 and --units, --facilities, --repeat, --pysal-repeat >= 1 are required")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if not args.pool > 0 or args.pool_steps < 1:
        parser.error("--pool must be positive and --pool-steps at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = environment()
    print(
        f"bench_access: Python {env['python']}, NumPy {env['numpy']}, SciPy {env['scipy']}, pandas {env['pandas']}, "
        f"PySAL access {env['access']}, {env['cpus']} CPUs, load average {env['load_average_start'][0]:.2f}"
    )
    per_step_rss = reset_peak_rss() and peak_rss_mb() is not None
    print(
        ("memory: " if args.no_trace else "memory: tracemalloc peak of one more run of each step; ")
        + (
            "peak RSS of the first timed run of each step (C heap trimmed and high-water mark reset before it) "
            "and its growth over the RSS before it"
            if per_step_rss
            else "no per-step RSS on this system (process max RSS only)"
        )
    )
    start = time.perf_counter()
    report: dict[str, Any] = {}
    checks: list[bool] = []
    region = None if args.skip_region and args.skip_pool else load_region(args.data_dir)
    if region is not None and not args.skip_region:
        print(f"\n== 1. region: open facilities x communes, {CATCHMENT_MIN:g} min")
        i = region.info
        print(
            f"   supply: n_gp where it is a number ({i['facilities_with_n_gp']} facilities, {i['gps_from_n_gp']:g} "
            f"GPs), else {DEFAULT_GPS:g} GPs ({i['facilities_with_default_gps']} facilities); "
            f"demand: the communes' population; {i['units_on_network']:,} of {i['units']:,} communes and "
            f"{i['facilities_on_network']} of {i['facilities']} facilities on the network ({i['n_nodes']:,} nodes)"
        )
        report["region"], region_checks = bench_instance(region, args, tiny=True)
        checks += region_checks
    if region is not None and not args.skip_pool and region.analysis is not None:
        print(f"\n== 2. region: a pool of {args.pool:g} GPs in teams of {POOL_TEAM:g} (E2SFCA, {CATCHMENT_MIN:g} min)")
        report["pool"], pool_checks = bench_pool(region.analysis, args)
        checks += pool_checks
    del region
    gc.collect()
    if not args.skip_synthetic:
        print(
            f"\n== 3. synthetic: {args.facilities:,} facilities x {args.units:,} units on a road-like graph of "
            f"{args.nodes:,} nodes, {CATCHMENT_MIN:g} min"
        )
        synthetic = load_synthetic(args)
        i = synthetic.info
        print(
            f"   {i['graph']}: {i['n_nodes']:,} nodes, {i['n_edges']:,} directed edges; facilities and units at random "
            f"nodes, access legs 0-{MAX_ACCESS_S:g} s; 1-10 GPs per facility, 10-2,000 inhabitants per unit; "
            f"matrix built in a child process with up to {i['workers_requested']} workers "
            f"(child max RSS {i['child_max_rss_mb']:,.0f} MiB, its workers {i['matrix_workers_max_rss_mb']:,.0f} MiB)"
        )
        report["synthetic"], synthetic_checks = bench_instance(synthetic, args, tiny=False)
        checks += synthetic_checks
    env["load_average_end"] = os.getloadavg()
    env["total_s"] = time.perf_counter() - start
    env["max_rss_mb"] = max_rss_mb()
    env["children_max_rss_mb"] = children_max_rss_mb()
    print(
        f"\ntotal {env['total_s']:.0f} s, process max RSS {env['max_rss_mb']:,.0f} MiB, largest child "
        f"{env['children_max_rss_mb']:,.0f} MiB, load average at the end {env['load_average_end'][0]:.2f}"
    )
    all_ok = all(checks)
    print("answers agree everywhere" if all_ok else "SOME ANSWERS DISAGREE (see the checks above)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "environment": env,
            "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            **report,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=float), "utf-8")
        print(f"figures written to {args.json}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
