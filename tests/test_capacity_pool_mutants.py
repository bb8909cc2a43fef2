"""Tests written for the survivors of the mutation run of coverage/capacity_pool.py (tests/mutation/README.md).

Expected values are worked out by hand in the comments.  Tests at a float boundary state the
rule they pin in their docstring.
"""

from __future__ import annotations

from types import SimpleNamespace

import highspy
import numpy as np
import pytest
import scipy.sparse as sp
from test_capacity import matrix_of

from coverage.accessibility import StepDecay
from coverage.capacity_pool import _flow_at, allocate_pool_by_capacity, compare_pool_allocations
from coverage.errors import InputDataError

nan = np.nan


# Sites s0 s1 s2 (no GP); units a=60 (s0, s1), b=60 (s0, s2), e=50 (s0), c=100 (s1), d=100 (s2)
# and f=0 (s1), as u0..u5.  200 patients per GP.  Arcs of people, in row order: (s0,a) (s0,b)
# (s0,e) (s1,a) (s1,c) (s2,b) (s2,d); (s1,f) carries nobody.
GREEDY_WRONG = np.array(
    [[5, 5, 5, nan, nan, nan], [5, nan, nan, 5, nan, 5], [nan, 5, nan, nan, 5, nan]],
    dtype=float,
)
PEOPLE6 = np.array([60.0, 60.0, 50.0, 100.0, 100.0, 0.0])


class Recorder(highspy.Highs):
    """HiGHS that keeps the model and the start it is given."""

    models: list[highspy.HighsLp] = []  # noqa: RUF012 (reset by each test)
    starts: list[list[float]] = []  # noqa: RUF012

    def passModel(self, lp):  # noqa: N802 (HiGHS's name)
        Recorder.models.append(lp)
        return super().passModel(lp)

    def setSolution(self, solution):  # noqa: N802 (HiGHS's name)
        Recorder.starts.append(list(solution.col_value))
        return super().setSolution(solution)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> type[Recorder]:
    Recorder.models, Recorder.starts = [], []
    monkeypatch.setattr(highspy, "Highs", Recorder)
    return Recorder


def test_the_milp_by_hand(recorder: type[Recorder]) -> None:
    # pool 1.5 in teams of 1: a full team (200 places) and a half one (100), at most 1.5 per site.
    # Greedy: the full team at s0 (a + b + e = 170, more than s1's or s2's 160), then the half
    # team at s1 or s2 (+100 of c or d; s0 would add nothing): 270.  The first bound is
    # min(1.5 x 200, everyone reached 370) = 300 > 270, so the MILP is run (and proves 270).
    result = allocate_pool_by_capacity(
        matrix_of(GREEDY_WRONG),
        np.zeros(3),
        PEOPLE6,
        pool=1.5,
        team_size=1,
        threshold_min=10,
        patients_per_gp=200,
        max_per_site=1.5,
    )
    assert result.assignment.served.sum() == pytest.approx(270)
    assert result.status == "optimal" and result.solver_status == "HiGHS: Optimal"
    milp = [lp for lp in recorder.models if lp.num_col_ == 13]
    assert len(milp) == 1
    lp = milp[0]
    # columns: n0 n1 n2 (full teams), r0 r1 r2 (the half team), x0..x6 (the arcs above)
    # rows: units a b e c d f, sites s0 s1 s2, the full teams, the half team, each site's most doctors
    assert lp.num_row_ == 14
    expected = np.zeros((14, 13))
    arcs = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 3), (2, 1), (2, 4)]
    for col, (s, u) in enumerate(arcs):
        expected[u, 6 + col] = 1.0  # the unit's people
        expected[6 + s, 6 + col] = 1.0  # the site's room
    for s in range(3):
        expected[6 + s, s] = -200.0  # a full team adds 200 places
        expected[6 + s, 3 + s] = -100.0  # the half team 100
        expected[9, s] = 1.0  # one full team
        expected[10, 3 + s] = 1.0  # one half team
        expected[11 + s, s] = 1.0  # doctors at the site: 1 per full team
        expected[11 + s, 3 + s] = 0.5  # and 0.5 for the half one
    a = sp.csc_array((lp.a_matrix_.value_, lp.a_matrix_.index_, lp.a_matrix_.start_), shape=(14, 13)).toarray()
    assert a.tolist() == expected.tolist()
    assert list(lp.row_upper_) == [60, 60, 50, 100, 100, 0, 0, 0, 0, 1, 1, 1.5, 1.5, 1.5]
    assert list(lp.row_lower_) == [-np.inf] * 14
    assert list(lp.col_upper_) == [1, 1, 1, 1, 1, 1] + [np.inf] * 7
    assert list(lp.col_lower_) == [0.0] * 13
    assert list(lp.col_cost_) == [0.0] * 6 + [1.0] * 7
    integer, continuous = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
    assert list(lp.integrality_) == [integer] * 6 + [continuous] * 7
    assert lp.sense_ == highspy.ObjSense.kMaximize
    # the start is the greedy's answer: the full team at s0, the half one where the greedy put it
    # (s1 or s2: a tie), and the flow of its assignment (a, b, e at s0; c or d at the half team)
    half = int(np.flatnonzero(result.greedy_doctors == 0.5)[0])
    assert half in (1, 2) and result.greedy_doctors.tolist() == [1.0] + [0.5 if s == half else 0.0 for s in (1, 2)]
    (start,) = recorder.starts
    x = [60.0, 60.0, 50.0, 0.0, 100.0 if half == 1 else 0.0, 0.0, 100.0 if half == 2 else 0.0]
    assert start == [1.0, 0.0, 0.0] + [1.0 if s == half else 0.0 for s in range(3)] + x


