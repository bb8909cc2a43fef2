"""The sections of the run report about today's coverage, and the parameters of the run.

Each function returns one ``<section>`` of HTML (or an empty string when the analysis
has nothing for it): the key figures, coverage by threshold, the map and charts, coverage
by department, the worst-served EPCI, and the parameters that reproduce the run.  The
sections about a scenario (new sites, accessibility) are in
:mod:`coverage.outputs.report_scenarios`.  Numbers are formatted by
:mod:`coverage.outputs.style`; text is escaped by :mod:`coverage.outputs.html_blocks`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coverage._version import __version__
from coverage.outputs.html_blocks import card, escape, figure, key_value_table, numeric, table
from coverage.outputs.style import fr_int, fr_minutes, fr_number, fr_pct

if TYPE_CHECKING:
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = [
    "cantons_section",
    "departments_section",
    "key_figures_section",
    "maps_section",
    "parameters_section",
    "thresholds_section",
    "worst_epci_section",
    "written_at",
    "zones_section",
]

#: run.json keys the report shows in their own section; any other key is listed as is.
_KNOWN_KEYS = {
    "tool",
    "written",
    "config",
    "timings_s",
    "network",
    "summary",
    "siting",
    "command",
    "inputs",
    "speed_profile",
    "version",
}


def written_at(info: Mapping[str, Any]) -> str:
    """When the run was written, from run.json, else now."""
    return info.get("written") or time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _beyond(frame: pd.DataFrame) -> pd.Series:
    """Population beyond the threshold or unreachable: not covered, for whatever reason."""
    return frame["population_uncovered"] + frame["population_unreachable"]


def key_figures_section(result: GapAnalysis, plan: SitingPlan | None, info: Mapping[str, Any]) -> str:
    """Cards: population, facilities, network, mean time, share covered per threshold, the plan's gain."""
    units, fac = result.units, result.facilities
    population = units["population"].to_numpy(dtype=float)
    minutes = units["minutes_to_nearest"].to_numpy(dtype=float)
    reach = ~np.isnan(minutes)
    weight = population[reach].sum()
    mean = float((population[reach] * minutes[reach]).sum() / weight) if weight > 0 else math.nan
    on_network = int((~fac["beyond_max_snap"].astype(bool)).sum())
    network = info.get("network") or {}
    nodes = network.get("nodes", result.network.n_nodes)
    edges = network.get("edges", int(result.network.matrix.nnz))
    cards = [
        card(fr_int(population.sum()), f"habitants (inhabitants) dans {fr_int(len(units))} unités (units)"),
        card(
            f"{fr_int(on_network)} / {fr_int(len(fac))}",
            "structures sur le réseau / listées (facilities on the network / listed)",
        ),
        card(fr_int(nodes), f"nœuds du réseau (network nodes), {fr_int(edges)} arcs (edges)"),
        card(f"{fr_number(mean)} min", "temps moyen pondéré (population-weighted mean time)"),
    ]
    for row in result.summary.itertuples():
        cards.append(
            card(
                fr_pct(row.share_covered),
                f"à moins de {fr_minutes(row.threshold_min)} min (within): {fr_int(row.population_covered)} hab.",
            )
        )
    unreachable = float(result.summary["population_unreachable"].iloc[0]) if len(result.summary) else 0.0
    n_unreachable = int((~reach).sum())
    cards.append(
        card(fr_int(unreachable), f"habitants injoignables (unreachable), {fr_int(n_unreachable)} unités (units)")
    )
    if plan is not None:
        s = plan.selection
        cards.append(
            card(
                f"{fr_pct(s.share_covered_before)} → {fr_pct(s.share_covered_after)}",
                f"à moins de {fr_minutes(plan.threshold_min)} min avec {len(s.sites)} nouveaux sites (new sites)",
            )
        )
    return (
        '<section><h2>Chiffres clés <span class="en">(key figures)</span></h2><div class="cards">'
        + "".join(cards)
        + "</div></section>"
    )


