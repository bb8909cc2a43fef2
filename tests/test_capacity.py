"""Doctors' patient lists as a transportation problem (coverage.capacity, coverage.capacity_pool).

Expected values come from hand calculations (in comments) or from an independent solver:
SciPy's ``linprog`` on a dense model written here, and brute force over team placements.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from coverage.capacity import assign_patients, certify_flow
from coverage.capacity_pool import allocate_pool_by_capacity, compare_pool_allocations
from coverage.capacity_study import unmet_by_area
from coverage.errors import InputDataError
from coverage.matrix import CoverageMatrix
from coverage.outputs.figure_canvas import png_bytes
from coverage.outputs.report_capacity import capacity_figure, capacity_section


def matrix_of(minutes: np.ndarray, max_minutes: float = 30.0) -> CoverageMatrix:
    """A matrix from a dense ``sites x units`` array of minutes (NaN: not stored)."""
    stored = ~np.isnan(minutes)
    rows, cols = np.nonzero(stored)
    csr = sp.csr_array((minutes[rows, cols], (rows, cols)), shape=minutes.shape)
    return CoverageMatrix(
        site_ids=np.array([f"s{j}" for j in range(minutes.shape[0])], dtype=object),
        unit_ids=np.array([f"u{i}" for i in range(minutes.shape[1])], dtype=object),
        minutes=csr,
        max_minutes=max_minutes,
    )


def lp_reference(minutes: np.ndarray, capacity: np.ndarray, people: np.ndarray, t: float) -> tuple[float, float]:
    """Most people followed, then fewest person-minutes: two dense LPs by SciPy (independent model)."""
    n_sites, n_units = minutes.shape
    ok = ~np.isnan(minutes) & (minutes <= t)
    pairs = np.argwhere(ok)
    if not len(pairs):
        return 0.0, 0.0
    a = np.zeros((n_units + n_sites, len(pairs)))
    for k, (j, i) in enumerate(pairs):
        a[i, k] = 1.0
        a[n_units + j, k] = 1.0
    b = np.concatenate([people, capacity])
    first = linprog(-np.ones(len(pairs)), A_ub=a, b_ub=b, method="highs")
    most = -first.fun
    cost = np.array([minutes[j, i] for j, i in pairs])
    a2 = np.vstack([a, -np.ones(len(pairs))])
    second = linprog(cost, A_ub=a2, b_ub=np.concatenate([b, [-most + 1e-9]]), method="highs")
    return most, second.fun


@pytest.mark.parametrize("seed", range(6))
def test_flow_matches_an_independent_lp(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_sites, n_units = rng.integers(2, 5), rng.integers(3, 8)
    minutes = rng.uniform(0, 30, size=(n_sites, n_units)).round(1)
    minutes[rng.random(minutes.shape) < 0.3] = np.nan
    doctors = rng.integers(0, 3, size=n_sites).astype(float)
    people = rng.uniform(0, 250, size=n_units).round(2)
    result = assign_patients(matrix_of(minutes), doctors, people, threshold_min=20, patients_per_gp=100)
    most, cost = lp_reference(minutes, doctors * 100, people, 20)
    assert result.served.sum() == pytest.approx(most, abs=1e-6)
    assert result.person_minutes == pytest.approx(cost, rel=1e-6, abs=1e-6)
    assert result.status == "optimal"
    # within every list and every unit
    assert (result.listed <= doctors * 100 + 1e-9).all()
    assert (result.served <= people + 1e-9).all()
    assert result.people_unmet == pytest.approx(people.sum() - most, abs=1e-6)


def test_nearest_first_leaves_people_out_that_the_flow_follows() -> None:
    # u0 (100 people) is 5 min from A and 15 from B; u1 (100) reaches only A (10 min).
    # A and B follow 100 each.  Nearest first: u0 fills A, u1 finds A full: 100 left out.
    # The flow: u0 -> B, u1 -> A: all 200 followed, 100*15 + 100*10 = 2500 person-minutes.
    minutes = np.array([[5.0, 10.0], [15.0, np.nan]])
    result = assign_patients(matrix_of(minutes), [1, 1], [100, 100], threshold_min=20, patients_per_gp=100)
    assert result.served.tolist() == pytest.approx([100, 100])
    assert result.person_minutes == pytest.approx(2500)
    assert result.people_unmet == pytest.approx(0)
    assert result.status == "optimal"
    # at 10 min, B is out of reach: A follows 100 of them, u0 first (5 min) -> 500 person-minutes
    short = assign_patients(matrix_of(minutes), [1, 1], [100, 100], threshold_min=10, patients_per_gp=100)
    assert short.served.sum() == pytest.approx(100)
    assert short.person_minutes == pytest.approx(500)


def test_the_cut_rejects_a_flow_that_is_not_the_most() -> None:
    minutes = np.array([[5.0, 10.0], [15.0, np.nan]])
    m = matrix_of(minutes)
    nearest_first = sp.csr_array(np.array([[100.0, 0.0], [0.0, 0.0]]))
    checked = certify_flow(m, [1, 1], [100, 100], nearest_first, threshold_min=20, patients_per_gp=100)
    # residual: u1 has people left, reaches A, A sends back to u0, u0 reaches B (room): the cut is
    # everyone reachable: p(none) + c(A) + c(B) = 200 > 100 served
    assert checked.status == "feasible"
    assert checked.served_bound == pytest.approx(200)
    with pytest.raises(InputDataError, match="site s0 150 people, more than its 100"):
        certify_flow(
            m, [1, 1], [200, 100], sp.csr_array(np.array([[150.0, 0], [0, 0]])), threshold_min=20, patients_per_gp=100
        )
    with pytest.raises(InputDataError, match="beyond 10 min"):
        certify_flow(m, [1, 1], [100, 100], sp.csr_array(np.array([[0, 0], [50.0, 0]])), threshold_min=10)


def test_shuffled_units_give_the_same_totals() -> None:
    rng = np.random.default_rng(7)
    minutes = rng.uniform(0, 25, size=(4, 12))
    minutes[rng.random(minutes.shape) < 0.4] = np.nan
    people = rng.uniform(10, 300, size=12)
    doctors = np.array([1.0, 2.0, 0.5, 1.0])
    base = assign_patients(matrix_of(minutes), doctors, people, threshold_min=20, patients_per_gp=300)
    order = rng.permutation(12)
    mixed = assign_patients(matrix_of(minutes[:, order]), doctors, people[order], threshold_min=20, patients_per_gp=300)
    assert mixed.served.sum() == pytest.approx(base.served.sum(), rel=1e-9)
    assert mixed.person_minutes == pytest.approx(base.person_minutes, rel=1e-7)
    assert mixed.listed.sum() == pytest.approx(base.listed.sum(), rel=1e-9)
    assert mixed.status == base.status == "optimal"


def test_bad_inputs_are_named() -> None:
    m = matrix_of(np.array([[5.0, 10.0]]))
    with pytest.raises(InputDataError, match=r"doctors must be finite non-negative numbers.*s0 has nan"):
        assign_patients(m, [np.nan], [1, 1], threshold_min=20)
    with pytest.raises(InputDataError, match=r"doctors must be finite non-negative numbers.*s0 has -1"):
        assign_patients(m, [-1.0], [1, 1], threshold_min=20)
    with pytest.raises(InputDataError, match="patients_per_gp must be a positive number"):
        assign_patients(m, [1.0], [1, 1], threshold_min=20, patients_per_gp=-5)
    with pytest.raises(InputDataError, match="population must be finite"):
        assign_patients(m, [1.0], [1, np.inf], threshold_min=20)
    with pytest.raises(InputDataError, match="up to the matrix's 30"):
        assign_patients(m, [1.0], [1, 1], threshold_min=45)


def served_with(minutes: np.ndarray, doctors: np.ndarray, people: np.ndarray, per_gp: float, t: float) -> float:
    return lp_reference(minutes, doctors * per_gp, people, t)[0]


def test_pool_where_the_greedy_is_wrong() -> None:
    # sites S0 S1 S2; units a=60 (S0,S1), b=60 (S0,S2), e=50 (S0), c=100 (S1), d=100 (S2);
    # a team follows 200.  Greedy: S0 first (170), then S1 or S2 (+100): 270.
    # Best: S1 (a + c = 160) and S2 (b + d = 160): 320.
    nan = np.nan
    minutes = np.array(
        [
            [5, 5, 5, nan, nan],
            [5, nan, nan, 5, nan],
            [nan, 5, nan, nan, 5],
        ],
        dtype=float,
    )
    people = np.array([60, 60, 50, 100, 100], dtype=float)
    result = allocate_pool_by_capacity(
        matrix_of(minutes), np.zeros(3), people, pool=2, team_size=1, threshold_min=10, patients_per_gp=200
    )
    assert result.greedy_served == pytest.approx(270)
    assert result.assignment.served.sum() == pytest.approx(320)
    assert result.status == "optimal"
    assert sorted(result.teams["site_id"]) == ["s1", "s2"]
    assert "HiGHS" in result.solver_status


@pytest.mark.parametrize("seed", range(4))
def test_pool_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_sites, n_units = 4, 7
    minutes = rng.uniform(0, 20, size=(n_sites, n_units))
    minutes[rng.random(minutes.shape) < 0.5] = np.nan
    people = rng.integers(20, 200, size=n_units).astype(float)
    doctors = np.array([1.0, 0, 0, 0])
    candidates = ["s1", "s2", "s3"]
    max_per_site = 2.0 if seed % 2 else None
    result = allocate_pool_by_capacity(
        matrix_of(minutes),
        doctors,
        people,
        pool=3,
        team_size=1,
        sites=candidates,
        threshold_min=15,
        patients_per_gp=150,
        max_per_site=max_per_site,
    )
    best = 0.0
    for placement in itertools.combinations_with_replacement([1, 2, 3], 3):
        counts = np.bincount(placement, minlength=4)
        if max_per_site is not None and counts.max() > max_per_site:
            continue
        best = max(best, served_with(minutes, doctors + counts, people, 150, 15))
    assert result.assignment.served.sum() == pytest.approx(best, abs=1e-6)
    assert result.status == "optimal"
    assert result.teams["doctors_added"].sum() <= 3 + 1e-9
    if max_per_site is not None:
        assert (result.teams["doctors_added"] <= max_per_site).all()


def test_pool_with_a_smaller_last_team() -> None:
    # pool 2.5 in teams of 1: two teams and a half one.  One site reaching 1,000 people, 100 per GP:
    # 250 followed, all at s0.
    minutes = np.array([[5.0]])
    result = allocate_pool_by_capacity(
        matrix_of(minutes), [0.0], [1000.0], pool=2.5, team_size=1, threshold_min=10, patients_per_gp=100
    )
    assert result.assignment.served.sum() == pytest.approx(250)
    assert result.doctors.tolist() == pytest.approx([2.5])


def test_areas_and_comparison_by_hand() -> None:
    # u0 (100, commune 1, dept 18) and u1 (300, commune 2, dept 18) reach s0 (1 GP, 200 places);
    # u2 (50, commune 3, dept 36) reaches s1 (no GP).  Before: 200 followed, u0 first (5 min < 8):
    # unmet u0 0, u1 200, u2 50.
    minutes = np.array([[5.0, 8.0, np.nan], [np.nan, np.nan, 3.0]])
    m = matrix_of(minutes)
    people = np.array([100.0, 300.0, 50.0])
    before = assign_patients(m, [1, 0], people, threshold_min=10, patients_per_gp=200)
    after = assign_patients(m, [1, 1], people, threshold_min=10, patients_per_gp=200)
    units = pd.DataFrame(
        {
            "unit_id": ["u0", "u1", "u2"],
            "commune": ["1", "2", "3"],
            "department": ["18", "18", "36"],
            "department_name": ["Cher", "Cher", "<b>Indre</b>"],
        }
    )
    table = unmet_by_area(units, before, after)
    deps = table[table["level"] == "department"].set_index("area_id")
    assert deps.loc["18", "unmet_before"] == pytest.approx(200)
    assert deps.loc["36", "unmet_before"] == pytest.approx(50)
    assert deps.loc["36", "unmet_after"] == pytest.approx(0)  # s1's 200 places take u2's 50
    assert deps.loc["36", "change"] == pytest.approx(-50)
    communes = table[table["level"] == "commune"].set_index("area_id")
    assert communes["unmet_before"].to_dict() == pytest.approx({"1": 0, "2": 200, "3": 50})
    # APL line: 2SFCA with one band of 10 min; before: s0's 1 GP over 400 people -> 0.0025 for
    # u0 and u1, u2 0.  After: u2 gets 1/50 = 0.02.  Line 0.01: lifted u2 (50 people).
    from coverage.accessibility import StepDecay

    comparison = compare_pool_allocations(
        m,
        [1, 0],
        people,
        {"one more at s1": [1, 1], "one more at s0": [2, 0]},
        threshold_min=10,
        priority_line=0.01,
        patients_per_gp=200,
        decay=StepDecay(((10.0, 1.0),)),
    ).set_index("allocation")
    assert comparison.loc["one more at s1", "people_lifted"] == pytest.approx(50)
    assert comparison.loc["one more at s1", "people_newly_served"] == pytest.approx(50)
    # at s0: 2 GPs / 400 = 0.005 < 0.01, nobody lifted; 400 places, 400 people: 200 more followed
    assert comparison.loc["one more at s0", "people_lifted"] == pytest.approx(0)
    assert comparison.loc["one more at s0", "people_newly_served"] == pytest.approx(200)
    assert comparison.loc["before", "people_unmet"] == pytest.approx(250)

    html = capacity_section(before, after, by_area=table, comparison=comparison.reset_index())
    assert "Patientèle et capacité des médecins" in html
    assert "<b>Indre</b>" not in html and "&lt;b&gt;Indre&lt;/b&gt;" in html
    png = png_bytes(capacity_figure(table.assign(area_name=table["area_name"].replace("Cher", "$x$ Cher"))))
    assert png.startswith(b"\x89PNG")
