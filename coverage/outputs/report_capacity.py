"""The report section on doctors' patient lists: people without an accessible doctor with room.

:func:`capacity_section` reports :func:`coverage.capacity.assign_patients` before and
after a scenario (the settings, the proofs, the people left over in all and by
department, and the comparison of pool allocations of
:func:`coverage.capacity_pool.compare_pool_allocations`), from the table of the people
left over by area (:func:`coverage.capacity_study.unmet_by_area`); :func:`capacity_figure`
draws them by department, before and after.  Text is escaped by
:mod:`coverage.outputs.html_blocks`, numbers formatted by :mod:`coverage.outputs.style`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from coverage.outputs.figure_canvas import department_label, literal, new_figure
from coverage.outputs.html_blocks import escape, figure, key_value_table, numeric, table
from coverage.outputs.style import OKABE_ITO, fr_doctors, fr_int, fr_minutes, fr_number, fr_pct

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from coverage.capacity import CapacityAssignment
    from coverage.capacity_pool import CapacityPoolAllocation

__all__ = ["capacity_figure", "capacity_section"]

_ALLOCATION_NAMES = {"before": "Avant (before)"}


def _facts(
    before: CapacityAssignment, after: CapacityAssignment | None, pool: CapacityPoolAllocation | None
) -> list[tuple[str, object]]:
    """Settings, proofs and totals as parameter / value pairs."""

    def mean_minutes(a: CapacityAssignment) -> str:
        served = float(a.served.sum())
        return fr_number(a.person_minutes / served, 1) if served > 0 else "–"

    facts: list[tuple[str, object]] = [
        ("Seuil (threshold)", f"{fr_minutes(before.threshold_min)} min"),
        ("Patients par médecin (patients per GP)", fr_int(before.patients_per_gp)),
        ("Médecins, avant (GPs, before)", fr_doctors(float(before.doctors.sum()))),
        ("Places sur les listes, avant (places on lists, before)", fr_int(float(before.capacity.sum()))),
        ("Population suivie, avant (people followed, before)", fr_int(before.people_served)),
        ("Sans médecin accessible ayant de la place, avant (without a doctor with room)", fr_int(before.people_unmet)),
        ("Minutes moyennes des personnes suivies, avant (mean minutes)", mean_minutes(before)),
        ("Statut, avant (status, before)", before.status),
    ]
    if after is not None:
        facts += [
            ("Médecins, après (GPs, after)", fr_doctors(float(after.doctors.sum()))),
            ("Population suivie, après (people followed, after)", fr_int(after.people_served)),
            ("Sans médecin accessible ayant de la place, après (after)", fr_int(after.people_unmet)),
            ("Minutes moyennes, après (mean minutes, after)", mean_minutes(after)),
            ("Statut, après (status, after)", after.status),
        ]
    if pool is not None:
        facts += [
            ("Répartition du pool (pool allocation)", f"{pool.status}, écart (gap) {fr_pct(pool.gap, 2)}"),
            ("Borne prouvée, personnes suivies (proven bound, people followed)", fr_int(pool.bound)),
            ("Gloutonne, personnes suivies (greedy, people followed)", fr_int(pool.greedy_served)),
            ("Statut du solveur (solver's own status)", pool.solver_status),
            ("Sites recevant des équipes (sites receiving teams)", fr_int(len(pool.teams))),
        ]
    return facts


def _departments(by_area: pd.DataFrame) -> str:
    """The people left over per department, before and (when known) after."""
    deps = by_area[by_area["level"] == "department"]
    if not len(deps):
        return ""
    after = "unmet_after" in deps
    headers: list[object] = [
        "Département (department)",
        numeric("Population"),
        numeric("Sans médecin avec place, avant (before)"),
        numeric("Part (share)"),
    ]
    if after:
        headers += [numeric("Après (after)"), numeric("Part (share)"), numeric("Évolution (change)")]
    rows = []
    for r in deps.itertuples():
        row: list[object] = [
            department_label(r.area_id, r.area_name),
            numeric(fr_int(r.population)),
            numeric(fr_int(r.unmet_before)),
            numeric(fr_pct(r.share_unmet_before)),
        ]
        if after:
            row += [numeric(fr_int(r.unmet_after)), numeric(fr_pct(r.share_unmet_after)), numeric(fr_int(r.change))]
        rows.append(row)
    return table(headers, rows)


def _comparison(comparison: pd.DataFrame) -> str:
    """Allocations of the pool judged by both criteria."""
    headers = [
        "Répartition (allocation)",
        numeric("Médecins ajoutés (added)"),
        numeric("Sites"),
        numeric("Au-dessus du seuil APL (above the APL line)"),
        numeric("Relevés (lifted)"),
        numeric("Suivis par un médecin avec place (followed)"),
        numeric("Nouvellement suivis (newly followed)"),
        numeric("Sans médecin avec place (without)"),
    ]
    rows = [
        [
            _ALLOCATION_NAMES.get(str(r.allocation), str(r.allocation)),
            numeric(fr_number(r.doctors_added, 0)),
            numeric(fr_int(r.sites_receiving)),
            numeric(fr_int(r.people_above_line)),
            numeric(fr_int(r.people_lifted)),
            numeric(fr_int(r.people_served)),
            numeric(fr_int(r.people_newly_served)),
            numeric(fr_int(r.people_unmet)),
        ]
        for r in comparison.itertuples()
    ]
    return (
        '<h3>Deux critères pour répartir le pool <span class="en">(two criteria for sharing the pool out: '
        "the APL line and the doctors' room)</span></h3>" + table(headers, rows)
    )


def capacity_section(
    before: CapacityAssignment,
    after: CapacityAssignment | None = None,
    *,
    by_area: pd.DataFrame | None = None,
    comparison: pd.DataFrame | None = None,
    pool: CapacityPoolAllocation | None = None,
    pngs: Mapping[str, bytes] | None = None,
) -> str:
    """The section "Patientèle et capacité des médecins": settings and proofs, the people
    without an accessible doctor with room (in all and by department, before and after),
    the figure when drawn (``pngs["capacity_by_department"]``) and the comparison of
    pool allocations."""
    t = fr_minutes(before.threshold_min)
    parts = [
        '<section><h2>Patientèle et capacité des médecins <span class="en">(patient lists: people '
        f"without a doctor with room within {escape(t)} min)</span></h2>",
        f'<p class="note">Chaque médecin suit au plus {escape(fr_int(before.patients_per_gp))} patients comme '
        "médecin traitant ; les habitants sont affectés aux médecins à moins de "
        f"{escape(t)} min pour en suivre le plus possible, puis au moindre total de minutes (problème de "
        'transport). <span class="en">(Each GP follows at most that many patients; people are assigned to '
        "doctors within the threshold so that the most are followed, then in the fewest person-minutes: a "
        "transportation problem.)</span></p>",
        f'<p class="note">Seuls les médecins du fichier des structures sont comptés '
        f"({escape(fr_number(float(before.doctors.sum()), 0))} avant le scénario) : les généralistes installés "
        "hors de ces structures n’y sont pas, et la population sans médecin ayant de la place est surestimée "
        'd’autant. <span class="en">(Only the doctors of the facilities file are counted: GPs practising '
        "outside these structures are not, so the people without a doctor with room are overstated by as "
        "many as those GPs follow.)</span></p>",
        key_value_table(_facts(before, after, pool)),
    ]
    if by_area is not None and len(by_area):
        parts.append(_departments(by_area))
    if pngs and "capacity_by_department" in pngs:
        parts.append(
            figure(
                pngs["capacity_by_department"],
                "Population sans médecin accessible ayant de la place, par département",
                "Population sans médecin accessible ayant de la place, par département, avant et après le "
                "scénario. (People without an accessible doctor with room, by department, before and after.)",
            )
        )
    if comparison is not None and len(comparison):
        parts.append(_comparison(comparison))
    parts.append("</section>")
    return "".join(p for p in parts if p)


def capacity_figure(by_area: pd.DataFrame) -> Figure:
    """Bars per department: people without an accessible doctor with room, before and after."""
    deps = by_area[by_area["level"] == "department"].reset_index(drop=True)
    fig = new_figure((9, max(3.5, 1.5 + 0.5 * len(deps))))
    ax = fig.subplots()
    y = np.arange(len(deps))[::-1]
    series = [("unmet_before", "Avant (before)")] + (
        [("unmet_after", "Après (after)")] if "unmet_after" in deps else []
    )
    height = 0.8 / len(series)
    for s, (column, label) in enumerate(series):
        ax.barh(
            y + (len(series) - 1 - 2 * s) * height / 2, deps[column], height=height, color=OKABE_ITO[s], label=label
        )
    ax.set_yticks(y, [literal(department_label(a, n)) for a, n in zip(deps["area_id"], deps["area_name"], strict=True)])
    ax.xaxis.set_major_formatter(lambda v, _: fr_int(v))
    ax.set_xlabel("Habitants sans médecin accessible ayant de la place (people without a doctor with room)")
    # below the axes: inside, it covers the longest bars
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(series))
    return fig