def thresholds_section(result: GapAnalysis) -> str:
    """Population covered, uncovered and unreachable at each threshold."""
    rows = [
        [
            numeric(f"{fr_minutes(r.threshold_min)} min"),
            numeric(fr_int(r.population_covered)),
            numeric(fr_int(r.population_uncovered)),
            numeric(fr_int(r.population_unreachable)),
            numeric(fr_int(r.population_total)),
            numeric(fr_pct(r.share_covered)),
        ]
        for r in result.summary.itertuples()
    ]
    headers = [
        numeric("Seuil (threshold)"),
        numeric("Couverte (covered)"),
        numeric("Non couverte (uncovered)"),
        numeric("Injoignable (unreachable)"),
        numeric("Total"),
        numeric("Part couverte (share covered)"),
    ]
    return (
        '<section><h2>Couverture par seuil <span class="en">(coverage by threshold)</span></h2>'
        + table(headers, rows)
        + '<p class="note">Couverte à T : temps jusqu’à la structure la plus proche ≤ T ; injoignable : au-delà de '
        "la distance maximale au réseau ou sans chemin vers une structure. Couverte + non couverte + injoignable = "
        "total. (Covered at T: minutes to the nearest facility ≤ T; covered + uncovered + unreachable = total.)</p>"
        "</section>"
    )


def maps_section(pngs: Mapping[str, bytes], plan: SitingPlan | None) -> str:
    """The map of minutes and the chart by department, those of them drawn."""
    if "minutes_map" not in pngs and "access_by_department" not in pngs:
        return ""
    body = ['<section><h2>Cartes et graphiques <span class="en">(map and charts)</span></h2>']
    if "minutes_map" in pngs:
        body.append(
            figure(
                pngs["minutes_map"],
                "Carte des temps d'accès (access-time map)",
                "Unités colorées par temps jusqu’à la structure la plus proche aujourd’hui, structures par type, "
                "limites des départements"
                + (" ; étoiles numérotées : nouveaux sites proposés" if plan is not None else "")
                + " ; Lambert-93. (Units coloured by today's minutes to the nearest facility"
                + ("; numbered stars: proposed new sites" if plan is not None else "")
                + ".)",
            )
        )
    if "access_by_department" in pngs:
        body.append(
            figure(
                pngs["access_by_department"],
                "Temps d'accès par département (access time by department)",
                "Population par classe de temps et distribution cumulée pondérée par la population, seuils "
                "marqués. (Population by access-time class and population-weighted cumulative distribution.)",
            )
        )
    body.append("</section>")
    return "\n".join(body)


def _area_rows(result: GapAnalysis, level: str) -> pd.DataFrame:
    """One row per area of ``level``: name, units, mean minutes, then per threshold
    ``share_T`` and ``beyond_T`` (population beyond T or unreachable)."""
    frame = result.by_area[result.by_area["level"] == level]
    if frame.empty:
        return pd.DataFrame()
    first = frame.drop_duplicates("area_id").set_index("area_id")
    out = first[["area_name", "n_units", "mean_minutes", "population_total"]].copy()
    for t, part in frame.groupby("threshold_min", sort=True):
        part = part.set_index("area_id")
        out[f"share_{t:g}"] = part["share_covered"]
        out[f"beyond_{t:g}"] = _beyond(part)
    return out


def departments_section(result: GapAnalysis) -> str:
    """Coverage by department: mean minutes, share covered per threshold, population beyond the largest."""
    return _areas_section(result, "department", "Département (department)", "par département", "by department")


def cantons_section(result: GapAnalysis) -> str:
    """Coverage by canton (the same columns as by department), folded: some hundred rows."""
    return _areas_section(result, "canton", "Canton", "par canton", "by canton", folded=True)


