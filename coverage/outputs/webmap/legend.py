"""The content of the web map's legend, in French and English.

:func:`legend_html` explains, top to bottom: the facility symbols (one per type drawn),
the new site and candidate markers when there is a siting plan, the accessibility
classes when there is a study, the minute classes, two sizes of the circles of the
population beyond the last threshold, and the boundary lines.  The box that holds it is
:func:`~coverage.outputs.webmap.page.add_legend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from coverage.outputs.style import CANDIDATE_SYMBOL, FACILITY_SYMBOLS, OTHER_SYMBOL, SITE_SYMBOL, en_count
from coverage.outputs.webmap.access import access_legend
from coverage.outputs.webmap.layers import circle_radius
from coverage.outputs.webmap.page import icon_svg
from coverage.outputs.webmap.popups import text

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.planning import SitingPlan

__all__ = ["legend_html"]


def _row(symbol_html: str, label: str) -> str:
    return f'<div class="row">{symbol_html}<span>{text(label)}</span></div>'


def legend_html(
    colours: Sequence[str],
    labels: Sequence[str],
    facility_types: list[str],
    largest: float | None,
    plan: SitingPlan | None,
    access: AccessStudy | None = None,
    zone_label: str | None = None,
    cantons: bool = False,
) -> str:
    """The legend, folded in a ``<details>`` open at start.

    ``colours`` and ``labels`` are the minute classes
    (:func:`~coverage.outputs.style.minute_class_colours`,
    :func:`~coverage.outputs.style.minute_class_labels_web`); ``facility_types`` the
    types drawn, in order; ``largest`` the population of the largest circle, None when
    there is none; ``zone_label`` the name of the planner's own areas when they are drawn,
    ``cantons`` whether the canton outlines are.
    """
    parts = ["<h4>Structures / Facilities</h4>"]
    for kind in facility_types:
        symbol = FACILITY_SYMBOLS.get(kind, OTHER_SYMBOL)
        label = symbol.label if kind in FACILITY_SYMBOLS else f"{symbol.label} ({kind})"
        parts.append(_row(icon_svg(symbol, size=18), label))
    if plan is not None:
        parts.append(_row(icon_svg(SITE_SYMBOL, size=18), SITE_SYMBOL.label))
        parts.append(_row(icon_svg(CANDIDATE_SYMBOL, size=16), CANDIDATE_SYMBOL.label))
    if access is not None:
        parts.append(access_legend(access))
    parts.append("<h4>Minutes jusqu'à la structure la plus proche / Minutes to the nearest facility</h4>")
    for colour, label in zip(colours, labels, strict=True):
        parts.append(_row(f'<span class="swatch" style="background:{colour}"></span>', label))
    if largest is not None:
        parts.append("<h4>Population au-delà du dernier seuil / Population beyond the last threshold</h4>")
        for value in (largest, largest / 4):
            r = circle_radius(np.array([value]), largest)[0]
            d = 2 * r + 2
            circle = (
                f'<svg width="{d:.0f}" height="{d:.0f}"><circle cx="{d / 2:.1f}" cy="{d / 2:.1f}" r="{r:.1f}" '
                'fill="#ffffff" fill-opacity="0.55" stroke="#000000" stroke-width="1.2"/></svg>'
            )
            parts.append(_row(circle, f"{en_count(value)} hab. / inh."))
    parts.append(
        "<h4>Limites / Boundaries</h4>"
        + _row(
            '<span class="swatch" style="border:2.5px solid #000;background:none"></span>', "Département / Department"
        )
        + _row('<span class="swatch" style="border:1.2px dashed #404040;background:none"></span>', "EPCI")
        + (
            _row('<span class="swatch" style="border:1px dotted #606060;background:none"></span>', "Canton")
            if cantons
            else ""
        )
        + (
            _row('<span class="swatch" style="border:1.8px dashed #8c2d04;background:none"></span>', zone_label)
            if zone_label
            else ""
        )
    )
    return "<details open><summary>Légende / Legend</summary>" + "".join(parts) + "</details>"
