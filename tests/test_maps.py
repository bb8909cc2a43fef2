"""The interactive map: layers, legend, escaping of input names, offline page.

A tiny territory near Tours, in Lambert-93: 6 × 2 communes, squares of 2 km with their
town hall at the centre, joined by roads of 3 minutes between neighbours, and one
"island" commune 10 km away from any road (unreachable).  Facilities at columns 0 and 1
(a maison de santé, a centre de santé, a regional centre) and column 2 (a type the map
does not know).  Minutes to the nearest facility, by hand:

    row 1:  0  0  3  6  9  12        thresholds 2, 4, 6 min
    row 0:  0  3  0  3  6   9        beyond 6: (4,1) (5,0) (5,1) and the island

The first facility and one commune have names that would run code if not escaped.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import geopandas as gpd
import pandas as pd
import pytest
from conftest import facilities_at, make_graph, square_areas, units_at

import coverage as cov
from coverage.analysis import GapAnalysis
from coverage.candidates import candidates_from_units
from coverage.outputs.webmap import gap_map
from coverage.planning import SitingPlan

X0, Y0 = 525_000.0, 6_700_000.0
COLUMNS, ROWS = 6, 2
EVIL_FACILITY = "<script>alert(1)</script>"
EVIL_COMMUNE = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
EVIL_EPCI = "CC Beta & <Gamma>"
THRESHOLDS = (2.0, 4.0, 6.0)
POPULATION = [1200, 300, 800, 50, 400, 2500, 100, 700, 650, 90, 1500, 30, 60]
N_UNITS = COLUMNS * ROWS + 1
N_BEYOND_LAST = 4  # (4,1) (5,0) (5,1) and the island, all with people
N_FACILITIES = 4
N_SITES = 2
N_EPCI, N_DEPARTMENTS = 3, 2


def centre(col: int, row: int) -> tuple[float, float]:
    return X0 + 2000 * col + 1000, Y0 + 2000 * row + 1000


def territory() -> tuple[object, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Road graph, facilities, units (with ``area``) and department polygons."""
    nodes = {f"n{c}{r}": centre(c, r) for c in range(COLUMNS) for r in range(ROWS)}
    edges = [(f"n{c}{r}", f"n{c + 1}{r}", 180.0) for c in range(COLUMNS - 1) for r in range(ROWS)]
    edges += [(f"n{c}0", f"n{c}1", 180.0) for c in range(COLUMNS)]
    graph = make_graph(nodes, edges)

    facilities = facilities_at(
        {"f1": centre(0, 0), "f2": centre(0, 1), "f3": centre(1, 1), "f4": centre(2, 0)},
        types=["msp", "centre_sante", "centre_regional_gip", "maison_medicale"],
    )
    facilities["name"] = [EVIL_FACILITY, "Centre de santé de Tours", "GIP Pro Santé", "Maison médicale"]
    facilities["commune"] = ["Tours", "Tours", "Joué-lès-Tours", "Saint-Avertin"]

    cells = [(c, r) for c in range(COLUMNS) for r in range(ROWS)] + [(10, 0)]  # (10, 0): the island
    ids = [f"{37001 + i}" for i in range(len(cells))]
    units = units_at({uid: centre(c, r) for uid, (c, r) in zip(ids, cells, strict=True)}, POPULATION)
    units["name"] = [EVIL_COMMUNE if i == 3 else f"Commune {i}" for i in range(len(cells))]
    units["commune"] = ids
    units["commune_name"] = units["name"]
    units["department"] = ["37" if c <= 2 else "41" for c, _ in cells]
    units["department_name"] = units["department"].map({"37": "Indre-et-Loire", "41": "Loir-et-Cher"})
    units["epci"] = ["200000001" if c <= 1 else "200000002" if c <= 3 else "200000003" for c, _ in cells]
    units["epci_name"] = units["epci"].map({"200000001": "CC Alpha", "200000002": EVIL_EPCI, "200000003": "CC Delta"})
    departments = square_areas(units, (centre(c, r) for c, r in cells))
    return graph, facilities, units, departments


def tiny_run() -> tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame]:
    graph, facilities, units, departments = territory()
    config = cov.AnalysisConfig(thresholds_min=THRESHOLDS, access_speed_kph=30, max_snap_m=1000)
    result = cov.analyse(graph, facilities, units, config)
    plan = cov.plan_sites(result, candidates_from_units(result.units), threshold_min=4, k=N_SITES, workers=1)
    return result, plan, departments


@pytest.fixture(scope="module")
def run() -> tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame]:
    return tiny_run()


@pytest.fixture(scope="module")
def page(run: tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame]) -> str:
    result, plan, departments = run
    return gap_map(result, plan=plan, departments=departments, offline=True, tiles=None).get_root().render()


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def layer_names(page: str) -> list[str]:
    """Overlay names of the layer control, decoded from the page's script."""
    block = re.search(r"overlays\s*:\s*\{(.*?)\},\s*\};", page, re.S)
    assert block, "no layer control in the page"
    return [json.loads(f'"{name}"') for name in re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', block.group(1))]


def test_the_hand_expected_minutes_hold(run: tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame]) -> None:
    result, plan, _ = run
    minutes = result.units.set_index("unit_id")["minutes_to_nearest"]
    assert minutes.iloc[:12].tolist() == pytest.approx([0, 0, 3, 0, 0, 3, 3, 6, 6, 9, 9, 12])
    assert pd.isna(minutes.iloc[12])
    assert len(result.uncovered(6)) == N_BEYOND_LAST
    assert len(plan.selection_table) == N_SITES


