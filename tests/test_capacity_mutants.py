"""Tests written for the survivors of the mutation run of coverage/capacity.py (tests/mutation/README.md).

Expected values are worked out by hand in the comments, or come from SciPy's ``linprog`` on a
dense model written here.  Tests at a float boundary state the rule they pin.
"""

from __future__ import annotations

import math

import highspy
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog
from test_capacity import matrix_of

from coverage.capacity import _clean, _minutes_bound, assign_patients, certify_flow
from coverage.errors import InputDataError

nan = np.nan


def reference(minutes: np.ndarray, capacity: np.ndarray, people: np.ndarray, t: float) -> tuple[float, float]:
    """Most people followed, then fewest person-minutes among flows at least that large: two
    dense LPs solved by SciPy (the second with the first's maximum less 1e-9)."""
    pairs = np.argwhere(~np.isnan(minutes) & (minutes <= t))
    if not len(pairs):
        return 0.0, 0.0
    n_sites, n_units = minutes.shape
    a = np.zeros((n_units + n_sites, len(pairs)))
    a[pairs[:, 1], np.arange(len(pairs))] = 1.0
    a[n_units + pairs[:, 0], np.arange(len(pairs))] = 1.0
    b = np.concatenate([people, capacity])
    most = -linprog(-np.ones(len(pairs)), A_ub=a, b_ub=b, method="highs").fun
    cost = minutes[pairs[:, 0], pairs[:, 1]]
    second = linprog(
        cost, A_ub=np.vstack([a, -np.ones(len(pairs))]), b_ub=np.concatenate([b, [-most + 1e-9]]), method="highs"
    )
    return most, second.fun


# The example of most tests: s0 (1 GP, 100 places) reaches u0 (60 people, 5 min) and u1 (80, 10 min);
# s1 (half a GP, 50 places) reaches u1 (20 min); u2 (30) reaches nobody.  100 patients per GP.
# Most followed: 140 (u0 and u1 whole: s0 takes u0 60 + u1 40, s1 u1's other 40; 30 of u2 left).
# Fewest minutes for 140: u0 has only s0 (60 x 5 = 300); s0 then has 40 places, so u1 is
# 40 at s0 (400) and 40 at s1 (800): 1,500 person-minutes, a unique flow.
EXAMPLE = np.array([[5.0, 10.0, nan], [nan, 20.0, nan]])
DOCTORS = [1.0, 0.5]
PEOPLE = [60.0, 80.0, 30.0]


def example(**kwargs: object):
    return assign_patients(matrix_of(EXAMPLE), DOCTORS, PEOPLE, threshold_min=30, patients_per_gp=100, **kwargs)


def test_tables_by_hand() -> None:
    result = example()
    assert result.status == "optimal"
    assert result.person_minutes == pytest.approx(1500)
    assert 0 <= result.seconds < 60
    units = result.units_table()
    assert list(units.columns) == ["unit_id", "population", "served", "unserved", "mean_minutes"]
    assert units["unit_id"].tolist() == ["u0", "u1", "u2"]
    assert units["served"].tolist() == pytest.approx([60, 80, 0])
    assert units["unserved"].tolist() == pytest.approx([0, 0, 30])
    # mean minutes of the people served: u0 300 / 60 = 5, u1 (400 + 800) / 80 = 15, u2 nobody
    assert units["mean_minutes"].tolist()[:2] == pytest.approx([5, 15])
    assert math.isnan(units["mean_minutes"].iloc[2])
    sites = result.sites_table()
    assert sites["site_id"].tolist() == ["s0", "s1"]
    assert sites["capacity"].tolist() == pytest.approx([100, 50])
    assert sites["load"].tolist() == pytest.approx([100, 40])
    assert sites["room"].tolist() == pytest.approx([0, 10])
    assert result.people_served == pytest.approx(140)
    assert result.people_unmet == pytest.approx(30)


def test_units_not_counted_compete_but_count_in_no_total() -> None:
    # u1 not counted: the same flow (it still takes s0's and s1's places); totals over u0 and u2
    result = example(counted=[True, False, True])
    assert result.served.tolist() == pytest.approx([60, 80, 0])
    assert result.people_served == pytest.approx(60)
    assert result.people_unmet == pytest.approx(30)
    units = result.units_table()
    assert units["unit_id"].tolist() == ["u0", "u2"]
    assert list(units.columns) == ["unit_id", "population", "served", "unserved", "mean_minutes"]
    assert units.index.tolist() == [0, 1]


