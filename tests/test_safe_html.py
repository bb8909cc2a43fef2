"""Text from input files reaches every output as inert text: no template, script or formula runs.

A tiny territory near Blois, in Lambert-93: 4 × 1 communes, squares of 2 km with their
town hall at the centre, joined by roads of 3 minutes between neighbours, facilities in
the first three.  Every text the planner's files bring in (facility names, types and
ids, commune, EPCI and department codes and names, the scenario name, hence the
candidates' names) holds something that a template engine, a browser or matplotlib
would read as code: Jinja expressions, statements and comments, a ``</script>``, an
``<img onerror>``, mathtext, ``string.Template`` placeholders, quotes and backslashes,
and a Jinja expression that would create a file if it ran.

The web map (:func:`coverage.gap_map`, with the plan and the accessibility study), the
report and the figures must be written without error and show each text as written.

Also here: a map returned by ``gap_map`` takes more layers, as any Folium map, and is
self-contained by default.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import folium
import geopandas as gpd
import pytest
from conftest import facilities_at, make_graph, square_areas, units_at
from matplotlib.text import Text

import coverage as cov
from coverage.access_study import AccessStudy, study_access
from coverage.analysis import GapAnalysis
from coverage.candidates import candidates_from_units
from coverage.outputs import figures
from coverage.outputs.report import report_html
from coverage.planning import SitingPlan
from coverage.scenarios import AccessSettings, Pool, Scenario

X0, Y0 = 570_000.0, 6_720_000.0
COLUMNS = 4
THRESHOLDS = (2.0, 4.0)

# Once run as a Jinja template, this would create the file named in it.
RUN_ME = "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}"
JINJA_EXPRESSION = "MSP {{ 7*7 }} Blois"
JINJA_STATEMENT = "CS {% if true %}oui{% endif %} Vendôme"
JINJA_COMMENT = "Pôle {# sans fin"
SCRIPT = "</script><script>document.body.setAttribute('data-pwned','1')</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
MATH = "Type $x^2$ \\frac{1}{2}"
DOLLAR_TEMPLATE = "${name} & $name $$"
QUOTES = 'L\'Île "Verte" \\ C:\\dossier\\'

FACILITY_NAMES = [JINJA_EXPRESSION, JINJA_STATEMENT, JINJA_COMMENT]  # and a fourth: RUN_ME
FACILITY_TYPES = ["msp", MATH, "{% raw %}", "centre_sante"]
FACILITY_IDS = ["f{{1+1}}", "f{%2", "f$3$", "f'4\\"]
COMMUNE_NAMES = [SCRIPT, IMG, DOLLAR_TEMPLATE, QUOTES]
EPCI_NAMES = {"200000001": "CC {{ 7*7 }} & <Loir>", "200000002": "CA $Blois$ {#"}
DEPARTMENT_NAMES = {"41": "Loir-et-Cher {% endraw %}", "37": "Indre-et-Loire $\\alpha$"}
SCENARIO = "Scénario {{ 7*7 }} <b>gras</b> $x$ ${name}"
EVERY_TEXT = [
    *FACILITY_NAMES,
    *FACILITY_TYPES[1:],
    *COMMUNE_NAMES,
    *EPCI_NAMES.values(),
    *DEPARTMENT_NAMES.values(),
    SCENARIO,
]


def centre(col: int) -> tuple[float, float]:
    return X0 + 2000 * col + 1000, Y0 + 1000


def territory(run_me: str) -> tuple[object, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Road graph, facilities, units (with ``area``) and department polygons, every text hostile."""
    nodes = {f"n{c}": centre(c) for c in range(COLUMNS)}
    graph = make_graph(nodes, [(f"n{c}", f"n{c + 1}", 180.0) for c in range(COLUMNS - 1)])
    facilities = facilities_at({fid: centre(c) for c, fid in enumerate(FACILITY_IDS)}, types=FACILITY_TYPES)
    facilities["name"] = [*FACILITY_NAMES, run_me]
    facilities["commune"] = [QUOTES, SCRIPT, DOLLAR_TEMPLATE, run_me]

    units = units_at({f"41{c:03d}{{{{": centre(c) for c in range(COLUMNS)}, [1000, 200, 500, 300])
    units["name"] = COMMUNE_NAMES
    units["commune_name"] = units["name"]
    units["department"] = ["41", "41", "37", "37"]
    units["department_name"] = units["department"].map(DEPARTMENT_NAMES)
    units["epci"] = ["200000001", "200000001", "200000002", "200000002"]
    units["epci_name"] = units["epci"].map(EPCI_NAMES)
    departments = square_areas(units, (centre(c) for c in range(COLUMNS)))
    return graph, facilities, units, departments