def test_at_most_one_team_per_site() -> None:
    # one site reaching 1,000 people, 100 per GP, a pool of 2 teams of 1 but at most 1 per site:
    # the greedy places 1 (100 followed), the first bound is 200, the MILP may not place more
    result = allocate_pool_by_capacity(
        matrix_of(np.array([[5.0]])),
        [0.0],
        [1000.0],
        pool=2,
        team_size=1,
        threshold_min=10,
        patients_per_gp=100,
        max_per_site=1,
    )
    assert result.doctors.tolist() == [1.0]
    assert result.assignment.served.tolist() == pytest.approx([100])


def test_teams_of_two() -> None:
    # a pool of 5 in teams of 2: two teams and one of 1; one site reaching 1,000 people, 100 per GP
    result = allocate_pool_by_capacity(
        matrix_of(np.array([[5.0]])), [1.0], [1000.0], pool=5, team_size=2, threshold_min=10, patients_per_gp=100
    )
    assert result.doctors.tolist() == [6.0]
    assert result.assignment.served.tolist() == pytest.approx([600])
    assert result.teams.to_dict("records") == [{"site_id": "s0", "teams": 3, "doctors_added": 5.0}]
    # before: 1 GP, 100 followed; after 600: 500 newly followed
    assert result.people_newly_served == pytest.approx(500)
    # a pool of 4 in teams of 2: exactly two teams
    even = allocate_pool_by_capacity(
        matrix_of(np.array([[5.0]])), [1.0], [1000.0], pool=4, team_size=2, threshold_min=10, patients_per_gp=100
    )
    assert even.teams.to_dict("records") == [{"site_id": "s0", "teams": 2, "doctors_added": 4.0}]


@pytest.mark.parametrize(("pool", "team_size"), [(2, 0), (2, -1), (0, 1), (-1, 1), (np.inf, 1), (2, np.nan)])
def test_a_pool_and_teams_of_no_doctor_are_refused(pool: float, team_size: float) -> None:
    with pytest.raises(InputDataError, match="must be positive numbers"):
        allocate_pool_by_capacity(
            matrix_of(np.array([[5.0]])), [0.0], [10.0], pool=pool, team_size=team_size, threshold_min=10
        )