def test_every_layer_is_in_the_layer_control_with_french_and_english_names(page: str) -> None:
    names = layer_names(page)
    expected = [
        "Communes par temps d'accès / Communes by drive time",
        "Isochrone 6 min / 6-minute isochrone",
        "Isochrone 4 min / 4-minute isochrone",
        "Isochrone 2 min / 2-minute isochrone",
        "Limites des EPCI / EPCI boundaries",
        "Départements / Departments",
        "Population au-delà de 6 min / Population beyond 6 min",
        "Maisons de santé (MSP) / Multi-professional health centres (1)",
        "Centres de santé / Health centres (1)",
        "Centres régionaux (GIP) / Regional centres (1)",
        "Autres structures / Other facilities : maison_medicale (1)",
        f"Candidats suivants ({N_UNITS - N_SITES}) / Next-best candidates ({N_UNITS - N_SITES})",
        f"Nouveaux sites ({N_SITES}, mclp-exact, 4 min) / New sites",
    ]
    assert names == expected
    assert all(" / " in name for name in names)


def test_legend_explains_facility_symbols_minute_classes_and_circles(page: str) -> None:
    legend = re.search(r'<div id="coverage-legend".*?</details></div>', page, re.S)
    assert legend, "no legend in the page"
    text = legend.group(0)
    for label in ("≤ 2 min", "2–4 min", "4–6 min", "&gt; 6 min", "inaccessible / unreachable"):
        assert label in text
    for label in ("Maisons de santé (MSP)", "Centres de santé", "Centres régionaux (GIP)", "Autres structures"):
        assert label in text
    assert "Nouveau site retenu" in text and "Candidat suivant" in text
    assert "1\u202f500 hab. / inh." in text  # the largest circle: commune (5,0), 1,500 people beyond 6 min
    assert "Département / Department" in text and "EPCI" in text


def test_input_names_are_escaped_everywhere(page: str) -> None:
    for evil in (EVIL_FACILITY, EVIL_COMMUNE, EVIL_EPCI, "<Gamma>"):
        assert evil not in page
    # they reach the page as JSON strings of escaped HTML: shown as text by the browser
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in page
    assert "\\u0026lt;img src=x onerror=" in page
    assert "CC Beta \\u0026amp; \\u0026lt;Gamma\\u0026gt;" in page


def test_offline_page_links_no_external_script_or_style(page: str) -> None:
    links = [
        attrs.get("src") or attrs.get("href") or ""
        for tag, attrs in tags(page)
        if tag == "script" or (tag == "link" and attrs.get("rel") == "stylesheet")
    ]
    assert links, "no script at all"
    external = [url for url in links if url and not url.startswith("data:")]
    assert external == []
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", page)
    # only Leaflet and the fullscreen plugin: no jQuery, Bootstrap or Font Awesome
    assert sum(1 for url in links if url.startswith("data:text/javascript")) == 2
    assert sum(1 for url in links if url.startswith("data:text/css")) == 2


def test_online_page_keeps_folium_links_and_offline_maps_leave_them_alone(
    run: tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame],
) -> None:
    import folium

    result, plan, _ = run
    gap_map(result, plan=plan, offline=True)
    page = gap_map(result, plan=plan, offline=False).get_root().render()
    urls = [attrs.get("src") or "" for tag, attrs in tags(page) if tag == "script"]
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in urls
    assert any("Control.FullScreen" in url for url in urls)
    assert not any(url.startswith("data:") for url in urls)
    # an offline map changes its own asset lists, not Folium's
    assert any("jquery" in url for _, url in folium.Map.default_js)


def points_of(page: str, css_class: str) -> int:
    return sum(1 for spec in point_specs(page) if css_class in (spec.get("icon") or {}).get("className", ""))


def point_specs(page: str) -> list[dict]:
    """Every point drawn by the map (markers and circle markers), decoded."""
    return [p for block in re.findall(r"var points = (\[.*?\]);\n", page) for p in json.loads(block)]


