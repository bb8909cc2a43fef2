"""The accessibility layers of a scenario on the web map, and their part of the legend.

:func:`add_access` draws an :class:`~coverage.access_study.AccessStudy`:

- the units shaded by accessibility class before -> after the scenario (priority
  unchanged, priority improved, lifted above the line, above it: the
  :data:`~coverage.outputs.style.ACCESS_CLASSES`), with both values and the change in
  the tooltip; polygons when the units have areas, small circles otherwise;
- the sites that receive doctors, as circles whose area grows with the doctors added;
- the cantons (and the planner's own areas) by medical density after the scenario, GPs
  per 10,000 inhabitants (hidden at first).

:func:`access_legend` explains both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.outputs.style import ACCESS_CLASSES, ADDED_DOCTORS_COLOUR, en_count, en_number
from coverage.outputs.webmap.layers import unit_points
from coverage.outputs.webmap.page import geojson, latlon, point_layer
from coverage.outputs.webmap.popups import table, text
from coverage.phasing import LATER

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
    _add_pool_years(fmap, study)
    if areas is not None:
        _add_density(fmap, study, areas)
        _add_patient_lists(fmap, study, areas)


#: Upper bounds of the density classes (GPs per 10,000 inhabitants) above "none"; the
#: mean of France is about 9 (DREES), the Region's MSP-only counts lie far below it.
DENSITY_BINS = (1.0, 2.0, 4.0, 6.0)
#: None, then one colour per class (ColorBrewer YlGnBu), the last for above the last bound.
DENSITY_COLOURS = ("#f0f0f0", "#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")


def density_labels() -> list[str]:
    """The density classes' labels, in the order of :data:`DENSITY_COLOURS`: 0, then
    each class up to its bound (included), then above the last bound."""
    bounds = [0.0, *DENSITY_BINS]
    return [
        "0",
        *[f"{en_number(a, 0)} – {en_number(b, 0)}" for a, b in itertools.pairwise(bounds)],
        f"> {en_number(DENSITY_BINS[-1], 0)}",
    ]


def _add_density(fmap: folium.Map, study: AccessStudy, areas: gpd.GeoSeries) -> None:
    """Cantons (and the planner's areas) shaded by GPs per 10,000 inhabitants after the scenario."""
    from coverage.outputs.webmap.layers import _dissolve

    by_area, units = study.by_area, study.units
    if "gps_per_10000_after" not in by_area:
        return
    for level in ("canton", "zone"):
        if level not in units or units[level].isna().all():
            continue
        codes = units[level].astype("string")
        shapes = _dissolve(areas.to_numpy(), codes)
        table_ = by_area[by_area["level"] == level].set_index("area_id")
        ids = sorted(set(codes.dropna().astype(str)))
        rows = table_.reindex(ids)
        after = rows["gps_per_10000_after"].to_numpy(dtype=float)
        cls = _binned(after, DENSITY_BINS)
        known = rows["supply_known"].fillna(False).to_numpy(dtype=bool)
        labels = pd.DataFrame(
            {
                "name": [
                    text(f"{i} {n}" if isinstance(n, str) and n else i)
                    for i, n in zip(ids, rows["area_name"], strict=True)
                ],
                "before": [en_number(v, 1) for v in rows["gps_per_10000_before"]],
                "after": [en_number(v, 1) for v in after],
                "gps": [
                    f"{en_number(a, 0)} → {en_number(b, 0)}"
                    for a, b in zip(rows["gps_before"], rows["gps_after"], strict=True)
                ],
                "known": ["oui / yes" if k else "non : nombre par défaut / no: default" for k in known],
                "cls": cls,
            }
        )
        label = "par canton / by canton" if level == "canton" else "par zone / by zone"
        geojson(
            shapes,
            labels,
            name=f"Densité médicale {label} (médecins pour 10 000 hab., après / GPs per 10,000, after)",
            show=False,
            pane="communes",
            styles=[_access_style(colour) for colour in DENSITY_COLOURS],
            style_property="cls",
            tooltip=[
                ("name", "Zone"),
                ("gps", "Médecins avant → après / GPs before → after"),
                ("before", "Pour 10 000 hab., avant / per 10,000, before"),
                ("after", "Pour 10 000 hab., après / per 10,000, after"),
                ("known", "Nombre de médecins connu / GPs stated"),
            ],
        ).add_to(fmap)


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


def _add_pool_years(fmap: folium.Map, study: AccessStudy) -> None:
    """With a phased pool: one layer per year of the sites its teams reach that year (hidden
    at first, to step through the years), circles sized by the doctors of that year."""
    phased = study.pool_phasing
    if phased is None or not len(phased.timeline):
        return
    where = study.sites.drop_duplicates("site_id").set_index("site_id").to_crs("EPSG:4326")
    by_year = phased.timeline.groupby(["year", "site_id"], sort=False)["doctors"].sum().reset_index()
    largest = float(by_year["doctors"].max())
    for year, part in by_year.groupby("year", sort=False):
        points = []
        for row in part.itertuples():
            site = where.loc[row.site_id]
            points.append(
                {
                    "location": latlon(site.geometry),
                    "style": {
                        "radius": 4 + 10 * math.sqrt(row.doctors / largest),
                        "weight": 2,
                        "color": "#000000",
                        "fillColor": ADDED_DOCTORS_COLOUR,
                        "fillOpacity": 0.8,
                        "pane": "doctors",
                    },
                    "tooltip": f"<b>{text(site['name'])}</b><br>{text(year)} : +{en_number(row.doctors, 0)} "
                    "médecins / doctors",
                }
            )
        fr, en = ("plus tard", "later") if year == LATER else (text(year), text(year))
        doctors = en_number(part["doctors"].sum(), 0)
        point_layer(f"Médecins du contingent {fr} ({doctors}) / Pool's doctors {en}", points, show=False).add_to(fmap)


#: Shares of a unit's people without a doctor with room: upper bounds of the classes above 0.
UNMET_BINS = (0.25, 0.5, 0.75)
#: None, then one colour per class (ColorBrewer OrRd), the last for above the last bound.
UNMET_COLOURS = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")


def _add_patient_lists(fmap: folium.Map, study: AccessStudy, areas: gpd.GeoSeries) -> None:
    """The units by the share of their people without an accessible doctor with room, after
    the scenario (hidden at first)."""
    if study.capacity is None:
        return
    lists = study.capacity.after or study.capacity.before
    table = lists.units_table().set_index("unit_id").reindex(study.units["unit_id"].astype(str))
    people = table["population"].to_numpy(dtype=float)
    unmet = table["unserved"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(people > 0, unmet / people, 0.0)
    cls = _binned(share, UNMET_BINS)
    labels = pd.DataFrame(
        {
            "population": [en_count(v) for v in people],
            "unmet": [en_count(v) for v in unmet],
            "share": [f"{100 * v:.0f} %" for v in share],
            "cls": cls,
        }
    )
    when = "après / after" if study.capacity.after is not None else "avant / before"
    geojson(
        areas.to_numpy(),
        labels,
        name=f"Sans médecin ayant de la place ({when}) / Without a doctor with room",
        show=False,
        pane="communes",
        styles=[_access_style(colour) for colour in UNMET_COLOURS],
        style_property="cls",
        tooltip=[
            ("population", "Population"),
            ("unmet", "Sans médecin ayant de la place / Without a doctor with room"),
            ("share", "Part / Share"),
        ],
    ).add_to(fmap)


def _binned(values: np.ndarray, bins: tuple[float, ...]) -> np.ndarray:
    """Class of each value: 0 for none (0 or less), then 1 + the first bound it does not pass."""
    return np.where(values > 0, 1 + np.searchsorted(np.asarray(bins), values, side="left"), 0)


def _swatches(colours: Sequence[str], labels: Sequence[str]) -> str:
    """Legend rows: a colour swatch and its label (escaped) each."""
    return "".join(
        f'<div class="row"><span class="swatch" style="background:{colour}"></span><span>{text(label)}</span></div>'
        for colour, label in zip(colours, labels, strict=True)
    )


def access_legend(study: AccessStudy) -> str:
    """Legend rows (HTML) of the accessibility classes and of the sites receiving doctors."""
    s = study.settings
    rows = _swatches([c for c, _ in ACCESS_CLASSES], [label for _, label in ACCESS_CLASSES])
    dot = f'<svg width="14" height="14"><circle cx="7" cy="7" r="6" fill="{ADDED_DOCTORS_COLOUR}" stroke="#fff"/></svg>'
    density = ""
    if "gps_per_10000_after" in study.by_area and {"canton", "zone"} & set(study.by_area["level"]):
        density = "<h4>Médecins pour 10 000 hab. / GPs per 10,000</h4>" + _swatches(DENSITY_COLOURS, density_labels())
    if study.capacity is not None:
        bounds = ["0 %", *[f"≤ {100 * b:.0f} %" for b in UNMET_BINS], f"> {100 * UNMET_BINS[-1]:.0f} %"]
        density += "<h4>Sans médecin ayant de la place / Without a doctor with room</h4>" + _swatches(
            UNMET_COLOURS, bounds
        )
    return (
        f"<h4>Accessibilité ({text(s.unit_label)}), seuil {s.priority_line_value:g} / Accessibility, "
        f"line {s.priority_line_value:g}</h4>{rows}"
        f'<div class="row">{dot}<span>Site recevant des médecins / Site receiving doctors</span></div>'
        f"{density}"
    )
