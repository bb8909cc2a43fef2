"""The outputs of ``couverture compare``: tables, workbook, GeoPackage layer, report and map.

:func:`write_comparison` writes a :class:`~coverage.outputs.compare_runs.RunComparison` into a
staging folder (:func:`~coverage.outputs.folder.atomic_output_dir`): the CSV tables of
:func:`comparison_tables` and the same tables in ``tables.xlsx``, the layer ``changes`` of
``coverage.gpkg`` (every unit with its before/after columns, at its point read from the
runs' GeoPackage), ``report.html`` (the page "Comparaison de deux exécutions" of
:func:`comparison_report_html`), ``map.html`` (the units that changed, before and after)
and ``run.json``.  Text from the runs' files (unit and area names, commands, paths) is
escaped by :mod:`~coverage.outputs.html_blocks` on the page, goes through
:func:`~coverage.outputs.webmap.popups.text` on the map, and is neutralised as a formula
in the CSV tables and the workbook.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage._version import __version__
from coverage.errors import InputDataError
from coverage.outputs.files import WORKBOOK, write_csv, write_layer, write_workbook
from coverage.outputs.folder import RUN_FILE, STAGING_MARKER, TOOL, files_below
from coverage.outputs.html_blocks import card, escape, numeric, page, table
from coverage.outputs.style import OKABE_ITO, fr_int, fr_minutes, fr_number, fr_pct, minute_class_colours
from coverage.outputs.summaries import record_json

if TYPE_CHECKING:
    import folium

    from coverage.outputs.compare_runs import RunComparison, RunFolder

__all__ = [
    "comparison_map",
    "comparison_notes",
    "comparison_report_html",
    "comparison_section",
    "comparison_tables",
    "settings_differences",
    "unit_points",
    "write_comparison",
]

REPORT_TITLE = "Comparaison de deux exécutions"
#: The map shows at most this many changed units (the largest changes first).
MAP_MAX_UNITS = 20_000
#: run.json keys whose differences are listed (results and timings are not settings).
_SETTING_KEYS = ("command", "version", "config", "network", "inputs", "regional", "siting_options", "speed_profile")
_DIRECTION = {
    "better": (OKABE_ITO[2], "Classe meilleure / Better class"),
    "worse": (OKABE_ITO[1], "Classe moins bonne / Worse class"),
    "same": ("#999999", "Même classe, minutes changées / Same class, minutes changed"),
}
_INDICATORS = {
    "population_total": "Population",
    "population_covered": "Population à moins de {t} min (covered)",
    "share_covered": "Part à moins de {t} min (share covered)",
    "population_unreachable": "Population injoignable (unreachable)",
    "mean_minutes": "Temps moyen, min (mean minutes)",
    "mean_accessibility": "Accessibilité moyenne (mean accessibility)",
    "population_priority": "Population en zone prioritaire (priority)",
    "siting_new_sites": "Nouveaux sites, seuil {t} min (new sites)",
    "siting_population_covered_after": "Couverts après les nouveaux sites, {t} min (covered after siting)",
}


# ----------------------------------------------------------------------------- what the tables hold


def unit_points(run: RunFolder, ids: pd.Series) -> gpd.GeoSeries:
    """The units' points from the layer ``population_access`` of the run's ``coverage.gpkg``, in the order of ``ids``.

    Raises :class:`~coverage.errors.InputDataError` naming the file when it is missing,
    unreadable or lacks a unit.
    """
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    from coverage.stats import area_codes

    path, layer_name = run.folder / "coverage.gpkg", "population_access"
    what = f"run {run.label} ({run.folder})"
    try:
        layer = pyogrio.read_dataframe(path, layer=layer_name, columns=["unit_id"])
    except (DataLayerError, DataSourceError, KeyError, ValueError) as exc:
        raise InputDataError(f"{what}: {path} has no readable layer {layer_name!r} with unit_id ({exc})") from None
    if "unit_id" not in layer:
        raise InputDataError(f"{what}: layer {layer_name!r} of {path} has no column unit_id")
    layer["unit_id"] = area_codes(layer["unit_id"]).fillna("")
    layer = layer.drop_duplicates("unit_id").set_index("unit_id")
    missing = ids[~ids.isin(layer.index)]
    if len(missing):
        raise InputDataError(
            f"{what}: layer {layer_name!r} of {path} lacks {len(missing)} of the units "
            f"(e.g. {missing.iloc[0]!r}): expected a point for every unit of population_access.csv"
        )
    return gpd.GeoSeries(layer.geometry.reindex(ids).to_numpy(), crs=layer.crs)


def _flat(value: object, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: json.dumps(value, ensure_ascii=False, default=str)}


def settings_differences(c: RunComparison) -> pd.DataFrame:
    """The settings of the two run.json (not their results or timings) whose values differ."""

    def settings(record: Mapping[str, Any]) -> dict[str, str]:
        kept = {k: record[k] for k in _SETTING_KEYS if k in record}
        access = record.get("accessibility")
        if isinstance(access, dict):
            kept["accessibility"] = {k: v for k, v in access.items() if k != "summary"}
        return _flat(kept)

    fa, fb = settings(c.run_a.record), settings(c.run_b.record)
    keys = [k for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)]
    return pd.DataFrame(
        {"setting": keys, "run_a": [fa.get(k, "") for k in keys], "run_b": [fb.get(k, "") for k in keys]}
    )


def comparison_notes(c: RunComparison) -> list[str]:
    """What a reader of the comparison should know, in French."""
    a, b, units = c.run_a, c.run_b, c.units
    notes = []
    differ = int((units["population_a"] != units["population_b"]).sum())
    if differ:
        notes.append(
            f"{fr_int(differ)} unités n'ont pas la même population dans A et B : les personnes comptées "
            "dans les changements de classe sont celles de B."
        )
    if a.access_unit is not None and b.access_unit is not None and not c.accessibility:
        notes.append(f"Accessibilité non comparée : A la mesure en « {a.access_unit} », B en « {b.access_unit} ».")
    elif (a.access_unit is None) != (b.access_unit is None):
        notes.append("Accessibilité non comparée : une seule des deux exécutions l'a calculée.")
    if c.accessibility and a.priority_line != b.priority_line:
        notes.append(f"Seuil de zone prioritaire : {a.priority_line:g} dans A, {b.priority_line:g} dans B.")
    for run in (a, b):
        if "siting" in run.record:
            notes.append(
                f"L'exécution {run.label} choisit de nouveaux sites : les minutes comparées sont celles des "
                "structures existantes (sans les nouveaux sites) ; les chiffres des sites sont dans le bilan."
            )
    return notes


def comparison_tables(c: RunComparison) -> dict[str, pd.DataFrame]:
    """The tables of a comparison, by file name without ``.csv`` (the workbook's sheets)."""
    return {
        "totals_changes": c.totals,
        "class_transitions": c.transitions,
        "areas_changes": c.areas,
        "units_changes": c.units,
        "settings_changes": settings_differences(c),
    }


# ----------------------------------------------------------------------------- the page


def _signed(value: float, digits: int = 0) -> str:
    if pd.isna(value):
        return "–"
    text = fr_int(abs(value)) if digits == 0 else fr_number(abs(value), digits)
    return ("+" if value > 0 else "−" if value < 0 else "") + text


def _value(indicator: str, value: float) -> str:
    if indicator == "share_covered":
        return fr_pct(value)
    return fr_number(value, 2) if indicator.startswith("mean_") else fr_int(value)


def _runs_table(c: RunComparison) -> str:
    rows = [
        [
            f"{run.label} ({'avant' if run.label == 'A' else 'après'})",
            str(run.folder.resolve()),
            _text(run, "written"),
            _text(run, "command"),
        ]
        for run in (c.run_a, c.run_b)
    ]
    return table(["Exécution (run)", "Dossier (folder)", "Écrite le (written)", "Commande (command)"], rows)


def _text(run: RunFolder, key: str) -> str:
    value = run.record.get(key)
    return value if isinstance(value, str) else ""


def _cards(c: RunComparison) -> str:
    m, totals = c.moves, c.totals
    cards = [
        card(fr_int(m["units"]), "unités comparées (units compared)"),
        card(fr_int(m["units_changed"]), "unités qui changent (units changed)"),
        card(fr_int(m["population_better_class"]), "habitants dans une classe de temps meilleure (better class)"),
        card(fr_int(m["population_worse_class"]), "habitants dans une classe de temps moins bonne (worse class)"),
    ]
    for _, r in totals[totals["indicator"] == "population_covered"].iterrows():
        t = fr_minutes(r["threshold_min"])
        cards.append(card(_signed(r["change"]), f"habitants à moins de {t} min (covered within {t} min)"))
    if c.accessibility:
        cards.append(card(fr_int(m["population_lifted_above_line"]), "habitants sortis de zone prioritaire (lifted)"))
        cards.append(card(fr_int(m["population_fallen_below_line"]), "habitants entrés en zone prioritaire (fallen)"))
    return f'<div class="cards">{"".join(cards)}</div>'


def _totals_table(c: RunComparison) -> str:
    rows = []
    for _, r in c.totals.iterrows():
        key, t = r["indicator"], r["threshold_min"]
        label = _INDICATORS.get(key, key).format(t="" if pd.isna(t) else fr_minutes(t))
        change = (
            _signed(100 * r["change"], 1) + " pts"
            if key == "share_covered"
            else _signed(r["change"], 2 if key.startswith("mean_") else 0)
        )
        rows.append([label, numeric(_value(key, r["run_a"])), numeric(_value(key, r["run_b"])), numeric(change)])
    return table(
        ["Indicateur (indicator)", numeric("A (avant)"), numeric("B (après)"), numeric("Écart (change)")], rows
    )


def _matrix(c: RunComparison, measure: str, caption: str) -> str:
    t = c.transitions[c.transitions["measure"] == measure]
    classes = list(dict.fromkeys(t["class_a"]))
    cells = {(r["class_a"], r["class_b"]): (r["units"], r["population"]) for _, r in t.iterrows()}
    rows = []
    for before in classes:
        row: list[object] = [before]
        for after in classes:
            n, people = cells[(before, after)]
            row.append(numeric(f"{fr_int(people)} ({fr_int(n)})" if n else "–"))
        rows.append(row)
    return table(["A ↓ / B →", *[numeric(x) for x in classes]], rows, caption=caption)


def _area_label(r: pd.Series) -> str:
    name = str(r["area_name"])
    return str(r["area_id"]) if name in ("", str(r["area_id"])) else f"{r['area_id']} {name}".strip()


def _areas_table(c: RunComparison, level: str, title: str, *, folded: bool) -> str:
    areas = c.areas[c.areas["level"] == level] if len(c.areas) else c.areas
    if areas.empty:
        return ""
    headers: list[object] = [title, numeric("Population (B)"), numeric("Temps moyen A → B (mean min)")]
    headers += [numeric(f"≤ {fr_minutes(t)} min, écart (change)") for t in c.thresholds_min]
    headers += [numeric("Classe meilleure (better)"), numeric("Moins bonne (worse)")]
    if c.accessibility:
        headers.append(numeric("Accessibilité A → B"))
    rows = []
    for _, r in areas.iterrows():
        row: list[object] = [_area_label(r), numeric(fr_int(r["population_b"]))]
        row.append(numeric(f"{fr_number(r['mean_minutes_a'])} → {fr_number(r['mean_minutes_b'])}"))
        row += [numeric(_signed(r[f"covered_{t:g}min_change"])) for t in c.thresholds_min]
        row += [numeric(fr_int(r["population_better_class"])), numeric(fr_int(r["population_worse_class"]))]
        if c.accessibility:
            row.append(numeric(f"{fr_number(r['accessibility_a'], 2)} → {fr_number(r['accessibility_b'], 2)}"))
        rows.append(row)
    body = table(headers, rows)
    if folded:
        body = f"<details><summary>{len(rows)} lignes ({len(rows)} rows)</summary>{body}</details>"
    return f"<h3>{escape(title)}</h3>{body}"


def _largest_changes(c: RunComparison, n: int = 20) -> pd.DataFrame:
    u = c.units[c.units["changed"]]
    # a unit that becomes reachable or unreachable comes first, then the largest change in minutes,
    # then in accessibility
    key = np.where(u["minutes_a"].isna() != u["minutes_b"].isna(), np.inf, u["minutes_change"].abs().fillna(0))
    second = u["accessibility_change"].abs().fillna(0) if c.accessibility else np.zeros(len(u))
    return u.iloc[np.lexsort((-np.asarray(second), -key))[:n]]


def _units_table(c: RunComparison) -> str:
    units = _largest_changes(c)
    if units.empty:
        return '<p class="note">Aucune unité ne change (no unit changed).</p>'
    rows = []
    for _, r in units.iterrows():
        # a grid cell's name is its id: its commune says where it lies
        name = r["name"] if r["name"] not in ("", r["unit_id"]) else r.get("commune_name", r["name"])
        rows.append([r["unit_id"], name, numeric(fr_int(r["population_b"]))])
        rows[-1] += [numeric(fr_number(r["minutes_a"])), numeric(fr_number(r["minutes_b"])), r["class_a"], r["class_b"]]
        if c.accessibility:
            rows[-1] += [numeric(fr_number(r["accessibility_a"], 2)), numeric(fr_number(r["accessibility_b"], 2))]
    headers = ["Unité (unit)", "Nom (name)", numeric("Population (B)"), numeric("Min A"), numeric("Min B")]
    headers += ["Classe A", "Classe B"] + ([numeric("Access. A"), numeric("Access. B")] if c.accessibility else [])
    return table(headers, rows)


def comparison_section(c: RunComparison, *, heading: bool = True) -> str:
    """The section "Comparaison de deux exécutions": runs, key figures, totals, classes, areas, units, settings.

    ``heading``: begin with the section's title (False on the page of its own, whose title it is).
    """
    t_note = "habitants de B (unités) ; chaque case : classe dans A (ligne) et dans B (colonne)"
    parts = [
        "<section>" + (f'<h2>{REPORT_TITLE} <span class="en">(comparing two runs)</span></h2>' if heading else ""),
        _runs_table(c),
        _cards(c),
        *[f'<p class="note">{escape(note)}</p>' for note in comparison_notes(c)],
        '<h3>Bilan <span class="en">(totals)</span></h3>',
        _totals_table(c),
        '<h3>Classes de temps d\'accès, avant et après <span class="en">(minute classes, before × after)</span></h3>',
        _matrix(c, "minutes", t_note),
    ]
    if c.accessibility:
        parts += ['<h3>Zones prioritaires <span class="en">(priority class, before × after)</span></h3>']
        parts += [_matrix(c, "priority", t_note)]
    parts.append('<h3>Par territoire <span class="en">(by area)</span></h3>')
    for level, title, folded in (
        ("department", "Départements", False),
        ("canton", "Cantons", True),
        ("epci", "EPCI", True),
    ):
        parts.append(_areas_table(c, level, title, folded=folded))
    parts += ['<h3>Les unités qui changent le plus <span class="en">(largest changes)</span></h3>', _units_table(c)]
    settings = settings_differences(c)
    parts.append('<h3>Paramètres qui diffèrent <span class="en">(settings that differ)</span></h3>')
    if settings.empty:
        parts.append('<p class="note">Aucun (none).</p>')
    else:
        shown = settings.head(60)
        parts.append(
            table(
                ["Paramètre (setting)", "A", "B"],
                shown.itertuples(index=False),
                caption=f"{len(settings)} en tout (in all) : settings_changes.csv",
            )
        )
    return "\n".join(parts) + "</section>"


def comparison_report_html(c: RunComparison) -> str:
    """The whole page ``report.html`` of a comparison: a title, then :func:`comparison_section`."""
    header = (
        f'<header><h1>{REPORT_TITLE} <span class="en">(comparing two runs)</span></h1><p class="meta">'
        f"A : {escape(c.run_a.folder)} · B : {escape(c.run_b.folder)} · coverage {escape(__version__)}</p></header>"
    )
    return page(REPORT_TITLE, [header, comparison_section(c, heading=False)])


# ----------------------------------------------------------------------------- the map


def comparison_map(c: RunComparison, points: gpd.GeoSeries) -> folium.Map:
    """A web map of the units that changed: direction of the change, class before, class after.

    ``points`` are the units' points, aligned with ``c.units``.  At most
    :data:`MAP_MAX_UNITS` units, the largest changes first.
    """
    from coverage.outputs.webmap.layers import unit_points as circles
    from coverage.outputs.webmap.page import add_controls, add_legend, new_map, point_layer
    from coverage.outputs.webmap.popups import text

    units = _largest_changes(c, MAP_MAX_UNITS)
    where = points.iloc[units.index.to_numpy()].to_crs("EPSG:4326")
    fmap = new_map("OpenStreetMap", [(where if len(where) else points.to_crs("EPSG:4326")).total_bounds], offline=True)
    labels = c.class_labels
    colours = dict(zip(labels, minute_class_colours(len(c.thresholds_min)), strict=True))
    tips = [
        f"<b>{text(r['name'] or r['unit_id'])}</b><br>{text(fr_int(r['population_b']))} hab. / inh.<br>"
        f"A : {text(fr_number(r['minutes_a']))} min ({text(r['class_a'])})<br>"
        f"B : {text(fr_number(r['minutes_b']))} min ({text(r['class_b'])})"
        for _, r in units.iterrows()
    ]
    n = len(units)
    direction = [_DIRECTION[d][0] for d in units["class_change"]]
    point_layer(f"Sens du changement ({n}) / Direction of change", circles(where, direction, tips)).add_to(fmap)
    for side, fr, en in (("a", "Avant (A)", "Before"), ("b", "Après (B)", "After")):
        fills = [colours[k] for k in units[f"class_{side}"]]
        point_layer(f"{fr} : classe de temps / {en}: minute class", circles(where, fills, tips), show=False).add_to(
            fmap
        )

    def row(colour: str, label: str) -> str:
        return (
            f'<div class="row"><span class="swatch" style="background:{colour}"></span><span>{text(label)}</span></div>'
        )

    legend = ["<h4>Unités qui changent / Units that changed</h4>"] + [row(*v) for v in _DIRECTION.values()]
    legend += ["<h4>Minutes</h4>"] + [row(colours[k], k) for k in labels]
    if len(c.units[c.units["changed"]]) > n:
        legend.append(f"<p>{text(fr_int(n))} plus grands changements / largest changes</p>")
    add_legend(fmap, "<details open><summary>Légende / Legend</summary>" + "".join(legend) + "</details>")
    add_controls(fmap)
    return fmap


# ----------------------------------------------------------------------------- the folder


def write_comparison(
    c: RunComparison, folder: Path, *, command: str | None = None, map: bool = True, report: bool = True
) -> list[str]:
    """Write every output of a comparison into ``folder``, an existing empty (staging) folder; the files written.

    Parameters
    ----------
    c
        The comparison (:func:`coverage.outputs.compare_runs.compare_runs`).
    folder
        The staging folder of :func:`~coverage.outputs.folder.atomic_output_dir`.
    command
        The command line, recorded in ``run.json``.
    map, report
        Also write ``map.html`` (the units that changed) and ``report.html``.

    Returns
    -------
    list of str
        The files written, as listed in ``run.json``: ``totals_changes.csv``,
        ``class_transitions.csv``, ``areas_changes.csv``, ``units_changes.csv``,
        ``settings_changes.csv``, ``tables.xlsx``, ``coverage.gpkg`` (layer ``changes``),
        ``report.html``, ``map.html`` and ``run.json``.
    """
    tables = comparison_tables(c)
    for name, frame in tables.items():
        write_csv(frame, folder / f"{name}.csv")
    write_workbook(tables, folder / WORKBOOK)
    source = c.run_a if (c.run_a.folder / "coverage.gpkg").is_file() else c.run_b
    points = unit_points(source, c.units["unit_id"])
    layer = gpd.GeoDataFrame(c.units, geometry=points.to_numpy(), crs=points.crs)
    write_layer(layer, folder / "coverage.gpkg", "changes", str(points.crs))
    if report:
        (folder / "report.html").write_text(comparison_report_html(c), encoding="utf-8")
    if map:
        comparison_map(c, points).save(str(folder / "map.html"))
    info = {
        "tool": TOOL,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "version": __version__,
        "compare": {
            **{
                f"run_{run.label.lower()}": {
                    "folder": str(run.folder.resolve()),
                    "written": _text(run, "written"),
                    "command": _text(run, "command"),
                }
                for run in (c.run_a, c.run_b)
            },
            "thresholds_min": list(c.thresholds_min),
            "unit_kind": c.unit_kind,
            "accessibility_compared": c.accessibility,
            "changes": dict(c.moves),
            "notes": comparison_notes(c),
        },
    }
    written = sorted({*files_below(folder), RUN_FILE} - {STAGING_MARKER})
    (folder / RUN_FILE).write_text(record_json({**info, "files": written}), "utf-8")
    return written
