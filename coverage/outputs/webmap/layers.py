"""The layers of a gap analysis and of its siting plan on the web map.

Each ``add_*`` function adds one theme to a :class:`folium.Map` made by
:func:`~coverage.outputs.webmap.page.new_map`, in the colours and symbols of
:mod:`coverage.outputs.style`:

- :func:`add_unit_minutes`: communes (or units) shaded by their class of minutes to the
  nearest facility, viridis from near to far, unreachable in grey; polygons when the
  units have an ``area``, small circles otherwise;
- :func:`add_isochrones`: one union of every facility's isochrone per threshold;
- :func:`add_boundaries`: canton and EPCI (the units dissolved on ``canton`` and ``epci``) and
  department outlines;
- :func:`add_uncovered`: the population beyond the largest threshold as circles whose
  area is proportional to it (:func:`circle_radius`);
- :func:`add_facilities`: one layer of markers per facility type;
- :func:`add_sites`: the new sites, numbered in the order chosen, and the best other
  candidates.

Tooltips and popups come from :mod:`~coverage.outputs.webmap.popups`, which escapes every
input text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from coverage.outputs.style import (
    BUDGET_COLOUR,
    CANDIDATE_SYMBOL,
    FACILITY_SYMBOLS,
    OTHER_SYMBOL,
    SITE_SYMBOL,
    en_count,
    minute_class,
)
from coverage.outputs.webmap.page import geojson, icon, latlon, light, point_layer, polygonal
from coverage.outputs.webmap.popups import (
    UNIT_TOOLTIP,
    facility_popup,
    site_rows,
    table,
    text,
    unit_labels,
    unit_tooltip,
)
from coverage.phasing import LATER
from coverage.shapes import unions_by_key

if TYPE_CHECKING:
    import folium

    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = [
    "add_boundaries",
    "add_facilities",
    "add_isochrones",
    "add_sites",
    "add_uncovered",
    "add_unit_minutes",
    "circle_radius",
    "unit_areas",
    "unit_points",
]

_MAX_CIRCLE_PX = 28.0  # radius of the most populated uncovered unit
_MIN_CIRCLE_PX = 2.0  # smallest drawn radius, so that a hamlet stays visible


def unit_areas(result: GapAnalysis) -> gpd.GeoSeries | None:
    """The units' polygons, simplified for the page, or None when some unit has none."""
    units = result.units
    if "area" not in units or units["area"].isna().any():
        return None
    areas = gpd.GeoSeries(units["area"], crs=getattr(units["area"], "crs", None) or units.crs)
    return light(areas, result.config.metric_crs, coverage=True)


def unit_points(points: gpd.GeoSeries, colours: Sequence[str], tooltips: Sequence[str]) -> list[dict]:
    """Units drawn as small circles (when they have no polygon), one colour and tooltip each."""
    return [
        {
            "location": latlon(point),
            "style": {
                "radius": 4,
                "weight": 1,
                "color": "#333333",
                "fillColor": colour,
                "fillOpacity": 0.9,
                "pane": "communes",
            },
            "tooltip": tip,
        }
        for point, colour, tip in zip(points, colours, tooltips, strict=True)
    ]


def add_unit_minutes(
    fmap: folium.Map, result: GapAnalysis, areas: gpd.GeoSeries | None, colours: Sequence[str], *, show: bool = True
) -> None:
    """Communes (or units) shaded by their class of minutes to the nearest facility.

    ``colours`` are those of :func:`~coverage.outputs.style.minute_class_colours`.
    """
    name = "Communes par temps d'accès / Communes by drive time"
    labels = unit_labels(result)
    band = minute_class(result.units["minutes_to_nearest"].to_numpy(dtype=float), result.config.thresholds_min)
    if areas is None:  # points only: small circles of the class colour
        tips = [unit_tooltip(row) for row in labels.itertuples()]
        fills = [colours[b] for b in band]
        point_layer(name, unit_points(result.units.geometry, fills, tips), show=show).add_to(fmap)
        return
    styles = [{"fillColor": colour, "fillOpacity": 0.6, "color": "#ffffff", "weight": 0.4} for colour in colours]
    geojson(
        areas.to_numpy(),
        labels.assign(band=band).reset_index(drop=True),
        name=name,
        show=show,
        pane="communes",
        styles=styles,
        style_property="band",
        tooltip=UNIT_TOOLTIP,
    ).add_to(fmap)


def add_isochrones(fmap: folium.Map, result: GapAnalysis, colours: Sequence[str]) -> None:
    """One layer per threshold: the union of every facility's isochrone (off at start).

    The largest comes first, so that the smaller ones are drawn over it; each takes the
    colour of its minute class.
    """
    iso = result.isochrones
    if not len(iso):
        return
    thresholds = sorted(result.config.thresholds_min)
    for i, t in reversed(list(enumerate(thresholds))):
        shapes = iso.loc[iso["threshold_min"] == t].geometry
        if not len(shapes):
            continue
        union = gpd.GeoSeries([polygonal(shapely.union_all(shapes.to_numpy()))], crs=iso.crs)
        colour = colours[i]
        geojson(
            light(union, result.config.metric_crs, coverage=False).to_numpy(),
            name=f"Isochrone {t:g} min / {t:g}-minute isochrone",
            show=False,
            pane="isochrones",
            styles=[{"fillColor": colour, "fillOpacity": 0.3, "color": colour, "weight": 1.5}],
            interactive=False,
        ).add_to(fmap)


