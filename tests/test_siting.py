"""Siting: coverage matrix, MCLP (greedy and exact), LSCP, p-median, curve, fragility, plan_sites.

Expected values come from hand computation on tiny drawings, or from an independent
method: NetworkX for the matrix, brute force over every subset for the solvers, PySAL
spopt (CBC through PuLP) for the exact MCLP objective.  Nothing is compared with the
code's own output.

The hand-drawn network of the matrix tests (seconds on the edges)::

              E (1000,1000)
              |
             300 (two-way)
              |
    A ---60--- B ---120--- C --60 one-way C->D--> D
    (0,0)   (1000,0)    (2000,0)               (3000,0)
    ^                                           |
    +------------ 600 one-way D->A -------------+

Forward times (from the row node to the column node)::

           A    B    C    D    E
      A    0   60  180  240  360
      B   60    0  120  180  300
      C  180  120    0   60  420
      D  600  660  780    0  960
      E  360  300  420  480    0

Sites: ``sa`` at A (access 0 s), ``sd`` at D (access 30 s), ``sc`` at C (access 0 s),
``soff`` off the network.  Units: ``uA`` at A (0 s), ``uB`` at B (6 s), ``uC`` at C (0 s),
``uD`` at D (0 s), ``uE`` at E (12 s), ``uoff`` off the network.  Door to door, unit ->
site = unit access + forward time(unit node, site node) + site access.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pulp
import pytest
import scipy.sparse as sp
from conftest import LOCAL_CRS, facilities_at, make_graph, units_at
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

import coverage as cov
import coverage.matrix as matrix_module
from coverage import InputDataError
from coverage.analysis import GapAnalysis
from coverage.candidates import (
    CANDIDATE_COLUMNS,
    candidates_from_network,
    candidates_from_points,
    candidates_from_units,
    communes_with_facility,
    exclude_candidates,
)
from coverage.matrix import CoverageMatrix, coverage_matrix
from coverage.network import RoutingNetwork, compile_network
from coverage.planning import plan_sites
from coverage.siting import (
    coverage_curve,
    covered_population,
    fragility,
    lscp,
    mclp_exact,
    mclp_greedy,
    p_median,
)

# When a Hypothesis test fails, its pytest plugin imports libcst (to suggest a patch),
# which triggers a third-party DeprecationWarning from mypy_extensions while the report
# is made; with warnings as errors that aborts the whole session instead of reporting
# the failure.
pytestmark = pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")

# ====================================================================== helpers


def stored(matrix: CoverageMatrix) -> dict[tuple[str, str], float]:
    """Every stored pair of the matrix (explicit zeros included), by (site id, unit id)."""
    m = matrix.minutes
    out = {}
    for r in range(m.shape[0]):
        for p in range(m.indptr[r], m.indptr[r + 1]):
            out[(str(matrix.site_ids[r]), str(matrix.unit_ids[m.indices[p]]))] = float(m.data[p])
    return out


def covered_pairs(matrix: CoverageMatrix, threshold: float) -> set[tuple[str, str]]:
    c = matrix.covers(threshold)
    out = set()
    for r in range(c.shape[0]):
        for p in range(c.indptr[r], c.indptr[r + 1]):
            if c.data[p]:
                out.add((str(matrix.site_ids[r]), str(matrix.unit_ids[c.indices[p]])))
    return out


def matrix_of(
    dense: np.ndarray, max_minutes: float, site_ids: Sequence[str], unit_ids: Sequence[str]
) -> CoverageMatrix:
    """CoverageMatrix from a dense ``sites x units`` array of minutes (inf = absent pair)."""
    rows, cols = np.nonzero(np.isfinite(dense))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))]).astype(np.int64)
    csr = sp.csr_array((dense[rows, cols].astype(float), cols.astype(np.int32), indptr), shape=dense.shape)
    return CoverageMatrix(
        site_ids=np.asarray(site_ids, dtype=object),
        unit_ids=np.asarray(unit_ids, dtype=object),
        minutes=csr,
        max_minutes=float(max_minutes),
    )


@dataclass
class Instance:
    """A random siting problem: dense minutes (inf = absent), weights, required sites."""

    dense: np.ndarray
    weights: np.ndarray
    threshold: float
    site_ids: list[str]
    unit_ids: list[str]
    required: list[str]
    matrix: CoverageMatrix

    @property
    def candidates(self) -> list[str]:
        return [s for s in self.site_ids if s not in self.required]

    def rows(self, ids: Sequence[str]) -> list[int]:
        return [self.site_ids.index(s) for s in ids]

    def covered_mask(self, ids: Sequence[str], threshold: float | None = None) -> np.ndarray:
        t = self.threshold if threshold is None else threshold
        rows = self.rows(ids)
        if not rows:
            return np.zeros(len(self.unit_ids), dtype=bool)
        return (self.dense[rows] <= t).any(axis=0)

    def covered(self, ids: Sequence[str], threshold: float | None = None) -> float:
        return float(self.weights[self.covered_mask(ids, threshold)].sum())


MAX_MINUTES = 20.0


def random_instance(
    seed: int,
    n_cand: int,
    n_req: int,
    n_units: int,
    *,
    density: float = 0.25,
    threshold: float = 10.0,
    zero_weights: bool = True,
) -> Instance:
    """Integer minutes 0..20 (so that pairs land exactly on the threshold), integer weights."""
    rng = np.random.default_rng(seed)
    n_sites = n_cand + n_req
    present = rng.random((n_sites, n_units)) < density
    minutes = rng.integers(0, int(MAX_MINUTES) + 1, (n_sites, n_units)).astype(float)
    dense = np.where(present, minutes, np.inf)
    weights = rng.integers(0 if zero_weights else 1, 1000, n_units).astype(float)
    site_ids = [f"s{i}" for i in range(n_sites)]
    unit_ids = [f"u{i}" for i in range(n_units)]
    required = sorted(rng.choice(site_ids, n_req, replace=False).tolist()) if n_req else []
    return Instance(
        dense=dense,
        weights=weights,
        threshold=threshold,
        site_ids=site_ids,
        unit_ids=unit_ids,
        required=required,
        matrix=matrix_of(dense, MAX_MINUTES, site_ids, unit_ids),
    )


@st.composite
def instances(
    draw: st.DrawFn,
    min_cand: int = 8,
    max_cand: int = 12,
    max_req: int = 2,
    min_units: int = 15,
    max_units: int = 30,
) -> Instance:
    return random_instance(
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(min_cand, max_cand)),
        draw(st.integers(0, max_req)),
        draw(st.integers(min_units, max_units)),
        density=draw(st.sampled_from([0.1, 0.2, 0.35])),
        threshold=draw(st.sampled_from([5.0, 10.0, 15.0])),
    )


def brute_mclp(inst: Instance, k: int) -> float:
    """Best population covered by the required sites plus any k candidates."""
    return max(inst.covered(inst.required + list(combo)) for combo in combinations(inst.candidates, k))


def brute_lscp(inst: Instance) -> int:
    """Fewest candidates that, with the required sites, cover every unit some site covers."""
    coverable = inst.covered_mask(inst.site_ids)
    for size in range(len(inst.candidates) + 1):
        for combo in combinations(inst.candidates, size):
            if np.all(inst.covered_mask(inst.required + list(combo))[coverable]):
                return size
    raise AssertionError("unreachable: all candidates cover every coverable unit")


def check_order_and_marginals(result: cov.siting.SitingResult, inst: Instance) -> None:
    """Sites in their order add exactly their marginal gain; the gains add up to after - before."""
    assert len(set(result.sites)) == len(result.sites)
    assert set(result.sites) <= set(inst.candidates)
    assert len(result.marginal) == len(result.sites)
    assert result.population_covered_before == pytest.approx(inst.covered(inst.required))
    assert result.population_covered_after == pytest.approx(inst.covered(inst.required + list(result.sites)))
    assert sum(result.marginal) == pytest.approx(result.population_covered_after - result.population_covered_before)
    for i, gain in enumerate(result.marginal):
        prefix = inst.required + list(result.sites[:i])
        assert gain == pytest.approx(inst.covered([*prefix, result.sites[i]]) - inst.covered(prefix))
    # in the greedy order among themselves, gains never grow
    assert all(a >= b - 1e-9 for a, b in pairwise(result.marginal))


# ====================================================================== 1. coverage matrix

NODES = {"A": (0, 0), "B": (1000, 0), "C": (2000, 0), "D": (3000, 0), "E": (1000, 1000)}

#: door-to-door seconds, unit -> site, from the table in the module docstring
DOOR_TO_DOOR_S = {
    ("sa", "uA"): 0 + 0 + 0,
    ("sa", "uB"): 6 + 60 + 0,
    ("sa", "uC"): 0 + 180 + 0,
    ("sa", "uD"): 0 + 600 + 0,
    ("sa", "uE"): 12 + 360 + 0,
    ("sd", "uA"): 0 + 240 + 30,
    ("sd", "uB"): 6 + 180 + 30,
    ("sd", "uC"): 0 + 60 + 30,
    ("sd", "uD"): 0 + 0 + 30,
    ("sd", "uE"): 12 + 480 + 30,
    ("sc", "uA"): 0 + 180 + 0,
    ("sc", "uB"): 6 + 120 + 0,
    ("sc", "uC"): 0 + 0 + 0,
    ("sc", "uD"): 0 + 780 + 0,
    ("sc", "uE"): 12 + 420 + 0,
}


@pytest.fixture(scope="module")
def hand_network() -> RoutingNetwork:
    graph = make_graph(NODES, [("A", "B", 60), ("B", "C", 120), ("B", "E", 300)])
    graph.add_edge("C", "D", length=1000, travel_time=60)  # one-way C -> D
    graph.add_edge("D", "A", length=3000, travel_time=600)  # one-way D -> A
    return compile_network(graph)


def hand_matrix(network: RoutingNetwork, max_minutes: float, workers: int | None = 1) -> CoverageMatrix:
    at = network.index_of
    return coverage_matrix(
        network,
        np.array([at("A"), at("D"), at("C"), -1]),
        np.array([0.0, 30.0, 0.0, np.nan]),
        np.array([at("A"), at("B"), at("C"), at("D"), at("E"), -1]),
        np.array([0.0, 6.0, 0.0, 0.0, 12.0, np.nan]),
        max_minutes,
        site_ids=["sa", "sd", "sc", "soff"],
        unit_ids=["uA", "uB", "uC", "uD", "uE", "uoff"],
        workers=workers,
    )


def test_matrix_minutes_by_hand(hand_network: RoutingNetwork) -> None:
    matrix = hand_matrix(hand_network, 8)
    got = stored(matrix)
    expected = {pair: s / 60 for pair, s in DOOR_TO_DOOR_S.items() if s <= 8 * 60}
    assert set(got) == set(expected)
    for pair, minutes in expected.items():
        assert got[pair] == pytest.approx(minutes, abs=1e-12), pair
    # beyond 8 min: uD -> sa is 10 min, uE -> sd 8.7 min, uD -> sc 13 min
    for pair in [("sa", "uD"), ("sd", "uE"), ("sc", "uD")]:
        assert pair not in got
    assert list(matrix.site_ids) == ["sa", "sd", "sc", "soff"]
    assert list(matrix.unit_ids) == ["uA", "uB", "uC", "uD", "uE", "uoff"]
    assert matrix.minutes.shape == (4, 6)
    assert matrix.max_minutes == 8.0


def test_matrix_direction_is_unit_to_site(hand_network: RoutingNetwork) -> None:
    got = stored(hand_matrix(hand_network, 15))
    # C -> D is one-way: a unit at C reaches the site at D in 60 + 30 s ...
    assert got[("sd", "uC")] == pytest.approx(1.5)
    # ... but a unit at D reaches the site at C only round by A: 600 + 60 + 120 s
    assert got[("sc", "uD")] == pytest.approx(13.0)
    assert got[("sa", "uD")] == pytest.approx(10.0)  # D -> A directly, not 240 s (A -> D)
    assert got[("sd", "uA")] == pytest.approx(4.5)  # A -> B -> C -> D + site access


def test_matrix_keeps_explicit_zero_minute_pairs(hand_network: RoutingNetwork) -> None:
    matrix = hand_matrix(hand_network, 8)
    got = stored(matrix)
    assert got[("sa", "uA")] == 0.0  # unit and site on the same node, no access legs
    assert got[("sc", "uC")] == 0.0
    assert matrix.minutes.nnz == len(got)  # the zeros are stored entries
    assert covered_pairs(matrix, 0) == {("sa", "uA"), ("sc", "uC")}


def test_matrix_covers_at_several_thresholds(hand_network: RoutingNetwork) -> None:
    matrix = hand_matrix(hand_network, 8)
    for t in [0, 0.5, 1.1, 1.5, 2, 3, 4.5, 6.2, 8]:
        expected = {pair for pair, s in DOOR_TO_DOOR_S.items() if s <= t * 60}
        assert covered_pairs(matrix, t) == expected, t
    covers = matrix.covers(1.5)
    assert covers.shape == (4, 6) and covers.dtype == bool
    # 1.5 is exactly uC -> sd: a pair on the threshold is covered
    assert ("sd", "uC") in covered_pairs(matrix, 1.5)
    assert ("sd", "uC") not in covered_pairs(matrix, 1.49)
    with pytest.raises(ValueError, match="8"):
        matrix.covers(9)


def test_matrix_off_network_sites_and_units_are_empty(hand_network: RoutingNetwork) -> None:
    matrix = hand_matrix(hand_network, 100)
    m = matrix.minutes
    assert m.indptr[4] - m.indptr[3] == 0  # soff's row
    assert 5 not in set(m.indices.tolist())  # uoff's column
    # every on-network pair is within 100 min here, and nothing else is stored
    assert m.nnz == 3 * 5


def test_matrix_with_nothing_on_the_network_is_empty(hand_network: RoutingNetwork) -> None:
    matrix = coverage_matrix(
        hand_network,
        np.array([-1, -1]),
        np.array([np.nan, np.nan]),
        np.array([hand_network.index_of("A")]),
        np.array([0.0]),
        10,
        site_ids=["x", "y"],
        unit_ids=["u"],
    )
    assert matrix.minutes.shape == (2, 1) and matrix.minutes.nnz == 0


@pytest.mark.parametrize("sites", [["far", "near"], ["far"]], ids=["with-a-near-site", "alone"])
def test_site_whose_access_leg_alone_exceeds_the_limit_has_an_empty_row(
    hand_network: RoutingNetwork, sites: list[str]
) -> None:
    """A site 600 s from its node (5 km at 30 km/h) covers nobody within 8 min."""
    at = hand_network.index_of
    access = {"far": 600.0, "near": 0.0}
    matrix = coverage_matrix(
        hand_network,
        np.array([at("A")] * len(sites)),
        np.array([access[s] for s in sites]),
        np.array([at("A"), at("B")]),
        np.array([0.0, 6.0]),
        8,
        site_ids=sites,
        unit_ids=["uA", "uB"],
    )
    got = stored(matrix)
    assert not [pair for pair in got if pair[0] == "far"]
    if "near" in sites:
        assert got == {("near", "uA"): 0.0, ("near", "uB"): pytest.approx(1.1)}


@st.composite
def matrix_cases(draw: st.DrawFn) -> tuple[nx.MultiDiGraph, list, list, list, list, int]:
    """A random directed multigraph (integer seconds, so sums are exact), sites and units
    with access legs (some off the network), and a limit in whole minutes."""
    n = draw(st.integers(2, 15))
    graph = nx.MultiDiGraph(crs=LOCAL_CRS)
    for i in range(n):
        graph.add_node(i, x=float(i * 100), y=float((i * 37) % 11 * 100))
    for _ in range(draw(st.integers(1, 4 * n))):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        graph.add_edge(u, v, length=100.0, travel_time=float(draw(st.integers(0, 400))))
    node_or_off = st.one_of(st.integers(0, n - 1), st.just(-1))
    access = st.integers(0, 120).map(float)
    sites = draw(st.lists(st.tuples(node_or_off, access), min_size=1, max_size=8))
    units = draw(st.lists(st.tuples(node_or_off, access), min_size=1, max_size=12))
    max_minutes = draw(st.integers(2, 15))  # >= 120 s, the longest access leg
    return (
        graph,
        [s[0] for s in sites],
        [s[1] for s in sites],
        [u[0] for u in units],
        [u[1] for u in units],
        max_minutes,
    )


def reversed_simple(graph: nx.MultiDiGraph) -> nx.DiGraph:
    reverse = nx.DiGraph()
    reverse.add_nodes_from(graph.nodes)
    for u, v, t in graph.edges(data="travel_time"):
        if not reverse.has_edge(v, u) or reverse[v][u]["w"] > t:
            reverse.add_edge(v, u, w=t)
    return reverse


@settings(max_examples=60, deadline=None)
@given(matrix_cases())
def test_matrix_matches_networkx(case: tuple[nx.MultiDiGraph, list, list, list, list, int]) -> None:
    graph, site_nodes, site_access, unit_nodes, unit_access, max_minutes = case
    network = compile_network(graph)
    limit_s = max_minutes * 60.0
    matrix = coverage_matrix(
        network,
        np.array([network.index_of(s) if s >= 0 else -1 for s in site_nodes]),
        np.array(site_access),
        np.array([network.index_of(u) if u >= 0 else -1 for u in unit_nodes]),
        np.array(unit_access),
        max_minutes,
        site_ids=[f"s{j}" for j in range(len(site_nodes))],
        unit_ids=[f"u{i}" for i in range(len(unit_nodes))],
        workers=1,
    )
    reverse = reversed_simple(graph)
    expected: dict[tuple[str, str], float] = {}
    for j, (sn, sa) in enumerate(zip(site_nodes, site_access, strict=True)):
        if sn < 0:
            continue
        lengths = nx.single_source_dijkstra_path_length(reverse, sn, cutoff=limit_s - sa, weight="w")
        for i, (un, ua) in enumerate(zip(unit_nodes, unit_access, strict=True)):
            if un >= 0 and un in lengths and lengths[un] + ua + sa <= limit_s:
                expected[(f"s{j}", f"u{i}")] = (lengths[un] + ua + sa) / 60.0
    got = stored(matrix)
    assert set(got) == set(expected)
    for pair, minutes in expected.items():
        assert math.isclose(got[pair], minutes, rel_tol=1e-12, abs_tol=1e-12), pair


def test_two_workers_give_the_same_matrix_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    n = 20
    nodes = {f"{i}-{j}": (i * 1000.0, j * 1000.0) for i in range(n) for j in range(n)}
    edges = []
    for i in range(n):
        for j in range(n):
            if i + 1 < n:
                edges.append((f"{i}-{j}", f"{i + 1}-{j}", float(rng.integers(30, 120))))
            if j + 1 < n:
                edges.append((f"{i}-{j}", f"{i}-{j + 1}", float(rng.integers(30, 120))))
    network = compile_network(make_graph(nodes, edges))
    n_sites = 3 * matrix_module._MIN_SITES_PER_WORKER  # 192 >= 2 x 64: two workers are allowed
    sites = rng.choice(network.n_nodes, n_sites, replace=False)
    units = rng.choice(network.n_nodes, 250, replace=False)
    site_access = rng.integers(0, 60, n_sites).astype(float)
    unit_access = rng.integers(0, 60, 250).astype(float)

    pools: list[int] = []
    real_cluster = matrix_module.dask_cluster

    def spy_cluster(workers: int | None = None, scheduler: str | None = None) -> object:
        pools.append(workers)  # type: ignore[arg-type]
        return real_cluster(workers, scheduler)

    monkeypatch.setattr(matrix_module, "dask_cluster", spy_cluster)

    def build(workers: int) -> CoverageMatrix:
        return coverage_matrix(
            network,
            sites,
            site_access,
            units,
            unit_access,
            8,
            site_ids=[f"s{j}" for j in range(n_sites)],
            unit_ids=[f"u{i}" for i in range(250)],
            workers=workers,
        )

    one = build(1)
    assert pools == []
    two = build(2)
    assert pools == [2]  # a local Dask cluster of two processes was really used
    assert one.minutes.nnz > 1000
    assert np.array_equal(one.minutes.indptr, two.minutes.indptr)
    assert np.array_equal(one.minutes.indices, two.minutes.indices)
    assert np.array_equal(one.minutes.data, two.minutes.data)
    # and a few rows against NetworkX on the same graph
    reverse = reversed_simple(network.graph)
    got = stored(two)
    for j in range(0, n_sites, 37):
        node = network.node_ids[sites[j]]
        lengths = nx.single_source_dijkstra_path_length(reverse, node, weight="w")
        for i in range(250):
            t = lengths[network.node_ids[units[i]]] + unit_access[i] + site_access[j]
            if t <= 480:
                assert got[(f"s{j}", f"u{i}")] == pytest.approx(t / 60)
            else:
                assert (f"s{j}", f"u{i}") not in got


# ====================================================================== 2. MCLP


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 4))
def test_mclp_exact_equals_brute_force(inst: Instance, k: int) -> None:
    result = mclp_exact(inst.matrix, inst.weights, inst.threshold, k, required=inst.required)
    best = brute_mclp(inst, k)
    assert result.population_covered_after == pytest.approx(best)
    assert result.objective_value == pytest.approx(best)
    assert result.solver == "mclp-exact"
    if result.status != "nothing to gain":
        assert result.status == "optimal"
        assert result.gap == 0
        assert result.bound == pytest.approx(best)
    assert len(result.sites) <= k
    assert result.required == tuple(inst.required)
    assert result.population_total == pytest.approx(inst.weights.sum())
    check_order_and_marginals(result, inst)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 5))
def test_mclp_greedy_never_beats_exact_and_reports_what_it_covers(inst: Instance, k: int) -> None:
    greedy = mclp_greedy(inst.matrix, inst.weights, inst.threshold, k, required=inst.required)
    exact = mclp_exact(inst.matrix, inst.weights, inst.threshold, k, required=inst.required)
    assert greedy.population_covered_after <= exact.population_covered_after + 1e-9
    assert greedy.population_covered_after == pytest.approx(
        covered_population(inst.matrix, inst.weights, inst.threshold, [*inst.required, *greedy.sites])
    )
    assert greedy.objective_value == greedy.population_covered_after
    assert greedy.bound is None and greedy.gap is None
    assert greedy.solver == "mclp-greedy"
    assert all(g > 0 for g in greedy.marginal)  # greedy stops rather than add nobody
    # the first greedy site is the best single site
    if greedy.sites:
        assert greedy.marginal[0] == pytest.approx(brute_mclp(inst, 1) - inst.covered(inst.required))
    check_order_and_marginals(greedy, inst)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 3))
def test_mclp_one_more_site_never_covers_less(inst: Instance, k: int) -> None:
    with_k = mclp_exact(inst.matrix, inst.weights, inst.threshold, k, required=inst.required)
    with_more = mclp_exact(inst.matrix, inst.weights, inst.threshold, k + 1, required=inst.required)
    assert with_more.population_covered_after >= with_k.population_covered_after - 1e-9


@settings(max_examples=60, deadline=None)
@given(instances(), st.data())
def test_covered_population_is_monotone_and_matches_a_recount(inst: Instance, data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(inst.site_ids), max_size=5, unique=True))
    extra = data.draw(st.sampled_from(inst.site_ids))
    t = data.draw(st.sampled_from([0.0, 3.0, 10.0, 20.0]))
    before = covered_population(inst.matrix, inst.weights, t, chosen)
    after = covered_population(inst.matrix, inst.weights, t, [*chosen, extra])
    assert before == pytest.approx(inst.covered(chosen, t))
    assert after == pytest.approx(inst.covered([*chosen, extra], t))
    assert after >= before - 1e-9


def test_population_as_a_series_is_aligned_on_unit_ids() -> None:
    inst = random_instance(3, 6, 1, 12, threshold=10)
    shuffled = pd.Series(inst.weights, index=inst.unit_ids).sample(frac=1.0, random_state=1)
    assert covered_population(inst.matrix, shuffled, 10, inst.site_ids) == pytest.approx(inst.covered(inst.site_ids))
    a = mclp_greedy(inst.matrix, shuffled, 10, 2, required=inst.required)
    b = mclp_greedy(inst.matrix, inst.weights, 10, 2, required=inst.required)
    assert a.population_covered_after == b.population_covered_after


def test_mclp_by_hand() -> None:
    """Three candidates, four units; greedy takes the big middle site and misses the pair.

    minutes (T = 10): a covers u1 u2 (pop 40+40); b covers u2 u3 (40+45); c covers
    u3 u4 (45+30); k = 2: greedy takes b (85) then a (+40, c would add 30) = 125; the
    optimum {a, c} covers all 155.
    """
    inf = np.inf
    dense = np.array(
        [
            [1.0, 2.0, inf, inf],  # a
            [inf, 3.0, 4.0, inf],  # b
            [inf, inf, 5.0, 10.0],  # c (u4 exactly on the threshold)
        ]
    )
    matrix = matrix_of(dense, 20, ["a", "b", "c"], ["u1", "u2", "u3", "u4"])
    pop = np.array([40.0, 40.0, 45.0, 30.0])
    greedy = mclp_greedy(matrix, pop, 10, 2)
    assert greedy.sites[0] == "b" and greedy.marginal[0] == 85
    assert greedy.population_covered_after == 125
    exact = mclp_exact(matrix, pop, 10, 2)
    assert greedy.sites == ("b", "a") and greedy.marginal == (85.0, 40.0)
    assert exact.population_covered_after == 155
    assert exact.sites == ("a", "c")  # a first (u1 + u2 = 80), then c (u3 + u4 = 75)
    assert exact.marginal == (80.0, 75.0)
    assert exact.status == "optimal" and exact.gap == 0
    # with b kept open, one more site: a adds u1 (40), c adds u4 (30)
    kept = mclp_exact(matrix, pop, 10, 1, required=["b"])
    assert kept.population_covered_before == 85
    assert kept.population_covered_after == 125
    assert kept.required == ("b",)
    assert kept.sites == ("a",) and kept.marginal == (40.0,)


def test_mclp_exact_returns_no_site_that_adds_nobody() -> None:
    """b reaches only u1, which a reaches too; c reaches only an empty unit.  Asked for
    3 sites, the exact solver should propose a alone, as the greedy one does: a new
    facility that brings nobody within reach is not a recommendation."""
    inf = np.inf
    dense = np.array([[1.0, 2.0, inf], [1.0, inf, inf], [inf, inf, 3.0]])
    matrix = matrix_of(dense, 20, ["a", "b", "c"], ["u1", "u2", "empty"])
    pop = [5.0, 5.0, 0.0]
    greedy = mclp_greedy(matrix, pop, 10, 3)
    assert greedy.sites == ("a",) and greedy.sites_requested == 3
    exact = mclp_exact(matrix, pop, 10, 3)
    assert exact.population_covered_after == 10
    assert exact.sites_requested == 3
    assert exact.sites == ("a",), exact
    assert exact.marginal == (10.0,)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(1, 3), st.data())
def test_mclp_restricted_to_a_candidate_list(inst: Instance, k: int, data: st.DataObject) -> None:
    listed = data.draw(st.lists(st.sampled_from(inst.candidates), min_size=k, max_size=6, unique=True))
    exact = mclp_exact(inst.matrix, inst.weights, inst.threshold, k, required=inst.required, candidates=listed)
    greedy = mclp_greedy(inst.matrix, inst.weights, inst.threshold, k, required=inst.required, candidates=listed)
    best = max(inst.covered(inst.required + list(combo)) for combo in combinations(listed, k))
    assert exact.population_covered_after == pytest.approx(best)
    assert set(exact.sites) <= set(listed) and set(greedy.sites) <= set(listed)
    assert greedy.population_covered_after <= best + 1e-9


def test_integer_ids_are_text_like_everywhere_else() -> None:
    """Ids given as numbers (INSEE codes read as integers) come out as text, so that the
    solvers find them by id and a population Series indexed by those ids is aligned."""
    graph = make_graph({"A": (0, 0), "B": (1000, 0)}, [("A", "B", 60)])
    network = compile_network(graph)
    at = network.index_of
    matrix = coverage_matrix(
        network,
        np.array([at("A"), at("B")]),
        np.zeros(2),
        np.array([at("A"), at("B")]),
        np.zeros(2),
        0.5,
        site_ids=np.array([10, 20]),
        unit_ids=np.array([1, 2]),
    )
    assert list(matrix.site_ids) == ["10", "20"]
    assert list(matrix.unit_ids) == ["1", "2"]
    # unit 1 (5 people) is on A, unit 2 (100 people) on B, one minute apart
    population = pd.Series({2: 100.0, 1: 5.0})
    assert covered_population(matrix, population, 0.5, ["10"]) == 5
    kept = mclp_greedy(matrix, population, 0.5, 1, required=["10"])
    assert kept.sites == ("20",) and kept.population_covered_after == 105


# ====================================================================== 3. spopt


# spopt 0.7 builds its variables in a way PuLP 3.3 deprecates, and PuLP 3.3 deprecates
# its bundled CBC (a third-party matter; CBC is kept as the solver independent of HiGHS)
@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:PULP_CBC_CMD is deprecated:DeprecationWarning")
@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_mclp_exact_agrees_with_spopt(seed: int) -> None:
    from spopt.locate import MCLP

    rng = np.random.default_rng(seed)
    inst = random_instance(seed, n_cand=int(rng.integers(6, 10)), n_req=int(rng.integers(0, 3)), n_units=25)
    k = int(rng.integers(1, 4))
    cost = np.where(np.isfinite(inst.dense), inst.dense, 1e6).T  # units x sites
    required_mask = np.isin(inst.site_ids, inst.required).astype(int)
    model = MCLP.from_cost_matrix(
        cost,
        inst.weights,
        service_radius=inst.threshold,
        p_facilities=k + len(inst.required),
        predefined_facilities_arr=required_mask,
    )
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    assert pulp.LpStatus[model.problem.status] == "Optimal"
    spopt_value = pulp.value(model.problem.objective)
    ours = mclp_exact(inst.matrix, inst.weights, inst.threshold, k, required=inst.required)
    assert ours.population_covered_after == pytest.approx(spopt_value)
    assert ours.population_covered_after == pytest.approx(brute_mclp(inst, k))


# ====================================================================== 4. LSCP


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(min_cand=5, max_cand=9, min_units=10, max_units=20))
def test_lscp_equals_brute_force(inst: Instance) -> None:
    exact = lscp(inst.matrix, inst.weights, inst.threshold, required=inst.required)
    greedy = lscp(inst.matrix, inst.weights, inst.threshold, required=inst.required, exact=False)
    coverable = inst.covered_mask(inst.site_ids)
    expected_uncoverable = {u for u, c in zip(inst.unit_ids, coverable, strict=True) if not c}
    for result in (exact, greedy):
        assert set(result.uncoverable) == expected_uncoverable
        assert np.all(inst.covered_mask(inst.required + list(result.sites))[coverable])
        assert result.objective_value == len(result.sites)
        assert len(set(result.sites)) == len(result.sites) and set(result.sites) <= set(inst.candidates)
        assert result.population_covered_after == pytest.approx(inst.weights[coverable].sum())
        assert result.population_covered_before == pytest.approx(inst.covered(inst.required))
    assert exact.status == "optimal"
    assert exact.solver == "lscp-exact" and greedy.solver == "lscp-greedy"
    assert len(exact.sites) == brute_lscp(inst)
    assert exact.gap == 0 and exact.bound == len(exact.sites)
    assert len(greedy.sites) >= len(exact.sites)


def test_lscp_by_hand_reports_uncoverable_units(caplog: pytest.LogCaptureFixture) -> None:
    """u4 is beyond T of every site: it is listed, logged, and the problem stays feasible.

    a covers u1 u2, b covers u2 u3, c covers u3, d covers u1 u3: {a, c}, {b, d}, {a, b} and
    {a, d} are the 2-site covers, and no single site covers u1 u2 u3.
    """
    inf = np.inf
    dense = np.array(
        [
            [1.0, 1.0, inf, inf],  # a
            [inf, 2.0, 2.0, inf],  # b
            [inf, inf, 3.0, inf],  # c
            [4.0, inf, 4.0, 15.0],  # d (u4 only beyond T = 10)
        ]
    )
    matrix = matrix_of(dense, 20, ["a", "b", "c", "d"], ["u1", "u2", "u3", "u4"])
    pop = [10.0, 20.0, 30.0, 7.0]
    with caplog.at_level(logging.WARNING, logger="coverage"):
        result = lscp(matrix, pop, 10)
    assert result.uncoverable == ("u4",)
    assert len(result.sites) == 2
    assert result.status == "optimal"
    assert result.population_covered_after == 60
    assert any("u4" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    # with d kept open only u2 is left: a or b alone
    kept = lscp(matrix, pop, 10, required=["d"])
    assert len(kept.sites) == 1 and kept.sites[0] in {"a", "b"}
    assert kept.population_covered_before == 40


def test_lscp_with_everything_already_covered_needs_no_site() -> None:
    dense = np.array([[1.0, 2.0], [3.0, np.inf]])
    matrix = matrix_of(dense, 20, ["kept", "c"], ["u1", "u2"])
    result = lscp(matrix, [5.0, 6.0], 10, required=["kept"])
    assert result.sites == () and result.status == "optimal" and result.objective_value == 0
    assert result.uncoverable == ()


# ====================================================================== 5. p-median


def pmedian_base(inst: Instance, current: np.ndarray) -> np.ndarray:
    """Today's minutes, lowered where a required site is nearer (NaN: unreached today)."""
    if not inst.required:
        return current.copy()
    nearest_required = inst.dense[inst.rows(inst.required)].min(axis=0)
    return np.where(np.isfinite(nearest_required), np.fmin(current, nearest_required), current)