def zones_section(result: GapAnalysis) -> str:
    """Coverage by the planner's own areas (``--areas``), named as the run calls them, folded."""
    label = escape(result.config.zone_label)  # the titles are HTML; the table's header is escaped by table()
    return _areas_section(result, "zone", result.config.zone_label, f"par {label}", f"by {label}", folded=True)


def _areas_section(result: GapAnalysis, level: str, column: str, fr: str, en: str, *, folded: bool = False) -> str:
    areas = _area_rows(result, level)
    if areas.empty:
        return ""
    thresholds = result.config.thresholds_min
    t_max = max(thresholds)
    headers = [
        column,
        numeric("Unités (units)"),
        numeric("Population"),
        numeric("Temps moyen (mean min)"),
        *[numeric(f"≤ {fr_minutes(t)} min") for t in thresholds],
        numeric(f"Au-delà de {fr_minutes(t_max)} min (beyond)"),
    ]
    rows = []
    for area_id, r in areas.iterrows():
        name = r["area_name"]
        label = str(area_id) if pd.isna(name) or str(name) in ("", str(area_id)) else f"{area_id} {name}"
        rows.append(
            [
                label,
                numeric(fr_int(r["n_units"])),
                numeric(fr_int(r["population_total"])),
                numeric(fr_number(r["mean_minutes"])),
                *[numeric(fr_pct(r[f"share_{t:g}"])) for t in thresholds],
                numeric(fr_int(r[f"beyond_{t_max:g}"])),
            ]
        )
    body = table(headers, rows)
    if folded:
        body = f"<details><summary>{len(rows)} lignes ({len(rows)} rows)</summary>{body}</details>"
    return f'<section><h2>Couverture {fr} <span class="en">(coverage {en})</span></h2>{body}</section>'


def worst_epci_section(result: GapAnalysis, n: int = 10) -> str:
    """The ``n`` EPCI with the most people beyond the largest threshold, then the smaller ones."""
    areas = _area_rows(result, "epci")
    if areas.empty:
        return ""
    thresholds = sorted(result.config.thresholds_min, reverse=True)
    units = result.units
    departments: dict[str, str] = {}
    if "department" in units:
        pairs = pd.DataFrame({"epci": units["epci"].astype("string"), "dep": units["department"].astype("string")})
        for epci, deps in pairs.dropna().groupby("epci")["dep"]:
            departments[str(epci)] = ", ".join(sorted(set(deps)))
    keys = [f"beyond_{t:g}" for t in thresholds] + ["mean_minutes"]
    worst = areas.sort_values(keys, ascending=False, kind="stable", na_position="last").head(n)
    headers = [
        "EPCI",
        "Département (department)",
        numeric("Population"),
        numeric("Temps moyen (mean min)"),
        *[numeric(f"Au-delà de {fr_minutes(t)} min (beyond)") for t in thresholds],
    ]
    rows = [
        [
            r["area_name"] if pd.notna(r["area_name"]) and str(r["area_name"]) else area_id,
            departments.get(str(area_id), ""),
            numeric(fr_int(r["population_total"])),
            numeric(fr_number(r["mean_minutes"])),
            *[
                numeric(f"{fr_int(r[f'beyond_{t:g}'])} ({fr_pct(1 - r[f'share_{t:g}'])})")
                if pd.notna(r[f"share_{t:g}"])
                else numeric(fr_int(r[f"beyond_{t:g}"]))
                for t in thresholds
            ],
        ]
        for area_id, r in worst.iterrows()
    ]
    order = ", puis ".join(f"{fr_minutes(t)} min" for t in thresholds)
    return (
        f'<section><h2>Les {len(worst)} EPCI les moins bien desservis <span class="en">(the {len(worst)} '
        "worst-served EPCI)</span></h2>"
        + table(headers, rows)
        + f'<p class="note">Classés par population au-delà de {escape(order)}, puis par temps moyen. (Ranked by '
        "population beyond the largest threshold, then the smaller ones, then mean minutes.)</p></section>"
    )