def add_boundaries(
    fmap: folium.Map, result: GapAnalysis, areas: gpd.GeoSeries | None, departments: gpd.GeoDataFrame | None
) -> None:
    """Canton (hidden at first), EPCI and planner's areas outlines (the units' areas
    dissolved on ``canton``, ``epci`` and ``zone``), and department outlines."""
    units = result.units
    outlines = (
        (
            "canton",
            "Limites des cantons / Canton boundaries",
            False,
            {"color": "#606060", "weight": 1.0, "dashArray": "1,4"},
        ),
        ("epci", "Limites des EPCI / EPCI boundaries", True, {"color": "#404040", "weight": 1.2, "dashArray": "4,3"}),
        (
            "zone",
            f"Limites : {text(result.config.zone_label)} / Boundaries: {text(result.config.zone_label)}",
            True,
            {"color": "#8c2d04", "weight": 1.8, "dashArray": "6,3"},
        ),
    )
    for column, name, show, style in outlines:
        if areas is not None and column in units and units[column].notna().any():
            geojson(
                _dissolve(areas.to_numpy(), units[column].astype("string")),
                name=name,
                show=show,
                pane="boundaries",
                styles=[{"fill": False, **style}],
                interactive=False,
            ).add_to(fmap)
    if departments is not None and len(departments):
        geojson(
            light(departments.geometry, result.config.metric_crs, coverage=True).to_numpy(),
            name="Départements / Departments",
            show=True,
            pane="boundaries",
            styles=[{"fill": False, "color": "#000000", "weight": 2.5}],
            interactive=False,
        ).add_to(fmap)


def _dissolve(areas: np.ndarray, codes: pd.Series) -> list[shapely.Geometry]:
    """The union of the ``areas`` of each code (codes in sorted order, missing ones left
    out): the units' areas tile the ground, so their coverage union, checked
    (:func:`coverage.shapes.union_of_tiles`)."""
    known = codes.notna().to_numpy()
    return unions_by_key(areas[known], codes[known].to_numpy(dtype=str))[1]


def circle_radius(population: np.ndarray, largest: float) -> np.ndarray:
    """Radius in pixels with the circle's area proportional to the population."""
    return np.maximum(_MAX_CIRCLE_PX * np.sqrt(population / largest), _MIN_CIRCLE_PX)


def add_uncovered(fmap: folium.Map, result: GapAnalysis, *, show: bool = True) -> float | None:
    """Population beyond the largest threshold (or unreachable), as proportional circles.

    Returns the population of the largest circle (for the legend), None when nobody is left.
    """
    t_max = max(result.config.thresholds_min)
    far = result.uncovered(t_max)
    far = far[far["population"] > 0]
    if not len(far):
        return None
    population = far["population"].to_numpy(dtype=float)
    largest = float(population.max())
    labels = unit_labels(result, far.index)
    points = [
        {
            "location": latlon(point),
            "style": {
                "radius": round(float(radius), 2),
                "color": "#000000",
                "weight": 1.2,
                "fillColor": "#ffffff",
                "fillOpacity": 0.55,
                "pane": "circles",
            },
            "tooltip": unit_tooltip(row),
        }
        for point, radius, row in zip(
            far.geometry, circle_radius(population, largest), labels.itertuples(), strict=True
        )
    ]
    point_layer(
        f"Population au-delà de {t_max:g} min / Population beyond {t_max:g} min",
        points,
        show=show,
    ).add_to(fmap)
    return largest


def add_facilities(fmap: folium.Map, result: GapAnalysis) -> list[str]:
    """One layer per facility type; returns the types drawn, in order."""
    facilities = result.facilities.to_crs("EPSG:4326")
    types = facilities["type"].astype(str)
    order = [t for t in FACILITY_SYMBOLS if t in set(types)] + sorted(set(types) - set(FACILITY_SYMBOLS))
    for kind in order:
        symbol = FACILITY_SYMBOLS.get(kind, OTHER_SYMBOL)
        rows = facilities[types == kind]
        points = [
            {
                "location": latlon(row.geometry),
                "icon": icon(symbol, f"coverage-facility coverage-facility-{_css_name(kind)}"),
                "tooltip": f"<b>{text(row['name'])}</b><br>{text(symbol.label)}",
                "popup": facility_popup(row, symbol),
            }
            for _, row in rows.iterrows()
        ]
        name = symbol.label if kind in FACILITY_SYMBOLS else f"{symbol.label} : {text(kind)}"
        point_layer(f"{name} ({len(rows)})", points).add_to(fmap)
    return order


def _css_name(kind: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in kind)


