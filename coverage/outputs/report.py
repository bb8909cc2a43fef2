"""The run report: one self-contained HTML page per run, for planners.

:func:`report_html` builds the page (key figures, tables, figures embedded as base64
PNG, the parameters that reproduce the run); :func:`write_report` writes it as
``report.html`` into an existing folder and nowhere else.  Every text that comes from
an input file (names, paths, ids) is HTML-escaped, and the page loads nothing from
the network.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coverage._version import __version__
from coverage.outputs.style import fr_int, fr_pct

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = ["FIGURE_NAMES", "REPORT_FILE", "figure_pngs", "report_html", "write_report"]

REPORT_FILE = "report.html"
#: Names of the figures of a run (``figures/<name>.png`` beside the report).
FIGURE_NAMES = ("minutes_map", "access_by_department", "coverage_curve")
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

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;
margin:0;background:#f6f6f4}
main{max-width:1120px;margin:0 auto;padding:1.2em 1.6em 3em;background:#fff}
h1{font-size:1.55em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.8em;border-bottom:2px solid #0072B2;
padding-bottom:.2em}h3{font-size:1.05em;margin-top:1.3em}
small,.en{color:#666;font-weight:normal}.meta{color:#555;font-size:.9em}
code{font:13px/1.3 ui-monospace,Menlo,Consolas,monospace;background:#f0f0f0;padding:.1em .3em;
word-break:break-all}
pre{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;background:#f4f4f4;padding:.8em;overflow:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:.7em;margin:1em 0}
.card{border:1px solid #ddd;border-left:4px solid #0072B2;padding:.5em .8em;border-radius:3px}
.card .v{font-size:1.35em;font-weight:600}.card .l{font-size:.85em;color:#444}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}
th,td{border-bottom:1px solid #e3e3e3;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef3f8;font-weight:600}tr:nth-child(even) td{background:#fafafa}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.n{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}caption{caption-side:bottom;text-align:left;padding-top:.3em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}details{margin:.5em 0 1em}summary{cursor:pointer;color:#0072B2}
.note{font-size:.88em;color:#555}
"""


# ----------------------------------------------------------------------------- formatting


