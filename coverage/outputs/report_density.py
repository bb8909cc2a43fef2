"""Medical density by area in the report: GPs per 10,000 inhabitants, before and after the scenario.

:func:`density_section` reads the density columns of an accessibility study's area table
(:func:`coverage.access_tables.areas_table`) for the cantons (and the planner's own
areas, when given): how many areas' density rose, and the table, folded.  Densities that
rest on a default supply (a facility whose number of GPs the file does not state) are
marked, since the Region follows the density where it is known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from coverage.outputs.html_blocks import escape, numeric, table
from coverage.outputs.style import fr_int, fr_number

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy

__all__ = ["density_section"]

#: A density is said to rise when it gains more than this (GPs per 10,000).
RISE = 1e-9


def _rows(areas: pd.DataFrame) -> list[list[object]]:
    rows: list[list[object]] = []
    for _, r in areas.iterrows():
        name = r["area_name"]
        label = str(r["area_id"]) if pd.isna(name) or str(name) in ("", str(r["area_id"])) else f"{r['area_id']} {name}"
        known = bool(r["supply_known"])
        mark = "" if known else " *"
        rows.append(
            [
                label,
                numeric(fr_int(r["population"])),
                numeric(fr_number(r["gps_before"], 0) + mark),
                numeric(fr_number(r["gps_per_10000_before"], 1) + mark),
                numeric(fr_number(r["gps_after"], 0) + mark),
                numeric(fr_number(r["gps_per_10000_after"], 1) + mark),
            ]
        )
    return rows


def density_section(study: AccessStudy, *, zone_label: str = "zone") -> str:
    """GPs per 10,000 inhabitants by canton (and by the planner's areas), before and after."""
    by_area = study.by_area
    if "gps_per_10000_before" not in by_area:
        return ""
    parts = []
    for level, title in (("canton", "canton"), ("zone", zone_label)):
        areas = by_area[by_area["level"] == level]
        if areas.empty:
            continue
        rose = int((areas["gps_per_10000_after"] > areas["gps_per_10000_before"] + RISE).sum())
        known = int(areas["supply_known"].sum())
        headers = [
            title[:1].upper() + title[1:],  # escaped by table()
            numeric("Population"),
            numeric("Médecins, avant (GPs, before)"),
            numeric("Pour 10 000 hab., avant (per 10,000, before)"),
            numeric("Médecins, après (GPs, after)"),
            numeric("Pour 10 000 hab., après (per 10,000, after)"),
        ]
        parts.append(
            f"<h3>Densité médicale par {escape(title)} "
            f'<span class="en">(GPs per 10,000 inhabitants by {escape(title)})</span></h3>'
            f'<p class="note">La densité augmente dans {rose} des {len(areas)} zones ({escape(title)}) avec le '
            f"scénario. Nombre de médecins connu pour toutes les structures dans {known} d’entre elles ; ailleurs "
            "(*), une structure au moins a le nombre par défaut. Seuls les médecins des structures du fichier sont "
            f"comptés. (Density rises in {rose} of {len(areas)} areas; * marks areas where a facility's number "
            "of GPs is the default, not stated.)</p>"
            f"<details><summary>{len(areas)} lignes ({len(areas)} rows)</summary>{table(headers, _rows(areas))}"
            "</details>"
        )
    if not parts:
        return ""
    return (
        '<section><h2>Densité médicale <span class="en">(medical density)</span></h2>' + "".join(parts) + "</section>"
    )
