"""The section of the run report comparing two placements of the people: the communes at
their town halls, and the population grid (:mod:`coverage.unit_comparison`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from coverage.outputs.html_blocks import escape, numeric, table
from coverage.outputs.style import fr_int, fr_minutes, fr_number, fr_pct

if TYPE_CHECKING:
    from coverage.unit_comparison import UnitComparison

__all__ = ["units_section"]

#: How the report names the placements it knows; any other is shown as given.
LABELS = {"town_halls": "mairies (town halls)", "grid": "carroyage (grid)"}


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _rank(value: object) -> str:
    return "" if value is None or pd.isna(value) else fr_int(value)  # type: ignore[arg-type]


def units_section(comparison: UnitComparison) -> str:
    """Shares within each threshold and the communes with the longest drives, both ways."""
    a, b = comparison.names
    la, lb = _label(a), _label(b)  # text: the table escapes it, the note below escapes it itself
    share_rows = [
        [
            numeric(f"{fr_minutes(r['threshold_min'])} min"),
            numeric(fr_pct(r[f"share_covered_{a}"])),
            numeric(fr_pct(r[f"share_covered_{b}"])),
            numeric(fr_number(r["difference_points"], 1)),
        ]
        for _, r in comparison.shares.iterrows()
    ]
    commune_rows = [
        [
            r["commune"],
            r["commune_name"],
            numeric(fr_number(r[f"mean_minutes_{a}"], 1)),
            numeric(_rank(r[f"rank_{a}"])),
            numeric(fr_number(r[f"mean_minutes_{b}"], 1)),
            numeric(_rank(r[f"rank_{b}"])),
        ]
        for _, r in comparison.communes.iterrows()
    ]
    return (
        '<section><h2>Mairies ou carroyage <span class="en">(town halls or grid)</span></h2>'
        f'<p class="note">Les mêmes structures et le même réseau, les habitants placés de deux façons : '
        f"{escape(la)} et {escape(lb)}. "
        "Une mairie est au centre du bourg, sur le réseau ; le carroyage compte aussi les hameaux et les fermes "
        "qui en sont loin, d'où moins d'habitants tout près d'une structure ; aux seuils longs, les grandes "
        'communes rurales ne sont plus toutes à une mairie éloignée de tout. <span class="en">(The same '
        "facilities and network, the people placed two ways. A town hall stands at the village centre, on the "
        "road network; the grid also counts the hamlets and farms away from it, so fewer people are close to a "
        "facility; at long thresholds, the people of large rural communes are no longer all at one distant town "
        "hall.)</span></p>"
        + table(
            [
                numeric("Seuil (threshold)"),
                numeric(f"Part couverte, {la}"),
                numeric(f"Part couverte, {lb}"),
                numeric("Écart, points (difference)"),
            ],
            share_rows,
        )
        + table(
            [
                "Commune",
                "Nom (name)",
                numeric(f"Temps moyen, {la} (mean minutes)"),
                numeric("Rang (rank)"),
                numeric(f"Temps moyen, {lb} (mean minutes)"),
                numeric("Rang (rank)"),
            ],
            commune_rows,
            caption="Communes au temps moyen le plus long (communes with the longest mean drive)",
        )
        + "</section>"
    )