def _e(value: object) -> str:
    """Escaped text of any value (empty for None/NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=True)


def _fr_float(value: object, digits: int = 1) -> str:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if math.isnan(x):
        return "–"
    return f"{x:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def _minutes(t: float) -> str:
    return f"{float(t):g}".replace(".", ",")


class _Cell:
    """A table cell: plain text (escaped when rendered), right-aligned when numeric."""

    __slots__ = ("numeric", "text")

    def __init__(self, text: object, *, numeric: bool = False) -> None:
        self.text = "" if text is None else str(text)
        self.numeric = numeric


def _num(text: str) -> _Cell:
    return _Cell(text, numeric=True)


def _table(headers: Sequence[object], rows: Iterable[Sequence[object]], *, caption: str | None = None) -> str:
    """An HTML table; every header and cell is escaped here, once."""

    def cell(tag: str, value: object) -> str:
        if isinstance(value, _Cell):
            cls = ' class="n"' if value.numeric else ""
            return f"<{tag}{cls}>{_e(value.text)}</{tag}>"
        return f"<{tag}>{_e(value)}</{tag}>"

    head = "".join(cell("th", h) for h in headers)
    body = "\n".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    cap = f"<caption class='note'>{_e(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>'


def _kv_table(pairs: Iterable[tuple[str, object]]) -> str:
    return _table(["Paramètre (parameter)", "Valeur (value)"], [[k, _Cell(_plain(v))] for k, v in pairs])


def _plain(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def _card(value: str, label: str) -> str:
    return f'<div class="card"><div class="v">{_e(value)}</div><div class="l">{_e(label)}</div></div>'


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


# ----------------------------------------------------------------------------- figures


def figure_pngs(
    result: GapAnalysis,
    *,
    plan: SitingPlan | None = None,
    departments: gpd.GeoDataFrame | None = None,
    dpi: int = 150,
) -> dict[str, bytes]:
    """PNG bytes of the run's figures, by name (see :data:`FIGURE_NAMES`).

    The coverage curve is drawn only with a ``plan``.  A caller that also writes the
    PNG files passes this dictionary to :func:`write_report`, so each figure is drawn
    once.
    """
    from coverage.outputs.figures import access_by_department_figure, coverage_curve_figure, minutes_map, png_bytes

    pngs = {
        "minutes_map": png_bytes(minutes_map(result, departments=departments, plan=plan), dpi=dpi),
        "access_by_department": png_bytes(access_by_department_figure(result), dpi=dpi),
    }
    if plan is not None:
        pngs["coverage_curve"] = png_bytes(coverage_curve_figure(plan), dpi=dpi)
    return pngs


# ----------------------------------------------------------------------------- sections


def _beyond(frame: pd.DataFrame) -> pd.Series:
    return frame["population_uncovered"] + frame["population_unreachable"]


def _key_figures(result: GapAnalysis, plan: SitingPlan | None, info: Mapping[str, Any]) -> str:
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
        _card(fr_int(population.sum()), f"habitants (inhabitants) dans {fr_int(len(units))} unités (units)"),
        _card(
            f"{fr_int(on_network)} / {fr_int(len(fac))}",
            "structures sur le réseau / listées (facilities on the network / listed)",
        ),
        _card(fr_int(nodes), f"nœuds du réseau (network nodes), {fr_int(edges)} arcs (edges)"),
        _card(f"{_fr_float(mean)} min", "temps moyen pondéré (population-weighted mean time)"),
    ]
    for row in result.summary.itertuples():
        cards.append(
            _card(
                fr_pct(row.share_covered),
                f"à moins de {_minutes(row.threshold_min)} min (within): {fr_int(row.population_covered)} hab.",
            )
        )
    unreachable = float(result.summary["population_unreachable"].iloc[0]) if len(result.summary) else 0.0
    n_unreachable = int((~reach).sum())
    cards.append(
        _card(fr_int(unreachable), f"habitants injoignables (unreachable), {fr_int(n_unreachable)} unités (units)")
    )
    if plan is not None:
        s = plan.selection
        cards.append(
            _card(
                f"{fr_pct(s.share_covered_before)} → {fr_pct(s.share_covered_after)}",
                f"à moins de {_minutes(plan.threshold_min)} min avec {len(s.sites)} nouveaux sites (new sites)",
            )
        )
    return (
        '<section><h2>Chiffres clés <span class="en">(key figures)</span></h2><div class="cards">'
        + "".join(cards)
        + "</div></section>"
    )


def _summary_table(result: GapAnalysis) -> str:
    rows = [
        [
            _num(f"{_minutes(r.threshold_min)} min"),
            _num(fr_int(r.population_covered)),
            _num(fr_int(r.population_uncovered)),
            _num(fr_int(r.population_unreachable)),
            _num(fr_int(r.population_total)),
            _num(fr_pct(r.share_covered)),
        ]
        for r in result.summary.itertuples()
    ]
    headers = [
        _num("Seuil (threshold)"),
        _num("Couverte (covered)"),
        _num("Non couverte (uncovered)"),
        _num("Injoignable (unreachable)"),
        _num("Total"),
        _num("Part couverte (share covered)"),
    ]
    return (
        '<section><h2>Couverture par seuil <span class="en">(coverage by threshold)</span></h2>'
        + _table(headers, rows)
        + '<p class="note">Couverte à T : temps jusqu’à la structure la plus proche ≤ T ; injoignable : au-delà de '
        "la distance maximale au réseau ou sans chemin vers une structure. Couverte + non couverte + injoignable = "
        "total. (Covered at T: minutes to the nearest facility ≤ T; covered + uncovered + unreachable = total.)</p>"
        "</section>"
    )


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


def _by_department(result: GapAnalysis) -> str:
    table = _area_rows(result, "department")
    if table.empty:
        return ""
    thresholds = result.config.thresholds_min
    t_max = max(thresholds)
    headers = [
        "Département (department)",
        _num("Unités (units)"),
        _num("Population"),
        _num("Temps moyen (mean min)"),
        *[_num(f"≤ {_minutes(t)} min") for t in thresholds],
        _num(f"Au-delà de {_minutes(t_max)} min (beyond)"),
    ]
    rows = []
    for area_id, r in table.iterrows():
        name = r["area_name"]
        label = str(area_id) if pd.isna(name) or str(name) in ("", str(area_id)) else f"{area_id} {name}"
        rows.append(
            [
                label,
                _num(fr_int(r["n_units"])),
                _num(fr_int(r["population_total"])),
                _num(_fr_float(r["mean_minutes"])),
                *[_num(fr_pct(r[f"share_{t:g}"])) for t in thresholds],
                _num(fr_int(r[f"beyond_{t_max:g}"])),
            ]
        )
    return (
        '<section><h2>Couverture par département <span class="en">(coverage by department)</span></h2>'
        + _table(headers, rows)
        + "</section>"
    )


def _worst_epci(result: GapAnalysis, n: int = 10) -> str:
    table = _area_rows(result, "epci")
    if table.empty:
        return ""
    thresholds = sorted(result.config.thresholds_min, reverse=True)
    units = result.units
    departments: dict[str, str] = {}
    if "department" in units:
        pairs = pd.DataFrame({"epci": units["epci"].astype("string"), "dep": units["department"].astype("string")})
        for epci, deps in pairs.dropna().groupby("epci")["dep"]:
            departments[str(epci)] = ", ".join(sorted(set(deps)))
    keys = [f"beyond_{t:g}" for t in thresholds] + ["mean_minutes"]
    worst = table.sort_values(keys, ascending=False, kind="stable", na_position="last").head(n)
    headers = [
        "EPCI",
        "Département (department)",
        _num("Population"),
        _num("Temps moyen (mean min)"),
        *[_num(f"Au-delà de {_minutes(t)} min (beyond)") for t in thresholds],
    ]
    rows = [
        [
            r["area_name"] if pd.notna(r["area_name"]) and str(r["area_name"]) else area_id,
            departments.get(str(area_id), ""),
            _num(fr_int(r["population_total"])),
            _num(_fr_float(r["mean_minutes"])),
            *[
                _num(f"{fr_int(r[f'beyond_{t:g}'])} ({fr_pct(1 - r[f'share_{t:g}'])})")
                if pd.notna(r[f"share_{t:g}"])
                else _num(fr_int(r[f"beyond_{t:g}"]))
                for t in thresholds
            ],
        ]
        for area_id, r in worst.iterrows()
    ]
    order = ", puis ".join(f"{_minutes(t)} min" for t in thresholds)
    return (
        f'<section><h2>Les {len(worst)} EPCI les moins bien desservis <span class="en">(the {len(worst)} '
        "worst-served EPCI)</span></h2>"
        + _table(headers, rows)
        + f'<p class="note">Classés par population au-delà de {_e(order)}, puis par temps moyen. (Ranked by '
        "population beyond the largest threshold, then the smaller ones, then mean minutes.)</p></section>"
    )


def _siting(plan: SitingPlan, pngs: Mapping[str, bytes]) -> str:
    s, g = plan.selection, plan.greedy
    t = _minutes(plan.threshold_min)
    facts = [
        ("Seuil (threshold)", f"{t} min"),
        ("Solveur (solver)", s.solver),
        ("Statut (status)", s.status),
        ("Écart à l'optimum (gap)", "–" if s.gap is None else fr_pct(s.gap, 2)),
        ("Durée du solveur (solver seconds)", _fr_float(s.seconds, 1)),
        (
            "Nouveaux sites (new sites)",
            f"{len(s.sites)}" + ("" if s.sites_requested is None else f" (demandés / requested: {s.sites_requested})"),
        ),
        ("Structures existantes conservées (existing facilities kept)", str(len(s.required))),
        (
            f"Population à moins de {t} min, avant → après (before → after)",
            f"{fr_int(s.population_covered_before)} → {fr_int(s.population_covered_after)} "
            f"({fr_pct(s.share_covered_before)} → {fr_pct(s.share_covered_after)})",
        ),
        ("Gloutonne, après (greedy, after)", fr_int(g.population_covered_after)),
        ("Candidats (candidates)", fr_int(len(plan.candidates))),
    ]
    if s.uncoverable:
        facts.append(("Unités hors d'atteinte de tout candidat (uncoverable units)", fr_int(len(s.uncoverable))))
    parts = [
        f'<section><h2>Nouveaux sites <span class="en">(siting: new sites within {_e(t)} min, existing kept)'
        "</span></h2>",
        _kv_table(facts),
    ]
    if s.sites_requested is not None and len(s.sites) < s.sites_requested:
        parts.append(
            f'<p class="note">Seuls {len(s.sites)} des {s.sites_requested} sites demandés ajoutent quelqu’un. '
            f"(Only {len(s.sites)} of the {s.sites_requested} sites asked for add anyone.)</p>"
        )
    parts.append('<h3>Sites retenus <span class="en">(selected sites)</span></h3>')
    table = plan.selection_table
    if len(table):
        optional = [
            ("commune_name", "Commune", False),
            ("epci_name", "EPCI", False),
            ("department", "Dép. (dept)", False),
        ]
        present = [(col, head, num) for col, head, num in optional if col in table and table[col].notna().any()]
        if "commune_name" in table and (table["commune_name"].astype(str) == table["name"].astype(str)).all():
            present = [p for p in present if p[0] != "commune_name"]  # town-hall candidates: same as the name
        gain_label = "Gain marginal (marginal gain)" + (
            " (personnes·min / person-min)" if s.solver.startswith("pmedian") else " (hab.)"
        )
        headers: list[object] = [
            _num("Rang (rank)"),
            "Identifiant (id)",
            "Nom (name)",
            *[head for _, head, _ in present],
            _num(gain_label),
        ]
        cumulative = "population_covered" in table
        if cumulative:
            headers += [_num("Population couverte cumulée (cumulative)"), _num("Part (share)")]
        rows = []
        for _, r in table.iterrows():
            row: list[object] = [_num(str(r["rank"])), r["candidate_id"], r["name"]]
            row += [r[col] for col, _, _ in present]
            row.append(_num(fr_int(r["marginal_gain"])))
            if cumulative:
                row += [_num(fr_int(r["population_covered"])), _num(fr_pct(r["share_covered"]))]
            rows.append(row)
        parts.append(_table(headers, rows))
    else:
        parts.append('<p class="note">Aucun site n’ajoute de population couverte. (No site adds anyone.)</p>')
    if "coverage_curve" in pngs:
        parts.append(
            _figure(
                pngs["coverage_curve"],
                "Courbe de couverture (coverage curve)",
                f"Population à moins de {t} min selon le nombre de nouveaux sites, solutions gloutonne et exacte ; "
                "k = 0 : aujourd’hui. (Population within the threshold against the number of new sites, greedy "
                "and exact; k = 0 is today.)",
            )
        )
    curve = plan.curve
    if len(curve):
        exact = "population_covered_exact" in curve
        headers = [_num("k"), _num("Gloutonne (greedy)"), _num("Part (share)")]
        if exact:
            headers += [_num("Exacte (exact)"), _num("Part (share)"), _num("Écart (gap)"), "Statut (status)"]
        rows = []
        for _, r in curve.iterrows():
            row = [
                _num(str(int(r["k"]))),
                _num(fr_int(r["population_covered_greedy"])),
                _num(fr_pct(r["share_greedy"])),
            ]
            if exact:
                gap = r.get("gap_exact")
                row += [
                    _num(fr_int(r["population_covered_exact"])),
                    _num(fr_pct(r["share_exact"])),
                    _num("–" if gap is None or pd.isna(gap) else fr_pct(gap, 2)),
                    r.get("status_exact", ""),
                ]
            rows.append(row)
        parts.append(
            "<details><summary>Courbe de couverture, valeurs (coverage curve, values)</summary>"
            + _table(headers, rows)
            + "</details>"
        )
    frag = plan.fragility
    if len(frag):
        lost = [c for c in frag.columns if c.startswith("population_lost_")]
        headers = [
            "Identifiant (id)",
            "Nom (name)",
            "Type",
            *[_num(f"Perdue à {_minutes(float(c.rsplit('_', 1)[1]))} min (lost)") for c in lost],
        ]
        rows = [
            [r["facility_id"], r["name"], r["type"], *[_num(fr_int(r[c])) for c in lost]]
            for _, r in frag.head(10).iterrows()
        ]
        parts.append(
            "<h3>Fragilité : les 10 structures dont la fermeture découvrirait le plus d’habitants "
            '<span class="en">(fragility: top 10 facilities by population that would fall beyond each threshold '
            "if they closed)</span></h3>" + _table(headers, rows)
        )
    parts.append("</section>")
    return "\n".join(parts)


def _accessibility(study: AccessStudy, n_sites: int = 15) -> str:
    """Baseline against scenario: classes, departments, and the sites receiving the most doctors."""
    s = study.settings
    summary = study.summary()
    classes = study.classes.set_index("class")
    labels = {"priority": "Zone prioritaire (priority)", "above threshold": "Au-dessus du seuil (above the line)"}
    class_rows = [
        [
            labels.get(str(c), str(c)),
            _num(fr_int(r["population"])),
            _num(fr_pct(r["share"])),
            _num(fr_int(r["population_scenario"])),
            _num(fr_pct(r["share_scenario"])),
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
                _num(fr_int(r.population)),
                _num(_fr_float(r.accessibility, 2)),
                _num(_fr_float(r.accessibility_scenario, 2)),
                _num(_fr_float(r.change, 2)),
                _num(fr_int(r.population_priority)),
                _num(fr_int(r.population_priority_scenario)),
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
            _num(_fr_float(r["supply_before"], 1)),
            _num(_fr_float(r["supply_added"], 1)),
            str(r["added_by"]),
        ]
        for _, r in sites.head(n_sites).iterrows()
    ]
    unit = f"{s.unit_label}, seuil / line {s.priority_line_value:g}"
    parts = [
        '<section><h2>Accessibilité par habitant <span class="en">(accessibility per inhabitant: '
        f"scenario {_e(study.scenario.name)})</span></h2>",
        f'<p class="note">E2SFCA, {_e(unit)}. Offre (supply) : {_e(fr_int(summary["supply_total_before"]))} '
        f"médecins, + {_e(fr_int(summary['supply_added']))} dans le scénario sur "
        f"{_e(summary['sites_receiving'])} sites. Accessibilité moyenne (mean) "
        f"{_e(_fr_float(summary['mean_accessibility_before'], 2))} → "
        f"{_e(_fr_float(summary['mean_accessibility_after'], 2))}.</p>",
        _table(
            [
                "Classe (class)",
                _num("Population, situation actuelle (baseline)"),
                _num("Part (share)"),
                _num("Population, scénario (scenario)"),
                _num("Part (share)"),
            ],
            class_rows,
        ),
    ]
    if dep_rows:
        parts.append(
            _table(
                [
                    "Département (department)",
                    _num("Population"),
                    _num("Accessibilité actuelle (baseline)"),
                    _num("Scénario (scenario)"),
                    _num("Évolution (change)"),
                    _num("En zone prioritaire, actuel (priority, baseline)"),
                    _num("Scénario (scenario)"),
                ],
                dep_rows,
            )
        )
    if site_rows:
        parts.append(
            _table(
                [
                    "Site",
                    "Commune",
                    "Dép.",
                    _num("Médecins avant (before)"),
                    _num("Ajoutés (added)"),
                    "Origine (added by)",
                ],
                site_rows,
                caption=f"Sites recevant le plus de médecins ({len(site_rows)} sur {len(sites)}; "
                "tous dans accessibility_sites.csv)",
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _parameters(
    result: GapAnalysis, plan: SitingPlan | None, info: Mapping[str, Any], siting: Mapping[str, Any] | None
) -> str:
    config = result.config.as_dict()
    parts = [
        '<section><h2>Paramètres pour reproduire le calcul <span class="en">(parameters to reproduce the run)'
        "</span></h2>"
    ]
    command = info.get("command")
    general: list[tuple[str, object]] = [("Version de coverage (version)", info.get("version", __version__))]
    if command:
        general.append(("Commande (command)", command))
    general.append(("Écrit le (written)", info.get("written") or time.strftime("%Y-%m-%dT%H:%M:%S%z")))
    parts.append(_kv_table(general))
    parts.append('<h3>Analyse <span class="en">(AnalysisConfig)</span></h3>')
    parts.append(_kv_table([(k, v) for k, v in config.items()]))
    inputs = info.get("inputs")
    if isinstance(inputs, Mapping) and inputs:
        parts.append('<h3>Données d’entrée <span class="en">(inputs)</span></h3>')
        parts.append(_table(["Donnée (input)", "Fichier ou source (file or source)"], list(inputs.items())))
    profile = info.get("speed_profile")
    if isinstance(profile, Mapping):
        speeds = profile.get("speeds_kph") or {}
        parts.append(
            f'<h3>Profil de vitesses <span class="en">(speed profile)</span> : {_e(profile.get("name", ""))}</h3>'
        )
        parts.append(
            _table(
                ["Classe de route (road class)", _num("km/h")],
                [[cls, _num(_fr_float(kph, 0))] for cls, kph in speeds.items()],
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
                + _table(["Motif (pattern)", "Classe (class)"], [list(pair) for pair in classes])
                + "</details>"
            )
        if implicit:
            parts.append(
                "<details><summary>Valeurs implicites de maxspeed (implicit maxspeed)</summary>"
                + _table(["maxspeed", _num("km/h")], [[k, _num(_fr_float(v, 0))] for k, v in implicit.items()])
                + "</details>"
            )
    if plan is not None and siting is not None:
        parts.append('<h3>Choix des sites <span class="en">(siting)</span></h3>')
        parts.append(
            _kv_table(
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
            + _table(["Étape (step)", _num("s")], [[k, _num(_fr_float(v, 2))] for k, v in timings.items()])
            + "</details>"
        )
    extra = {k: v for k, v in info.items() if k not in _KNOWN_KEYS}
    if extra:
        text = json.dumps(extra, indent=2, ensure_ascii=False, default=str)
        parts.append(
            "<details><summary>Autres informations du run.json (other run.json entries)</summary>"
            f"<pre>{_e(text)}</pre></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- the page


def report_html(
    result: GapAnalysis,
    *,
    plan: SitingPlan | None = None,
    run_info: Mapping[str, Any] | None = None,
    figures: bool | Mapping[str, bytes] = True,
    departments: gpd.GeoDataFrame | None = None,
    access: AccessStudy | None = None,
) -> str:
    """The run report as one HTML document (see :func:`write_report`)."""
    from coverage.outputs.summaries import plan_summary

    info: Mapping[str, Any] = run_info or {}
    if isinstance(figures, Mapping):
        pngs: Mapping[str, bytes] = figures
    elif figures:
        pngs = figure_pngs(result, plan=plan, departments=departments)
    else:
        pngs = {}
    siting = None
    if plan is not None:
        siting = info.get("siting") if isinstance(info.get("siting"), Mapping) else plan_summary(plan)
    thresholds = ", ".join(_minutes(t) for t in result.config.thresholds_min)
    body = [
        "<header><h1>Accès aux soins primaires : rapport du calcul "
        '<span class="en">(primary-care coverage: run report)</span></h1>',
        f'<p class="meta">Temps de trajet en voiture jusqu’à la structure la plus proche (MSP, centre de santé), '
        f"seuils {_e(thresholds)} min. coverage {_e(info.get('version', __version__))}"
        f" · {_e(info.get('written') or time.strftime('%Y-%m-%dT%H:%M:%S%z'))}</p></header>",
        _key_figures(result, plan, info),
        _summary_table(result),
    ]
    if "minutes_map" in pngs or "access_by_department" in pngs:
        body.append('<section><h2>Cartes et graphiques <span class="en">(map and charts)</span></h2>')
        if "minutes_map" in pngs:
            body.append(
                _figure(
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
                _figure(
                    pngs["access_by_department"],
                    "Temps d'accès par département (access time by department)",
                    "Population par classe de temps et distribution cumulée pondérée par la population, seuils "
                    "marqués. (Population by access-time class and population-weighted cumulative distribution.)",
                )
            )
        body.append("</section>")
    body += [_by_department(result), _worst_epci(result)]
    if plan is not None:
        body.append(_siting(plan, pngs))
    if access is not None:
        body.append(_accessibility(access))
    body.append(_parameters(result, plan, info, siting))
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Rapport de couverture (coverage run report)</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(b for b in body if b)
        + "\n</main>\n</body>\n</html>\n"
    )


def write_report(
    result: GapAnalysis,
    folder: str | Path,
    *,
    plan: SitingPlan | None = None,
    run_info: Mapping[str, Any] | None = None,
    figures: bool | Mapping[str, bytes] = True,
    departments: gpd.GeoDataFrame | None = None,
    access: AccessStudy | None = None,
) -> Path:
    """Write the run report ``report.html`` into the existing ``folder``; returns its path.

    Parameters
    ----------
    result
        The gap analysis.
    folder
        An existing folder (the temporary folder of an atomic output write); nothing
        is written anywhere else.
    plan
        The siting plan, whose results get their own section.
    run_info
        The content of ``run.json`` (or the part of it the caller has): ``command``,
        ``inputs``, ``speed_profile``, ``version``, ``written``, ``network``,
        ``siting``…; any other key is listed as is.
    figures
        True: draw the figures and embed them as base64 PNG; False: no figure; or the
        PNG bytes already drawn, by name (see :func:`figure_pngs`).
    departments
        Department polygons for the outlines of the map (default: dissolved from the
        units' areas).
    access
        An accessibility study, whose baseline and scenario get their own section
        (classes, departments, the sites receiving the most doctors).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"report folder {folder} does not exist or is not a folder")
    path = folder / REPORT_FILE
    text = report_html(result, plan=plan, run_info=run_info, figures=figures, departments=departments, access=access)
    path.write_text(text, encoding="utf-8")
    return path
