"""The charts of a run (PNG): the siting plan's coverage curve and access times by department.

:func:`coverage_curve_figure` plots the population within the siting threshold against
the number of new sites; :func:`access_by_department_figure` the population-weighted
distribution of access times, in the minute classes of the map and as cumulative
curves.  Series take the Okabe-Ito colours of :mod:`coverage.outputs.style`, in order.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from coverage.outputs.figure_canvas import (
    ACCESS_TIME_LABEL,
    GRID,
    MUTED_INK,
    SOFT_INK,
    department_label,
    literal,
    new_figure,
)
from coverage.outputs.style import (
    OKABE_ITO,
    fr_int,
    fr_minutes,
    fr_pct,
    minute_class,
    minute_class_colours,
    minute_class_labels,
)

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.figure import Figure

    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = ["GREEDY_LINE", "access_by_department_figure", "coverage_curve_figure"]

# the curve's series: exact and greedy solutions, and the number of sites chosen
_EXACT_COLOUR, _GREEDY_COLOUR, _CHOSEN_COLOUR = OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[2]
#: The greedy series of a curve (coverage, budget): hollow squares and dashes, so that where
#: it equals the exact series both stay visible.
GREEDY_LINE: dict[str, Any] = {
    "color": _GREEDY_COLOUR,
    "marker": "s",
    "markersize": 6,
    "markerfacecolor": "none",
    "linestyle": "--",
    "linewidth": 1.5,
    "label": "Gloutonne (greedy)",
    "gid": "greedy",
    "zorder": 4,
}
# once the departments have used every colour, the next ones change dash instead
_LINESTYLES = ["-", "--", "-.", ":"]
# the bars are too narrow to hold their percentage below this share of the population
_MIN_LABELLED_SHARE = 0.07


# ----------------------------------------------------------------------------- the curve


def coverage_curve_figure(plan: SitingPlan) -> Figure:
    """Population within the siting threshold against the number of new sites.

    Greedy and exact values (``plan.curve``) side by side; k = 0 is today's coverage.
    The right axis gives the share of the population.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    curve = plan.curve
    total = float(plan.selection.population_total)
    t = fr_minutes(plan.threshold_min)
    fig = new_figure((8.5, 5.2))
    ax = fig.add_subplot()
    k = curve["k"].to_numpy(dtype=int)
    if "population_covered_exact" in curve and curve["population_covered_exact"].notna().any():
        ax.plot(
            k,
            curve["population_covered_exact"].to_numpy(dtype=float),
            color=_EXACT_COLOUR,
            marker="o",
            markersize=5,
            linewidth=2,
            label="Exacte (exact MCLP)",
            gid="exact",
            zorder=3,
        )
    # hollow squares and dashes: where greedy equals exact, both series stay visible
    ax.plot(k, curve["population_covered_greedy"].to_numpy(dtype=float), **GREEDY_LINE)
    today = float(curve["population_covered_greedy"].iloc[0]) if len(curve) else math.nan
    ax.scatter([0], [today], s=60, color="black", zorder=5, gid="today")
    ax.annotate(
        f"Aujourd'hui (today)\n{fr_pct(today / total if total else math.nan)}",
        (0, today),
        xytext=(10, 0),
        textcoords="offset points",
        va="center",
        fontsize=9,
    )
    if total > 0:
        ax.axhline(total, color=MUTED_INK, linestyle=":", linewidth=1, gid="total")
        ax.annotate(
            f"Population totale (total): {fr_int(total)}",
            (0, total),
            xytext=(2, -12),
            textcoords="offset points",
            fontsize=8,
            color=MUTED_INK,
        )

        def to_share(people: ArrayLike) -> ArrayLike:
            return 100.0 * np.asarray(people, dtype=float) / total

        def to_people(share: ArrayLike) -> ArrayLike:
            return np.asarray(share, dtype=float) * total / 100.0

        share = ax.secondary_yaxis("right", functions=(to_share, to_people))
        share.set_ylabel("Part de la population (share, %)")
    chosen = len(plan.selection.sites)
    if chosen and chosen <= (k.max() if len(k) else 0):
        ax.axvline(chosen, color=_CHOSEN_COLOUR, linewidth=1, linestyle="-.", gid="chosen")
        ax.annotate(
            f"Sites retenus (chosen): {chosen}",
            (chosen, ax.get_ylim()[0]),
            xytext=(-4, 6),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=8,
            color=_CHOSEN_COLOUR,
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fr_int(v)))
    ax.set_xlabel("Nombre de nouveaux sites (number of new sites)")
    ax.set_ylabel(f"Population à moins de {t} min (population within {t} min)")
    ax.set_title(f"Courbe de couverture à {t} min (coverage curve)")
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.legend(loc="lower right")
    return fig


# ----------------------------------------------------------------------------- by department


def _groups(units: gpd.GeoDataFrame) -> list[tuple[str, np.ndarray]]:
    """(label, positions) per department, sorted by code; one group for all units first.

    The labels are :func:`~coverage.outputs.figure_canvas.literal`: drawn as written.
    """
    groups = [("Ensemble (all)", np.arange(len(units)))]
    if "department" not in units or units["department"].isna().all():
        return groups
    codes = units["department"].astype("string").fillna("")
    names = units.get("department_name", codes)
    for code, positions in codes.groupby(codes, sort=True).indices.items():
        if code != "":
            groups.append((literal(department_label(code, names.iloc[positions[0]])), np.asarray(positions)))
    return groups