@dataclasses.dataclass(frozen=True)
class Run:
    result: GapAnalysis
    plan: SitingPlan
    departments: gpd.GeoDataFrame
    study: AccessStudy
    folder: Path
    run_me: str


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("hostile")
    run_me = RUN_ME.replace("PWNED", str(folder / "pwned"))
    graph, facilities, units, departments = territory(run_me)
    config = cov.AnalysisConfig(thresholds_min=THRESHOLDS, access_speed_kph=30, max_snap_m=1000)
    result = cov.analyse(graph, facilities, units, config)
    plan = cov.plan_sites(result, candidates_from_units(result.units), threshold_min=2, k=1, workers=1)
    study = study_access(
        dataclasses.replace(result, facilities=result.facilities.assign(n_gp=2)),
        AccessSettings(measure="gps", priority_line=1e9),
        Scenario(name=SCENARIO, pool=Pool(2, team_size=1)),
        workers=1,
    )
    return Run(result, plan, departments, study, folder, run_me)


def map_page(run: Run, **options: object) -> str:
    fmap = cov.gap_map(run.result, plan=run.plan, departments=run.departments, tiles=None, **options)  # type: ignore[arg-type]
    return fmap.get_root().render()


# ----------------------------------------------------------------------------- what a page shows


def shown(html_text: str) -> str:
    """The text a browser shows for a piece of HTML: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]*>", " ", html_text))


def json_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def page_texts(page: str) -> list[str]:
    """What the map shows: tooltips, popups, GeoJSON properties, layer names, the legend."""
    texts: list[str] = []
    for block in re.findall(r"var points = (\[.*?\]);\n", page):
        texts += [shown(s) for p in json.loads(block) for key in ("tooltip", "popup") if (s := p.get(key))]
    for block in re.findall(r"_add\((\{\"features\".*?\})\);\n", page):
        texts += [shown(s) for s in json_strings(json.loads(block)["features"])]
    overlays = re.search(r"overlays\s*:\s*\{(.*?)\},\s*\};", page, re.S)
    assert overlays, "no layer control in the page"
    texts += [shown(json.loads(f'"{n}"')) for n in re.findall(r'"((?:[^"\\]|\\.)*)"\s*:', overlays.group(1))]
    legend = re.search(r'<div id="coverage-legend".*?</details></div>', page, re.S)
    assert legend, "no legend in the page"
    texts.append(shown(legend.group(0)))
    return texts


# ----------------------------------------------------------------------------- the web map


@pytest.mark.parametrize("with_access", [False, True], ids=["gap-map", "access-map"])
def test_map_shows_every_input_text_as_written(run: Run, with_access: bool) -> None:
    page = map_page(run, access=run.study if with_access else None)
    texts = "\n".join(page_texts(page))
    expected = [t for t in [*EVERY_TEXT, run.run_me] if with_access or t != SCENARIO]
    missing = [t for t in expected if t not in texts]
    assert missing == [], f"not shown as written: {missing}"
    assert "MSP 49 Blois" not in texts and "CC 49" not in texts
    assert "Vendôme" in texts and "oui{% endif %}" in texts  # the statement is text, not evaluated
    # the crafted name did not run, and no template delimiter from the data reached the page
    assert not (run.folder / "pwned").exists()
    for delimiter in ("{{", "{%", "{#"):
        assert delimiter not in page
    # and the HTML in the names is text: no element made from it
    for evil in (SCRIPT, IMG, "<b>gras</b>", "<Loir>"):
        assert evil not in page


def test_facility_ids_and_epci_codes_reach_the_page_as_text_or_not_at_all(run: Run) -> None:
    texts = "\n".join(page_texts(map_page(run)))
    for fid in FACILITY_IDS:
        assert fid in texts  # in the facilities' popups
    assert "f2" not in texts


def test_saved_map_file_is_inert(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "map.html"
    cov.gap_map(run.result, plan=run.plan, departments=run.departments, access=run.study).save(str(path))
    page = path.read_text(encoding="utf-8")
    assert "MSP \\u0026#123;\\u0026#123; 7*7 }} Blois" in page  # JSON of the HTML text `MSP &#123;&#123; 7*7 }} Blois`
    assert "49 Blois" not in page
    assert not (run.folder / "pwned").exists()


def test_a_name_made_only_of_template_syntax_is_still_shown() -> None:
    from coverage.outputs.webmap.page import inert
    from coverage.outputs.webmap.popups import text

    assert text("{{ 7*7 }}") == "&#123;&#123; 7*7 }}"
    assert html.unescape(text(RUN_ME)) == RUN_ME
    assert inert(text("{%raw%}<b>")) == text("{%raw%}<b>")  # idempotent: safe to apply twice


# ----------------------------------------------------------------------------- the report


def test_report_shows_every_input_text_as_written(run: Run) -> None:
    page = report_html(run.result, plan=run.plan, departments=run.departments, access=run.study)
    body = shown(page)
    for name in [*FACILITY_NAMES[:2], *EPCI_NAMES.values(), *DEPARTMENT_NAMES.values(), SCENARIO]:
        assert name in body, name
    for evil in (SCRIPT, IMG, "<b>gras</b>"):
        assert evil not in page
    assert "MSP 49 Blois" not in body
    assert not (run.folder / "pwned").exists()


# ----------------------------------------------------------------------------- the figures


def drawn_texts(fig: object) -> list[str]:
    """Every text of a drawn figure, as matplotlib shows it; fails on any mathtext."""
    from coverage.outputs.figure_canvas import png_bytes

    png_bytes(fig)  # draws it: tick labels exist from here on, and a bad formula would raise
    out = []
    for artist in fig.findobj(Text):  # type: ignore[attr-defined]
        shown_text, math = artist._preprocess_math(artist.get_text())
        assert math is False, f"read as a formula: {artist.get_text()!r}"
        out.append(shown_text)
    return out


def test_figures_draw_input_text_literally(run: Run) -> None:
    map_texts = drawn_texts(figures.minutes_map(run.result, departments=run.departments, plan=run.plan))
    assert f"{MATH} (1)" in map_texts  # the facility type, in the legend
    assert any(DEPARTMENT_NAMES["37"] in t for t in map_texts)  # the department, on the map
    chart_texts = "\n".join(drawn_texts(figures.access_by_department_figure(run.result)))
    for name in DEPARTMENT_NAMES.values():
        assert name in chart_texts  # tick labels and legend
    assert drawn_texts(figures.coverage_curve_figure(run.plan))
    title = drawn_texts(figures.minutes_map(run.result, title="Carte $x$ {{ 7*7 }}"))
    assert "Carte $x$ {{ 7*7 }}" in title


def test_figures_keep_departments_without_dollars_unchanged(run: Run) -> None:
    texts = drawn_texts(figures.access_by_department_figure(run.result))
    assert any(t.startswith("41 Loir-et-Cher {% endraw %}") for t in texts)


# ----------------------------------------------------------------------------- more layers, offline


class LinkTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" or (tag == "link" and found.get("rel") == "stylesheet"):
            self.urls.append(found.get("src") or found.get("href") or "")


def external_links(page: str) -> list[str]:
    parser = LinkTags()
    parser.feed(page)
    return [url for url in parser.urls if url and not url.startswith("data:")]


def script_positions(page: str, fmap: folium.Map, *elements: object) -> list[int]:
    """Where each element's variable is first defined in the page (-1: never)."""
    names = [e.get_name() for e in elements]  # type: ignore[attr-defined]
    return [min((m.start() for m in re.finditer(rf"\b(var|let) {n}\b", page)), default=-1) for n in names]


