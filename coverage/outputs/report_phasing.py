"""Phasing in the report: the sites and the pool's doctors year by year.

:func:`phasing_figure` draws the population covered at the end of each year, in the
order chosen and in the greedy order; :func:`pool_phasing_figure` the people at or
above the priority line each year.  :func:`phasing_section` and
:func:`pool_phasing_section` are the report's sections (escaped by
:mod:`coverage.outputs.html_blocks`).  Year labels come from the planner's schedule:
they are drawn as literal text (no mathtext).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from coverage.outputs.figure_canvas import GRID, literal, new_figure
from coverage.outputs.html_blocks import escape, figure, key_value_table, numeric, table
from coverage.outputs.style import OKABE_ITO, fr_doctors, fr_int, fr_minutes, fr_number, fr_pct
from coverage.phasing import LATER

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from coverage.phasing import PhasedSites
    from coverage.phasing_pool import PhasedPool

__all__ = ["phasing_figure", "phasing_section", "pool_phasing_figure", "pool_phasing_section"]


def _yearly_lines(
    years: list[str], today: float, chosen: np.ndarray, baseline: np.ndarray, labels: tuple[str, str]
) -> Figure:
    """Today, then the end of each year: the order chosen (solid) and its baseline
    (dashed, hollow squares, so that both stay visible where they agree)."""
    from matplotlib.ticker import FuncFormatter

    fig = new_figure((8.5, 4.8))
    ax = fig.add_subplot()
    x = np.arange(len(years) + 1)
    ax.plot(x, [today, *chosen], color=OKABE_ITO[0], marker="o", linewidth=2, label=labels[0], gid="chosen", zorder=3)
    ax.plot(
        x,
        [today, *baseline],
        color=OKABE_ITO[1],
        marker="s",
        markerfacecolor="none",
        linestyle="--",
        linewidth=1.5,
        label=labels[1],
        gid="baseline",
        zorder=4,
    )
    ax.set_xticks(x, ["Aujourd'hui\n(today)", *[literal(y) for y in years]])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fr_int(v)))
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.legend(loc="lower right")
    return fig


def phasing_figure(phased: PhasedSites) -> Figure:
    """Population within the threshold today and at the end of each year, order chosen vs greedy order."""
    t = fr_minutes(phased.threshold_min)
    by = phased.by_year
    fig = _yearly_lines(
        by["year"].astype(str).tolist(),
        phased.population_covered_before,
        by["covered"].to_numpy(dtype=float),
        by["covered_greedy_order"].to_numpy(dtype=float),
        ("Ordre retenu (order chosen)", "Ordre glouton (greedy order)"),
    )
    ax = fig.axes[0]
    ax.set_xlabel("Fin de l'année (end of year)")
    ax.set_ylabel(f"Population à moins de {t} min (population within {t} min)")
    ax.set_title(f"Calendrier des ouvertures à {t} min (phasing)")
    return fig


def pool_phasing_figure(phased: PhasedPool) -> Figure:
    """People at or above the priority line today and at the end of each year, order chosen vs the pool's order."""
    by = phased.by_year
    fig = _yearly_lines(
        by["year"].astype(str).tolist(),
        phased.people_above_before,
        by["people_above"].to_numpy(dtype=float),
        by["people_above_pool_order"].to_numpy(dtype=float),
        ("Ordre retenu (order chosen)", "Ordre de l'allocation (pool's order)"),
    )
    ax = fig.axes[0]
    ax.set_xlabel("Fin de l'année (end of year)")
    ax.set_ylabel("Population au-dessus du seuil (people above the line)")
    ax.set_title("Arrivée des médecins du contingent (phasing of the pool)")
    return fig


def _objective_facts(chosen: float, baseline: float, baseline_name: str) -> list[tuple[str, object]]:
    gain = chosen - baseline
    return [
        ("Somme sur les années, ordre retenu (summed over the years, order chosen)", fr_int(chosen)),
        (f"Somme sur les années, {baseline_name}", fr_int(baseline)),
        ("Différence (difference)", ("+" if gain > 0 else "") + fr_int(gain)),
    ]


