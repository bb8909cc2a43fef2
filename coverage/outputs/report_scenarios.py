"""The sections of the run report about a scenario: new sites, and accessibility per inhabitant.

:func:`siting_section` reports a siting plan (the solver's facts, the sites chosen, the
coverage curve and its values, the facilities whose closure would uncover the most
people); :func:`accessibility_section` an accessibility study, baseline against
scenario.  Each returns one ``<section>`` of HTML; text is escaped by
:mod:`coverage.outputs.html_blocks`, numbers formatted by :mod:`coverage.outputs.style`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from coverage.outputs.html_blocks import escape, figure, key_value_table, numeric, table
from coverage.outputs.style import fr_int, fr_minutes, fr_number, fr_pct

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.planning import SitingPlan

__all__ = ["accessibility_section", "siting_section"]

# ----------------------------------------------------------------------------- siting


def _bound_text(bound: float | None, median: bool) -> str:
    """The proven bound: people (MCLP), sites (LSCP) or mean minutes (p-median, a lower bound)."""
    if bound is None:
        return "–"
    return f"{fr_number(bound, 2)} min moyennes (mean minutes)" if median else fr_number(bound, 0)


def _siting_facts(plan: SitingPlan) -> list[tuple[str, object]]:
    """The solver's run and its result before → after, as parameter / value pairs."""
    s, g = plan.selection, plan.greedy
    t = fr_minutes(plan.threshold_min)
    median = s.solver.startswith("pmedian")  # counts within the matrix's largest threshold
    facts: list[tuple[str, object]] = [
        ("Seuil (threshold)", f"{t} min"),
        ("Solveur (solver)", s.solver),
        ("Statut (status)", s.status),
        ("Écart à l'optimum (gap)", "–" if s.gap is None else fr_pct(s.gap, 2)),
        ("Borne prouvée (proven bound)", _bound_text(s.bound, median)),
        ("Statut du solveur (solver's own status)", s.solver_status),
        ("Durée du solveur (solver seconds)", fr_number(s.seconds, 1)),
        (
            "Nouveaux sites (new sites)",
            f"{len(s.sites)}" + ("" if s.sites_requested is None else f" (demandés / requested: {s.sites_requested})"),
        ),
        ("Structures existantes conservées (existing facilities kept)", str(len(s.required))),
        (
            f"Population à moins de {fr_minutes(plan.matrix.max_minutes) if median else t} min, "
            "avant → après (before → after)",
            f"{fr_int(s.population_covered_before)} → {fr_int(s.population_covered_after)} "
            f"({fr_pct(s.share_covered_before)} → {fr_pct(s.share_covered_after)})",
        ),
        (f"MCLP gloutonne à {t} min, après (greedy MCLP within {t} min, after)", fr_int(g.population_covered_after)),
        *(
            [
                (
                    "Minutes moyennes pondérées, après (population-weighted mean minutes, after)",
                    fr_number(s.objective_value, 2),
                )
            ]
            if median
            else []
        ),
        ("Candidats (candidates)", fr_int(len(plan.candidates))),
    ]
    if s.uncoverable:
        facts.append(("Unités hors d'atteinte de tout candidat (uncoverable units)", fr_int(len(s.uncoverable))))
    return facts


def _selected_sites(plan: SitingPlan) -> str:
    """The sites chosen, in order, with their marginal and cumulative gains."""
    selection = plan.selection_table
    if not len(selection):
        return '<p class="note">Aucun site n’ajoute de population couverte. (No site adds anyone.)</p>'
    optional = [
        ("commune_name", "Commune", False),
        ("epci_name", "EPCI", False),
        ("department", "Dép. (dept)", False),
    ]
    present = [(col, head, num) for col, head, num in optional if col in selection and selection[col].notna().any()]
    if "commune_name" in selection and (selection["commune_name"].astype(str) == selection["name"].astype(str)).all():
        present = [p for p in present if p[0] != "commune_name"]  # town-hall candidates: same as the name
    gain_label = "Gain marginal (marginal gain)" + (
        " (personnes·min / person-min)" if plan.selection.solver.startswith("pmedian") else " (hab.)"
    )
    headers: list[object] = [
        numeric("Rang (rank)"),
        "Identifiant (id)",
        "Nom (name)",
        *[head for _, head, _ in present],
        numeric(gain_label),
    ]
    cumulative = "population_covered" in selection
    if cumulative:
        headers += [numeric("Population couverte cumulée (cumulative)"), numeric("Part (share)")]
    rows = []
    for _, r in selection.iterrows():
        row: list[object] = [numeric(str(r["rank"])), r["candidate_id"], r["name"]]
        row += [r[col] for col, _, _ in present]
        row.append(numeric(fr_int(r["marginal_gain"])))
        if cumulative:
            row += [numeric(fr_int(r["population_covered"])), numeric(fr_pct(r["share_covered"]))]
        rows.append(row)
    return table(headers, rows)