def test_a_layer_added_after_gap_map_is_listed_and_drawn_after_its_definition(run: Run) -> None:
    fmap = cov.gap_map(run.result, plan=run.plan, tiles=None)
    mine = folium.GeoJson({"type": "Point", "coordinates": [1.33, 47.59]}, name="Mes cabinets / My practices").add_to(
        fmap
    )
    marker = folium.Marker([47.59, 1.33], tooltip="Mon cabinet").add_to(fmap)
    page = fmap.get_root().render()
    control = next(c for c in fmap._children.values() if isinstance(c, folium.LayerControl))
    layer_at, marker_at, control_at = script_positions(page, fmap, mine, marker, control)
    assert 0 <= layer_at < control_at and marker_at >= 0
    overlays = re.search(r"overlays\s*:\s*\{(.*?)\},\s*\};", page, re.S)
    assert overlays and '"Mes cabinets / My practices"' in overlays.group(1)
    assert len(re.findall(r"L\.control\.layers\(", page)) == 1


def test_a_second_rendering_puts_the_control_after_layers_added_since(run: Run) -> None:
    fmap = cov.gap_map(run.result, tiles=None)
    fmap._repr_html_()  # shown once in a notebook
    mine = folium.FeatureGroup(name="Ajoutée ensuite / Added later").add_to(fmap)
    page = fmap.get_root().render()
    control = next(c for c in fmap._children.values() if isinstance(c, folium.LayerControl))
    layer_at, control_at = script_positions(page, fmap, mine, control)
    assert 0 <= layer_at < control_at
    assert len(re.findall(r"L\.control\.layers\(", page)) == 1