def test_assignments_compare_by_identity() -> None:
    # array fields: a generated __eq__ would have to compare arrays (ambiguous truth value) and
    # a generated __hash__ would hash them; an assignment is equal only to itself, and hashable
    first, second = example(), example()
    assert first == first and first != second
    assert len({first: 1, second: 2}) == 2


@pytest.mark.parametrize("seed", range(2))
def test_a_larger_instance_matches_an_independent_lp(seed: int) -> None:
    # 8 sites x 12 units, most pairs stored: over 64 arcs of people and places within the threshold
    rng = np.random.default_rng(40 + seed)
    minutes = rng.uniform(0, 20, size=(8, 12)).round(1)
    minutes[rng.random(minutes.shape) < 0.15] = nan
    assert (~np.isnan(minutes) & (minutes <= 18)).sum() > 64
    doctors = rng.integers(1, 3, size=8).astype(float)
    people = rng.uniform(1, 150, size=12).round(1)
    result = assign_patients(matrix_of(minutes), doctors, people, threshold_min=18, patients_per_gp=80)
    most, cost = reference(minutes, doctors * 80, people, 18)
    assert result.served.sum() == pytest.approx(most, abs=1e-6)
    assert result.person_minutes == pytest.approx(cost, rel=1e-7, abs=1e-6)
    assert result.status == "optimal"


def test_a_site_with_less_than_one_place() -> None:
    # half a GP following 1 patient: 0.5 places; u0 (2 people, 5 min) gets them: 2.5 person-minutes
    result = assign_patients(matrix_of(np.array([[5.0]])), [0.5], [2.0], threshold_min=10, patients_per_gp=1)
    assert result.served.tolist() == pytest.approx([0.5])
    assert result.person_minutes == pytest.approx(2.5)
    assert result.status == "optimal"
    # and a unit of half a person: both followed by a site of 2 places
    half = assign_patients(matrix_of(np.array([[5.0, 6.0]])), [2.0], [0.5, 3.0], threshold_min=10, patients_per_gp=1)
    assert half.served.tolist() == pytest.approx([0.5, 1.5])
    assert half.units_table()["mean_minutes"].tolist() == pytest.approx([5, 6])


def test_threshold_edges() -> None:
    # a threshold under one minute is a threshold: u0 at 0.4 min is followed at 0.5, u1 at 0.7 is not
    short = assign_patients(
        matrix_of(np.array([[0.4, 0.7]])), [1.0], [10.0, 10.0], threshold_min=0.5, patients_per_gp=100
    )
    assert short.served.tolist() == pytest.approx([10, 0])
    # a pair exactly at the threshold is within it (here 20 min, the threshold 20)
    edge = assign_patients(matrix_of(np.array([[20.0]])), [1.0], [10.0], threshold_min=20, patients_per_gp=100)
    assert edge.served.tolist() == pytest.approx([10])
    for threshold in (0, -5):
        with pytest.raises(InputDataError, match="threshold_min must be a positive number"):
            assign_patients(matrix_of(np.array([[0.0]])), [1.0], [10.0], threshold_min=threshold, patients_per_gp=100)
    # up to the matrix's own limit (30 here) plus 1e-9 (a limit read back from a file), and no further
    above = assign_patients(matrix_of(np.array([[30.0]])), [1.0], [10.0], threshold_min=30 + 1e-9, patients_per_gp=100)
    assert above.served.tolist() == pytest.approx([10])
    at_limit = assign_patients(matrix_of(np.array([[30.0]])), [1.0], [10.0], threshold_min=30, patients_per_gp=100)
    assert at_limit.served.tolist() == pytest.approx([10])
    with pytest.raises(InputDataError, match="up to the matrix's 30"):
        assign_patients(matrix_of(np.array([[30.0]])), [1.0], [10.0], threshold_min=30.5, patients_per_gp=100)


def test_highs_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    example()  # HiGHS prints its banner once per process, at its first use
    capfd.readouterr()
    example()
    assert capfd.readouterr().out == ""


