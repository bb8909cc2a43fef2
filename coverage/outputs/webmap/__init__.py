"""Interactive map of a gap analysis and of its siting plan (Folium / Leaflet).

:func:`gap_map` returns a :class:`folium.Map` with one layer per theme, labelled in
French and English: communes shaded by minutes to the nearest facility, isochrones,
the population beyond the largest threshold as proportional circles, the facilities by
type, the new sites and the next-best candidates, department and EPCI boundaries.  A
legend explains the symbols and the minute classes.  Colours, minute classes, symbols
and number formats are those of :mod:`coverage.outputs.style`, shared with the figures
and the report.

Every text that comes from an input file is HTML-escaped before it reaches a popup, a
tooltip, a layer name or the legend; it then travels to the page as data (a JSON string,
or HTML in which ``{`` is written ``&#123;``), never as code: neither the browser nor
the Jinja templates of Folium read it as such.  By default (``offline=True``) the page
carries Leaflet and its fullscreen plugin itself (:mod:`coverage.outputs.webmap.assets`)
and loads no script or style from the network.

The map returned is a :class:`folium.Map`
(:class:`~coverage.outputs.webmap.elements.CoverageMap`) that takes more layers like any
other: its layer control is put on the page when the map is rendered, after every layer.

The modules, each importing only those above it:

- :mod:`~coverage.outputs.webmap.features`: the GeoJSON text of the polygon layers,
  written once with vectorised shapely;
- :mod:`~coverage.outputs.webmap.elements`: the Folium classes (the map, rendered with
  its layer control last and, offline, its assets inlined; elements and GeoJSON layers
  whose output is never read as a template);
- :mod:`~coverage.outputs.webmap.page`: the map, panes, Leaflet elements, marker icons,
  legend box and controls;
- :mod:`~coverage.outputs.webmap.popups`: the escaped text of tooltips and popups;
- :mod:`~coverage.outputs.webmap.layers`: the layers of the analysis and of the plan;
- :mod:`~coverage.outputs.webmap.access`: the layers of an accessibility study;
- :mod:`~coverage.outputs.webmap.legend`: the content of the legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coverage.outputs.style import minute_class_colours, minute_class_labels_web
from coverage.outputs.webmap.access import add_access
from coverage.outputs.webmap.layers import (
    add_boundaries,
    add_budget_sites,
    add_facilities,
    add_isochrones,
    add_sites,
    add_uncovered,
    add_unit_minutes,
    unit_areas,
)
from coverage.outputs.webmap.legend import legend_html
from coverage.outputs.webmap.page import add_controls, add_legend, new_map

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan

__all__ = ["gap_map"]


def gap_map(
    result: GapAnalysis,
    *,
    plan: SitingPlan | None = None,
    departments: gpd.GeoDataFrame | None = None,
    offline: bool = True,
    tiles: str | folium.TileLayer | None = "OpenStreetMap",
    top_candidates: int = 20,
    access: AccessStudy | None = None,
) -> folium.Map:
    """Folium map of a :class:`~coverage.analysis.GapAnalysis` and of its siting plan.

    Parameters
    ----------
    result
        The gap analysis.  Units with an ``area`` polygon column are drawn as polygons
        (and their ``epci`` codes give the EPCI outlines), otherwise as points.
    plan
        New sites to draw, numbered in the order chosen, with the ``top_candidates``
        best other candidates (layer off at start); popups give their score components.
    departments
        Department polygons (``department``, ``name``) for outlines and names.
    offline
        True (the default): inline Leaflet and the fullscreen plugin (vendored in
        :mod:`coverage.outputs.webmap.assets`), so that the saved page, or the map shown
        in a notebook, is one file that loads no script or style from the network.
        jQuery, Bootstrap and Font Awesome are left out, unless an element that needs
        them is added to the map (``folium.Popup``, ``folium.Icon``): they then come
        from their CDN, as do the files of Folium plugins.  Tiles, if any, still come
        from their server: without it the vector layers draw on a grey background.
        False: the page links Folium's usual CDN copies.
    tiles
        Background tiles (a Folium ``tiles`` name or ``TileLayer``), or None for none.
    top_candidates
        How many of the best candidates not selected to show.
    access
        An accessibility study (:func:`coverage.access_study.study_access`): its layer,
        shown at start (the drive-time layer and the circles of the population beyond
        the largest threshold are then off at start), shades the units by
        class before and after the scenario (priority unchanged, improved, lifted above
        the line, above it) with both values in the tooltip, and a second layer marks the
        sites that receive doctors.

    Layers, each in the layer control: communes by class of minutes to the nearest
    facility (viridis, unreachable in grey), one isochrone union per threshold (off at
    start), the population beyond the largest threshold as circles whose area is
    proportional to it, the facilities by type, the candidates and the selected sites,
    EPCI and department outlines.  Names from input files are shown as written: HTML
    and template syntax in them is text.

    More layers may be added to the map returned, as to any Folium map
    (``folium.GeoJson(...).add_to(m)``, ``folium.Marker(...).add_to(m)``): the layer
    control is put on the page when the map is rendered (saved or shown), after every
    layer, and lists them too.  There is no need to add a ``folium.LayerControl``; one
    added to the map takes the place of the map's own, and is also put after every layer.
    """
    thresholds = result.config.thresholds_min
    colours = minute_class_colours(len(thresholds))
    areas = unit_areas(result)
    boxes = [result.facilities.to_crs("EPSG:4326").total_bounds, result.units.total_bounds]
    if areas is not None:
        boxes.append(areas.total_bounds)
    fmap = new_map(tiles, boxes, offline=offline)

    add_unit_minutes(fmap, result, areas, colours, show=access is None)
    if access is not None:
        add_access(fmap, access, areas)
    add_isochrones(fmap, result, colours)
    add_boundaries(fmap, result, areas, departments)
    largest = add_uncovered(fmap, result, show=access is None)
    facility_types = add_facilities(fmap, result)
    if plan is not None:
        names = {} if departments is None else dict(zip(departments["department"], departments["name"], strict=True))
        add_sites(fmap, plan, thresholds, names, top_candidates)
        add_budget_sites(fmap, plan)

    labels = minute_class_labels_web(thresholds)
    drawn = {c for c in ("canton", "zone") if areas is not None and c in result.units and result.units[c].notna().any()}
    legend = legend_html(
        colours,
        labels,
        facility_types,
        largest,
        plan,
        access,
        zone_label=result.config.zone_label if "zone" in drawn else None,
        cantons="canton" in drawn,
    )
    add_legend(fmap, legend)
    add_controls(fmap)
    return fmap