def test_one_marker_per_facility_site_and_candidate(
    page: str, run: tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame]
) -> None:
    _, plan, _ = run
    assert points_of(page, "coverage-facility") == N_FACILITIES
    assert points_of(page, "coverage-site") == N_SITES
    assert points_of(page, "coverage-candidate") == N_UNITS - N_SITES
    circles = [p for p in point_specs(page) if "icon" not in p]
    assert len(circles) == N_BEYOND_LAST
    # area proportional to population: the largest circle has the largest population
    radius = sorted(p["style"]["radius"] for p in circles)
    assert radius[-1] == pytest.approx(28.0)
    assert radius[-2] == pytest.approx(28.0 * (90 / 1500) ** 0.5, abs=0.01)  # commune (4,1)
    # sites are numbered in the order chosen, with their score components
    sites = [p for p in point_specs(page) if "coverage-site" in p.get("icon", {}).get("className", "")]
    assert [">1</text>" in s["icon"]["html"] for s in sites] == [True, False]
    first = plan.selection_table.iloc[0]
    popup = sites[0]["popup"]
    for label in (
        "Nouveaux couverts ≤ 2 min (seul) / Newly covered ≤ 2 min (alone)",
        "Nouveaux couverts ≤ 4 min (seul)",
        "Nouveaux couverts ≤ 6 min (seul)",
        "Leur temps actuel moyen / Their mean minutes today",
        "Structure existante la plus proche / Nearest existing facility",
        "Gain marginal ≤ 4 min",
    ):
        assert label in popup
    assert f"{first['marginal_gain']:,.0f}".replace(",", "\u202f") in popup


def test_units_without_polygons_are_drawn_as_points() -> None:
    graph, facilities, units, _ = territory()
    config = cov.AnalysisConfig(thresholds_min=THRESHOLDS, max_snap_m=1000, isochrones=False)
    result = cov.analyse(graph, facilities, units.drop(columns="area"), config)
    page = gap_map(result, offline=True, tiles=None).get_root().render()
    names = layer_names(page)
    assert not any("EPCI" in name or "Isochrone" in name for name in names)
    circles = [p for p in point_specs(page) if "icon" not in p]
    assert len(circles) == N_UNITS + N_BEYOND_LAST  # every unit, then the circles beyond 6 min


def test_vendored_assets_are_the_versions_folium_links_and_are_whole() -> None:
    import base64

    import folium
    from folium.plugins import Fullscreen

    from coverage.outputs.webmap.assets import ASSET_VERSIONS, asset_bytes, data_uri

    leaflet = ASSET_VERSIONS["leaflet"]
    assert asset_bytes("leaflet.js").startswith(f"/* @preserve\n * Leaflet {leaflet},".encode())
    assert f"leaflet@{leaflet}/" in dict(folium.Map.default_js)["leaflet"]
    assert (
        f"leaflet.fullscreen@{ASSET_VERSIONS['leaflet.fullscreen']}/"
        in dict(Fullscreen.default_js)["Control.Fullscreen.js"]
    )
    for name in ("LICENSE.leaflet", "LICENSE.leaflet.fullscreen"):
        assert b"Copyright" in asset_bytes(name)
    # a stylesheet carries its images: nothing is left to fetch beside the page
    css = base64.b64decode(data_uri("leaflet.css").split(",", 1)[1]).decode()
    assert "url(images/" not in css and css.count('url("data:image/png;base64,') == 3  # layers, layers-2x, marker-icon
    css = base64.b64decode(data_uri("Control.FullScreen.css").split(",", 1)[1]).decode()
    assert 'url("data:image/svg+xml;base64,' in css


@pytest.mark.parametrize("solver", ["greedy", "lscp", "pmedian"])
def test_every_solver_plan_draws_its_sites(solver: str, run: tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame]) -> None:
    result, _, departments = run
    k = None if solver == "lscp" else N_SITES
    plan = cov.plan_sites(result, candidates_from_units(result.units), threshold_min=4, k=k, solver=solver, workers=1)
    page = gap_map(result, plan=plan, departments=departments, offline=True, tiles=None).get_root().render()
    assert points_of(page, "coverage-site") == len(plan.selection_table) > 0
    assert any(name.startswith(f"Nouveaux sites ({len(plan.selection_table)}, ") for name in layer_names(page))


def test_canton_outlines_are_a_layer_of_their_own(run: tuple[GapAnalysis, SitingPlan, gpd.GeoDataFrame]) -> None:
    """Units that carry a canton get a canton outline layer, hidden at first: the union of
    their areas per canton (here K1: the columns 0 and 1, K2: the others and the island;
    the departments split after column 2).  The page writes coordinates to 4 decimals."""
    import dataclasses

    import shapely

    result, plan, departments = run
    columns = [c for c in range(COLUMNS) for _ in range(ROWS)] + [10]
    units = result.units.assign(canton=["K1" if c <= 1 else "K2" for c in columns], canton_name="Canton")
    with_cantons = dataclasses.replace(result, units=units)
    page = gap_map(with_cantons, plan=plan, departments=departments, offline=True, tiles=None).get_root().render()
    names = layer_names(page)
    canton_layer = names.index("Limites des cantons / Canton boundaries")
    assert canton_layer == names.index("Limites des EPCI / EPCI boundaries") - 1
    expected = [shapely.union_all(units.loc[units["canton"] == k, "area"].to_numpy()) for k in ("K1", "K2")]
    blocks = [json.loads(b)["features"] for b in re.findall(r"_add\((\{\"features\".*?\})\);\n", page)]
    drawn = [[shapely.geometry.shape(f["geometry"]) for f in b] for b in blocks if len(b) == 2]
    close = [all(shapely.hausdorff_distance(g, e) < 1e-4 for g, e in zip(d, expected, strict=True)) for d in drawn]
    assert close.count(True) == 1  # the canton layer; the departments split elsewhere