def pmedian_mean(inst: Instance, base: np.ndarray, sites: Sequence[str]) -> float:
    reach = ~np.isnan(base)
    t = base.copy()
    if sites:
        t = np.fmin(t, inst.dense[inst.rows(sites)].min(axis=0))
    return float((inst.weights[reach] * t[reach]).sum() / inst.weights[reach].sum())


@st.composite
def pmedian_instances(draw: st.DrawFn) -> tuple[Instance, np.ndarray]:
    seed = draw(st.integers(0, 2**32 - 1))
    inst = random_instance(
        seed,
        draw(st.integers(5, 9)),
        draw(st.integers(0, 2)),
        draw(st.integers(8, 18)),
        density=draw(st.sampled_from([0.2, 0.4])),
        zero_weights=False,
    )
    rng = np.random.default_rng(seed + 1)
    current = rng.integers(1, 41, len(inst.unit_ids)).astype(float)
    required_min = (
        inst.dense[inst.rows(inst.required)].min(axis=0) if inst.required else np.full(len(inst.unit_ids), np.inf)
    )
    current = np.fmin(current, required_min)  # the existing facilities are among the current ones
    # a few units no facility reaches today: left out of the mean
    unreached = (rng.random(len(current)) < 0.15) & ~np.isfinite(required_min)
    current[unreached] = np.nan
    return inst, current


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pmedian_instances(), st.integers(1, 3))
def test_p_median_is_never_better_than_brute_force(case: tuple[Instance, np.ndarray], k: int) -> None:
    inst, current = case
    assume(inst.weights[~np.isnan(pmedian_base(inst, current))].sum() > 0)
    k = min(k, len(inst.candidates))
    result = p_median(inst.matrix, inst.weights, current, k, required=inst.required, exact=False)
    base = pmedian_base(inst, current)
    best = min(pmedian_mean(inst, base, list(combo)) for combo in combinations(inst.candidates, k))
    assert result.objective_value >= best - 1e-9
    # the objective is the true mean of the sites it returns
    assert result.objective_value == pytest.approx(pmedian_mean(inst, base, list(result.sites)))
    assert len(result.sites) <= k and len(set(result.sites)) == len(result.sites)
    assert set(result.sites) <= set(inst.candidates)
    reach = ~np.isnan(base)
    saved = (pmedian_mean(inst, base, []) - result.objective_value) * inst.weights[reach].sum()
    assert sum(result.marginal) == pytest.approx(saved, abs=1e-6)
    assert result.solver == "pmedian-greedy" and result.status == "heuristic"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pmedian_instances(), st.integers(1, 3))