def _text_colour_on(hex_colour: str) -> str:
    """Black or white, whichever reads on ``hex_colour`` (by its luma)."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(hex_colour)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def _series_style(i: int) -> dict[str, Any]:
    """Line style of the i-th cumulative curve: all units (i = 0) black and thick."""
    if i == 0:
        return {"color": "black", "linewidth": 2.6, "linestyle": "-"}
    return {
        "color": OKABE_ITO[(i - 1) % len(OKABE_ITO)],
        "linewidth": 1.5,
        "linestyle": _LINESTYLES[((i - 1) // len(OKABE_ITO)) % len(_LINESTYLES)],
    }


def access_by_department_figure(result: GapAnalysis) -> Figure:
    """Population-weighted distribution of access times by department.

    Left: share of each department's population in each minute class (the classes and
    colours of the map, :func:`coverage.outputs.style.minute_class`), one stacked bar
    per department and one for all units.  Right: share of the population within x
    minutes (weighted cumulative distribution), the thresholds marked by vertical lines.
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    thresholds = result.config.thresholds_min
    units = result.units
    minutes = units["minutes_to_nearest"].to_numpy(dtype=float)
    population = units["population"].to_numpy(dtype=float)
    classes = minute_class(minutes, thresholds)
    colours = minute_class_colours(len(thresholds))
    labels = minute_class_labels(thresholds)
    groups = _groups(units)

    fig = new_figure((13, max(4.5, 2.6 + 0.55 * len(groups))))
    bars_ax, cdf_ax = fig.subplots(1, 2, width_ratios=[1.15, 1])
    y = np.arange(len(groups))[::-1]
    left = np.zeros(len(groups))
    totals = np.array([population[pos].sum() for _, pos in groups])
    for c, (label, colour) in enumerate(zip(labels, colours, strict=True)):
        shares = np.array(
            [
                population[pos][classes[pos] == c].sum() / t if t > 0 else 0.0
                for (_, pos), t in zip(groups, totals, strict=True)
            ]
        )
        bars_ax.barh(
            y, shares, left=left, color=colour, edgecolor="white", linewidth=0.5, label=label, gid=f"class_{c}"
        )
        for yi, x0, w in zip(y, left, shares, strict=True):
            if w >= _MIN_LABELLED_SHARE:
                bars_ax.text(
                    x0 + w / 2, yi, fr_pct(w, 0), ha="center", va="center", fontsize=8, color=_text_colour_on(colour)
                )
        left += shares
    bars_ax.set_yticks(y, [f"{label}\n{fr_int(t)} hab." for (label, _), t in zip(groups, totals, strict=True)])
    bars_ax.set_xlim(0, 1)
    bars_ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    bars_ax.set_xlabel("Part de la population (share of population)")
    bars_ax.set_title("Population par classe de temps d'accès\n(population by access-time class)", fontsize=11)
    fig.legend(
        handles=[Patch(facecolor=c, edgecolor=MUTED_INK, label=lab) for lab, c in zip(labels, colours, strict=True)],
        title=ACCESS_TIME_LABEL,
        loc="outside lower center",
        ncols=len(labels),
        frameon=False,
        fontsize=9,
        title_fontsize=9,
    )

    finite = minutes[~np.isnan(minutes)]
    x_max = max(float(finite.max()) if len(finite) else 0.0, max(thresholds)) * 1.05
    for i, (label, pos) in enumerate(groups):
        m, p = minutes[pos], population[pos]
        ok = ~np.isnan(m)
        order = np.argsort(m[ok], kind="stable")
        xs = np.concatenate([[0.0], m[ok][order], [x_max]])
        total = p.sum()
        # unreachable people stay in the denominator: the curve ends below 100 % when there are any
        cum = np.cumsum(p[ok][order]) / total if total > 0 else np.zeros(ok.sum())
        ys = np.concatenate([[0.0], cum, [cum[-1] if len(cum) else 0.0]])
        cdf_ax.step(xs, ys, where="post", label=label, gid=f"cdf_{i}", **_series_style(i))
    for t in thresholds:
        cdf_ax.axvline(t, color=SOFT_INK, linestyle=":", linewidth=1, gid="threshold")
        cdf_ax.annotate(
            f"{fr_minutes(t)} min",
            (t, 0.0),
            xytext=(3, 4),
            textcoords="offset points",
            fontsize=8,
            color=SOFT_INK,
        )
    cdf_ax.set_xlim(0, x_max)
    cdf_ax.set_ylim(0, 1.02)
    cdf_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    cdf_ax.set_xlabel(ACCESS_TIME_LABEL)
    cdf_ax.set_ylabel("Part de la population à moins de x min\n(share of population within x min)")
    cdf_ax.set_title("Distribution cumulée pondérée par la population\n(population-weighted cumulative)", fontsize=11)
    cdf_ax.grid(True, color=GRID, linewidth=0.6)
    cdf_ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Temps d'accès par département (access time by department)", fontsize=13)
    return fig