def parameters_section(
    result: GapAnalysis, plan: SitingPlan | None, info: Mapping[str, Any], siting: Mapping[str, Any] | None
) -> str:
    """Everything that reproduces the run: version, command, configuration, inputs, speed profile,
    siting options, timings, and any other run.json entry as JSON."""
    config = result.config.as_dict()
    parts = [
        '<section><h2>Paramètres pour reproduire le calcul <span class="en">(parameters to reproduce the run)'
        "</span></h2>"
    ]
    command = info.get("command")
    general: list[tuple[str, object]] = [("Version de coverage (version)", info.get("version", __version__))]
    if command:
        general.append(("Commande (command)", command))
    general.append(("Écrit le (written)", written_at(info)))
    parts.append(key_value_table(general))
    parts.append('<h3>Analyse <span class="en">(AnalysisConfig)</span></h3>')
    parts.append(key_value_table([(k, v) for k, v in config.items()]))
    inputs = info.get("inputs")
    if isinstance(inputs, Mapping) and inputs:
        parts.append('<h3>Données d’entrée <span class="en">(inputs)</span></h3>')
        parts.append(table(["Donnée (input)", "Fichier ou source (file or source)"], list(inputs.items())))
    profile = info.get("speed_profile")
    if isinstance(profile, Mapping):
        speeds = profile.get("speeds_kph") or {}
        parts.append(
            f'<h3>Profil de vitesses <span class="en">(speed profile)</span> : {escape(profile.get("name", ""))}</h3>'
        )
        parts.append(
            table(
                ["Classe de route (road class)", numeric("km/h")],
                [[cls, numeric(fr_number(kph, 0))] for cls, kph in speeds.items()],
                caption="Vitesse par défaut des classes inconnues (default for unknown classes): "
                + (
                    "aucune, erreur (none: error)"
                    if profile.get("default_kph") is None
                    else f"{profile['default_kph']:g} km/h"
                ),
            )
        )
        classes = profile.get("classes") or []
        implicit = profile.get("maxspeed_implicit") or {}
        if classes:
            parts.append(
                "<details><summary>Correspondance des classes (class patterns)</summary>"
                + table(["Motif (pattern)", "Classe (class)"], [list(pair) for pair in classes])
                + "</details>"
            )
        if implicit:
            parts.append(
                "<details><summary>Valeurs implicites de maxspeed (implicit maxspeed)</summary>"
                + table(["maxspeed", numeric("km/h")], [[k, numeric(fr_number(v, 0))] for k, v in implicit.items()])
                + "</details>"
            )
    if plan is not None and siting is not None:
        parts.append('<h3>Choix des sites <span class="en">(siting)</span></h3>')
        parts.append(
            key_value_table(
                [
                    ("Seuil (threshold_min)", siting.get("threshold_min")),
                    ("Solveur (solver)", siting.get("solver")),
                    ("Sites demandés (sites requested)", siting.get("sites_requested")),
                    ("Structures existantes conservées (required sites)", siting.get("required_sites")),
                    ("Points de la courbe (curve k max)", int(plan.curve["k"].max()) if len(plan.curve) else 0),
                    ("Courbe exacte (exact curve)", "population_covered_exact" in plan.curve),
                ]
            )
        )
    timings = {**{f"analyse: {k}": v for k, v in result.timings.items()}}
    if plan is not None:
        timings.update({f"siting: {k}": v for k, v in plan.timings.items()})
    if timings:
        parts.append(
            "<details><summary>Durées (timings, s)</summary>"
            + table(["Étape (step)", numeric("s")], [[k, numeric(fr_number(v, 2))] for k, v in timings.items()])
            + "</details>"
        )
    extra = {k: v for k, v in info.items() if k not in _KNOWN_KEYS}
    if extra:
        text = json.dumps(extra, indent=2, ensure_ascii=False, default=str)
        parts.append(
            "<details><summary>Autres informations du run.json (other run.json entries)</summary>"
            f"<pre>{escape(text)}</pre></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)