def test_p_median_exact_equals_brute_force(case: tuple[Instance, np.ndarray], k: int) -> None:
    inst, current = case
    assume(inst.weights[~np.isnan(pmedian_base(inst, current))].sum() > 0)
    k = min(k, len(inst.candidates))
    result = p_median(inst.matrix, inst.weights, current, k, required=inst.required)
    base = pmedian_base(inst, current)
    best = min(pmedian_mean(inst, base, list(combo)) for combo in combinations(inst.candidates, k))
    assert result.objective_value == pytest.approx(best, abs=1e-9)
    assert result.objective_value == pytest.approx(pmedian_mean(inst, base, list(result.sites)))
    assert result.solver == "pmedian-exact" and result.status == "optimal"
    assert result.bound == pytest.approx(best) and result.gap == 0


def pmedian_hand() -> tuple[CoverageMatrix, list[float], list[float]]:
    """Two units of 10 people, 10 min from today's facility.

    m serves both at 4 min (saves 120 person-minutes), p serves u1 at 0 (saves 100), q
    serves u2 at 0 (100).  k = 2: greedy takes m, then p or q (+40): mean (0 + 40)/20 = 2;
    the optimum {p, q} has mean 0, and one swap (m -> the other of p, q) finds it.
    """
    inf = np.inf
    dense = np.array([[4.0, 4.0], [0.0, inf], [inf, 0.0]])
    return matrix_of(dense, 30, ["m", "p", "q"], ["u1", "u2"]), [10.0, 10.0], [10.0, 10.0]