def test_a_stalled_max_flow_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stalled(highspy.Highs):
        def passModel(self, lp):  # noqa: N802 (HiGHS's name)
            out = super().passModel(lp)
            self.setOptionValue("presolve", "off")
            self.setOptionValue("simplex_iteration_limit", 0)
            return out

    monkeypatch.setattr(highspy, "Highs", Stalled)
    result = example()
    # no flow at all; the cut of the empty flow: every unit has people left and reaches
    # every site, so p(no unit) + c(s0) + c(s1) = 150
    assert result.solver_status == "HiGHS max flow: Iteration limit reached"
    assert result.served.sum() == 0
    assert result.served_bound == pytest.approx(150)
    assert math.isnan(result.minutes_bound)
    assert result.status == "feasible"


def test_fewest_minutes_asked_for_a_hair_fewer_people(monkeypatch: pytest.MonkeyPatch) -> None:
    """When stage 2 finds the stage-1 maximum out of reach, it asks for the maximum less 1e-9 of
    it.  That flow leaves a hair of u1 unserved with room at s1, so the residual cut is not
    tight: the answer is honest but only "feasible" (a limit of the cut's 1e-12 thresholds)."""

    class Demanding(highspy.Highs):
        # stage 2 asks one person more than stage 1's maximum: out of reach
        def addRow(self, lower, upper, *rest):  # noqa: N802 (HiGHS's name)
            return super().addRow(lower + 1.0, upper, *rest)

    monkeypatch.setattr(highspy, "Highs", Demanding)
    result = example()
    assert result.solver_status == "HiGHS max flow: Optimal; fewest minutes: Optimal"
    # 140 - 1e-9 * 140 followed, u1 short of 1.4e-7, the fewest minutes: 1,500 less 1.4e-7 * 20
    assert result.served.sum() == pytest.approx(140 - 1.4e-7, abs=1e-9)
    assert result.served[0] == pytest.approx(60, abs=1e-9)
    assert result.person_minutes == pytest.approx(1500 - 1.4e-7 * 20, abs=1e-8)
    assert result.minutes_bound == pytest.approx(result.person_minutes, abs=1e-8)
    # the cut: u1 (people left) and u2 reached, s0 and s1 through u1, u0 back from s0: c = 150
    assert result.served_bound == pytest.approx(150)
    assert result.status == "feasible"
    # below one person, 1e-9 of a person: 1 person, 1.5 places, 1 - 1e-9 followed
    alone = assign_patients(matrix_of(np.array([[5.0]])), [1.5], [1.0], threshold_min=10, patients_per_gp=1)
    assert alone.served.sum() == pytest.approx(1 - 1e-9, abs=2e-10)


def test_nothing_to_solve() -> None:
    # people but no doctor, or doctors but nobody: no pair of people and room, HiGHS not run;
    # the cut is 0 (every unit with people reaches only sites of 0 places), the minutes 0
    for doctors, people in (([0.0, 0.0], PEOPLE), (DOCTORS, [0.0, 0.0, 0.0])):
        result = assign_patients(matrix_of(EXAMPLE), doctors, people, threshold_min=30, patients_per_gp=100)
        assert result.solver_status == "not needed: no pair of people and room within the threshold"
        assert result.served.sum() == 0 and result.served_bound == 0
        assert result.minutes_bound == 0 and result.person_minutes == 0
        assert result.status == "optimal"


def test_clean_by_hand() -> None:
    # arcs (site, unit): (0,0) NaN, (0,1) -1, (0,1) 3, (1,1) 1, (1,2) 2; people 5, 2, 1; places 10, 1.
    # NaN and -1 become 0.  Units: u1 has 3 + 1 = 4 > 2, scaled by 1/2; u2 has 2 > 1, by 1/2:
    # 0, 0, 1.5, 0.5, 1.  Sites: s1 has 0.5 + 1 = 1.5 > 1, scaled by 2/3: 0, 0, 1.5, 1/3, 2/3.
    x = _clean(
        np.array([nan, -1.0, 3.0, 1.0, 2.0]),
        np.array([0, 0, 0, 1, 1]),
        np.array([0, 1, 1, 1, 2]),
        np.array([5.0, 2.0, 1.0]),
        np.array([10.0, 1.0]),
    )
    assert x.tolist() == pytest.approx([0, 0, 1.5, 1 / 3, 2 / 3])


def bound_of(duals: list[float], served: float = 5.0) -> float:
    # one unit of 5 people, one site of 8 places, one arc of 10 min: any flow of 5 people costs 50
    return _minutes_bound(
        np.array(duals), np.array([0]), np.array([0]), np.array([10.0]), np.array([5.0]), np.array([8.0]), served
    )


