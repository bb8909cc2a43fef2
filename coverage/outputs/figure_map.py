"""The static map of a gap analysis: units coloured by minutes, facilities, new sites (PNG).

:func:`minutes_map` draws the units as their polygons (or points) in the minute classes
of :mod:`coverage.outputs.style`, the department outlines and names, the facilities with
the symbols of the web map (same colour and shape per type), the new sites of a siting
plan, a scale bar and two legends.  The helpers below turn shapely geometries into
matplotlib paths without going through pyplot or geopandas' plotting.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from coverage.outputs.figure_canvas import ACCESS_TIME_LABEL, INK, MUTED_INK, department_label, literal, new_figure
from coverage.outputs.style import (
    SITE_SYMBOL,
    facility_symbol,
    fr_int,
    minute_class,
    minute_class_colours,
    minute_class_labels,
)

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.path import Path as MplPath

    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = ["minutes_map"]

# A white halo around each facility symbol: the black edge alone vanishes on the dark
# purple and blue of the long-drive classes, the halo alone on the yellow of short ones.
_HALO_WIDTH = 2.4
# The new sites are stars, not SITE_SYMBOL's circle: the PNG cannot write the rank
# inside the marker as the web map does, and a circle would be read as an MSP; the
# report's caption calls them "étoiles numérotées".  Their colour is the web map's.
_NEW_SITE_MARKER = "*"


# ----------------------------------------------------------------------------- geometry


def _polygon_paths(geometries: Sequence[BaseGeometry | None]) -> list[MplPath]:
    """One compound path per (multi)polygon, shells counter-clockwise and holes clockwise
    (so that holes stay empty), built from the coordinates of every ring at once.  A
    geometry with no polygon (empty, missing, a point) gets an empty path."""
    from matplotlib.path import Path as MplPath

    geoms = np.asarray(geometries, dtype=object)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polygon = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & ~shapely.is_empty(parts)
    parts, owner = shapely.orient_polygons(parts[polygon]), owner[polygon]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[np.flatnonzero(np.r_[True, vertex_ring[1:] != vertex_ring[:-1]]) if len(coords) else []] = MplPath.MOVETO
    vertex_owner = owner[ring_part[vertex_ring]]
    bounds = np.searchsorted(vertex_owner, np.arange(len(geoms) + 1))
    return [
        MplPath(coords[a:b], codes[a:b]) if b > a else MplPath(np.zeros((0, 2))) for a, b in itertools.pairwise(bounds)
    ]


def _polygon_collection(geometries: Sequence[BaseGeometry], **kwargs: Any) -> Any:
    """One path per geometry in a single collection (fast to draw, one ``gid``; no patch
    objects, which took seconds for the 27,000 cells of the census grid)."""
    from matplotlib.collections import PathCollection

    return PathCollection(_polygon_paths(geometries), **kwargs)


def _unit_areas(units: gpd.GeoDataFrame, crs: str) -> gpd.GeoSeries | None:
    """The units' ``area`` polygons in ``crs`` (None where the units have none)."""
    if "area" not in units or units["area"].isna().all():
        return None
    area_crs = getattr(units["area"], "crs", None) or units.crs
    return gpd.GeoSeries(units["area"].to_numpy(), index=units.index, crs=area_crs).to_crs(crs)


def _department_outlines(
    result: GapAnalysis, departments: gpd.GeoDataFrame | gpd.GeoSeries | None, crs: str
) -> gpd.GeoDataFrame | None:
    """Department polygons with a ``label``: the ones given, else dissolved from the units' areas."""
    if departments is not None:
        frame = departments if isinstance(departments, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=departments)
        if "name" in frame and "department" in frame:
            labels = [department_label(c, n) for c, n in zip(frame["department"], frame["name"], strict=True)]
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
    labels = [department_label(c, n) for c, n in zip(dissolved["department"], dissolved["name"], strict=True)]
    return gpd.GeoDataFrame({"label": labels}, geometry=dissolved.geometry.to_numpy(), crs=crs)


# ----------------------------------------------------------------------------- layers


def _draw_units(ax: Axes, units: gpd.GeoDataFrame, colours: np.ndarray, crs: str) -> gpd.GeoSeries | None:
    """Units as polygons where they have an area, else as points; returns the areas drawn."""
    areas = _unit_areas(units, crs)
    has_area = np.zeros(len(units), dtype=bool)
    if areas is not None:
        has_area = (areas.notna() & ~areas.is_empty).to_numpy()
        polygons = _polygon_collection(
            list(areas[has_area]),
            facecolors=colours[has_area],
            edgecolors="white",
            linewidths=0.15,
            gid="units",
            zorder=1,
        )
        ax.add_collection(polygons, autolim=True)
    if not has_area.all():
        pts = units[~has_area].to_crs(crs).geometry
        ax.scatter(
            pts.x, pts.y, c=colours[~has_area], s=12, edgecolors=MUTED_INK, linewidths=0.2, gid="unit_points", zorder=2
        )
    return areas


