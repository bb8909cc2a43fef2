"""Tests for the last 20 survivors of the mutation run of coverage/capacity.py (tests/mutation/README.md).

Expected values are worked out by hand in the comments.  Tests at a float boundary state the
rule they pin in their docstring.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import highspy
import numpy as np
import pytest
import scipy.sparse as sp
from test_capacity import matrix_of
from test_capacity_mutants import one_pair

import coverage.capacity as capacity_module
from coverage.capacity import assign_patients, certify_flow
from coverage.errors import InputDataError

nan = np.nan


# s0 (1 GP, 100 places) reaches u0 (60 people, 5 min) and u1 (80, 10 min); s1 (half a GP, 50
# places) reaches u1 (20 min); u2 (30) reaches nobody.  100 patients per GP.
EXAMPLE = np.array([[5.0, 10.0, nan], [nan, 20.0, nan]])
DOCTORS = [1.0, 0.5]
PEOPLE = [60.0, 80.0, 30.0]


def test_an_assignment_cannot_be_changed() -> None:
    result = assign_patients(matrix_of(EXAMPLE), DOCTORS, PEOPLE, threshold_min=30, patients_per_gp=100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = "optimal"  # type: ignore[misc]


def test_one_gp_follows_960_patients_by_default() -> None:
    # the documented default (Assurance maladie, 2021): 1 GP, 2,000 people at 5 min -> 960 followed
    m = matrix_of(np.array([[5.0]]))
    result = assign_patients(m, [1.0], [2000.0], threshold_min=10)
    assert result.patients_per_gp == 960.0
    assert result.capacity.tolist() == [960.0]
    assert result.served.tolist() == pytest.approx([960.0])
    # and certify_flow's default is the same: 961 people on 1 GP's list is refused, 960 is not
    assert certify_flow(m, [1.0], [2000.0], sp.csr_array(np.array([[960.0]])), threshold_min=10).capacity[0] == 960
    with pytest.raises(InputDataError, match="site s0 961 people, more than its 960"):
        certify_flow(m, [1.0], [2000.0], sp.csr_array(np.array([[961.0]])), threshold_min=10)


def test_options_are_keyword_only() -> None:
    # the data (matrix, doctors, population) by position or by name; the threshold only by name
    m = matrix_of(EXAMPLE)
    by_name = assign_patients(matrix=m, doctors=DOCTORS, population=PEOPLE, threshold_min=30, patients_per_gp=100)
    assert by_name.served.sum() == pytest.approx(140)  # u0 60 + u1 80 (u2 reaches nobody)
    with pytest.raises(TypeError):
        assign_patients(m, DOCTORS, PEOPLE, 30)  # type: ignore[misc]


@pytest.mark.parametrize("per_gp", [0, 0.0, -0.5])
def test_no_patient_per_gp_is_refused(per_gp: float) -> None:
    with pytest.raises(InputDataError, match="patients_per_gp must be a positive number"):
        assign_patients(matrix_of(EXAMPLE), DOCTORS, PEOPLE, threshold_min=30, patients_per_gp=per_gp)


@pytest.mark.parametrize("counted", [[True, False], [True, False, True, True], [[True, False, True]]])
def test_counted_of_the_wrong_length_is_refused(counted: list) -> None:
    # 3 units: a mask of 2, of 4, or of 1 x 3 values
    with pytest.raises(InputDataError, match=r"counted: expected one value per unit \(3\)"):
        assign_patients(matrix_of(EXAMPLE), DOCTORS, PEOPLE, threshold_min=30, patients_per_gp=100, counted=counted)
    flow = sp.csr_array(np.array([[60.0, 40.0, 0.0], [0.0, 40.0, 0.0]]))
    with pytest.raises(InputDataError, match=r"counted: expected one value per unit \(3\)"):
        certify_flow(matrix_of(EXAMPLE), DOCTORS, PEOPLE, flow, threshold_min=30, patients_per_gp=100, counted=counted)


def test_mean_minutes_are_not_rounded() -> None:
    # u0: 1 person at 5 min and 2 at 6 min (s0 has 1 place): (5 + 12) / 3 = 17/3 min
    m = matrix_of(np.array([[5.0], [6.0]]))
    result = assign_patients(m, [1.0, 5.0], [3.0], threshold_min=10, patients_per_gp=1)
    assert result.units_table()["mean_minutes"].tolist() == pytest.approx([17 / 3])


@pytest.mark.parametrize("negative", [-0.5, -1e-12])
def test_any_negative_flow_is_refused(negative: float) -> None:
    with pytest.raises(InputDataError, match="finite non-negative numbers of people"):
        one_pair(5.0, 10.0, 10.0, negative)


def test_a_row_exactly_at_its_tolerance_is_within_it() -> None:
    """A row may exceed its bound by 1e-9 of max(1 person, the bound) and no more: 0.5 + 1e-9
    (the bound plus exactly its tolerance, in floats) is within a unit of half a person."""
    at = one_pair(5.0, 0.5, 2.0, 0.5 + 1e-9)
    assert at.served.tolist() == [0.5 + 1e-9]
    assert one_pair(5.0, 2.0, 0.5, 0.5 + 1e-9).listed.tolist() == [0.5 + 1e-9]  # a site of half a place
    with pytest.raises(InputDataError, match=r"unit u0 0\.5 people, more than its 0\.5"):
        one_pair(5.0, 0.5, 2.0, 0.5 + 1.5e-9)


@pytest.mark.parametrize(("places", "tiny", "bound"), [(1.0, 1.5e-12, 11.0), (1.0, 0.5e-12, 6.0), (0.5, 0.7e-12, 5.5)])
def test_a_tiny_flow_is_a_back_arc_above_1e_12_of_a_place(places: float, tiny: float, bound: float) -> None:
    """In the residual graph, a site follows a unit's people only for a flow above 1e-12 of
    max(1 place, the site's places), even at a site of less than one place."""
    # s0 (`places`) reaches u0 (2 people) and u1 (5); s1 (10 places) reaches u1 only.  s0 follows
    # u0 for places - tiny and u1 for tiny; s1 follows u1 for 5 - tiny.  u0 has people left:
    # source -> u0 -> s0.  If tiny counts, s0 -> u1 -> s1: cut c(s0) + c(s1) = places + 10;
    # if not, the cut is p(u1) + c(s0) = 5 + places, the people followed (6 - tiny or 5.5 - tiny).
    m = matrix_of(np.array([[5.0, 5.0], [nan, 5.0]]))
    flow = sp.csr_array(np.array([[places - tiny, tiny], [0.0, 5.0 - tiny]]))
    checked = certify_flow(m, [places, 10.0], [2.0, 5.0], flow, threshold_min=10, patients_per_gp=1)
    assert checked.served_bound == pytest.approx(bound, abs=1e-9)


@pytest.mark.parametrize(("left", "bound"), [(1.5e-12, 10.0), (0.5e-12, 1.0)])
def test_people_left_above_1e_12_of_one_person(left: float, bound: float) -> None:
    """A unit of one person has people left in the residual graph above 1e-12 of a person."""
    # u0 (1 person) and s0 (10 places): with people left, source -> u0 -> s0, cut c(s0) = 10;
    # without, the cut is p(u0) = 1, the people followed (to 1e-12)
    assert one_pair(5.0, 1.0, 10.0, 1.0 - left).served_bound == pytest.approx(bound, abs=1e-9)


def test_a_hair_fewer_than_half_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    """When stage 2 finds the maximum out of reach, it asks for 1e-9 of max(1 person, the
    maximum) fewer: 0.5 - 1e-9 for a maximum of half a person."""

    class Demanding(highspy.Highs):
        # stage 2 asks one person more than stage 1's maximum: out of reach
        def addRow(self, lower, upper, *rest):  # noqa: N802 (HiGHS's name)
            return super().addRow(lower + 1.0, upper, *rest)

    monkeypatch.setattr(highspy, "Highs", Demanding)
    # half a person, 1.5 places at 5 min: the maximum 0.5; the fewest minutes take the least allowed
    result = assign_patients(matrix_of(np.array([[5.0]])), [1.5], [0.5], threshold_min=10, patients_per_gp=1)
    assert result.served.sum() == pytest.approx(0.5 - 1e-9, abs=2e-10)


def test_seconds_are_a_difference_of_clock_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    # perf_counter's origin is arbitrary: readings of 10 s then 35 s are 25 s taken (not 3.5, 3 or 5)
    readings = iter([10.0, 35.0])
    monkeypatch.setattr(capacity_module, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    result = assign_patients(matrix_of(EXAMPLE), DOCTORS, PEOPLE, threshold_min=30, patients_per_gp=100)
    assert result.seconds == 25.0
    readings = iter([35.0])
    assert one_pair(5.0, 10.0, 10.0, 10.0, start=10.0).seconds == 25.0
