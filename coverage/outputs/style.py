"""The one look of every output: palette, minute classes, facility symbols, number formats.

The web map (:mod:`coverage.outputs.webmap`), the static figures
(:mod:`coverage.outputs.figures`) and the report (:mod:`coverage.outputs.report`) take
their colours, classes, symbols and number formats from here, so that an MSP has the same
colour and shape on the web map and in a PNG, and a commune at 20 minutes falls in the same
class everywhere.

Colours are Okabe-Ito (colour-blind safe) for categories and viridis for minutes, from
yellow (near) to dark purple (far); unreachable units are grey, outside the viridis range,
so that grey is never read as a time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ACCESS_CLASSES",
    "ADDED_DOCTORS_COLOUR",
    "BUDGET_COLOUR",
    "CANDIDATE_SYMBOL",
    "FACILITY_SYMBOLS",
    "NNBSP",
    "OKABE_ITO",
    "OTHER_SYMBOL",
    "SITE_SYMBOL",
    "UNREACHABLE_COLOUR",
    "UNREACHABLE_LABEL",
    "UNREACHABLE_LABEL_WEB",
    "Symbol",
    "en_count",
    "en_minutes",
    "en_number",
    "facility_symbol",
    "fr_doctors",
    "fr_int",
    "fr_minutes",
    "fr_number",
    "fr_pct",
    "minute_class",
    "minute_class_colours",
    "minute_class_labels",
    "minute_class_labels_web",
]

#: Narrow no-break space: the French thousands separator, and before ``%``.
NNBSP = "\u202f"

# ----------------------------------------------------------------------------- palette

#: Okabe-Ito colours, in their usual order (blue, vermillion, green, pink, orange, sky
#: blue, yellow, black): series of the figures and categories.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

# viridis from yellow (short drives) to dark purple (long drives), 11 stops
_VIRIDIS = (
    "#fde725",
    "#bddf26",
    "#7ad151",
    "#44bf70",
    "#22a884",
    "#21918c",
    "#2a788e",
    "#355f8d",
    "#414487",
    "#482475",
    "#440154",
)
#: Grey of unreachable units.
UNREACHABLE_COLOUR = "#bdbdbd"

# ----------------------------------------------------------------------------- minute classes

#: Label of unreachable units in the figures and the report (French, English in brackets).
UNREACHABLE_LABEL = "Injoignable (unreachable)"
#: Label of unreachable units on the bilingual web map.
UNREACHABLE_LABEL_WEB = "inaccessible / unreachable"


def minute_class(minutes: Sequence[float] | pd.Series | np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Class of each value: 0 for ``<= t1``, i for ``t(i) < m <= t(i+1)``, n for ``> tn``,
    n + 1 for unreachable (NaN), where n is the number of thresholds.

    The bounds follow the coverage statistics: a unit at exactly T minutes is covered at T.
    """
    m = np.asarray(minutes, dtype=float)
    edges = np.array(sorted(float(t) for t in thresholds))
    classes = np.searchsorted(edges, m, side="left")
    classes[np.isnan(m)] = len(edges) + 1
    return classes


def minute_class_colours(n_thresholds: int) -> list[str]:
    """Colours of the n + 2 classes of :func:`minute_class`: viridis, then grey."""
    n = n_thresholds + 1
    colours = [_VIRIDIS[round(i * (len(_VIRIDIS) - 1) / max(n - 1, 1))] for i in range(n)]
    return [*colours, UNREACHABLE_COLOUR]


def fr_minutes(t: float) -> str:
    """``7,5``: minutes with the French decimal comma and no useless zero."""
    return f"{float(t):g}".replace(".", ",")


def minute_class_labels(thresholds: Sequence[float]) -> list[str]:
    """Labels of the classes in the figures: ``0–10 min`` … ``> 30 min``, then unreachable."""
    edges = [0.0, *sorted(float(t) for t in thresholds)]
    labels = [f"{fr_minutes(a)}–{fr_minutes(b)} min" for a, b in itertools.pairwise(edges)]
    return [*labels, f"> {fr_minutes(edges[-1])} min", UNREACHABLE_LABEL]


def minute_class_labels_web(thresholds: Sequence[float]) -> list[str]:
    """Labels of the classes on the web map: ``≤ 10 min``, ``10–20 min`` … ``> 30 min``, unreachable."""
    ts = sorted(thresholds)
    return [
        f"≤ {ts[0]:g} min",
        *(f"{a:g}–{b:g} min" for a, b in itertools.pairwise(ts)),
        f"> {ts[-1]:g} min",
        UNREACHABLE_LABEL_WEB,
    ]


# ----------------------------------------------------------------------------- facility symbols


@dataclass(frozen=True)
class Symbol:
    """How a kind of site is drawn: the same colour and shape on the web map and in figures.

    ``shape`` names the SVG shape of the web map's markers, ``marker`` the matplotlib
    marker of the same shape; ``letter`` is written in the web marker, in ``text`` colour.
    """

    letter: str
    shape: str
    marker: str
    fill: str
    text: str
    label: str
    label_print: str