def curve_cells(r: pd.Series, exact: bool) -> list[object]:
    """A curve row's cells after its key: greedy people and share, then (``exact``) the exact
    people, share, gap and status (the coverage and the budget curves)."""
    cells: list[object] = [numeric(fr_int(r["population_covered_greedy"])), numeric(fr_pct(r["share_greedy"]))]
    if exact:
        gap = r.get("gap_exact")
        cells += [
            numeric(fr_int(r["population_covered_exact"])),
            numeric(fr_pct(r["share_exact"])),
            numeric("–" if gap is None or pd.isna(gap) else fr_pct(gap, 2)),
            r.get("status_exact", ""),
        ]
    return cells


def _curve_values(plan: SitingPlan) -> str:
    """The coverage curve as a table, folded: greedy and, when solved, exact values per k."""
    curve = plan.curve
    if not len(curve):
        return ""
    exact = "population_covered_exact" in curve
    headers: list[object] = [numeric("k"), numeric("Gloutonne (greedy)"), numeric("Part (share)")]
    if exact:
        headers += [numeric("Exacte (exact)"), numeric("Part (share)"), numeric("Écart (gap)"), "Statut (status)"]
    rows = [[numeric(str(int(r["k"]))), *curve_cells(r, exact)] for _, r in curve.iterrows()]
    return (
        "<details><summary>Courbe de couverture, valeurs (coverage curve, values)</summary>"
        + table(headers, rows)
        + "</details>"
    )


def _fragility(plan: SitingPlan) -> str:
    """The facilities whose closure would leave the most people beyond each threshold."""
    frag = plan.fragility
    if not len(frag):
        return ""
    lost = [c for c in frag.columns if c.startswith("population_lost_")]
    headers = [
        "Identifiant (id)",
        "Nom (name)",
        "Type",
        *[numeric(f"Perdue à {fr_minutes(float(c.rsplit('_', 1)[1]))} min (lost)") for c in lost],
    ]
    rows = [
        [r["facility_id"], r["name"], r["type"], *[numeric(fr_int(r[c])) for c in lost]]
        for _, r in frag.head(10).iterrows()
    ]
    return (
        "<h3>Fragilité : les 10 structures dont la fermeture découvrirait le plus d’habitants "
        '<span class="en">(fragility: top 10 facilities by population that would fall beyond each threshold '
        "if they closed)</span></h3>" + table(headers, rows)
    )


def siting_section(plan: SitingPlan, pngs: Mapping[str, bytes]) -> str:
    """New sites: the solver's facts, the sites chosen, the coverage curve (figure when drawn,
    and values), and the fragility of the existing facilities."""
    s = plan.selection
    t = fr_minutes(plan.threshold_min)
    parts = [
        f'<section><h2>Nouveaux sites <span class="en">(siting: new sites within {escape(t)} min, existing kept)'
        "</span></h2>",
        key_value_table(_siting_facts(plan)),
    ]
    if s.sites_requested is not None and s.sites_bound is not None and s.sites:
        n, proven = len(s.sites), len(s.sites) <= s.sites_bound
        parts.append(
            f'<p class="note">{n} nouveaux sites : le plus petit nombre qui couvre autant '
            f"({'minimum prouvé' if proven else f'au moins {s.sites_bound:g} nécessaires'}) ; "
            f"{s.sites_requested} autorisés. "
            f"({n} new sites, the fewest that cover as many: "
            f"{'proven minimum' if proven else f'at least {s.sites_bound:g} needed'}; {s.sites_requested} allowed.)</p>"
        )
    elif s.sites_requested is not None and len(s.sites) < s.sites_requested:
        parts.append(
            f'<p class="note">Seuls {len(s.sites)} des {s.sites_requested} sites demandés ajoutent quelqu’un. '
            f"(Only {len(s.sites)} of the {s.sites_requested} sites asked for add anyone.)</p>"
        )
    parts.append('<h3>Sites retenus <span class="en">(selected sites)</span></h3>')
    parts.append(_selected_sites(plan))
    if "coverage_curve" in pngs:
        parts.append(
            figure(
                pngs["coverage_curve"],
                "Courbe de couverture (coverage curve)",
                f"Population à moins de {t} min selon le nombre de nouveaux sites, solutions gloutonne et exacte ; "
                "k = 0 : aujourd’hui. (Population within the threshold against the number of new sites, greedy "
                "and exact; k = 0 is today.)",
            )
        )
    parts += [_curve_values(plan), _fragility(plan), "</section>"]
    return "\n".join(part for part in parts if part)