def _draw_departments(ax: Axes, outlines: gpd.GeoDataFrame, *, autolim: bool) -> None:
    """Department outlines, and their names on a white halo so they read over any class."""
    from matplotlib import patheffects

    ax.add_collection(
        _polygon_collection(
            list(outlines.geometry), facecolors="none", edgecolors=INK, linewidths=1.1, gid="departments", zorder=3
        ),
        autolim=autolim,
    )
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for label, point in zip(outlines["label"], outlines.geometry.representative_point(), strict=True):
        if label:
            ax.text(
                point.x,
                point.y,
                literal(label),
                fontsize=9,
                fontweight="bold",
                ha="center",
                va="center",
                color=INK,
                path_effects=halo,
                zorder=6,
            )


def _draw_facilities(ax: Axes, facilities: gpd.GeoDataFrame) -> list[Artist]:
    """Facilities by type, most frequent first, in the web map's symbols; returns the legend handles."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    halo = [patheffects.withStroke(linewidth=_HALO_WIDTH, foreground="white")]
    handles: list[Artist] = []
    kinds = facilities["type"].astype(str)
    for kind in kinds.value_counts().index:
        symbol = facility_symbol(kind)
        pts = facilities[kinds == kind].geometry
        ax.scatter(
            pts.x,
            pts.y,
            marker=symbol.marker,
            s=34,
            c=symbol.fill,
            edgecolors=INK,
            linewidths=0.7,
            path_effects=halo,
            zorder=5,
            gid="facilities",
        )
        handles.append(
            Line2D(
                [],
                [],
                marker=symbol.marker,
                linestyle="none",
                markersize=7,
                markerfacecolor=symbol.fill,
                markeredgecolor=INK,
                label=literal(f"{symbol.label_print} ({len(pts)})"),
            )
        )
    return handles


def _draw_new_sites(ax: Axes, plan: SitingPlan, crs: str) -> Artist:
    """The plan's new sites as stars numbered by rank; returns the legend handle."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    sites = plan.selection_table.to_crs(crs)
    ax.scatter(
        sites.geometry.x,
        sites.geometry.y,
        marker=_NEW_SITE_MARKER,
        s=170,
        c=SITE_SYMBOL.fill,
        edgecolors="white",
        linewidths=0.9,
        path_effects=[patheffects.withStroke(linewidth=_HALO_WIDTH, foreground=INK)],
        zorder=7,
        gid="new_sites",
    )
    halo = [patheffects.withStroke(linewidth=2, foreground="white")]
    for rank, point in zip(sites["rank"], sites.geometry, strict=True):
        ax.annotate(
            literal(rank),
            (point.x, point.y),
            xytext=(5, 4),
            textcoords="offset points",
            fontsize=7,
            path_effects=halo,
            zorder=8,
        )
    return Line2D(
        [],
        [],
        marker=_NEW_SITE_MARKER,
        linestyle="none",
        markersize=12,
        markerfacecolor=SITE_SYMBOL.fill,
        markeredgecolor="white",
        label=f"{SITE_SYMBOL.label_print}, {plan.threshold_min:g} min ({len(sites)})",
    )


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
        Replaces the default title; drawn as written (a ``$`` starts no formula).

    Notes
    -----
    Classes, colours and labels are those of :func:`coverage.outputs.style.minute_class`:
    ``0–t1``, ``t1–t2``, … ``> tn`` minutes for the thresholds of the analysis, and
    unreachable; viridis (colour-blind safe, readable in grey) from yellow (near) to
    purple (far), unreachable in grey.  Facilities have the symbols of
    :data:`coverage.outputs.style.FACILITY_SYMBOLS`.  Drawn in the analysis' metric CRS
    (Lambert-93 by default).
    """
    from matplotlib.patches import Patch

    crs = result.config.metric_crs
    thresholds = result.config.thresholds_min
    units = result.units
    classes = minute_class(units["minutes_to_nearest"], thresholds)
    class_colours = np.array(minute_class_colours(len(thresholds)))
    population = units["population"].to_numpy(dtype=float)

    fig = new_figure((10.5, 8.5))
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()

    areas = _draw_units(ax, units, class_colours[classes], crs)
    outlines = _department_outlines(result, departments, crs)
    if outlines is not None and len(outlines):
        # outlines given for a wider territory must not zoom the map out of the units
        _draw_departments(ax, outlines, autolim=areas is None)
    facility_handles = _draw_facilities(ax, result.facilities.to_crs(crs))
    if plan is not None and len(plan.selection_table):
        facility_handles.append(_draw_new_sites(ax, plan, crs))

    ax.autoscale_view()
    _scale_bar(ax, crs)
    class_handles = [
        Patch(facecolor=colour, edgecolor=MUTED_INK, label=f"{label} : {fr_int(population[classes == i].sum())} hab.")
        for i, (label, colour) in enumerate(zip(minute_class_labels(thresholds), class_colours, strict=True))
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
        literal(title)
        if title
        else "Temps d'accès à la structure la plus proche\n(drive time to the nearest primary-care facility)",
        fontsize=13,
    )
    return fig