def test_p_median_by_hand_swap_reaches_the_optimum() -> None:
    matrix, pop, current = pmedian_hand()
    result = p_median(matrix, pop, current, 2, exact=False)
    assert set(result.sites) == {"p", "q"}
    assert result.objective_value == pytest.approx(0.0)
    assert result.marginal == (100.0, 100.0)
    assert result.population_covered_before == 20 and result.population_covered_after == 20
    # brute force over the three pairs
    means = {("m", "p"): 2.0, ("m", "q"): 2.0, ("p", "q"): 0.0}
    assert result.objective_value == min(means.values())
    greedy_only = p_median(matrix, pop, current, 2, swap_passes=0, exact=False)
    assert "m" in greedy_only.sites
    assert greedy_only.objective_value == pytest.approx(2.0)
    one = p_median(matrix, pop, current, 1)
    assert one.sites == ("m",) and one.objective_value == pytest.approx(4.0)
    assert one.marginal == (120.0,)


def test_p_median_leaves_the_current_minutes_untouched() -> None:
    """u1 is 5 min from today's nearest facility by the analysis, but 'kept' (an existing
    facility) is 3 min away: the mean uses 3, without writing into the caller's array
    (pandas hands out read-only arrays, e.g. ``Series.to_numpy()`` under copy-on-write)."""
    dense = np.array([[3.0, np.inf], [np.inf, 1.0]])
    matrix = matrix_of(dense, 30, ["kept", "a"], ["u1", "u2"])
    current = np.array([5.0, 8.0])
    result = p_median(matrix, [1.0, 1.0], current, 1, required=["kept"])
    assert result.sites == ("a",)
    assert result.objective_value == pytest.approx((3 + 1) / 2)
    assert current.tolist() == [5.0, 8.0]
    frozen = np.array([5.0, 8.0])
    frozen.setflags(write=False)
    again = p_median(matrix, [1.0, 1.0], frozen, 1, required=["kept"])
    assert again.objective_value == pytest.approx(2.0)


def test_p_median_units_unreached_today_are_left_out() -> None:
    """u3 has no current time (NaN): the mean is over u1 and u2 only."""
    dense = np.array([[2.0, np.inf, 1.0], [np.inf, 5.0, np.inf]])
    matrix = matrix_of(dense, 30, ["a", "b"], ["u1", "u2", "u3"])
    result = p_median(matrix, [10.0, 30.0, 1000.0], [6.0, 8.0, np.nan], 1)
    # a saves 10 x 4 = 40, b saves 30 x 3 = 90: b; mean (10 x 6 + 30 x 5) / 40
    assert result.sites == ("b",)
    assert result.objective_value == pytest.approx((60 + 150) / 40)


# ====================================================================== 6. fragility


def test_fragility_by_hand() -> None:
    """u1 is within reach of A and B, u2 of A only, u3 of B only at 10 min and of B and C
    at 20 min, u4 of nobody.  Populations 100, 20, 30, 1000."""
    inf = np.inf
    dense = np.array(
        [
            [5.0, 8.0, inf, inf],  # A
            [9.0, inf, 7.0, inf],  # B
            [inf, inf, 15.0, inf],  # C
        ]
    )
    matrix = matrix_of(dense, 20, ["A", "B", "C"], ["u1", "u2", "u3", "u4"])
    table = fragility(matrix, [100.0, 20.0, 30.0, 1000.0], ["A", "B", "C"], [20, 7.5, 10])
    assert list(table.columns) == [
        "facility_id",
        "population_lost_7.5",
        "population_lost_10",
        "population_lost_20",
    ]
    rows = table.set_index("facility_id")
    # 7.5 min: A alone reaches u1 (5), B alone u3 (7); u2 is 8 min from A
    assert rows.loc["A", "population_lost_7.5"] == 100
    assert rows.loc["B", "population_lost_7.5"] == 30
    # 10 min: u1 is shared by A and B and does not count
    assert rows.loc["A", "population_lost_10"] == 20
    assert rows.loc["B", "population_lost_10"] == 30
    # 20 min: u3 is shared by B and C
    assert rows.loc["A", "population_lost_20"] == 20
    assert rows.loc["B", "population_lost_20"] == 0
    assert (rows.loc["C"][["population_lost_7.5", "population_lost_10", "population_lost_20"]] == 0).all()
    # sorted by the loss at the largest threshold, largest first
    assert table["facility_id"].iloc[0] == "A"


# ====================================================================== 7. coverage curve


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_coverage_curve_against_brute_force(seed: int) -> None:
    inst = random_instance(seed, n_cand=7, n_req=1, n_units=25, density=0.2)
    curve = coverage_curve(inst.matrix, inst.weights, inst.threshold, 4, required=inst.required)
    assert list(curve["k"]) == [0, 1, 2, 3, 4]
    before = inst.covered(inst.required)
    assert curve["population_covered_greedy"].iloc[0] == pytest.approx(before)
    assert curve["population_covered_exact"].iloc[0] == pytest.approx(before)
    greedy = curve["population_covered_greedy"].to_numpy()
    exact = curve["population_covered_exact"].to_numpy()
    assert np.all(np.diff(greedy) >= -1e-9)
    assert np.all(exact >= greedy - 1e-9)
    for k in range(5):
        assert exact[k] == pytest.approx(brute_mclp(inst, k)), k
        # the greedy column is the greedy answer for that k
        assert greedy[k] == pytest.approx(
            mclp_greedy(inst.matrix, inst.weights, inst.threshold, k, required=inst.required).population_covered_after
        )
    assert curve["share_greedy"].to_numpy() == pytest.approx(greedy / inst.weights.sum())
    assert set(curve["status_exact"]) <= {"optimal", "nothing to gain"}
    assert (curve["gap_exact"] == 0).all()


def test_coverage_curve_stops_at_the_number_of_candidates() -> None:
    inst = random_instance(5, n_cand=3, n_req=1, n_units=10)
    curve = coverage_curve(inst.matrix, inst.weights, inst.threshold, 10, required=inst.required, exact=False)
    assert list(curve["k"]) == [0, 1, 2, 3]
    assert "population_covered_exact" not in curve
    assert curve["population_covered_greedy"].iloc[-1] == pytest.approx(inst.covered(inst.site_ids))


# ====================================================================== 8. bad input


def small_matrix() -> CoverageMatrix:
    dense = np.array([[1.0, 2.0, np.inf], [np.inf, 3.0, 4.0], [5.0, np.inf, 6.0]])
    return matrix_of(dense, 20, ["kept", "c1", "c2"], ["u1", "u2", "u3"])


@pytest.mark.parametrize("solver", ["greedy", "exact", "pmedian"])
def test_more_sites_than_candidates_names_both_numbers(solver: str) -> None:
    matrix = small_matrix()
    pop = [1.0, 2.0, 3.0]
    with pytest.raises(InputDataError) as info:
        if solver == "greedy":
            mclp_greedy(matrix, pop, 10, 5, required=["kept"])
        elif solver == "exact":
            mclp_exact(matrix, pop, 10, 5, required=["kept"])
        else:
            p_median(matrix, pop, [9.0, 9.0, 9.0], 5, required=["kept"])
    message = str(info.value)
    assert re.search(r"\b5\b", message) and re.search(r"\b2\b", message), message


@pytest.mark.parametrize("solver", ["greedy", "exact", "pmedian"])
def test_negative_number_of_sites_is_refused(solver: str) -> None:
    matrix = small_matrix()
    pop = [1.0, 2.0, 3.0]
    with pytest.raises(InputDataError, match="-1"):
        if solver == "greedy":
            mclp_greedy(matrix, pop, 10, -1)
        elif solver == "exact":
            mclp_exact(matrix, pop, 10, -1)
        else:
            p_median(matrix, pop, [9.0, 9.0, 9.0], -1)


@pytest.mark.parametrize("solver", ["greedy", "exact", "lscp", "pmedian", "curve"])
@pytest.mark.parametrize("candidates", [[], ["kept"]], ids=["empty", "only-required"])
def test_empty_candidate_list(solver: str, candidates: list[str]) -> None:
    matrix = small_matrix()
    pop = [1.0, 2.0, 3.0]
    with pytest.raises(InputDataError, match="candidate"):
        if solver == "greedy":
            mclp_greedy(matrix, pop, 10, 0, required=["kept"], candidates=candidates)
        elif solver == "exact":
            mclp_exact(matrix, pop, 10, 0, required=["kept"], candidates=candidates)
        elif solver == "lscp":
            lscp(matrix, pop, 10, required=["kept"], candidates=candidates)
        elif solver == "pmedian":
            p_median(matrix, pop, [9.0, 9.0, 9.0], 0, required=["kept"], candidates=candidates)
        else:
            coverage_curve(matrix, pop, 10, 2, required=["kept"], candidates=candidates)


@pytest.mark.parametrize("solver", ["greedy", "exact", "lscp", "pmedian", "fragility"])
def test_unknown_required_ids_are_named(solver: str) -> None:
    matrix = small_matrix()
    pop = [1.0, 2.0, 3.0]
    required = ["kept", "ghost-1", "ghost-2"]
    with pytest.raises(InputDataError) as info:
        if solver == "greedy":
            mclp_greedy(matrix, pop, 10, 1, required=required)
        elif solver == "exact":
            mclp_exact(matrix, pop, 10, 1, required=required)
        elif solver == "lscp":
            lscp(matrix, pop, 10, required=required)
        elif solver == "pmedian":
            p_median(matrix, pop, [9.0, 9.0, 9.0], 1, required=required)
        else:
            fragility(matrix, pop, required, [10])
    assert "ghost-1" in str(info.value) and "ghost-2" in str(info.value)
    assert "'kept'" not in str(info.value)


def test_population_of_the_wrong_length_or_negative() -> None:
    matrix = small_matrix()
    with pytest.raises(InputDataError, match="3 units"):
        mclp_greedy(matrix, [1.0, 2.0], 10, 1)
    with pytest.raises(InputDataError, match="non-negative"):
        mclp_exact(matrix, [1.0, -2.0, 3.0], 10, 1)
    with pytest.raises(InputDataError, match="non-negative"):
        lscp(matrix, [1.0, np.nan, 3.0], 10)


@pytest.mark.parametrize("solver", [mclp_greedy, mclp_exact])
def test_threshold_too_small_gives_nothing_to_gain(solver: object, caplog: pytest.LogCaptureFixture) -> None:
    matrix = small_matrix()  # the nearest pair is 1 min
    with caplog.at_level(logging.WARNING, logger="coverage"):
        result = solver(matrix, [1.0, 2.0, 3.0], 0.5, 2, required=["kept"])  # type: ignore[operator]
    assert result.sites == ()
    assert result.status == "nothing to gain"
    assert result.population_covered_before == 0 and result.population_covered_after == 0
    warnings_ = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("nothing to choose" in w and "0.5" in w for w in warnings_), warnings_


def hard_instance() -> tuple[CoverageMatrix, np.ndarray]:
    """300 candidates x 3000 units, each pair present with probability 2 %: far too big
    for HiGHS to prove optimal in 10 ms."""
    rng = np.random.default_rng(2026)
    n_sites, n_units = 300, 3000
    present = rng.random((n_sites, n_units)) < 0.02
    dense = np.where(present, rng.uniform(0, 10, (n_sites, n_units)), np.inf)
    weights = rng.integers(1, 1000, n_units).astype(float)
    return matrix_of(dense, 10, [f"c{j}" for j in range(n_sites)], [f"u{i}" for i in range(n_units)]), weights


def test_time_limit_returns_at_least_the_greedy_answer() -> None:
    matrix, weights = hard_instance()
    k = 20
    result = mclp_exact(matrix, weights, 10, k, time_limit_s=0.01)
    greedy = mclp_greedy(matrix, weights, 10, k)
    # stopped before a proof: feasible, with HiGHS's own word kept beside ours
    assert result.status == "feasible" and "time limit" in result.solver_status.lower()
    assert len(result.sites) == k and len(set(result.sites)) == k
    assert result.population_covered_after >= greedy.population_covered_after - 1e-9
    assert result.population_covered_after == pytest.approx(covered_population(matrix, weights, 10, result.sites))
    assert result.gap is not None and result.gap >= 0
    assert result.bound is not None and result.bound >= result.population_covered_after


def test_time_limit_gap_is_measured_against_a_finite_bound() -> None:
    """A stopped solve must not report the gap of a proven optimum (0) against an
    unknown (infinite) bound; any valid finite bound (at worst, everyone a candidate
    reaches) gives a true gap."""
    matrix, weights = hard_instance()
    result = mclp_exact(matrix, weights, 10, 20, time_limit_s=0.01)
    assert result.status == "feasible" and "time limit" in result.solver_status.lower()
    assert result.bound is not None and math.isfinite(result.bound), result.bound
    assert result.bound <= weights.sum() + 1e-6
    assert result.gap == pytest.approx((result.bound - result.population_covered_after) / result.bound)


# ====================================================================== 9. plan_sites

# A road along y = 0, N0 .. N6 every 1000 m, 2 min per edge; a branch north from N3:
# N3 -(3 min)- N7 -(3 min)- N8.  Facilities fA at N0 and fB at N6.  Units on nodes (no
# access legs): u1 N1 (100), u2 N2 (200), u3 N3 (300), u4 N4 (150), u5 N7 (250),
# u6 N5 (50), u7 N8 (80); total 1130.  Minutes to the nearest facility today:
# u1 2, u2 4, u3 6, u4 4, u5 9, u6 2, u7 12.
PLAN_NODES = {f"N{i}": (1000.0 * i, 0.0) for i in range(7)} | {"N7": (3000.0, 1000.0), "N8": (3000.0, 2000.0)}
PLAN_UNITS = {
    "u1": ("N1", 100),
    "u2": ("N2", 200),
    "u3": ("N3", 300),
    "u4": ("N4", 150),
    "u5": ("N7", 250),
    "u6": ("N5", 50),
    "u7": ("N8", 80),
}


def plan_units() -> gpd.GeoDataFrame:
    units = units_at({u: PLAN_NODES[n] for u, (n, _) in PLAN_UNITS.items()}, [p for _, p in PLAN_UNITS.values()])
    units["commune"] = ["C1", "C1", "C2", "C2", "C3", "C3", pd.NA]
    return units


@pytest.fixture(scope="module")
def plan_analysis() -> GapAnalysis:
    edges = [(f"N{i}", f"N{i + 1}", 120.0) for i in range(6)] + [("N3", "N7", 180.0), ("N7", "N8", 180.0)]
    graph = make_graph(PLAN_NODES, edges)
    facilities = facilities_at({"fA": PLAN_NODES["N0"], "fB": PLAN_NODES["N6"]})
    config = cov.AnalysisConfig(thresholds_min=(7, 10), access_speed_kph=30, max_snap_m=500, isochrones=False)
    return cov.analyse(graph, facilities, plan_units(), config)


def test_plan_picks_the_hand_expected_site(plan_analysis: GapAnalysis) -> None:
    candidates = candidates_from_units(plan_units())
    plan = plan_sites(plan_analysis, candidates, threshold_min=5, k=1, solver="exact", workers=1)
    # within 5 min today: u1 u2 u4 u6 = 500.  u5 (at N7) reaches u3 (3 min), u5 and u7
    # (3 min): +630; u3 (at N3) misses u7 (6 min): +550.
    assert plan.selection.sites == ("u5",)
    assert plan.selection.population_covered_before == 500
    assert plan.selection.population_covered_after == 1130
    assert plan.selection.status == "optimal"
    assert plan.greedy.sites == ("u5",)
    table = plan.selection_table
    assert table["candidate_id"].tolist() == ["u5"]
    assert table["population_covered"].tolist() == [1130]
    assert table["share_covered"].tolist() == [pytest.approx(1.0)]
    assert list(plan.curve["k"]) == [0, 1]
    assert plan.curve["population_covered_greedy"].tolist() == [500, 1130]
    assert plan.curve["population_covered_exact"].tolist() == [500, 1130]
    # rows: candidates then existing facilities
    assert list(plan.matrix.site_ids) == ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "fA", "fB"]


def test_plan_candidate_scores_by_hand(plan_analysis: GapAnalysis) -> None:
    candidates = candidates_from_units(plan_units())
    plan = plan_sites(plan_analysis, candidates, threshold_min=5, k=1, solver="greedy", workers=1)
    scores = plan.candidates.set_index("candidate_id")
    # people within T of the candidate and of no facility, T = 5 (selection), 7 and 10 (analysis)
    expected = {
        "u1": (300, 250, 80),  # u3 at 4 min | u5 at 7 | u7 at 10 (on the threshold)
        "u2": (550, 250, 80),  # u3 2, u5 5 | u5 | u7 8
        "u3": (550, 330, 80),  # u3, u5 3 | u5, u7 6 | u7
        "u4": (550, 250, 80),
        "u5": (630, 330, 80),  # u3 3, u5, u7 3
        "u6": (300, 250, 80),
        "u7": (330, 330, 80),  # u7, u5 3 (u3 at 6)
    }
    for cid, (t5, t7, t10) in expected.items():
        assert scores.loc[cid, "newly_covered_5"] == t5, cid
        assert scores.loc[cid, "newly_covered_7"] == t7, cid
        assert scores.loc[cid, "newly_covered_10"] == t10, cid
    assert plan.candidates["candidate_id"].iloc[0] == "u5"
    assert plan.candidates["rank"].tolist() == list(range(1, 8))
    # u5 newly serves u3 (6 min today), u5 (9) and u7 (12)
    assert scores.loc["u5", "served_current_minutes"] == pytest.approx((300 * 6 + 250 * 9 + 80 * 12) / 630)
    assert scores.loc["u5", "minutes_to_nearest_existing"] == pytest.approx(9.0)
    assert scores.loc["u7", "minutes_to_nearest_existing"] == pytest.approx(12.0)
    assert scores.loc["u5", "access_minutes"] == pytest.approx(0.0)
    # fragility at 5, 7 and 10 min: fA alone reaches u1 u2 (u3 is shared at 7), fB u4 u6
    frag = plan.fragility.set_index("facility_id")
    assert frag.loc["fA", "population_lost_5"] == 300 and frag.loc["fB", "population_lost_5"] == 200
    assert frag.loc["fA", "population_lost_7"] == 300 and frag.loc["fB", "population_lost_7"] == 200
    assert frag.loc["fA", "population_lost_10"] == 0 and frag.loc["fB", "population_lost_10"] == 0
    assert frag.loc["fA", "type"] == "msp"


@pytest.mark.parametrize(("share", "k"), [(0.1, 0), (0.9, 1), (0.95, 2), (1.0, 2)])
def test_plan_target_share_takes_the_fewest_sites(plan_analysis: GapAnalysis, share: float, k: int) -> None:
    """At 3 min: today u1 u6 (150, 13 %).  u3 adds u2 u3 u4 u5 (900): 1050 (93 %); u5 or u7
    adds u7: 1130 (100 %)."""
    candidates = candidates_from_units(plan_units())
    plan = plan_sites(plan_analysis, candidates, threshold_min=3, target_share=share, solver="exact", workers=1)
    assert len(plan.selection.sites) == k
    if k >= 1:
        assert "u3" in plan.selection.sites
    assert plan.selection.population_covered_after == [150, 1050, 1130][k]


def test_plan_target_share_out_of_reach(plan_analysis: GapAnalysis) -> None:
    candidates = candidates_from_units(plan_units()).iloc[[0]]  # u1 only: u1 + u2 = 350 (31 %) at 3 min
    with pytest.raises(InputDataError, match="at most"):
        plan_sites(plan_analysis, candidates, threshold_min=3, target_share=0.5, workers=1)


def test_plan_lscp_by_hand(plan_analysis: GapAnalysis) -> None:
    candidates = candidates_from_units(plan_units())
    cover = plan_sites(plan_analysis, candidates, threshold_min=5, solver="lscp", workers=1)
    # u3, u5, u7 are beyond 5 min; only u5 reaches all three
    assert cover.selection.sites == ("u5",)
    assert cover.selection.solver == "lscp-exact" and cover.selection.status == "optimal"
    assert cover.selection.uncoverable == ()
    assert cover.greedy.sites == ("u5",)


def test_plan_pmedian_by_hand(plan_analysis: GapAnalysis) -> None:
    candidates = candidates_from_units(plan_units())
    median = plan_sites(plan_analysis, candidates, threshold_min=5, k=1, solver="pmedian", workers=1)
    # person-minutes today 6710; u3 saves 6x300 + 6x250 + 6x80 + 2x200 + 2x150 = 4480,
    # u5 3870, u2 3320, u4 3120, u7 2460, u1 and u6 less
    assert median.selection.sites == ("u3",)
    assert median.selection.objective_value == pytest.approx((6710 - 4480) / 1130)
    assert median.selection.marginal == (pytest.approx(4480),)
    assert median.selection.population_covered_before == 1050  # u7 is 12 min > 10
    assert median.selection.population_covered_after == 1130