def test_people_a_site_of_half_a_place_reaches_count_in_the_bound() -> None:
    # s0 (half a GP, 1 patient per GP: 0.5 place, not a candidate) reaches u0 (10); s1 (candidate)
    # reaches u1 (10).  A team of 20 at s1: 10 + 0.5 followed.  The first bound is
    # min(0.5 + 20, everyone reached 20) = 20 > 10.5: the MILP is run and proves 10.5
    result = allocate_pool_by_capacity(
        matrix_of(np.array([[5.0, nan], [nan, 5.0]])),
        [0.5, 0.0],
        [10.0, 10.0],
        pool=20,
        team_size=20,
        sites=["s1"],
        threshold_min=10,
        patients_per_gp=1,
    )
    assert result.assignment.served.tolist() == pytest.approx([0.5, 10])
    assert result.solver_status == "HiGHS: Optimal"
    assert result.status == "optimal" and result.bound == pytest.approx(10.5)


def pool_on(minutes: np.ndarray, people: list[float], **kwargs: object):
    """allocate_pool_by_capacity with no doctor before, 100 patients per GP unless said."""
    kwargs = {"team_size": 1, "threshold_min": 10, "patients_per_gp": 100, **kwargs}
    return allocate_pool_by_capacity(matrix_of(minutes), np.zeros(len(minutes)), np.array(people), **kwargs)


ALONE = np.array([[5.0, nan], [nan, 5.0]])  # s0 reaches u0 only, s1 u1 only


def test_the_greedy_re_evaluates_a_gain_that_fell() -> None:
    # u0 1,000 (s0), u1 50 (s1); two teams of 100 places.  Team 1: s0 (gain 100; s1's is not
    # more).  Team 2: s1 is tried first (more of its people left) but gains only 50, less than
    # s0's last 100, so s0 is tried again: +100.  Greedy: 2 at s0, 200 = the bound, no MILP.
    result = pool_on(ALONE, [1000.0, 50.0], pool=2)
    assert result.greedy_doctors.tolist() == [2.0, 0.0]
    assert result.greedy_served == pytest.approx(200)
    assert result.doctors.tolist() == [2.0, 0.0]
    assert result.solver_status == "not needed: the greedy answer meets the bound"


def test_the_greedy_parks_a_full_site_for_the_smaller_team() -> None:
    # u0 1,000 (s0), u1 50 (s1); a pool of 2.5 in teams of 1, at most 1.5 per site.  Team 1: s0.
    # Team 2: s1 tried (+50 < 100), s0 is full for a whole team (parked), so s1 (+50).  The half
    # team (50 places) goes back to s0 (+50): greedy 1.5 and 1, 150 + 50 = 200 followed
    result = pool_on(ALONE, [1000.0, 50.0], pool=2.5, max_per_site=1.5)
    assert result.greedy_doctors.tolist() == [1.5, 1.0]
    assert result.greedy_served == pytest.approx(200)
    assert result.doctors.tolist() == [1.5, 1.0]  # the MILP finds no more (the bound: 200)
    assert result.status == "optimal"
    # one site only: team 2 has nowhere to go, and the greedy stops there (the half team too)
    alone = pool_on(np.array([[5.0]]), [1000.0], pool=2.5, max_per_site=1.5)
    assert alone.greedy_doctors.tolist() == [1.0]
    assert alone.greedy_served == pytest.approx(100)
    assert alone.doctors.tolist() == [1.5]  # the MILP adds the half team: 150


def test_the_greedy_counts_whole_persons() -> None:
    # s0 reaches u0 34, u1 33, u2 33 (100); s1 reaches u3 101; one team of 200 places.  s0 tried
    # first (+100 < 200), then s1 (+101 >= 100): placed.  101 followed, the greedy's answer.
    minutes = np.array([[5, 5, 5, nan], [nan, nan, nan, 5]], dtype=float)
    result = pool_on(minutes, [34.0, 33.0, 33.0, 101.0], pool=1, patients_per_gp=200)
    assert result.greedy_doctors.tolist() == [0.0, 1.0]
    assert result.greedy_served == pytest.approx(101)


