"""A first interactive map of a gap analysis (Folium): facilities, isochrones, uncovered units."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

if TYPE_CHECKING:
    import folium

    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = ["gap_map"]

# Colour-blind-safe (Okabe-Ito) colours for facility types.
_TYPE_COLOURS = {
    "msp": "#0072B2",
    "centre_sante": "#D55E00",
    "centre_regional_gip": "#CC79A7",
    "pole_sante": "#009E73",
    "antenne": "#56B4E9",
}
_ISO_COLOURS = ["#1a9850", "#fee08b", "#f46d43", "#a50026"]
_SITE_ICON = (
    '<div style="background:#009E73;color:#fff;border-radius:50%;width:22px;height:22px;'
    'line-height:22px;text-align:center;font:bold 11px sans-serif">{rank}</div>'
)


def _text(value: object) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))


def gap_map(result: GapAnalysis, *, plan: SitingPlan | None = None, tiles: str | None = "OpenStreetMap") -> folium.Map:
    """Folium map of a :class:`~coverage.analysis.GapAnalysis`.

    Layers: the union of the isochrones at each threshold, the units beyond the
    largest threshold (or unreachable), the facilities coloured by type and, with a
    ``plan``, the new sites numbered in the order chosen.  Names from input files are
    HTML-escaped.
    """
    import folium

    facilities = result.facilities.to_crs("EPSG:4326")
    bounds = facilities.total_bounds if len(facilities) else result.units.total_bounds
    fmap = folium.Map(tiles=tiles, control_scale=True)
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])

    iso = result.isochrones
    if len(iso):
        for i, t in enumerate(sorted(result.config.thresholds_min, reverse=True)):
            shape = iso[iso["threshold_min"] == t].geometry.union_all()
            layer = gpd.GeoDataFrame({"threshold": [f"≤ {t:g} min"]}, geometry=[shape], crs=iso.crs)
            colour = _ISO_COLOURS[min(len(_ISO_COLOURS) - 1, len(result.config.thresholds_min) - 1 - i)]
            folium.GeoJson(
                layer.to_crs("EPSG:4326").to_json(),
                name=f"Within {t:g} min of a facility",
                style_function=lambda _f, c=colour: {"fillColor": c, "color": c, "weight": 0.5, "fillOpacity": 0.25},
                tooltip=folium.GeoJsonTooltip(fields=["threshold"], aliases=["Drive time"]),
            ).add_to(fmap)

    t_max = max(result.config.thresholds_min)
    far = result.uncovered(t_max)
    if len(far):
        has_area = "area" in far and not far["area"].isna().any()
        shapes = gpd.GeoSeries(far["area"], crs=far.crs) if has_area else far.geometry
        minutes = far["minutes_to_nearest"]
        layer = gpd.GeoDataFrame(
            {
                "name": far["name"].map(_text),
                "population": far["population"].round().astype("int64"),
                "minutes": minutes.round(1).astype(object).where(minutes.notna(), "unreachable"),
            },
            geometry=shapes.to_numpy(),
            crs=far.crs,
        ).to_crs("EPSG:4326")
        folium.GeoJson(
            layer.to_json(),
            name=f"Beyond {t_max:g} min (uncovered)",
            style_function=lambda _f: {"fillColor": "#000000", "color": "#000000", "weight": 1, "fillOpacity": 0.5},
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "population", "minutes"], aliases=["Commune / unit", "Population", "Minutes"]
            ),
        ).add_to(fmap)

    group = folium.FeatureGroup(name="Facilities")
    for row in facilities.itertuples():
        colour = _TYPE_COLOURS.get(str(row.type), "#333333")
        label = f"<b>{_text(row.name)}</b><br>{_text(row.type)}<br>id {_text(row.facility_id)}"
        folium.CircleMarker(
            location=[row.geometry.y, row.geometry.x],
            radius=6,
            color=colour,
            fill=True,
            fill_color=colour,
            fill_opacity=0.9,
            weight=1,
            tooltip=folium.Tooltip(label),
            popup=folium.Popup(label, max_width=300),
        ).add_to(group)
    group.add_to(fmap)
    if plan is not None and len(plan.selection_table):
        sites = folium.FeatureGroup(name=f"New sites ({plan.selection.solver}, {plan.threshold_min:g} min)")
        t_label = f"{plan.threshold_min:g}"
        for _, row in plan.selection_table.to_crs("EPSG:4326").iterrows():
            alone = row.get(f"newly_covered_{t_label}", float("nan"))
            label = (
                f"<b>{row['rank']}. {_text(row['name'])}</b><br>{_text(row['commune_name'])} "
                f"({_text(row['department'])})<br>+{row['marginal_gain']:,.0f} inhabitants within {t_label} min"
                f"<br>on its own: {alone:,.0f}"
            )
            folium.Marker(
                location=[row.geometry.y, row.geometry.x],
                tooltip=folium.Tooltip(label),
                popup=folium.Popup(label, max_width=300),
                icon=folium.DivIcon(html=_SITE_ICON.format(rank=int(row["rank"]))),
            ).add_to(sites)
        sites.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap
