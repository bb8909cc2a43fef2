"""The coverage curve's exact points: solved in forked workers as in one process, made to
agree across k (values carried up, bounds carried down), with their own time limit;
and the model HiGHS receives after Lagrangian reduction, its groups merged again.

Expected values are worked out by hand in the comments, or by brute force over every
set of k candidates.
"""

from __future__ import annotations

import logging
import math
from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp

import coverage.siting.curve as curve_module
from coverage.cli.parser import DEMO_CURVE_TIME_LIMIT_S, build_parser
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.planning import SitingOptions
from coverage.siting import coverage_curve, mclp_exact
from coverage.siting.curve import _agreeing
from coverage.siting.exact import _CoverageModel, _reduced_model


def _matrix(dense: np.ndarray) -> CoverageMatrix:
    rows, cols = np.nonzero(np.isfinite(dense))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=dense.shape[0]))]).astype(np.int64)
    return CoverageMatrix(
        site_ids=np.asarray([f"s{i}" for i in range(dense.shape[0])], dtype=object),
        unit_ids=np.asarray([f"u{j}" for j in range(dense.shape[1])], dtype=object),
        minutes=sp.csr_array((dense[rows, cols], cols.astype(np.int32), indptr), shape=dense.shape),
        max_minutes=30.0,
    )


def _brute(dense: np.ndarray, weights: np.ndarray, required: list[int], k: int, threshold: float) -> float:
    cover = dense <= threshold
    others = [s for s in range(dense.shape[0]) if s not in required]
    return max(float(weights[cover[required + list(c)].any(axis=0)].sum()) for c in combinations(others, k))


# ---------------------------------------------------------------- agreeing across k


def test_values_carried_up_and_bounds_carried_down() -> None:
    # value: max(values, greedy) = [10, 9, 15], then running max = [10, 10, 15]
    # bound: running min from the right of [12, 20, 15] = [12, 15, 15]
    value, bound, met = _agreeing([10, 8, 15], [12, 20, 15], [10, 9, 14])
    assert value.tolist() == [10, 10, 15]
    assert bound.tolist() == [12, 15, 15]
    assert met.tolist() == [False, False, True]


def test_a_met_bound_becomes_the_value_and_the_tolerance_is_relative() -> None:
    big = 1e9  # tolerance 1e-9 * 1e9 = 1 person
    value, bound, met = _agreeing([big, big, big], [big + 2.0, big + 2.0, big + 2.0], [0, 0, 0])
    assert not met.any() and bound.tolist() == [big + 2.0] * 3
    value, bound, met = _agreeing([big], [big + 0.5], [0])
    assert met.all() and bound.tolist() == [big]
    # a bound half a person below the value is within the tolerance: met, not false
    value, bound, met = _agreeing([big], [big - 0.5], [0])
    assert met.all() and bound.tolist() == [big]
    # small values: the tolerance is 1e-9 of at least 1
    value, bound, met = _agreeing([0.0, 3.0], [0.0, 3.0 + 5e-10], [0, 0])
    assert met.all() and bound.tolist() == value.tolist() == [0.0, 3.0]
    _, bound, met = _agreeing([0.0, 3.0], [0.0, 3.0 + 1e-8], [0, 0])
    assert met.tolist() == [True, False]


def test_a_bound_below_an_answer_is_not_trusted(caplog: pytest.LogCaptureFixture) -> None:
    # k = 1 reached 20 people, but k = 2 claims at most 18: false, so false at k = 1 too
    with caplog.at_level(logging.WARNING, logger="coverage.siting"):
        value, bound, met = _agreeing([10, 20, 21], [15, 25, 18], [0, 0, 0])
    assert value.tolist() == [10, 20, 21]
    assert bound[0] == 15 and math.isnan(bound[1]) and math.isnan(bound[2])
    assert met.tolist() == [False, False, False]
    assert "k = 1, 2" in caplog.text


# ---------------------------------------------------------------- in workers, as in one process


def _instance(seed: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((9, 40)) < 0.22, rng.integers(0, 21, (9, 40)).astype(float), np.inf)
    return dense, rng.integers(1, 1000, 40).astype(float), [0]


@pytest.mark.parametrize("seed", [3, 4])
def test_the_curve_in_workers_is_the_curve_in_one_process(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    dense, weights, required = _instance(seed)
    matrix = _matrix(dense)
    req = [f"s{r}" for r in required]
    one = coverage_curve(matrix, weights, 10.0, 5, required=req, workers=1)
    # HiGHS has run in this process: forked workers must still get their own threads
    mclp_exact(matrix, weights, 10.0, 3, required=req)
    monkeypatch.setattr(curve_module, "_MIN_ENTRIES_FOR_WORKERS", 0)
    forked = []
    real = curve_module.ProcessPoolExecutor

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            forked.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(curve_module, "ProcessPoolExecutor", Counting)
    two = coverage_curve(matrix, weights, 10.0, 5, required=req, workers=2)
    assert forked, "the workers were not used"
    assert one.equals(two)
    for k in range(6):
        assert two.loc[k, "population_covered_exact"] == _brute(dense, weights, required, k, 10.0)
    assert (two["status_exact"] == "optimal").all()
    assert (two["bound_exact"] == two["population_covered_exact"]).all()
    assert (two["gap_exact"] == 0).all()


def test_small_cases_stay_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    dense, weights, required = _instance(5)
    matrix = _matrix(dense)
    assert matrix.minutes.nnz < curve_module._MIN_ENTRIES_FOR_WORKERS

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for a small case")

    monkeypatch.setattr(curve_module, "ProcessPoolExecutor", refuse)
    curve = coverage_curve(matrix, weights, 10.0, 3, required=["s0"], workers=2)
    assert curve["population_covered_exact"].tolist() == [_brute(dense, weights, required, k, 10.0) for k in range(4)]


def test_a_point_short_of_time_shows_its_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every solve ends at its bound 5 % above its answer: no point is proven.
    dense, _, _ = _instance(6)
    matrix = _matrix(dense)
    answers = {}

    def fake(k: int) -> tuple[float, float]:
        answers[k] = 100.0 * (k + 1)
        return answers[k], 105.0 * (k + 1)

    monkeypatch.setattr(curve_module, "_exact_point", fake)
    curve = coverage_curve(matrix, np.zeros(40), 10.0, 2, required=["s0"], workers=1)
    assert curve["population_covered_exact"].tolist() == [100.0, 200.0, 300.0]
    assert curve["bound_exact"].tolist() == [105.0, 210.0, 315.0]
    assert curve["gap_exact"].to_numpy() == pytest.approx([5 / 105] * 3)
    assert (curve["status_exact"] == "feasible").all()


# ---------------------------------------------------------------- the time limit of the curve


def test_the_curve_time_limit_is_checked_and_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in (0.0, -1.0, math.nan, math.inf, "2"):
        with pytest.raises(InputDataError, match="curve's time limit"):
            SitingOptions(threshold_min=20, k=1, curve_time_limit_s=bad)  # type: ignore[arg-type]
    assert SitingOptions(threshold_min=20, k=1, curve_time_limit_s=0.5).curve_time_limit_s == 0.5
    parser = build_parser()
    assert parser.parse_args(["demo"]).curve_time_limit == DEMO_CURVE_TIME_LIMIT_S
    assert parser.parse_args(["demo", "--curve-time-limit", "7"]).curve_time_limit == 7.0
    given = ["optimise", "--roads", "r", "--facilities", "f", "--population", "p", "--sites", "2", "--out", "o"]
    assert parser.parse_args(given).curve_time_limit is None


# ---------------------------------------------------------------- the reduced model


def test_the_reduced_model_merges_groups_again_and_drops_the_unreached() -> None:
    # groups x candidates; candidate 2 is removed
    a = np.array(
        [
            [1, 0, 1],  # g0: {0, 2} -> {0}
            [1, 0, 0],  # g1: {0}    -> {0}, merged with g0
            [0, 0, 1],  # g2: {2}    -> {}, dropped
            [0, 1, 1],  # g3: {1, 2} -> {1}
            [1, 1, 0],  # g4: {0, 1} -> {0, 1}
        ],
        dtype=float,
    )
    model = _CoverageModel(
        useful=np.array([10, 11, 12]), a_xy=sp.csc_array(a), group_weight=np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    )
    reduced = _reduced_model(model, np.array([0, 1]))
    assert reduced.useful.tolist() == [10, 11]
    rows = {tuple(r): w for r, w in zip(reduced.a_xy.toarray().astype(int).tolist(), reduced.group_weight, strict=True)}
    assert rows == {(1, 0): 3.0, (0, 1): 8.0, (1, 1): 16.0}
    assert reduced.n_y == 3 and reduced.n_x == 2


def test_plan_sites_gives_the_curve_its_time_limit_and_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import geopandas as gpd
    from conftest import facilities_at, make_graph, units_at

    import coverage
    import coverage.planning as planning
    from coverage.candidates import candidates_from_units
    from coverage.cli.run import _siting_options

    nodes = {f"N{i}": (1000.0 * i, 0.0) for i in range(4)}
    graph = make_graph(nodes, [(f"N{i}", f"N{i + 1}", 120.0) for i in range(3)])
    units: gpd.GeoDataFrame = units_at({f"u{i}": nodes[f"N{i}"] for i in range(4)}, [10.0, 20.0, 30.0, 40.0])
    config = coverage.AnalysisConfig(thresholds_min=(3,), access_speed_kph=30, max_snap_m=500, isochrones=False)
    analysis = coverage.analyse(graph, facilities_at({"f": nodes["N0"]}), units, config)
    seen: list[dict[str, object]] = []
    real = planning.coverage_curve

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(planning, "coverage_curve", spy)
    candidates = candidates_from_units(units.iloc[1:])
    for limit, expected in ((None, 7.0), (0.25, 0.25)):
        planning.plan_sites(
            analysis, candidates, threshold_min=3, k=1, time_limit_s=7.0, curve_time_limit_s=limit, workers=3
        )
        assert seen[-1]["time_limit_s"] == expected and seen[-1]["workers"] == 3
    # and run.json records it
    assert _siting_options(build_parser().parse_args(["demo"]))["curve_time_limit"] == DEMO_CURVE_TIME_LIMIT_S


# ---------------------------------------------------------------- shared set-up, points without HiGHS


def _groups_by_loop(present: np.ndarray) -> list[int]:
    """Units (columns) numbered by their set of covering sites, in order of first appearance."""
    seen: dict[tuple[int, ...], int] = {}
    return [seen.setdefault(tuple(np.flatnonzero(present[:, c])), len(seen)) for c in range(present.shape[1])]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unit_groups_are_the_sets_of_covering_sites(seed: int) -> None:
    from coverage.siting.model import _column_groups

    rng = np.random.default_rng(seed)
    present = rng.random((6, 60)) < 0.3
    present[:, 5] = False  # a unit no site reaches
    units = rng.permutation(60)[:45]
    groups, group = _column_groups(sp.csr_array(present.astype(float)), units)
    assert group.tolist() == _groups_by_loop(present[:, units])
    firsts = [group.tolist().index(g) for g in range(group.max() + 1)]
    assert (groups.toarray() != 0).tolist() == present[:, units][:, firsts].tolist()


def test_unit_groups_survive_a_hash_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row hashed to 0: all units with as many sites collide, and the rows compared
    one by one must split them again."""
    import coverage.siting.model as model_module

    class Zeros:
        def integers(self, low: int, high: int, size: int, **_: object) -> np.ndarray:
            return np.zeros(size, dtype=np.int64)

    monkeypatch.setattr(model_module.np.random, "default_rng", lambda seed: Zeros())
    present = np.array([[1, 0, 1, 0, 1], [0, 1, 0, 1, 1], [0, 0, 0, 0, 1]], dtype=bool)
    # units 0 and 2: site 0; units 1 and 3: site 1; unit 4: all three
    _, group = model_module._column_groups(sp.csr_array(present.astype(float)), np.arange(5))
    assert group.tolist() == [0, 1, 0, 1, 2]


def test_short_points_skip_highs_and_keep_honest_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    import coverage.siting.exact as exact_module

    rng = np.random.default_rng(4)
    dense = np.where(rng.random((9, 40)) < 0.25, 5.0, np.inf)
    weights = rng.integers(1, 50, 40).astype(float)

    def no_highs(**_: object) -> None:
        raise AssertionError("HiGHS called under HIGHS_MIN_SECONDS")

    monkeypatch.setattr(exact_module, "_solve_binary_program", no_highs)
    table = coverage_curve(
        _matrix(dense), weights, 10, 5, required=["s0"], time_limit_s=0.5 * curve_module.HIGHS_MIN_SECONDS
    )
    for k, value, bound in zip(table["k"], table["population_covered_exact"], table["bound_exact"], strict=True):
        best = _brute(dense, weights, [0], int(k), 10)
        assert value <= best + 1e-9 and (math.isnan(bound) or bound >= best - 1e-9)
    with pytest.raises(AssertionError, match="HiGHS called"):
        coverage_curve(_matrix(dense), weights, 10, 5, required=["s0"], time_limit_s=curve_module.HIGHS_MIN_SECONDS)


def test_shared_set_up_gives_each_k_its_own_optimum() -> None:
    rng = np.random.default_rng(8)
    dense = np.where(rng.random((10, 50)) < 0.2, 5.0, np.inf)
    weights = rng.integers(1, 30, 50).astype(float)
    table = coverage_curve(_matrix(dense), weights, 10, 6, required=["s1"], time_limit_s=5.0)
    assert (table["status_exact"] == "optimal").all()
    assert table["population_covered_exact"].tolist() == [_brute(dense, weights, [1], k, 10) for k in range(7)]


def test_no_units_no_groups() -> None:
    from coverage.siting.model import _column_groups

    present = np.array([[1, 0], [0, 1], [1, 1]], dtype=float)
    groups, group = _column_groups(sp.csr_array(present), np.array([], dtype=np.int64))
    assert groups.shape == (3, 0) and group.tolist() == []