def add_sites(
    fmap: folium.Map,
    plan: SitingPlan,
    thresholds: Sequence[float],
    departments: dict[str, str],
    top_candidates: int,
) -> None:
    """The selected sites, numbered in the order chosen, and the best other candidates."""
    ts = sorted({*thresholds, plan.threshold_min})
    t_label = f"{plan.threshold_min:g}"
    selected = plan.selection_table.to_crs("EPSG:4326")
    chosen = set(selected["candidate_id"].astype(str))
    others = plan.candidates[~plan.candidates["candidate_id"].astype(str).isin(chosen)]
    others = others.sort_values("rank", kind="stable").head(top_candidates).to_crs("EPSG:4326")
    if len(others):
        points = [
            {
                "location": latlon(row.geometry),
                "icon": icon(CANDIDATE_SYMBOL, "coverage-candidate", size=16),
                "z": -1000,
                "tooltip": f"<b>{text(row['name'])}</b><br>Candidat / Candidate n° {int(row['rank'])}",
                "popup": table(
                    text(row["name"]),
                    [("Rang / Rank", str(int(row["rank"]))), *site_rows(row, ts, departments)],
                ),
            }
            for _, row in others.iterrows()
        ]
        point_layer(
            f"Candidats suivants ({len(others)}) / Next-best candidates ({len(others)})",
            points,
            show=False,
        ).add_to(fmap)
    if not len(selected):
        return
    points, years = [], []
    for _, row in selected.iterrows():
        order = int(row["rank"])
        rows = [
            ("Ordre du choix / Order chosen", str(order)),
            (f"Gain marginal ≤ {t_label} min / Marginal gain ≤ {t_label} min", en_count(row["marginal_gain"])),
        ]
        if "population_covered" in row:
            share = f" ({row['share_covered']:.1%})" if pd.notna(row.get("share_covered")) else ""
            rows.append(
                ("Population couverte cumulée / Cumulative covered", en_count(row["population_covered"]) + share)
            )
        when = ""
        if "year" in row:  # phased: numbered in the order of opening
            years.append(str(row["year"]))
            order = int(row["opening_order"])
            when = f"{text(row['year'])} · "
            rows.insert(0, ("Année d'ouverture / Opening year", f"{text(row['year'])} (n° {order})"))
        points.append(
            {
                "location": latlon(row.geometry),
                "icon": icon(SITE_SYMBOL, "coverage-site", size=26, letter=str(order)),
                "z": 1000,
                "tooltip": f"<b>{when}{order}. {text(row['name'])}</b><br>+{en_count(row['marginal_gain'])} "
                "hab. / inh.",
                "popup": table(f"{order}. {text(row['name'])}", rows + site_rows(row, ts, departments)),
            }
        )
    solver = text(plan.selection.solver)
    if not years:
        point_layer(f"Nouveaux sites ({len(points)}, {solver}, {t_label} min) / New sites", points).add_to(fmap)
        return
    # phased: one layer per year, in the schedule's order, to step through the years
    for year in dict.fromkeys(plan.phasing.timeline["year"].astype(str)) if plan.phasing is not None else ():
        these = [p for p, y in zip(points, years, strict=True) if y == year]
        if these:
            fr, en = ("plus tard", "later") if year == LATER else (text(year), text(year))
            label = f"Nouveaux sites {fr} ({len(these)}, {solver}, {t_label} min) / New sites {en}"
            point_layer(label, these).add_to(fmap)


def add_budget_sites(fmap: folium.Map, plan: SitingPlan) -> None:
    """The sites chosen within the plan's budget (hidden at first): circles in the budget
    colour, numbered in order of gain, with their cost in the tooltip."""
    if plan.budget is None or not plan.budget.selection.sites:
        return
    costs = dict(zip(plan.budget.selection.sites, plan.budget.site_costs, strict=True))
    gains = dict(zip(plan.budget.selection.sites, plan.budget.selection.marginal, strict=True))
    where = plan.candidates.drop_duplicates("candidate_id").set_index("candidate_id").to_crs("EPSG:4326")
    points = []
    for order, site in enumerate(plan.budget.selection.sites, start=1):
        row = where.loc[site]
        rows = [
            ("Coût / Cost", f"{en_count(costs[site])} €"),
            (f"Gain marginal ≤ {plan.threshold_min:g} min / Marginal gain", en_count(gains[site])),
        ]
        points.append(
            {
                "location": latlon(row.geometry),
                "style": {
                    "radius": 7,
                    "weight": 2,
                    "color": "#000000",
                    "fillColor": BUDGET_COLOUR,
                    "fillOpacity": 0.9,
                },
                "z": 900,
                "tooltip": f"<b>{order}. {text(row['name'])}</b><br>{en_count(costs[site])} €",
                "popup": table(f"{order}. {text(row['name'])}", rows),
            }
        )
    spent, budget = plan.budget.spent / 1e6, plan.budget.budget / 1e6
    name = (
        f"Sites dans le budget ({len(points)}, {spent:.2f} M€ sur {budget:.2f} M€)".replace(".", ",")
        + f" / Sites within the budget ({spent:.2f} of {budget:.2f} M€)"
    )
    point_layer(name, points, show=False).add_to(fmap)