def test_a_team_of_two_adds_two_doctors_places() -> None:
    # teams of 2 GPs, 100 patients each: 200 places.  s0 reaches 150, s1 120: s0 (+150)
    result = pool_on(ALONE, [150.0, 120.0], pool=2, team_size=2)
    assert result.greedy_doctors.tolist() == [2.0, 0.0]
    assert result.greedy_served == pytest.approx(150)


def test_the_tie_break_moves_with_the_people_followed() -> None:
    """Ties between sites of the same gain go to the largest share of the people in reach left
    without a doctor with room, recomputed after each team."""
    # u0 300 (s0 and s1), u1 100 (s1), u2 100 (s2); two teams of 100.  Team 1: every share is 1,
    # s0 (lowest row).  Then 100 of u0 are followed: shares s0 200/300, s1 300/400, s2 1: team 2
    # at s2 (+100).  Greedy 1, 0, 1: 200 = the bound, no MILP.
    minutes = np.array([[5, nan, nan], [5, 5, nan], [nan, nan, 5]], dtype=float)
    result = pool_on(minutes, [300.0, 100.0, 100.0], pool=2)
    assert result.greedy_doctors.tolist() == [1.0, 0.0, 1.0]
    assert result.doctors.tolist() == [1.0, 0.0, 1.0]


def test_ties_go_to_the_lowest_row() -> None:
    # s0 and s1 both reach u0 (1,000) only: the same gains and shares, s0 takes both teams
    result = pool_on(np.array([[5.0], [5.0]]), [1000.0], pool=2)
    assert result.greedy_doctors.tolist() == [2.0, 0.0]


def test_the_greedy_starts_from_the_room_there_is() -> None:
    # s0 has 1 GP (100 places) for u0 (150); s1 none, for u1 (80).  One team of 100: +50 at s0,
    # +80 at s1: s1.  (80 + 100 = 180 followed = the bound: no MILP.)
    minutes = ALONE
    result = allocate_pool_by_capacity(
        matrix_of(minutes), [1.0, 0.0], [150.0, 80.0], pool=1, team_size=1, threshold_min=10, patients_per_gp=100
    )
    assert result.greedy_doctors.tolist() == [1.0, 1.0]
    assert result.doctors.tolist() == [1.0, 1.0]
    # and u0 of 300, u1 of 50: +100 at s0, +50 at s1: s0
    more = allocate_pool_by_capacity(
        matrix_of(minutes), [1.0, 0.0], [300.0, 50.0], pool=1, team_size=1, threshold_min=10, patients_per_gp=100
    )
    assert more.greedy_doctors.tolist() == [2.0, 0.0]


def test_the_milp_places_teams_of_two() -> None:
    # GREEDY_WRONG with teams of 2 GPs of 100 patients (200 places), a pool of 4: the greedy puts
    # them at s0 and s2 (270), the MILP at s1 and s2 (a + c, b + d: 320)
    result = allocate_pool_by_capacity(
        matrix_of(GREEDY_WRONG), np.zeros(3), PEOPLE6, pool=4, team_size=2, threshold_min=10, patients_per_gp=100
    )
    assert result.greedy_served == pytest.approx(270)
    assert result.doctors.tolist() == [0.0, 2.0, 2.0]
    assert result.assignment.served.sum() == pytest.approx(320)
    assert sorted(result.teams["site_id"]) == ["s1", "s2"] and result.teams["teams"].tolist() == [1, 1]


