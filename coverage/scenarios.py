"""The salaried-doctor scenarios and how accessibility is measured: settings only.

:class:`AccessSettings` says how accessibility is measured; a :class:`Scenario` adds
doctors at named sites (:class:`Addition`: existing facilities, communes or points) and
shares out a :class:`Pool` of doctors in teams.  They are frozen values that read no
file: :func:`coverage.io.settings.load_scenario` reads them from a TOML file (see
``geodata/scenarios/``), and :func:`coverage.access_study.study_access` computes the
accessibility before and after.

Units of the result (:class:`AccessSettings`): ``"consultations"`` gives consultations per
year per standardised inhabitant (supply in GP full-time equivalents times the
consultations of one FTE, 5,400 by default, the figure ARS documentation uses to turn an
APL in FTE into consultations), the unit of DREES's APL, whose priority-zone line is 2.5;
``"gps"`` gives GPs per ``per_inhabitants`` (100,000) inhabitants.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from coverage.accessibility import DEFAULT_BANDS, ContinuousDecay, StepDecay
from coverage.capacity import DEFAULT_PATIENTS_PER_GP
from coverage.errors import InputDataError
from coverage.numbers import is_number

__all__ = [
    "ABOVE",
    "MEASURES",
    "POOL_CANDIDATES",
    "PRIORITY",
    "AccessSettings",
    "Addition",
    "Pool",
    "Scenario",
    "check_priority_line",
    "is_number",
    "resolve_sites",
    "scenario_name",
    "with_overrides",
]

MEASURES = ("consultations", "gps")
#: Candidate sets a pool may use: existing facilities, commune town halls, or both.
POOL_CANDIDATES = ("facilities", "communes", "facilities+communes")
# Class labels as written in the outputs (accessibility.csv); "above threshold" predates the
# name "priority line" and stays, so that the tables of earlier runs compare.
PRIORITY, ABOVE = "priority", "above threshold"


def check_priority_line(value: object, *, name: str = "the priority line") -> None:
    """An error naming ``name`` unless ``value`` is None (the default line) or a positive number."""
    if value is not None and not (is_number(value) and value > 0):  # type: ignore[operator]
        raise InputDataError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class AccessSettings:
    """How accessibility is measured.

    Attributes
    ----------
    decay
        Distance decay: steps (:data:`~coverage.accessibility.DEFAULT_BANDS`: 1 up to 10 min,
        2/3 up to 15, 1/3 up to 20, 0 beyond) or a
        :class:`~coverage.accessibility.ContinuousDecay`.
    measure
        ``"consultations"`` (per year per standardised inhabitant) or ``"gps"`` (GPs
        per ``per_inhabitants``).
    consultations_per_fte
        Consultations a year of one GP full-time equivalent.
    per_inhabitants
        Denominator of the ``"gps"`` measure.
    priority_line
        Priority line in the measure's unit (units below it are priority zones); default 2.5 consultations (DREES's line
        for priority zones), or its equivalent in GPs
        (``2.5 * per_inhabitants / consultations_per_fte``).
    supply_column
        Column of the facility input with the GPs (or FTE) of each facility.
    default_supply
        Supply of facilities whose cell is empty (default: median of the stated ones);
        always logged as a warning.
    age_weights
        Age column -> consumption weight; demand is then age-standardised
        (:func:`~coverage.accessibility.age_weighted_demand`).
    age_table, age_id_column
        File with the age columns, joined on ``age_id_column`` (default: the columns
        are in the units themselves).
    capacity_minutes
        With a number of minutes: the doctors' patient lists are studied too
        (:mod:`coverage.capacity_study`): people assigned to doctors with room within
        that many minutes, before and after the scenario.  None: not studied.
    patients_per_gp
        Patients one GP follows as médecin traitant
        (:data:`~coverage.capacity.DEFAULT_PATIENTS_PER_GP`, with its source).
    """

    decay: StepDecay | ContinuousDecay = DEFAULT_BANDS
    measure: str = "consultations"
    consultations_per_fte: float = 5400.0
    per_inhabitants: float = 100_000.0
    priority_line: float | None = None
    supply_column: str = "n_gp"
    default_supply: float | None = None
    age_weights: dict[str, float] | None = None
    age_table: str | Path | None = None
    age_id_column: str = "code_insee"
    capacity_minutes: float | None = None
    patients_per_gp: float = DEFAULT_PATIENTS_PER_GP

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise InputDataError(f"unknown measure {self.measure!r}; expected one of {', '.join(MEASURES)}")
        for name in ("consultations_per_fte", "per_inhabitants", "patients_per_gp"):
            value = getattr(self, name)
            if not (is_number(value) and value > 0):
                raise InputDataError(f"{name} must be a positive number, got {value!r}")
        check_priority_line(self.priority_line)
        if self.capacity_minutes is not None and not (is_number(self.capacity_minutes) and self.capacity_minutes > 0):
            raise InputDataError(f"capacity_minutes must be a positive number, got {self.capacity_minutes!r}")
        if self.default_supply is not None and not (is_number(self.default_supply) and self.default_supply >= 0):
            raise InputDataError(f"default_supply must be a non-negative number, got {self.default_supply!r}")

    @property
    def scale(self) -> float:
        """Factor from supply per unit of demand (GPs per person) to the measure."""
        return float(self.consultations_per_fte if self.measure == "consultations" else self.per_inhabitants)

    @property
    def priority_line_value(self) -> float:
        """The priority line: ``priority_line``, else 2.5 consultations or its equivalent in GPs."""
        if self.priority_line is not None:
            return float(self.priority_line)
        if self.measure == "consultations":
            return 2.5
        return 2.5 * self.per_inhabitants / self.consultations_per_fte

    @property
    def unit_label(self) -> str:
        if self.measure == "consultations":
            return "consultations per year per standardised inhabitant"
        return f"GPs per {self.per_inhabitants:,.0f} inhabitants"

    def as_dict(self) -> dict[str, Any]:
        return {
            "decay": self.decay.describe(),
            "measure": self.measure,
            "unit": self.unit_label,
            "consultations_per_fte": self.consultations_per_fte,
            "per_inhabitants": self.per_inhabitants,
            "priority_line": self.priority_line_value,
            "supply_column": self.supply_column,
            "default_supply": self.default_supply,
            "age_weights": self.age_weights,
            "age_table": None if self.age_table is None else str(self.age_table),
            "age_id_column": self.age_id_column,
            "capacity_minutes": self.capacity_minutes,
            "patients_per_gp": self.patients_per_gp,
        }


@dataclass(frozen=True)
class Addition:
    """``supply`` doctors (GPs or FTE) added at one site: an existing ``facility`` (its
    id), a ``commune`` (a unit id: the site is the unit's point, its town hall), or a
    point ``lon``/``lat`` (EPSG:4326).  ``name`` labels a new site."""

    supply: float
    facility: str | None = None
    commune: str | None = None
    lon: float | None = None
    lat: float | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not (is_number(self.supply) and self.supply > 0):
            raise InputDataError(f"an addition needs a positive number of doctors, got {self.supply!r}")
        given = [self.facility is not None, self.commune is not None, self.lon is not None or self.lat is not None]
        if sum(given) != 1:
            raise InputDataError("an addition needs exactly one place: facility, commune, or lon and lat")
        if given[2] and not (
            is_number(self.lon) and is_number(self.lat) and abs(self.lon) <= 180 and abs(self.lat) <= 90  # type: ignore[arg-type]
        ):
            raise InputDataError(
                f"an addition at a point needs a longitude and a latitude, got ({self.lon}, {self.lat})"
            )

    @property
    def label(self) -> str:
        if self.facility is not None:
            return f"facility {self.facility}"
        if self.commune is not None:
            return f"commune {self.commune}"
        return f"point ({self.lon}, {self.lat})"


@dataclass(frozen=True)
class Pool:
    """A pool of ``supply`` doctors placed in teams of ``team_size`` by the greedy of
    :func:`~coverage.pool.allocate_pool`.

    ``candidates``: ``"facilities"``, ``"communes"`` (every unit's point, and the new
    sites of the scenario's additions) or ``"facilities+communes"``; ``exclude``: unit or
    facility ids left out; ``min_population``: a commune's town hall is a candidate only
    when the commune has at least this many inhabitants (a team of salaried GPs settles in
    a bourg rather than a hamlet; existing facilities and the sites of additions are kept
    whatever their commune's size);
    ``max_per_site``: most doctors one site may receive; ``schedule``: doctors hired each
    year (``"2021:40,2022:40,..."``, or ``"2021-2028"`` for the pool spread evenly), to
    phase the teams (:func:`~coverage.phasing_pool.phase_pool`).
    """

    supply: float
    team_size: float = 1.0
    candidates: str = "facilities+communes"
    max_per_site: float | None = None
    exclude: tuple[str, ...] = ()
    min_population: float = 0.0
    schedule: str | None = None

    def __post_init__(self) -> None:
        if not (is_number(self.supply) and self.supply > 0):
            raise InputDataError(f"the pool needs a positive number of doctors, got {self.supply!r}")
        if not (is_number(self.team_size) and self.team_size > 0):
            raise InputDataError(f"the team size must be a positive number, got {self.team_size!r}")
        if self.candidates not in POOL_CANDIDATES:
            raise InputDataError(
                f"unknown pool candidates {self.candidates!r}; expected one of {', '.join(POOL_CANDIDATES)}"
            )
        if not (is_number(self.min_population) and self.min_population >= 0):
            raise InputDataError(f"min_population must be a non-negative number, got {self.min_population!r}")
        if self.max_per_site is not None and not (is_number(self.max_per_site) and self.max_per_site >= self.team_size):
            raise InputDataError(
                f"max_per_site ({self.max_per_site!r}) must be a number at least the team size ({self.team_size})"
            )
        if self.schedule is not None:
            from coverage.phasing import Schedule

            Schedule.parse(str(self.schedule), total=float(self.supply))


@dataclass(frozen=True)
class Scenario:
    """Doctors added at named sites, then a pool shared out (either may be absent)."""

    name: str = "scenario"
    additions: tuple[Addition, ...] = ()
    pool: Pool | None = None

    @property
    def is_empty(self) -> bool:
        return not self.additions and self.pool is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "additions": [{k: v for k, v in vars(a).items() if v is not None} for a in self.additions],
            "pool": None if self.pool is None else {**vars(self.pool), "exclude": list(self.pool.exclude)},
        }


def with_overrides(settings: AccessSettings, **overrides: Any) -> AccessSettings:
    """A copy of ``settings`` with the overrides that are not None."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def scenario_name(additions: tuple[Addition, ...], pool: Pool | None) -> str:
    """A name that says what a scenario without one does: ``+2 at F1; pool of 300 in teams of 3``."""
    parts = [f"+{a.supply:g} at {a.facility}" for a in additions]
    if pool is not None:
        parts.append(f"pool of {pool.supply:g} in teams of {pool.team_size:g}")
    return "; ".join(parts) or "baseline"


def resolve_sites(scenario: Scenario, facility_ids: set[str]) -> Scenario:
    """Additions named by a bare site id (``--add SITE:N``, read as a facility): the id of
    a facility stays one, any other id is taken as a commune (unit) id."""
    fixed = tuple(
        replace(a, facility=None, commune=a.facility)
        if a.facility is not None and a.facility not in facility_ids
        else a
        for a in scenario.additions
    )
    return replace(scenario, additions=fixed)
