"""The text of the web map's tooltips and popups, HTML-escaped.

Every value that comes from an input file (a commune, facility, EPCI or candidate name,
an identifier, a facility type, a scenario name) becomes page text through :func:`text`
here, so that the layers only ever handle HTML text, in which ``{`` is written
``&#123;`` (:func:`~coverage.outputs.webmap.page.inert`) so that no template engine
reads it as code; the page then carries it as a JSON string
(:mod:`~coverage.outputs.webmap.page`), never as code.  Numbers are written with the web
map's formats of :mod:`coverage.outputs.style` (``2 587 031``, ``12.3 min``).

- :func:`unit_labels`, :data:`UNIT_TOOLTIP` and :func:`unit_tooltip`: the tooltip of a
  commune (name, population, minutes, nearest facility, EPCI, department);
- :func:`facility_popup`: the popup of a facility (type, id, commune, access to the road);
- :func:`site_rows`: the score components of a new site or a candidate.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from coverage.outputs.style import en_count, en_minutes
from coverage.outputs.webmap.page import inert

if TYPE_CHECKING:
    from coverage.analysis import GapAnalysis
    from coverage.outputs.style import Symbol

__all__ = [
    "UNIT_TOOLTIP",
    "code_and_name",
    "facility_popup",
    "site_rows",
    "table",
    "text",
    "unit_labels",
    "unit_tooltip",
]


def text(value: object) -> str:
    """A value from an input file, as HTML text that shows it literally (``{`` as ``&#123;``)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return inert(html.escape(str(value)))


def code_and_name(code: object, name: object) -> str:
    """``Name (code)``, or whichever of the two is given, as HTML text."""
    code, name = text(code), text(name)
    return f"{name} ({code})" if name and code and name != code else name or code


def table(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """Popup body; ``title`` and the values must already be HTML text."""
    cells = "".join(f"<tr><th>{text(label)}</th><td>{value}</td></tr>" for label, value in rows if value != "")
    return f'<div class="coverage-popup"><b>{title}</b><table>{cells}</table></div>'


# ---------------------------------------------------------------- units


def unit_labels(result: GapAnalysis, index: pd.Index | None = None) -> pd.DataFrame:
    """HTML text of each unit (or of the units of ``index``) for tooltips: name, population, minutes, admin areas."""
    units = result.units if index is None else result.units.loc[index]
    names = dict(zip(result.facilities["facility_id"], result.facilities["name"], strict=True))

    def column(name: str) -> pd.Series:
        return units[name] if name in units else pd.Series([None] * len(units), index=units.index)

    commune = units["commune_name"] if "commune_name" in units else units["name"]
    return pd.DataFrame(
        {
            "name": _each(text, commune),
            "population": units["population"].map(en_count),
            "minutes": units["minutes_to_nearest"].map(en_minutes),
            "nearest": _each(lambda f: text(names.get(f, f)) if pd.notna(f) else "", units["nearest_facility"]),
            "epci": _each(code_and_name, column("epci"), column("epci_name")),
            "department": _each(code_and_name, column("department"), column("department_name")),
        },
        index=units.index,
    )


def _each(label: Callable[..., str], *columns: pd.Series) -> list[str]:
    """``label`` of each row of the ``columns``, computed once per distinct row (names repeat
    across the units of a commune)."""
    done: dict[tuple[object, ...], str] = {}
    out = []
    for row in zip(*columns, strict=True):
        value = done.get(row)
        if value is None:
            value = done[row] = label(*row)
        out.append(value)
    return out


#: (column of :func:`unit_labels`, bilingual label) of a unit's tooltip, name first.
UNIT_TOOLTIP = [
    ("name", "Commune"),
    ("population", "Population"),
    ("minutes", "Minutes (structure la plus proche / nearest facility)"),
    ("nearest", "Structure la plus proche / Nearest facility"),
    ("epci", "EPCI"),
    ("department", "Département / Department"),
]


def unit_tooltip(labels: Any) -> str:
    """Tooltip of a unit drawn as a point, from a row of :func:`unit_labels`."""
    return table(labels.name, [(label, getattr(labels, column)) for column, label in UNIT_TOOLTIP[1:]])


# ---------------------------------------------------------------- facilities and sites


def facility_popup(row: pd.Series, symbol: Symbol) -> str:
    """Popup of a facility: type, identifier, commune, distance to the road."""
    rows = [
        ("Type", f"{symbol.label} <i>({text(row['type'])})</i>"),
        ("Identifiant / Id", text(row["facility_id"])),
        ("Commune", text(row.get("commune", ""))),
        ("Accès à la route / Access to the road", f"{en_count(row['snap_distance_m'])} m"),
    ]
    if bool(row.get("beyond_max_snap", False)):
        rows.append(("Réseau / Network", "hors réseau, ignorée / off the network, left out"))
    return table(text(row["name"]), rows)


def site_rows(row: pd.Series, thresholds: Sequence[float], departments: dict[str, str]) -> list[tuple[str, str]]:
    """The score components of a candidate, as popup rows."""
    rows = [
        (f"Nouveaux couverts ≤ {t:g} min (seul) / Newly covered ≤ {t:g} min (alone)", en_count(row[col]))
        for t in thresholds
        if (col := f"newly_covered_{t:g}") in row
    ]
    rows += [
        (
            "Leur temps actuel moyen / Their mean minutes today",
            en_minutes(row["served_current_minutes"]) if pd.notna(row.get("served_current_minutes")) else "",
        ),
        (
            "Structure existante la plus proche / Nearest existing facility",
            en_minutes(row.get("minutes_to_nearest_existing")),
        ),
        ("Commune", code_and_name(row.get("commune"), row.get("commune_name"))),
        ("EPCI", code_and_name(row.get("epci"), row.get("epci_name"))),
        ("Département / Department", code_and_name(row.get("department"), departments.get(row.get("department")))),
        ("Identifiant / Id", text(row["candidate_id"])),
    ]
    return rows