def test_a_layer_control_added_by_the_user_replaces_the_maps_own(run: Run) -> None:
    fmap = cov.gap_map(run.result, tiles=None)
    control = folium.LayerControl(collapsed=True).add_to(fmap)
    mine = folium.FeatureGroup(name="Après le contrôle / After the control").add_to(fmap)
    page = fmap.get_root().render()
    assert len(re.findall(r"L\.control\.layers\(", page)) == 1
    layer_at, control_at = script_positions(page, fmap, mine, control)
    assert 0 <= layer_at < control_at
    assert '"collapsed": true' in page


def test_maps_are_self_contained_by_default_and_link_the_cdn_when_asked(run: Run) -> None:
    default = cov.gap_map(run.result, plan=run.plan, tiles=None).get_root().render()
    assert external_links(default) == []
    assert "L.Icon.Default.mergeOptions" in default  # Leaflet's default marker works offline too
    online = cov.gap_map(run.result, tiles=None, offline=False).get_root().render()
    assert any("cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in url for url in external_links(online))


def test_offline_map_links_only_what_added_elements_need(run: Run) -> None:
    fmap = cov.gap_map(run.result, tiles=None)
    folium.Marker([47.59, 1.33]).add_to(fmap)  # default icon: nothing to fetch
    assert external_links(fmap.get_root().render()) == []
    folium.Marker([47.6, 1.34], popup="Cabinet", icon=folium.Icon(color="red")).add_to(fmap)
    links = external_links(fmap.get_root().render())
    # folium.Popup needs jQuery and folium.Icon awesome-markers: they come from their CDN
    assert any("jquery" in url for url in links) and any("awesome-markers" in url for url in links)
    assert not any("leaflet@" in url and url.endswith("leaflet.js") for url in links)


def test_map_in_a_browser_shows_the_names_as_written(run: Run, tmp_path: Path) -> None:
    from test_map_browser import ERROR_PROBE, OPEN_PROBE, open_in_chromium, rendered

    fmap = cov.gap_map(run.result, plan=run.plan, departments=run.departments, tiles=None, access=run.study)
    page = fmap.get_root().render()
    page = page.replace("<head>", "<head>" + ERROR_PROBE, 1)
    page = page.replace("</html>", OPEN_PROBE.replace("MAP", fmap.get_name()) + "</html>")
    path = tmp_path / "map-hostile.html"
    path.write_text(page, encoding="utf-8")
    dump = open_in_chromium(path, tmp_path / "profile", "--dump-dom").stdout
    dom = rendered(dump)
    assert dom.js_errors is None, f"errors in the page:\n{dom.js_errors}"
    assert not dom.pwned
    tooltips = " ".join(dom.tooltip_text)
    for name in (JINJA_EXPRESSION, JINJA_STATEMENT, JINJA_COMMENT, run.run_me, IMG):
        assert name in tooltips, name
    assert dom.elements_in_tooltips["script"] == 0 and dom.elements_in_tooltips["img"] == 0
    control = re.search(r'<section class="leaflet-control-layers-list">(.*?)</section>', dump, re.S)
    assert control, "no layer control on the page"
    assert html.escape(f"Autres structures / Other facilities : {MATH} (1)", quote=False) in control.group(1)
    assert not (run.folder / "pwned").exists()
