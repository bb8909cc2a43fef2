"""The accessibility layers of a scenario on the web map, and their part of the legend.

:func:`add_access` draws an :class:`~coverage.access_study.AccessStudy`:

- the units shaded by accessibility class before -> after the scenario (priority
  unchanged, priority improved, lifted above the line, above it: the
  :data:`~coverage.outputs.style.ACCESS_CLASSES`), with both values and the change in
  the tooltip; polygons when the units have areas, small circles otherwise;
- the sites that receive doctors, as circles whose area grows with the doctors added.

:func:`access_legend` explains both.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.outputs.style import ACCESS_CLASSES, ADDED_DOCTORS_COLOUR, en_count, en_number
from coverage.outputs.webmap.layers import unit_points
from coverage.outputs.webmap.page import geojson, latlon, point_layer
from coverage.outputs.webmap.popups import table, text

if TYPE_CHECKING:
    import folium

    from coverage.access_study import AccessStudy

__all__ = ["access_legend", "add_access"]


def _access_class(before: np.ndarray, after: np.ndarray, line: float) -> np.ndarray:
    """Index in :data:`~coverage.outputs.style.ACCESS_CLASSES` of each unit."""
    return np.select(
        [before >= line, after >= line, after > before + 1e-12],
        [3, 2, 1],
        default=0,
    )


def _access_style(colour: str) -> dict:
    return {"fillColor": colour, "fillOpacity": 0.65, "color": "#ffffff", "weight": 0.4}


def add_access(fmap: folium.Map, study: AccessStudy, areas: gpd.GeoSeries | None) -> None:
    """Units by accessibility class before and after the scenario, and the sites that receive doctors."""
    units = study.units
    s = study.settings
    line = s.priority_line_value
    a0 = units["accessibility"].to_numpy(dtype=float)
    a1 = units["accessibility_scenario"].to_numpy(dtype=float)
    cls = _access_class(a0, a1, line)
    commune = units["commune_name"] if "commune_name" in units else units["name"]
    unit = text(s.unit_label)
    labels = pd.DataFrame(
        {
            "name": commune.map(text).to_numpy(),
            "population": units["population"].map(en_count).to_numpy(),
            "before": [en_number(v) for v in a0],
            "after": [en_number(v) for v in a1],
            "change": [("+" if v > 0 else "") + en_number(v) for v in a1 - a0],
            "klass": [ACCESS_CLASSES[c][1] for c in cls],
        }
    )
    tooltip = [
        ("name", "Commune"),
        ("population", "Population"),
        ("before", f"Accessibilité, situation actuelle / Accessibility, baseline ({unit})"),
        ("after", f"Accessibilité, scénario / Accessibility, scenario ({unit})"),
        ("change", "Évolution / Change"),
        ("klass", f"Classe (seuil {line:g}) / Class (line {line:g})"),
    ]
    scenario = text(study.scenario.name)
    name = f"Accessibilité : scénario « {scenario} » / Accessibility: scenario ({scenario})"
    if areas is None:
        colours = [ACCESS_CLASSES[c][0] for c in cls]
        tips = [
            table(row.name, [(label, getattr(row, col)) for col, label in tooltip[1:]]) for row in labels.itertuples()
        ]
        point_layer(name, unit_points(units.geometry, colours, tips)).add_to(fmap)
    else:
        geojson(
            areas.to_numpy(),
            labels.assign(cls=cls),
            name=name,
            show=True,
            pane="communes",
            styles=[_access_style(colour) for colour, _ in ACCESS_CLASSES],
            style_property="cls",
            tooltip=tooltip,
        ).add_to(fmap)
    _add_receiving_sites(fmap, study)


def _add_receiving_sites(fmap: folium.Map, study: AccessStudy) -> None:
    """The sites that receive doctors, circles sized by the doctors added."""
    sites = study.sites[study.sites["supply_added"] > 0].to_crs("EPSG:4326")
    if not len(sites):
        return
    largest = float(sites["supply_added"].max())
    points = []
    for _, row in sites.iterrows():
        added = float(row["supply_added"])
        rows = [
            ("Médecins avant / Doctors before", en_number(row["supply_before"], 1)),
            ("Médecins ajoutés / Doctors added", en_number(added, 1)),
            ("Médecins après / Doctors after", en_number(row["supply_after"], 1)),
            ("Origine / Added by", text(row["added_by"])),
            ("Commune", text(row.get("commune_name"))),
        ]
        points.append(
            {
                "location": latlon(row.geometry),
                "style": {
                    "radius": 4 + 10 * math.sqrt(added / largest),
                    "weight": 2,
                    "color": "#ffffff",
                    "fillColor": ADDED_DOCTORS_COLOUR,
                    "fillOpacity": 0.9,
                    "pane": "doctors",
                },
                "tooltip": f"<b>{text(row['name'])}</b><br>+{en_number(added, 1)} médecins / doctors",
                "popup": table(text(row["name"]), rows),
            }
        )
    point_layer(
        f"Médecins ajoutés ({en_number(sites['supply_added'].sum(), 0)}, {len(points)} sites) / Doctors added",
        points,
    ).add_to(fmap)


def access_legend(study: AccessStudy) -> str:
    """Legend rows (HTML) of the accessibility classes and of the sites receiving doctors."""
    s = study.settings
    rows = "".join(
        f'<div class="row"><span class="swatch" style="background:{colour}"></span><span>{text(label)}</span></div>'
        for colour, label in ACCESS_CLASSES
    )
    dot = f'<svg width="14" height="14"><circle cx="7" cy="7" r="6" fill="{ADDED_DOCTORS_COLOUR}" stroke="#fff"/></svg>'
    return (
        f"<h4>Accessibilité ({text(s.unit_label)}), seuil {s.priority_line_value:g} / Accessibility, "
        f"line {s.priority_line_value:g}</h4>{rows}"
        f'<div class="row">{dot}<span>Site recevant des médecins / Site receiving doctors</span></div>'
    )