def test_minutes_bound_by_hand() -> None:
    # duals (a, b, g): a_i, b_j clipped to <= 0 and g to >= 0, then a_i lowered to t - b_j - g.
    # (-2, 0.5, -3): b 0, g 0, a -2 (10 - 0 - 0 = 10 does not bind): 5 * -2 = -10
    assert bound_of([-2.0, 0.5, -3.0]) == pytest.approx(-10)
    # (0, 0, 12): a lowered to 10 - 12 = -2: 5 * -2 + 5 * 12 = 50, the optimum
    assert bound_of([0.0, 0.0, 12.0]) == pytest.approx(50)
    # (0, -1, 4): a <= 10 + 1 - 4 = 7 holds at 0: 8 * -1 + 5 * 4 = 12
    assert bound_of([0.0, -1.0, 4.0]) == pytest.approx(12)
    # (0.5, 0, 0): a clipped to 0: 0
    assert bound_of([0.5, 0.0, 0.0]) == 0
    # served 3 people: 5 * -2 + 3 * 12 = 26
    assert bound_of([0.0, 0.0, 12.0], served=3.0) == pytest.approx(26)


def test_minutes_bound_with_a_missing_dual_stays_a_bound() -> None:
    # a NaN dual for the unit: a_i is taken as 0, then lowered to 10 - 12 = -2 like any other:
    # 50, the optimum; taking 0 without lowering it would give 60, above what any flow costs
    assert bound_of([nan, 0.0, 12.0]) == pytest.approx(50)


def test_certify_flow_by_keyword_and_its_refusals() -> None:
    m = matrix_of(EXAMPLE)
    flow = sp.csr_array(np.array([[60.0, 40.0, 0.0], [0.0, 40.0, 0.0]]))  # the flow worked out above
    checked = certify_flow(
        matrix=m, doctors=DOCTORS, population=PEOPLE, flows=flow, threshold_min=20, patients_per_gp=100
    )
    # a pair exactly at the threshold (u1 - s1, 20 min) is within it; the cut: u2 alone has
    # people left and reaches nobody, so p(u0) + p(u1) = 140 = the people followed
    assert checked.served_bound == pytest.approx(140)
    assert checked.person_minutes == pytest.approx(1500)
    assert checked.status == "feasible"  # no minutes bound given
    with pytest.raises(InputDataError, match=r"the flow has shape \(2, 2\); the matrix is \(2, 3\)"):
        certify_flow(m, DOCTORS, PEOPLE, sp.csr_array(np.ones((2, 2))), threshold_min=30, patients_per_gp=100)
    with pytest.raises(InputDataError, match=r"the flow has shape \(2, 4\); the matrix is \(2, 3\)"):
        certify_flow(m, DOCTORS, PEOPLE, sp.csr_array(np.ones((2, 4))), threshold_min=30, patients_per_gp=100)
    with pytest.raises(InputDataError, match="finite non-negative numbers of people"):
        certify_flow(m, DOCTORS, PEOPLE, flow.multiply(-1.0), threshold_min=30, patients_per_gp=100)
    with pytest.raises(InputDataError, match=r"beyond 19\.9 min"):
        certify_flow(m, DOCTORS, PEOPLE, flow, threshold_min=19.9, patients_per_gp=100)


def one_pair(minutes: float, people: float, places: float, flow: float, **kwargs: object):
    """certify_flow on one site and one unit (places = doctors, one patient per GP)."""
    return certify_flow(
        matrix_of(np.array([[minutes]])),
        [places],
        [people],
        sp.csr_array(np.array([[flow]])),
        threshold_min=10,
        patients_per_gp=1,
        **kwargs,
    )


def test_minutes_proven_to_a_tolerance() -> None:
    """Person-minutes are proven when at most the bound plus 1e-7 of it (at least 1e-7)."""
    # 10 people at 0 min: 0 person-minutes; a bound of -1e-7 plus its tolerance 1e-7 is 0 exactly
    assert one_pair(0.0, 10, 20, 10, minutes_bound=-1e-7).status == "optimal"
    assert one_pair(0.0, 10, 20, 10, minutes_bound=-2e-7).status == "feasible"
    assert one_pair(0.0, 10, 20, 10, minutes_bound=-1.0).status == "feasible"
    # 10 people at 5 min: 50; a bound of 50 - 4e-6 is met to 1e-7 of it (5e-6), 50 - 6e-6 is not
    assert one_pair(5.0, 10, 20, 10, minutes_bound=50 - 4e-6).status == "optimal"
    assert one_pair(5.0, 10, 20, 10, minutes_bound=50 - 6e-6).status == "feasible"