def test_plan_refuses_candidate_ids_that_are_facility_ids(plan_analysis: GapAnalysis) -> None:
    candidates = candidates_from_units(plan_units())
    candidates.loc[0, "candidate_id"] = "fA"
    with pytest.raises(InputDataError, match="fA"):
        plan_sites(plan_analysis, candidates, threshold_min=5, k=1, workers=1)


def test_plan_bad_arguments(plan_analysis: GapAnalysis) -> None:
    candidates = candidates_from_units(plan_units())
    with pytest.raises(InputDataError, match="solver"):
        plan_sites(plan_analysis, candidates, threshold_min=5, k=1, solver="magic")
    with pytest.raises(InputDataError, match="either"):
        plan_sites(plan_analysis, candidates, threshold_min=5, k=1, target_share=0.5)
    with pytest.raises(InputDataError, match="empty"):
        plan_sites(plan_analysis, candidates.iloc[0:0], threshold_min=5, k=1)
    with pytest.raises(InputDataError) as info:
        plan_sites(plan_analysis, candidates, threshold_min=5, k=8, workers=1)
    assert re.search(r"\b8\b", str(info.value)) and re.search(r"\b7\b", str(info.value))


def test_candidates_from_units_and_exclusions() -> None:
    candidates = candidates_from_units(plan_units())
    assert list(candidates.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    assert candidates["candidate_id"].tolist() == list(PLAN_UNITS)
    assert (candidates["source"] == "town hall").all()
    kept = exclude_candidates(candidates, communes=["C1"], ids=["u5"])
    # C1 holds u1 u2; u7 has no commune and stays
    assert kept["candidate_id"].tolist() == ["u3", "u4", "u6", "u7"]
    assert exclude_candidates(candidates)["candidate_id"].tolist() == list(PLAN_UNITS)


def test_candidates_from_network_one_per_square_beyond_the_threshold() -> None:
    """Squares of 2000 m.  Square (0, 0), centre (1000, 1000): P1 (100, 100) 1273 m from
    the centre, P2 (900, 900) 141 m -> P2.  Square (1, 0), centre (3000, 1000): P3 707 m,
    P4 141 m but within T -> P3.  Square (0, 1): P5 (unreachable counts as beyond).
    Square (2, 2): P6 exactly at T is covered -> none."""
    nodes = {
        "P1": (100, 100),
        "P2": (900, 900),
        "P3": (2500, 500),
        "P4": (3100, 1100),
        "P5": (500, 2500),
        "P6": (5000, 5000),
    }
    minutes = {"P1": 20.0, "P2": np.nan, "P3": 15.0, "P4": 5.0, "P5": 10.5, "P6": 10.0}
    names = list(nodes)
    network = compile_network(make_graph(nodes, [(a, b, 60.0) for a, b in pairwise(names)]))
    node_minutes = np.empty(network.n_nodes)
    for name, value in minutes.items():
        node_minutes[network.index_of(name)] = value
    units = units_at({"a": (1000, 1000), "b": (9000, 9000)}, [1, 1])
    units["area"] = gpd.GeoSeries([box(0, 0, 2000, 2000), box(8000, 8000, 10000, 10000)], crs=LOCAL_CRS)
    units["commune"] = ["C1", "C9"]
    found = candidates_from_network(network, node_minutes, 10, spacing_m=2000, units=units)
    assert sorted(found["candidate_id"]) == ["node-P2", "node-P3", "node-P5"]
    assert list(found.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    assert (found["source"] == "network node beyond 10 min").all()
    back = found.to_crs(LOCAL_CRS).set_index("candidate_id")
    for cid in ["P2", "P3", "P5"]:
        x, y = nodes[cid]
        assert back.loc[f"node-{cid}"].geometry.distance(gpd.points_from_xy([x], [y])[0]) < 0.01
    communes = found.set_index("candidate_id")["commune"]
    assert communes["node-P2"] == "C1"
    assert pd.isna(communes["node-P3"]) and pd.isna(communes["node-P5"])
    with pytest.raises(InputDataError, match="within 30 min"):
        candidates_from_network(network, np.full(network.n_nodes, 1.0), 30)


def test_candidates_from_points_and_communes_with_facility() -> None:
    units = units_at({"a": (1000, 1000), "b": (3000, 1000)}, [1, 1])
    units["area"] = gpd.GeoSeries([box(0, 0, 2000, 2000), box(2000, 0, 4000, 2000)], crs=LOCAL_CRS)
    units["commune"] = ["18001", "18002"]
    points = gpd.GeoDataFrame(
        {"candidate_id": [7, 8], "name": ["vacant school", "old post office"]},
        geometry=gpd.points_from_xy([500, 9000], [500, 9000]),
        crs=LOCAL_CRS,
    )
    found = candidates_from_points(points, units)
    assert list(found.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    assert found["candidate_id"].tolist() == ["7", "8"]
    assert found["commune"].iloc[0] == "18001" and pd.isna(found["commune"].iloc[1])
    assert (found["source"] == "candidate list").all()
    with pytest.raises(InputDataError, match="candidate_id"):
        candidates_from_points(points.drop(columns="candidate_id"))
    with pytest.raises(InputDataError, match="empty"):
        candidates_from_points(points.iloc[0:0])
    facilities = facilities_at({"f1": (3500, 500), "f2": (9000, 9000)})
    assert communes_with_facility(facilities, units) == {"18002"}
    facilities["code_insee"] = pd.array([1001, None], dtype="Int64")  # codes read as numbers lose the 0
    assert communes_with_facility(facilities, units) == {"01001"}


def test_lscp_covers_units_of_no_population() -> None:
    """Every reachable unit must be covered, even one where nobody lives: the site that
    alone reaches it is needed although it adds no population (found by hypothesis)."""
    minutes = sp.csr_array(  # s0 reaches u0 only, s1 reaches u1 only
        (np.array([5.0, 5.0]), np.array([0, 1], dtype=np.int32), np.array([0, 1, 2], dtype=np.int32)), shape=(2, 2)
    )
    matrix = CoverageMatrix(
        site_ids=np.array(["s0", "s1"], dtype=object),
        unit_ids=np.array(["u0", "u1"], dtype=object),
        minutes=minutes,
        max_minutes=10.0,
    )
    result = lscp(matrix, [100.0, 0.0], 10.0)
    assert set(result.sites) == {"s0", "s1"}
    assert result.objective_value == 2
    assert sorted(result.marginal) == [0.0, 100.0]


def test_p_median_exact_beats_a_stuck_swap_and_proves_it() -> None:
    """Greedy and one-site exchanges stuck at a mean of 3.4 where the optimum is 3.0.

    Five units of 10 people, 8 min from today's facility; k = 2.  Minutes (- = beyond):

        s0: 6 - 1 6 6      s1: 3 - - 4 6      s2: - 3 6 5 2      s3: - - - - 2
        s4: - 5 1 - 2

    Savings alone (per person): s0 13, s1 11, s2 16, s3 6, s4 16: greedy takes s2 (the
    tie goes to the first), then s0 (+7; s1 +6, s4 +5): minutes 6 3 1 5 2, mean 17/5 = 3.4.
    Every exchange of one of them is worse ({s1,s2} 18, {s2,s3} 24, {s2,s4} 19, {s0,s1}
    22, {s0,s3} 23, {s0,s4} 20), while {s1, s4} gives 3 5 1 4 2: 15/5 = 3.0.
    """
    inf = np.inf
    dense = np.array(
        [
            [6.0, inf, 1.0, 6.0, 6.0],
            [3.0, inf, inf, 4.0, 6.0],
            [inf, 3.0, 6.0, 5.0, 2.0],
            [inf, inf, inf, inf, 2.0],
            [inf, 5.0, 1.0, inf, 2.0],
        ]
    )
    matrix = matrix_of(dense, 30, ["s0", "s1", "s2", "s3", "s4"], [f"u{i}" for i in range(5)])
    pop, current = [10.0] * 5, [8.0] * 5
    heuristic = p_median(matrix, pop, current, 2, exact=False)
    assert set(heuristic.sites) == {"s0", "s2"} and heuristic.objective_value == pytest.approx(3.4)
    assert heuristic.status == "heuristic" and heuristic.bound is None
    result = p_median(matrix, pop, current, 2)
    assert set(result.sites) == {"s1", "s4"}
    assert result.objective_value == pytest.approx(3.0)
    assert result.status == "optimal" and result.bound == pytest.approx(3.0) and result.gap == 0
    assert result.solver == "pmedian-exact" and "HiGHS" in result.solver_status
    # person-minutes saved, site by site in greedy order among the two: s4 160, then s1 90
    assert result.marginal == pytest.approx((160.0, 90.0))