def test_at_most_two_teams_of_two_per_site() -> None:
    # one site reaching 1,000, teams of 2 GPs of 100 patients, a pool of 6, at most 4 per site:
    # 2 teams (400 followed), the greedy and the MILP alike
    result = pool_on(np.array([[5.0]]), [1000.0], pool=6, team_size=2, max_per_site=4)
    assert result.doctors.tolist() == [4.0]
    assert result.assignment.served.tolist() == pytest.approx([400])


def test_a_pool_with_float_noise_has_no_smaller_team(recorder: type[Recorder]) -> None:
    """A remainder of at most 1e-9 of a team (here 1e-10) is float noise, not a smaller team."""
    allocate_pool_by_capacity(
        matrix_of(GREEDY_WRONG),
        np.zeros(3),
        PEOPLE6,
        pool=2 + 1e-10,
        team_size=1,
        threshold_min=10,
        patients_per_gp=200,
    )
    # the MILP (greedy 270 < bound 370): full teams n0 n1 n2 and the 7 arcs, no half-team column
    assert [lp.num_col_ for lp in recorder.models if len(lp.integrality_)] == [10]


class _Info:
    def __init__(self, bound: float) -> None:
        self.mip_dual_bound = bound


def test_a_milp_bound_below_a_known_answer_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    class Wrong(highspy.Highs):
        # the MILP's bound says 100, below the answer it gives (320)
        def getInfo(self):  # noqa: N802 (HiGHS's name)
            info = super().getInfo()
            return _Info(100.0) if self.getLp().integrality_ else info

    monkeypatch.setattr(highspy, "Highs", Wrong)
    result = allocate_pool_by_capacity(
        matrix_of(GREEDY_WRONG), np.zeros(3), PEOPLE6, pool=2, team_size=1, threshold_min=10, patients_per_gp=200
    )
    # the bound falls back to min(0 followed before + 2 x 200, everyone reached 370) = 370
    assert result.assignment.served.sum() == pytest.approx(320)
    assert result.bound == pytest.approx(370)
    assert result.status == "feasible"
    assert result.gap == pytest.approx(50 / 370)


def test_a_milp_without_an_answer_leaves_the_greedy_one(monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupted(highspy.Highs):
        def getModelStatus(self):  # noqa: N802 (HiGHS's name)
            status = super().getModelStatus()
            return highspy.HighsModelStatus.kInterrupt if self.getLp().integrality_ else status

    monkeypatch.setattr(highspy, "Highs", Interrupted)
    # u0 and u1 of 0.4 person each at s0: the greedy counts whole persons (0), places no team and
    # follows nobody; the bound is min(one team's 100, the 0.8 reached); the MILP gives nothing
    result = pool_on(np.array([[5.0, 5.0]]), [0.4, 0.4], pool=1)
    assert result.greedy_served == 0 and result.assignment.served.sum() == 0
    assert result.solver_status == "HiGHS: Interrupted by user"
    assert result.bound == pytest.approx(0.8)
    assert result.status == "feasible" and result.gap == pytest.approx(1.0)


def test_allocations_compare_by_identity() -> None:
    first, second = pool_on(ALONE, [150.0, 80.0], pool=1), pool_on(ALONE, [150.0, 80.0], pool=1)
    assert first == first and first != second
    assert len({first: 1, second: 2}) == 2


def test_seconds_are_a_difference_of_clock_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    # perf_counter's origin is arbitrary: readings of 10 s then 35 s are 25 s taken
    import coverage.capacity_pool as capacity_pool

    readings = iter([10.0, 35.0])
    monkeypatch.setattr(capacity_pool, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    assert pool_on(ALONE, [150.0, 80.0], pool=1).seconds == 25.0


@pytest.mark.parametrize(("people", "too_many"), [(8e8, False), (1073741822.0, True), (2e9, True)])
def test_the_greedy_flows_hold_a_billion_people(people: float, too_many: bool) -> None:
    """The greedy's integer flows take up to 2**30 - 2 people (its 'no limit' is people + 1,
    below half the int32 range); from 2**30 - 2 = 1,073,741,822 on, they are refused."""
    if too_many:
        with pytest.raises(InputDataError, match="too many for the greedy's integer flows"):
            pool_on(np.array([[5.0]]), [people], pool=1, patients_per_gp=1e6)
    else:
        result = pool_on(np.array([[5.0]]), [people], pool=1, patients_per_gp=1e6)
        assert result.greedy_served == pytest.approx(1e6)


def test_flow_at_by_hand() -> None:
    # flows stored at (s0, u0) 1, (s0, u2) 2 and (s1, u0) 3, of 2 sites x 3 units; asked: (s0,u0)
    # (s0,u1) (s1,u2) (s0,u2) (s1,u0): 1, 0 (not stored), 0 (after every stored pair), 2, 3
    flows = sp.csr_array(np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]]))
    site, unit = np.array([0, 0, 1, 0, 1]), np.array([0, 1, 2, 2, 0])
    assert _flow_at(flows, site, unit).tolist() == [1.0, 0.0, 0.0, 2.0, 3.0]
    assert _flow_at(sp.csr_array((2, 3)), site, unit).tolist() == [0.0] * 5