def test_flow_proven_to_a_tolerance() -> None:
    """A flow within 1e-7 of the people (at least of one person) of the cut is the maximum."""
    # 2e6 people, 1e6 places; 1e6 - 0.05 followed: the cut is the site's 1e6 (the unit has people
    # left, and reaches it), short by 0.05 < 1e-7 * 2e6 = 0.2: proven
    big = one_pair(5.0, 2e6, 1e6, 1e6 - 0.05, minutes_bound=5 * (1e6 - 0.05))
    assert big.served_bound == pytest.approx(1e6 - 0.05, abs=1e-9)
    assert big.status == "optimal"
    # 1 person, 0.5 places; 0.5 - 1.5e-7 followed: short of the cut (0.5) by more than 1e-7
    small = one_pair(5.0, 1.0, 0.5, 0.5 - 1.5e-7)
    assert small.served_bound == 0.5
    # 0.5 - 0.5e-7 followed: within 1e-7, proven; exactly 1e-7 short: proven
    assert one_pair(5.0, 1.0, 0.5, 0.5 - 0.5e-7).served_bound == pytest.approx(0.5 - 0.5e-7, abs=1e-15)
    assert one_pair(5.0, 1.0, 0.5, 0.5 - 1e-7).served_bound == 0.5 - 1e-7
    # half a person, 0.25 places: still 1e-7 of a person, so 0.7e-7 short is proven
    assert one_pair(5.0, 0.5, 0.25, 0.25 - 0.7e-7).served_bound == 0.25 - 0.7e-7


@pytest.mark.parametrize("tiny", [5e-11, 1e-12 * 100.0])
def test_people_left_and_places_used_above_1e_12(tiny: float) -> None:
    """In the residual graph a unit has people left only above 1e-12 of its people (at least
    1e-12), and a site follows a unit's people only for a flow above 1e-12 of its places."""
    # 1e6 people, 2e6 places, all but 5e-7 followed: below 1e-12 * 1e6 = 1e-6, nobody is left,
    # the cut is p(u0) = 1e6, met to 5e-7; counting the 5e-7 would reach s0: 2e6
    whole = one_pair(5.0, 1e6, 2e6, 1e6 - 5e-7)
    assert whole.served_bound == pytest.approx(1e6 - 5e-7, abs=1e-9)
    # 2e-12 people, 1e-12 followed: exactly 1e-12 left (2e-12 is twice 1e-12 in floats), not left
    assert 2e-12 - 1e-12 == 1e-12
    assert one_pair(5.0, 2e-12, 1.0, 1e-12).served_bound == 1e-12
    # s0 (100 places) follows u1 (100, only s0) for 100 - tiny and u0 (100, s0 and s1) for
    # tiny; s1 (150 places) follows u0 for 100 - tiny; u2 (10 people, only s0) nobody.
    # Source -> u2 -> s0 -> u1 (its tiny left and u0's tiny at s0 are at most 1e-12 * 100):
    # cut p(u0) + c(s0) = 200, the people followed.  Taking u0's tiny at s0 as a tie would reach
    # u0, then s1: c(s0) + c(s1) = 250.
    m = matrix_of(np.array([[5.0, 5.0, 5.0], [5.0, nan, nan]]))
    flow = sp.csr_array(np.array([[tiny, 100 - tiny, 0.0], [100 - tiny, 0.0, 0.0]]))
    checked = certify_flow(m, [100.0, 150.0], [100.0, 100.0, 10.0], flow, threshold_min=10, patients_per_gp=1)
    assert checked.served.sum() == pytest.approx(200 - tiny, abs=1e-9)
    assert checked.served_bound == pytest.approx(200, abs=1e-9)