# ----------------------------------------------------------------------------- accessibility


def accessibility_section(study: AccessStudy, n_sites: int = 15) -> str:
    """Baseline against scenario: classes, departments, and the sites receiving the most doctors."""
    s = study.settings
    summary = study.summary()
    classes = study.classes.set_index("class")
    labels = {"priority": "Zone prioritaire (priority)", "above threshold": "Au-dessus du seuil (above the line)"}
    class_rows = [
        [
            labels.get(str(c), str(c)),
            numeric(fr_int(r["population"])),
            numeric(fr_pct(r["share"])),
            numeric(fr_int(r["population_scenario"])),
            numeric(fr_pct(r["share_scenario"])),
        ]
        for c, r in classes.iterrows()
    ]
    deps = study.by_area[study.by_area["level"] == "department"]
    dep_rows = []
    for r in deps.itertuples():
        name = "" if pd.isna(r.area_name) else f" {r.area_name}"
        dep_rows.append(
            [
                f"{r.area_id}{name}",
                numeric(fr_int(r.population)),
                numeric(fr_number(r.accessibility, 2)),
                numeric(fr_number(r.accessibility_scenario, 2)),
                numeric(fr_number(r.change, 2)),
                numeric(fr_int(r.population_priority)),
                numeric(fr_int(r.population_priority_scenario)),
            ]
        )
    sites = study.sites[study.sites["supply_added"] > 0].sort_values(
        ["supply_added", "site_id"], ascending=[False, True], kind="stable"
    )
    site_rows = [
        [
            str(r["name"]),
            str(r.get("commune_name") if pd.notna(r.get("commune_name")) else ""),
            str(r.get("department") if pd.notna(r.get("department")) else ""),
            numeric(fr_number(r["supply_before"], 1)),
            numeric(fr_number(r["supply_added"], 1)),
            str(r["added_by"]),
        ]
        for _, r in sites.head(n_sites).iterrows()
    ]
    unit = f"{s.unit_label}, seuil / line {s.priority_line_value:g}"
    parts = [
        '<section><h2>Accessibilité par habitant <span class="en">(accessibility per inhabitant: '
        f"scenario {escape(study.scenario.name)})</span></h2>",
        f'<p class="note">E2SFCA, {escape(unit)}. Offre (supply) : {escape(fr_int(summary["supply_total_before"]))} '
        f"médecins, + {escape(fr_int(summary['supply_added']))} dans le scénario sur "
        f"{escape(summary['sites_receiving'])} sites. Accessibilité moyenne (mean) "
        f"{escape(fr_number(summary['mean_accessibility_before'], 2))} → "
        f"{escape(fr_number(summary['mean_accessibility_after'], 2))}.</p>",
        _around_note(summary["population_around_competing"]),
        table(
            [
                "Classe (class)",
                numeric("Population, situation actuelle (baseline)"),
                numeric("Part (share)"),
                numeric("Population, scénario (scenario)"),
                numeric("Part (share)"),
            ],
            class_rows,
        ),
    ]
    if dep_rows:
        parts.append(
            table(
                [
                    "Département (department)",
                    numeric("Population"),
                    numeric("Accessibilité actuelle (baseline)"),
                    numeric("Scénario (scenario)"),
                    numeric("Évolution (change)"),
                    numeric("En zone prioritaire, actuel (priority, baseline)"),
                    numeric("Scénario (scenario)"),
                ],
                dep_rows,
            )
        )
    if site_rows:
        parts.append(
            table(
                [
                    "Site",
                    "Commune",
                    "Dép.",
                    numeric("Médecins avant (before)"),
                    numeric("Ajoutés (added)"),
                    "Origine (added by)",
                ],
                site_rows,
                caption=f"Sites recevant le plus de médecins ({len(site_rows)} sur {len(sites)}; "
                "tous dans accessibility_sites.csv)",
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _around_note(people: float) -> str:
    """The note on the people around the territory whose demand was counted (none: nothing)."""
    if not people:
        return ""
    return (
        f'<p class="note">La demande de {escape(fr_int(people))} habitants autour du territoire (dans la zone '
        "tampon des routes) est comptée sur ses médecins ; leurs propres médecins ne sont pas connus, ce qui "
        'abaisse davantage l\'accessibilité près de la limite. <span class="en">(The demand of the people '
        "around the territory, within the road buffer, is counted on its doctors; their own doctors are not "
        "known, which lowers accessibility near the border further.)</span></p>"
    )