def test_comparison_counts_doctors_and_sites_receiving() -> None:
    # 3 sites, 1 GP at s0 before; the allocation adds 1 at s1: 1 doctor added, 1 site receiving
    m = matrix_of(np.array([[5.0, nan, nan], [nan, 5.0, nan], [nan, nan, 5.0]]))
    # the APL line (one band of 10 min): 1 GP for u0's 100 people, 0.01, on the line 0.01: above
    # (the line is met at >=); u1 and u2 0 before, u1 0.01 after; u2 not counted
    table = compare_pool_allocations(
        m,
        [1.0, 0.0, 0.0],
        [100.0, 100.0, 100.0],
        {"one at s1": [1.0, 1.0, 0.0]},
        threshold_min=10,
        priority_line=0.01,
        patients_per_gp=100,
        decay=StepDecay(((10.0, 1.0),)),
        counted=[True, True, False],
    ).set_index("allocation")
    assert table["people_above_line"].tolist() == [100, 200]
    assert table["people_lifted"].tolist() == [0, 100]
    assert table["doctors_added"].tolist() == [0.0, 1.0]
    assert table["sites_receiving"].tolist() == [0, 1]
    assert table["people_served"].tolist() == pytest.approx([100, 200])
    with pytest.raises(TypeError):
        compare_pool_allocations(m, [1.0, 0.0, 0.0], [100.0] * 3, {}, 10, 0.0)  # type: ignore[misc]
    # 2 GPs at s0 before, 1.5 after: fewer
    with pytest.raises(InputDataError, match="allocation 'fewer' has fewer doctors than before"):
        compare_pool_allocations(
            m, [2.0, 0.0, 0.0], [100.0] * 3, {"fewer": [1.5, 1.0, 0.0]}, threshold_min=10, priority_line=0.0
        )


def test_a_milp_of_more_than_256_columns() -> None:
    # GREEDY_WRONG (greedy 270, best 320) and a site s3 with 2 GPs (400 places, not a candidate)
    # reaching 250 more units of 1 person: 260 columns in the MILP; the MILP's answer is used
    extra = np.full((4, 250), nan)
    extra[3] = 5.0
    minutes = np.hstack([np.vstack([GREEDY_WRONG, np.full((1, 6), nan)]), extra])
    people = np.concatenate([PEOPLE6, np.ones(250)])
    result = allocate_pool_by_capacity(
        matrix_of(minutes),
        [0.0, 0.0, 0.0, 2.0],
        people,
        pool=2,
        team_size=1,
        sites=["s0", "s1", "s2"],
        threshold_min=10,
        patients_per_gp=200,
    )
    assert result.greedy_served == pytest.approx(270 + 250)
    assert result.assignment.served.sum() == pytest.approx(320 + 250)
    assert result.doctors.tolist() == [0.0, 1.0, 1.0, 2.0]