def phasing_section(phased: PhasedSites, pngs: Mapping[str, bytes]) -> str:
    """The sites year by year: the certificate, the years, the sites in opening order."""
    t = fr_minutes(phased.threshold_min)
    facts: list[tuple[str, object]] = [
        ("Calendrier (schedule)", ", ".join(f"{y} : {c:g}" for y, c in phased.schedule.as_dict().items())),
        ("Statut (status)", f"{phased.status} (l’ordre des sites retenus; the order of the chosen sites)"),
        ("Écart à l'optimum (gap)", "–" if phased.gap is None else fr_pct(phased.gap, 2)),
        ("Borne prouvée (proven bound)", "–" if phased.bound is None else fr_int(phased.bound)),
        ("Statut du solveur (solver's own status)", phased.solver_status),
        *_objective_facts(phased.objective, phased.greedy_objective, "ordre glouton (greedy order)"),
        ("Durée (seconds)", fr_number(phased.seconds, 1)),
    ]
    parts = [
        f'<section><h2>Calendrier des ouvertures <span class="en">(phasing: new sites year by year, {escape(t)} min)'
        "</span></h2>",
        '<p class="note">Les sites retenus sont ouverts dans l’ordre qui couvre le plus de personnes, additionnées '
        "année après année (personnes nouvellement couvertes à la fin de chaque année). L’ordre glouton sert de "
        "référence ; le modèle exact (HiGHS) n’est dit optimal que si la somme recalculée atteint la borne prouvée. "
        "(The chosen sites open in the order that covers the most people summed over the years; the greedy order "
        "is the baseline.)</p>",
        key_value_table(facts),
    ]
    by = phased.by_year
    parts.append(
        table(
            [
                "Année (year)",
                numeric("Sites ouverts (opened)"),
                numeric("Population couverte (covered)"),
                numeric("Part (share)"),
                numeric("Ordre glouton (greedy order)"),
            ],
            [
                [
                    r["year"],
                    numeric(fr_int(r["sites_opened"])),
                    numeric(fr_int(r["covered"])),
                    numeric(fr_pct(r["share_covered"])),
                    numeric(fr_int(r["covered_greedy_order"])),
                ]
                for _, r in by.iterrows()
            ],
        )
    )
    if "phasing" in pngs:
        parts.append(
            figure(
                pngs["phasing"],
                "Calendrier des ouvertures (phasing)",
                f"Population à moins de {t} min aujourd’hui et à la fin de chaque année, ordre retenu et ordre "
                "glouton. (Population within the threshold today and at the end of each year.)",
            )
        )
    parts.append("<details><summary>Sites dans l’ordre d’ouverture (sites in opening order)</summary>")
    parts.append(
        table(
            [
                "Année (year)",
                numeric("Ordre (order)"),
                "Site",
                numeric("Nouvellement couverts (newly covered)"),
                numeric("Cumul (cumulative)"),
            ],
            [
                [
                    r["year"],
                    numeric(str(r["order"])),
                    r["site_id"],
                    numeric(fr_int(r["newly_covered"])),
                    numeric(fr_int(r["covered"])),
                ]
                for _, r in phased.timeline.iterrows()
            ],
        )
    )
    parts += ["</details>", "</section>"]
    return "\n".join(parts)


def pool_phasing_section(phased: PhasedPool, pngs: Mapping[str, bytes]) -> str:
    """The pool's doctors year by year."""
    facts: list[tuple[str, object]] = [
        (
            "Calendrier (schedule, doctors per year)",
            ", ".join(f"{y} : {c:g}" for y, c in phased.schedule.as_dict().items()),
        ),
        ("Statut (status)", f"{phased.status} (recherche locale, sans borne prouvée; local search, no bound)"),
        ("Échanges entre années (exchanges between years)", fr_int(phased.exchanges)),
        (
            "Médecins après le calendrier (doctors after the schedule)",
            fr_doctors(float(phased.timeline.loc[phased.timeline["year"] == LATER, "doctors"].sum())),
        ),
        *_objective_facts(phased.objective, phased.pool_objective, "ordre de l'allocation (pool's order)"),
    ]
    by = phased.by_year
    parts = [
        '<section><h2>Arrivée des médecins du contingent <span class="en">(phasing of the pool of doctors)</span></h2>',
        '<p class="note">Chaque équipe arrive l’année où son dernier médecin est recruté. L’ordre de l’allocation '
        "est amélioré par des échanges d’équipes entre années tant que la population au-dessus du seuil de "
        "priorité, additionnée sur les années, augmente. (Each team arrives in the year its last doctor is hired; "
        "teams are exchanged between years while the people above the line, summed over the years, rise.)</p>",
        key_value_table(facts),
        table(
            [
                "Année (year)",
                numeric("Médecins (doctors)"),
                numeric("Équipes (teams)"),
                numeric("Au-dessus du seuil (people above)"),
                numeric("Ordre de l'allocation (pool's order)"),
            ],
            [
                [
                    r["year"],
                    numeric(fr_doctors(r["doctors_added"])),
                    numeric(fr_int(r["teams"])),
                    numeric(fr_int(r["people_above"])),
                    numeric(fr_int(r["people_above_pool_order"])),
                ]
                for _, r in by.iterrows()
            ],
        ),
    ]
    if "pool_phasing" in pngs:
        parts.append(
            figure(
                pngs["pool_phasing"],
                "Arrivée des médecins (phasing of the pool)",
                "Population au-dessus du seuil de priorité à la fin de chaque année. "
                "(People at or above the priority line at the end of each year.)",
            )
        )
    parts.append("</section>")
    return "\n".join(parts)
