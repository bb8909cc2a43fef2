"""Static figures of a gap analysis and a siting plan (matplotlib, PNG) for reports.

Every function returns a :class:`matplotlib.figure.Figure` drawn on an Agg canvas of
its own: pyplot is never imported, so no global figure registry, backend or style is
touched and figures are freed like any object.  :func:`save_png` and :func:`png_bytes`
write them out.  Labels are in French with English in parentheses.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.path import Path as MplPath

    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = [
    "FACILITY_TYPE_LABELS",
    "UNREACHABLE_LABEL",
    "access_by_department_figure",
    "class_colours",
    "class_labels",
    "coverage_curve_figure",
    "fr_int",
    "fr_pct",
    "minute_classes",
    "minutes_map",
    "png_bytes",
    "save_png",
]

ACCESS_TIME_LABEL = "Temps d'accès (min) / Access time (min)"
UNREACHABLE_LABEL = "Injoignable (unreachable)"
#: Grey of unreachable units: outside the viridis range, so never read as a time.
UNREACHABLE_COLOUR = "#c8c8c8"

#: Legend labels of the facility types of the compiled list and of FINESS.
FACILITY_TYPE_LABELS = {
    "msp": "MSP (maison de santé pluriprofessionnelle)",
    "centre_sante": "Centre de santé (health centre)",
    "centre_regional_gip": "Centre régional GIP (regional centre)",
    "pole_sante": "Pôle de santé (health hub)",
    "antenne": "Antenne (branch site)",
}
# Okabe-Ito colours and distinct shapes, so types differ without colour vision too.
_FACILITY_STYLES = {
    "msp": ("o", "#D55E00"),
    "centre_sante": ("s", "#FFFFFF"),
    "centre_regional_gip": ("D", "#CC79A7"),
    "pole_sante": ("^", "#E69F00"),
    "antenne": ("v", "#56B4E9"),
}
_OTHER_STYLES = [("P", "#F0E442"), ("X", "#009E73"), ("h", "#0072B2"), ("*", "#000000")]
_SERIES_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
_LINESTYLES = ["-", "--", "-.", ":"]


# ----------------------------------------------------------------------------- helpers


def _new_figure(size: tuple[float, float]) -> Figure:
    """A figure on its own Agg canvas (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write ``fig`` as a PNG file at ``path``; returns the path."""
    path = Path(path)
    path.write_bytes(png_bytes(fig, dpi=dpi))
    return path


def png_bytes(fig: Figure, *, dpi: int = 150) -> bytes:
    """The PNG bytes of ``fig`` (for embedding in a report)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def fr_int(value: float) -> str:
    """``2 587 031``: French thousands separator (narrow no-break space)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}".replace(",", "\u202f")


def fr_pct(share: float, digits: int = 1) -> str:
    """``92,4 %``: French decimal comma and spaced percent sign."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "–"
    return f"{100 * share:.{digits}f}".replace(".", ",") + "\u202f%"


def _minutes_label(t: float) -> str:
    return f"{t:g}".replace(".", ",")


def class_labels(thresholds: Sequence[float]) -> list[str]:
    """Labels of the minute classes: ``0–10 min`` … ``> 30 min``, then unreachable."""
    edges = [0.0, *sorted(float(t) for t in thresholds)]
    labels = [f"{_minutes_label(a)}–{_minutes_label(b)} min" for a, b in itertools.pairwise(edges)]
    return [*labels, f"> {_minutes_label(edges[-1])} min", UNREACHABLE_LABEL]


def minute_classes(minutes: Sequence[float] | pd.Series | np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """Class of each value: 0 for ``<= t1``, i for ``t(i) < m <= t(i+1)``, n for ``> tn``,
    n + 1 for unreachable (NaN), where n is the number of thresholds.

    The bounds follow the coverage statistics: a unit at exactly T minutes is covered at T.
    """
    m = np.asarray(minutes, dtype=float)
    edges = np.array(sorted(float(t) for t in thresholds))
    classes = np.searchsorted(edges, m, side="left")
    classes[np.isnan(m)] = len(edges) + 1
    return classes


def class_colours(n_thresholds: int) -> list[str]:
    """Colours of the n + 2 classes: viridis from yellow (near) to purple (far), then grey."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["viridis_r"]
    n = n_thresholds + 1
    return [*(to_hex(cmap(i / max(n - 1, 1))) for i in range(n)), UNREACHABLE_COLOUR]


def _polygon_path(geometry: BaseGeometry) -> MplPath:
    """One compound path per (multi)polygon, holes oriented against their shell."""
    from matplotlib.path import Path as MplPath

    parts = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        polygon = orient(polygon)
        parts.append(MplPath(np.asarray(polygon.exterior.coords)[:, :2]))
        parts.extend(MplPath(np.asarray(ring.coords)[:, :2]) for ring in polygon.interiors)
    return MplPath.make_compound_path(*parts) if parts else MplPath(np.zeros((0, 2)))


def _polygon_collection(geometries: Sequence[BaseGeometry], **kwargs: Any) -> Any:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch

    return PatchCollection([PathPatch(_polygon_path(g)) for g in geometries], **kwargs)


def _text_colour(hex_colour: str) -> str:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(hex_colour)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def _facility_style(kind: str, others: dict[str, tuple[str, str]]) -> tuple[str, str]:
    if kind in _FACILITY_STYLES:
        return _FACILITY_STYLES[kind]
    if kind not in others:
        others[kind] = _OTHER_STYLES[len(others) % len(_OTHER_STYLES)]
    return others[kind]


def _unit_areas(units: gpd.GeoDataFrame, crs: str) -> gpd.GeoSeries | None:
    """The units' ``area`` polygons in ``crs`` (None where the units have none)."""
    if "area" not in units or units["area"].isna().all():
        return None
    area_crs = getattr(units["area"], "crs", None) or units.crs
    return gpd.GeoSeries(units["area"].to_numpy(), index=units.index, crs=area_crs).to_crs(crs)


def _department_label(code: object, name: object) -> str:
    code_text = "" if pd.isna(code) else str(code)
    if name is None or pd.isna(name) or str(name) in ("", code_text):
        return code_text
    return f"{code_text} {name}"


def _department_outlines(
    result: GapAnalysis, departments: gpd.GeoDataFrame | gpd.GeoSeries | None, crs: str
) -> gpd.GeoDataFrame | None:
    """Department polygons with a ``label``: the ones given, else dissolved from the units' areas."""
    if departments is not None:
        frame = departments if isinstance(departments, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=departments)
        if "name" in frame and "department" in frame:
            labels = [_department_label(c, n) for c, n in zip(frame["department"], frame["name"], strict=True)]
        elif "name" in frame:
            labels = [str(n) for n in frame["name"]]
        else:
            labels = [""] * len(frame)
        return gpd.GeoDataFrame({"label": labels}, geometry=frame.geometry.to_crs(crs).to_numpy(), crs=crs)
    units = result.units
    areas = _unit_areas(units, crs)
    if areas is None or "department" not in units or units["department"].isna().all():
        return None
    frame = gpd.GeoDataFrame(
        {
            "department": units["department"].astype("string").to_numpy(),
            "name": units["department_name"].to_numpy() if "department_name" in units else units["department"],
        },
        geometry=areas.to_numpy(),
        crs=crs,
    )
    frame = frame[frame["department"].notna() & frame.geometry.notna()]
    dissolved = frame.dissolve(by="department", aggfunc={"name": "first"}).reset_index()
    labels = [_department_label(c, n) for c, n in zip(dissolved["department"], dissolved["name"], strict=True)]
    return gpd.GeoDataFrame({"label": labels}, geometry=dissolved.geometry.to_numpy(), crs=crs)


def _scale_bar(ax: Axes, crs: str) -> None:
    """A scale bar in the lower left corner when the CRS is in metres."""
    import pyproj

    try:
        unit = pyproj.CRS(crs).axis_info[0].unit_name
    except (pyproj.exceptions.CRSError, IndexError):
        return
    if unit not in ("metre", "meter"):
        return
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width_km = (x1 - x0) / 1000
    length_km = max(
        [s for s in (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0) if s <= width_km / 5] or [width_km / 5]
    )
    x = x0 + 0.03 * (x1 - x0)
    y = y0 + 0.03 * (y1 - y0)
    ax.plot([x, x + length_km * 1000], [y, y], color="black", linewidth=3, solid_capstyle="butt", gid="scale_bar")
    ax.text(x, y + 0.012 * (y1 - y0), f"{length_km:g} km", fontsize=8, va="bottom")


# ----------------------------------------------------------------------------- the map


def minutes_map(
    result: GapAnalysis,
    *,
    departments: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    plan: SitingPlan | None = None,
    title: str | None = None,
) -> Figure:
    """Map of the units coloured by minutes to the nearest facility, in classes.

    Parameters
    ----------
    result
        The gap analysis; units are drawn as their ``area`` polygons (one patch per
        unit, collection ``gid="units"``), or as points where they have none.
    departments
        Department polygons (``department`` and ``name`` columns label them) drawn as
        outlines.  When None, the outlines are dissolved from the units' areas by their
        ``department`` column, when the units have both.
    plan
        A siting plan whose new sites are drawn as numbered stars.
    title
        Replaces the default title.

    Notes
    -----
    Classes: ``0–t1``, ``t1–t2``, … ``> tn`` minutes for the thresholds of the analysis,
    and unreachable; viridis (colour-blind safe, readable in grey) from yellow (near) to
    purple (far), unreachable in light grey.  Drawn in the analysis' metric CRS
    (Lambert-93 by default).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    crs = result.config.metric_crs
    thresholds = result.config.thresholds_min
    units = result.units
    classes = minute_classes(units["minutes_to_nearest"], thresholds)
    colours = np.array(class_colours(len(thresholds)))
    labels = class_labels(thresholds)
    population = units["population"].to_numpy(dtype=float)

    fig = _new_figure((10.5, 8.5))
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()

    areas = _unit_areas(units, crs)
    has_area = np.zeros(len(units), dtype=bool)
    if areas is not None:
        has_area = (areas.notna() & ~areas.is_empty).to_numpy()
        polygons = _polygon_collection(
            list(areas[has_area]),
            facecolors=colours[classes[has_area]],
            edgecolors="white",
            linewidths=0.15,
            gid="units",
            zorder=1,
        )
        ax.add_collection(polygons, autolim=True)
    if not has_area.all():
        pts = units[~has_area].to_crs(crs).geometry
        ax.scatter(
            pts.x,
            pts.y,
            c=colours[classes[~has_area]],
            s=12,
            edgecolors="#555555",
            linewidths=0.2,
            gid="unit_points",
            zorder=2,
        )

    outlines = _department_outlines(result, departments, crs)
    if outlines is not None and len(outlines):
        ax.add_collection(
            _polygon_collection(
                list(outlines.geometry),
                facecolors="none",
                edgecolors="#1a1a1a",
                linewidths=1.1,
                gid="departments",
                zorder=3,
            ),
            autolim=areas is None,
        )
        from matplotlib import patheffects

        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
        for label, point in zip(outlines["label"], outlines.geometry.representative_point(), strict=True):
            if label:
                ax.text(
                    point.x,
                    point.y,
                    label,
                    fontsize=9,
                    fontweight="bold",
                    ha="center",
                    va="center",
                    color="#1a1a1a",
                    path_effects=halo,
                    zorder=6,
                )

    facilities = result.facilities.to_crs(crs)
    others: dict[str, tuple[str, str]] = {}
    facility_handles = []
    kinds = facilities["type"].astype(str)
    for kind in kinds.value_counts().index:
        marker, colour = _facility_style(kind, others)
        pts = facilities[kinds == kind].geometry
        label = f"{FACILITY_TYPE_LABELS.get(kind, kind)} ({len(pts)})"
        ax.scatter(
            pts.x, pts.y, marker=marker, s=34, c=colour, edgecolors="black", linewidths=0.7, zorder=5, gid="facilities"
        )
        facility_handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                linestyle="none",
                markersize=7,
                markerfacecolor=colour,
                markeredgecolor="black",
                label=label,
            )
        )
    if plan is not None and len(plan.selection_table):
        sites = plan.selection_table.to_crs(crs)
        ax.scatter(
            sites.geometry.x,
            sites.geometry.y,
            marker="*",
            s=170,
            c="white",
            edgecolors="black",
            linewidths=0.9,
            zorder=7,
            gid="new_sites",
        )
        for rank, point in zip(sites["rank"], sites.geometry, strict=True):
            ax.annotate(str(rank), (point.x, point.y), xytext=(5, 4), textcoords="offset points", fontsize=7, zorder=8)
        facility_handles.append(
            Line2D(
                [],
                [],
                marker="*",
                linestyle="none",
                markersize=12,
                markerfacecolor="white",
                markeredgecolor="black",
                label=f"Nouveau site (new site), {plan.threshold_min:g} min ({len(sites)})",
            )
        )

    ax.autoscale_view()
    _scale_bar(ax, crs)
    class_handles = [
        Patch(
            facecolor=colour,
            edgecolor="#555555",
            label=f"{label} : {fr_int(population[classes == i].sum())} hab.",
        )
        for i, (label, colour) in enumerate(zip(labels, colours, strict=True))
    ]
    fig.legend(
        handles=class_handles,
        title=f"{ACCESS_TIME_LABEL}\npopulation (inhabitants)",
        loc="outside right upper",
        frameon=False,
        alignment="left",
    )
    if facility_handles:
        fig.legend(
            handles=facility_handles,
            title="Structures (facilities)",
            loc="outside right lower",
            frameon=False,
            alignment="left",
        )
    ax.set_title(
        title or "Temps d'accès à la structure la plus proche\n(drive time to the nearest primary-care facility)",
        fontsize=13,
    )
    return fig


# ----------------------------------------------------------------------------- the curve


def coverage_curve_figure(plan: SitingPlan) -> Figure:
    """Population within the siting threshold against the number of new sites.

    Greedy and exact values (``plan.curve``) side by side; k = 0 is today's coverage.
    The right axis gives the share of the population.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    curve = plan.curve
    total = float(plan.selection.population_total)
    t = _minutes_label(plan.threshold_min)
    fig = _new_figure((8.5, 5.2))
    ax = fig.add_subplot()
    k = curve["k"].to_numpy(dtype=int)
    if "population_covered_exact" in curve and curve["population_covered_exact"].notna().any():
        ax.plot(
            k,
            curve["population_covered_exact"].to_numpy(dtype=float),
            color="#0072B2",
            marker="o",
            markersize=5,
            linewidth=2,
            label="Exacte (exact MCLP)",
            gid="exact",
            zorder=3,
        )
    ax.plot(
        k,
        curve["population_covered_greedy"].to_numpy(dtype=float),
        color="#D55E00",
        marker="s",
        markersize=6,
        markerfacecolor="none",
        linestyle="--",
        linewidth=1.5,
        label="Gloutonne (greedy)",
        gid="greedy",
        zorder=4,
    )
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
        ax.axhline(total, color="#555555", linestyle=":", linewidth=1, gid="total")
        ax.annotate(
            f"Population totale (total): {fr_int(total)}",
            (0, total),
            xytext=(2, -12),
            textcoords="offset points",
            fontsize=8,
            color="#555555",
        )

        def to_share(people: ArrayLike) -> ArrayLike:
            return 100.0 * np.asarray(people, dtype=float) / total

        def to_people(share: ArrayLike) -> ArrayLike:
            return np.asarray(share, dtype=float) * total / 100.0

        share = ax.secondary_yaxis("right", functions=(to_share, to_people))
        share.set_ylabel("Part de la population (share, %)")
    chosen = len(plan.selection.sites)
    if chosen and chosen <= (k.max() if len(k) else 0):
        ax.axvline(chosen, color="#009E73", linewidth=1, linestyle="-.", gid="chosen")
        ax.annotate(
            f"Sites retenus (chosen): {chosen}",
            (chosen, ax.get_ylim()[0]),
            xytext=(-4, 6),
            textcoords="offset points",
            rotation=90,
            ha="right",
            va="bottom",
            fontsize=8,
            color="#009E73",
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fr_int(v)))
    ax.set_xlabel("Nombre de nouveaux sites (number of new sites)")
    ax.set_ylabel(f"Population à moins de {t} min (population within {t} min)")
    ax.set_title(f"Courbe de couverture à {t} min (coverage curve)")
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.legend(loc="lower right")
    return fig


# ----------------------------------------------------------------------------- by department


def _groups(units: gpd.GeoDataFrame) -> list[tuple[str, np.ndarray]]:
    """(label, positions) per department, sorted by code; one group for all units first."""
    groups = [("Ensemble (all)", np.arange(len(units)))]
    if "department" not in units or units["department"].isna().all():
        return groups
    codes = units["department"].astype("string").fillna("")
    names = units.get("department_name", codes)
    for code, positions in codes.groupby(codes, sort=True).indices.items():
        if code != "":
            groups.append((_department_label(code, names.iloc[positions[0]]), np.asarray(positions)))
    return groups


def access_by_department_figure(result: GapAnalysis) -> Figure:
    """Population-weighted distribution of access times by department.

    Left: share of each department's population in each minute class (the classes and
    colours of :func:`minutes_map`), one stacked bar per department and one for all
    units.  Right: share of the population within x minutes (weighted cumulative
    distribution), the thresholds marked by vertical lines.
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    thresholds = result.config.thresholds_min
    units = result.units
    minutes = units["minutes_to_nearest"].to_numpy(dtype=float)
    population = units["population"].to_numpy(dtype=float)
    classes = minute_classes(minutes, thresholds)
    colours = class_colours(len(thresholds))
    labels = class_labels(thresholds)
    groups = _groups(units)

    fig = _new_figure((13, max(4.5, 2.6 + 0.55 * len(groups))))
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
            if w >= 0.07:
                bars_ax.text(
                    x0 + w / 2, yi, fr_pct(w, 0), ha="center", va="center", fontsize=8, color=_text_colour(colour)
                )
        left += shares
    bars_ax.set_yticks(y, [f"{label}\n{fr_int(t)} hab." for (label, _), t in zip(groups, totals, strict=True)])
    bars_ax.set_xlim(0, 1)
    bars_ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    bars_ax.set_xlabel("Part de la population (share of population)")
    bars_ax.set_title("Population par classe de temps d'accès\n(population by access-time class)", fontsize=11)
    fig.legend(
        handles=[Patch(facecolor=c, edgecolor="#555555", label=lab) for lab, c in zip(labels, colours, strict=True)],
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
        cum = np.cumsum(p[ok][order]) / total if total > 0 else np.zeros(ok.sum())
        ys = np.concatenate([[0.0], cum, [cum[-1] if len(cum) else 0.0]])
        if i == 0:
            style = {"color": "black", "linewidth": 2.6, "linestyle": "-"}
        else:
            style = {
                "color": _SERIES_COLOURS[(i - 1) % len(_SERIES_COLOURS)],
                "linewidth": 1.5,
                "linestyle": _LINESTYLES[((i - 1) // len(_SERIES_COLOURS)) % len(_LINESTYLES)],
            }
        cdf_ax.step(xs, ys, where="post", label=label, gid=f"cdf_{i}", **style)
    for t in thresholds:
        cdf_ax.axvline(t, color="#444444", linestyle=":", linewidth=1, gid="threshold")
        cdf_ax.annotate(
            f"{_minutes_label(t)} min",
            (t, 0.0),
            xytext=(3, 4),
            textcoords="offset points",
            fontsize=8,
            color="#444444",
        )
    cdf_ax.set_xlim(0, x_max)
    cdf_ax.set_ylim(0, 1.02)
    cdf_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    cdf_ax.set_xlabel(ACCESS_TIME_LABEL)
    cdf_ax.set_ylabel("Part de la population à moins de x min\n(share of population within x min)")
    cdf_ax.set_title("Distribution cumulée pondérée par la population\n(population-weighted cumulative)", fontsize=11)
    cdf_ax.grid(True, color="#dddddd", linewidth=0.6)
    cdf_ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Temps d'accès par département (access time by department)", fontsize=13)
    return fig