def test_highs_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    def milp() -> None:
        allocate_pool_by_capacity(
            matrix_of(GREEDY_WRONG), np.zeros(3), PEOPLE6, pool=2, team_size=1, threshold_min=10, patients_per_gp=200
        )

    milp()  # HiGHS prints its banner once per process, at its first use
    capfd.readouterr()
    milp()
    assert capfd.readouterr().out == ""


def test_teams_of_a_tenth() -> None:
    """The most teams a site may receive is counted to 1e-9 of a team: 0.3 doctors are 3 teams
    of 0.1 (0.3 / 0.1 is 2.9999999999999996 in floats)."""
    # one site reaching 1,000; teams of 0.1 GP of 100 patients (10 places), a pool of 0.5
    result = pool_on(np.array([[5.0]]), [1000.0], pool=0.5, team_size=0.1, max_per_site=0.3)
    assert result.doctors.tolist() == pytest.approx([0.3])
    assert result.assignment.served.tolist() == pytest.approx([30])
    assert result.status == "optimal"


def test_ties_between_sites_of_one_person_and_of_two() -> None:
    # s0 reaches u0 (1 person), s1 u1 (2); a team follows 1 person: both gain 1, every person is
    # without a doctor (shares 1 and 1), so the lowest row: s0
    result = pool_on(ALONE, [1.0, 2.0], pool=1, patients_per_gp=1)
    assert result.greedy_doctors.tolist() == [1.0, 0.0]


def test_the_first_tie_break_counts_the_people_already_followed() -> None:
    # s0 has 1 GP (100 places) for u0 (300): 200 of 300 left; s1 none for u1 (100): all left.
    # One team of 100: both gain 100, s1 has the larger share left
    result = allocate_pool_by_capacity(
        matrix_of(ALONE), [1.0, 0.0], [300.0, 100.0], pool=1, team_size=1, threshold_min=10, patients_per_gp=100
    )
    assert result.greedy_doctors.tolist() == [1.0, 1.0]


def test_the_milp_follows_fractions_of_a_person() -> None:
    # u0 and u1 of 0.4 person at s0: the greedy counts whole persons (0) and places nothing; the
    # first bound is min(one team's 100 places, the 0.8 reached): the MILP places the team
    result = pool_on(np.array([[5.0, 5.0]]), [0.4, 0.4], pool=1)
    assert result.greedy_served == 0
    assert result.doctors.tolist() == [1.0]
    assert result.assignment.served.sum() == pytest.approx(0.8)
    assert result.status == "optimal"


def test_a_candidate_with_doctors_already() -> None:
    # s0 (1 GP, 100 places, a candidate) reaches u0 (1,000); a pool of 2 teams of 1, at most 1 per
    # site: 200 followed.  The first bound is 100 + 200 = 300: the MILP (s0's pairs in it) proves 200
    result = allocate_pool_by_capacity(
        matrix_of(np.array([[5.0]])),
        [1.0],
        [1000.0],
        pool=2,
        team_size=1,
        threshold_min=10,
        patients_per_gp=100,
        max_per_site=1,
    )
    assert result.assignment.served.tolist() == pytest.approx([200])
    assert result.status == "optimal" and result.bound == pytest.approx(200)


def test_sites_without_doctors_that_are_not_candidates_reach_nobody() -> None:
    # s0 (a candidate) reaches u0 (100), s1 (no GP, not a candidate) u1 (100); two teams of 100:
    # one at s0 follows u0, the second has nowhere to go.  The bound: min(200, the 100 that s0
    # reaches), met by the greedy: no MILP
    result = pool_on(ALONE, [100.0, 100.0], pool=2, sites=["s0"])
    assert result.assignment.served.tolist() == pytest.approx([100, 0])
    assert result.solver_status == "not needed: the greedy answer meets the bound"
    assert result.status == "optimal" and result.bound == pytest.approx(100)