#: Facility types of the compiled list and of FINESS, each with its own colour, shape and
#: letter, so that a type reads without colour too.
FACILITY_SYMBOLS = {
    "msp": Symbol(
        "M",
        "circle",
        "o",
        "#0072B2",
        "#ffffff",
        "Maisons de santé (MSP) / Multi-professional health centres",
        "MSP (maison de santé pluriprofessionnelle)",
    ),
    "centre_sante": Symbol(
        "C",
        "square",
        "s",
        "#D55E00",
        "#ffffff",
        "Centres de santé / Health centres",
        "Centre de santé (health centre)",
    ),
    "centre_regional_gip": Symbol(
        "R",
        "diamond",
        "D",
        "#CC79A7",
        "#000000",
        "Centres régionaux (GIP) / Regional centres",
        "Centre régional GIP (regional centre)",
    ),
    "pole_sante": Symbol(
        "P",
        "hexagon",
        "h",
        "#009E73",
        "#ffffff",
        "Pôles de santé / Health hubs",
        "Pôle de santé (health hub)",
    ),
    "antenne": Symbol(
        "A",
        "triangle",
        "^",
        "#56B4E9",
        "#000000",
        "Antennes / Satellite sites",
        "Antenne (branch site)",
    ),
}
#: Any other facility type.
OTHER_SYMBOL = Symbol("?", "pentagon", "p", "#E69F00", "#000000", "Autres structures / Other facilities", "")
#: A new site chosen by the siting (numbered in the order chosen on the web map).
SITE_SYMBOL = Symbol(
    "1",
    "circle",
    "o",
    "#000000",
    "#ffffff",
    "Nouveau site retenu (ordre du choix) / Selected new site",
    "Nouveau site (new site)",
)
#: A next-best candidate that was not chosen.
CANDIDATE_SYMBOL = Symbol("", "cross", "P", "#ffffff", "#000000", "Candidat suivant / Next-best candidate", "")


def facility_symbol(kind: object) -> Symbol:
    """The symbol of a facility type; :data:`OTHER_SYMBOL` for a type not listed, labelled with it."""
    symbol = FACILITY_SYMBOLS.get(str(kind))
    if symbol is not None:
        return symbol
    return Symbol(
        OTHER_SYMBOL.letter,
        OTHER_SYMBOL.shape,
        OTHER_SYMBOL.marker,
        OTHER_SYMBOL.fill,
        OTHER_SYMBOL.text,
        OTHER_SYMBOL.label,
        str(kind),
    )


# ----------------------------------------------------------------------------- accessibility

#: Accessibility classes before -> after a scenario (ColorBrewer RdYlBu / green; the
#: classes also differ in lightness, and the tooltips give the numbers).
ACCESS_CLASSES = (
    ("#b2182b", "Zone prioritaire, inchangée / Priority, unchanged"),
    ("#f4a582", "Zone prioritaire, améliorée / Priority, improved"),
    ("#1a9850", "Sortie de zone prioritaire / Lifted above the line"),
    ("#92c5de", "Au-dessus du seuil / Above the line"),
)
#: Sites that receive doctors in a scenario.
ADDED_DOCTORS_COLOUR = "#6a3d9a"
#: The sites chosen within a budget (Okabe-Ito reddish purple), on the map and in QGIS.
BUDGET_COLOUR = "#CC79A7"

# ----------------------------------------------------------------------------- numbers


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def fr_int(value: object) -> str:
    """``2 587 031``: French thousands separator (narrow no-break space); ``–`` when missing."""
    if _missing(value):
        return "–"
    return f"{value:,.0f}".replace(",", NNBSP)


def fr_pct(share: object, digits: int = 1) -> str:
    """``92,4 %``: French decimal comma and spaced percent sign; ``–`` when missing."""
    if _missing(share):
        return "–"
    return f"{100 * share:.{digits}f}".replace(".", ",") + NNBSP + "%"  # type: ignore[operator]


def fr_doctors(value: float) -> str:
    """A number of doctors (or FTE): whole when it is (``275``), else to one decimal (``2,5``)."""
    return fr_int(value) if float(value).is_integer() else fr_number(value, 1)


def fr_number(value: object, digits: int = 1) -> str:
    """``1 234,5``: French decimals; ``–`` for NaN, empty for what is not a number."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if math.isnan(x):
        return "–"
    return f"{x:,.{digits}f}".replace(",", NNBSP).replace(".", ",")


def en_count(value: object) -> str:
    """``2 587 031`` on the bilingual web map; empty when missing."""
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return ""
    return f"{float(value):,.0f}".replace(",", NNBSP)  # type: ignore[arg-type]


def en_number(value: object, digits: int = 2) -> str:
    """``1 234.56`` on the bilingual web map (decimal point); empty when missing."""
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return ""
    return f"{float(value):,.{digits}f}".replace(",", NNBSP)  # type: ignore[arg-type]


def en_minutes(value: object) -> str:
    """``12.3 min`` on the web map, or the unreachable label."""
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return UNREACHABLE_LABEL_WEB
    return f"{float(value):.1f} min"  # type: ignore[arg-type]