def test_fewest_minutes_out_of_reach_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unreachable(highspy.Highs):
        # stage 2 asks one person more than the maximum, and again after the retry
        def addRow(self, lower, upper, *rest):  # noqa: N802 (HiGHS's name)
            return super().addRow(lower + 1.0, upper, *rest)

        def changeRowBounds(self, row, lower, upper):  # noqa: N802 (HiGHS's name)
            return super().changeRowBounds(row, lower + 1.0, upper)

    monkeypatch.setattr(highspy, "Highs", Unreachable)
    result = example()
    # no bound on the minutes from an infeasible stage 2: not proven
    assert result.solver_status == "HiGHS max flow: Optimal; fewest minutes: Infeasible"
    assert math.isnan(result.minutes_bound)
    assert result.status == "feasible"


def test_the_first_row_over_is_named() -> None:
    # the flow worked out above, for 50, 30 and 30 people: u0 (60 > 50) and u1 (80 > 30) over
    flow = sp.csr_array(np.array([[60.0, 40.0, 0.0], [0.0, 40.0, 0.0]]))
    with pytest.raises(InputDataError, match="the flow gives unit u0 60 people, more than its 50"):
        certify_flow(matrix_of(EXAMPLE), DOCTORS, [50.0, 30.0, 30.0], flow, threshold_min=30, patients_per_gp=100)


def test_fewer_than_one_patient_per_gp() -> None:
    # 0.5 patients per GP: 2 GPs follow 1 person; 5 people at 5 min: 1 followed, 5 person-minutes
    result = assign_patients(matrix_of(np.array([[5.0]])), [2.0], [5.0], threshold_min=10, patients_per_gp=0.5)
    assert result.served.tolist() == pytest.approx([1.0])
    assert result.person_minutes == pytest.approx(5.0)


def test_the_first_pair_beyond_the_threshold_is_named() -> None:
    # at 9 min, two pairs of the flow are beyond: u1 - s0 (10 min) first, then u1 - s1 (20)
    flow = sp.csr_array(np.array([[60.0, 40.0, 0.0], [0.0, 40.0, 0.0]]))
    with pytest.raises(InputDataError, match="people of unit u1 to site s0, beyond 9 min"):
        certify_flow(matrix_of(EXAMPLE), DOCTORS, PEOPLE, flow, threshold_min=9, patients_per_gp=100)


def test_a_pair_the_matrix_does_not_store_is_beyond_the_threshold() -> None:
    # the flow's pair (s1, u1) comes after every stored pair, with one pair stored and with two
    for minutes in (np.array([[5.0, nan], [nan, nan]]), np.array([[5.0, 6.0], [nan, nan]])):
        flow = sp.csr_array(np.array([[0.0, 0.0], [0.0, 1.0]]))
        with pytest.raises(InputDataError, match="people of unit u1 to site s1, beyond 10 min"):
            certify_flow(matrix_of(minutes), [1.0, 1.0], [5.0, 5.0], flow, threshold_min=10, patients_per_gp=100)
    # and one missing between two stored: (s0, u1) between (s0, u0) and (s1, u0)
    minutes = np.array([[5.0, nan], [6.0, nan]])
    flow = sp.csr_array(np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(InputDataError, match="people of unit u1 to site s0, beyond 10 min"):
        certify_flow(matrix_of(minutes), [1.0, 1.0], [5.0, 5.0], flow, threshold_min=10, patients_per_gp=100)


def test_rows_hold_to_1e_9() -> None:
    """A flow over a unit's people or a site's places by at most 1e-9 of them (at least
    1e-9 of a person) is within them; further over, it is refused."""
    full = one_pair(5.0, 200.0, 100.0, 100 + 5e-8)
    assert full.listed.tolist() == [100 + 5e-8]
    assert full.room.tolist() == [0.0]  # never negative
    with pytest.raises(InputDataError, match="site s0 100 people, more than its 100"):
        one_pair(5.0, 200.0, 100.0, 100 + 2e-7)
    whole = one_pair(5.0, 100.0, 200.0, 100 + 5e-8)
    assert whole.served.tolist() == [100 + 5e-8]
    assert whole.unserved.tolist() == [0.0] and whole.people_unmet == 0  # never negative
    with pytest.raises(InputDataError, match="unit u0 100 people, more than its 100"):
        one_pair(5.0, 100.0, 200.0, 100 + 2e-7)
    # below one person, 1e-9 of a person
    assert one_pair(5.0, 0.5, 2.0, 0.5 + 0.5e-9).served.tolist() == [0.5 + 0.5e-9]
    with pytest.raises(InputDataError, match=r"unit u0 0\.5 people, more than its 0\.5"):
        one_pair(5.0, 0.5, 2.0, 0.5 + 2e-9)
