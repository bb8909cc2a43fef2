"""The offline map in a real browser: headless Chromium, no network, no JavaScript error.

The map of the tiny territory of ``test_maps`` is written to a file and opened from
``file://`` by Debian's ``chromium``: once to dump the rendered DOM (after a probe script
has opened the tooltips and a popup), once to take a screenshot.  Leaflet draws each
layer in its own pane, so the paths and markers are counted pane by pane against what
the test put on the map.  A notebook user's own layers, added to the map after ``gap_map``
returned it, must be drawn and listed in the layer control too.  Screenshots go to
``tests/artifacts/`` (or the folder named by ``COVERAGE_TEST_ARTIFACTS``).

Skipped when Chromium is not installed, except in CI (``CI=true``), where .ci/run
installs it and this test must run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_maps import (
    EVIL_COMMUNE,
    EVIL_FACILITY,
    N_BEYOND_LAST,
    N_DEPARTMENTS,
    N_EPCI,
    N_FACILITIES,
    N_SITES,
    N_UNITS,
    THRESHOLDS,
    tiny_run,
)

from coverage.outputs.webmap import gap_map

FLAGS = [
    "--headless",
    "--no-sandbox",  # the tests may run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=3000",
]

# Installed first in <head>: any script error, or any script/style/image that fails to
# load, is written onto <html data-js-errors>, which the dumped DOM then shows.
ERROR_PROBE = """<script>
window.addEventListener("error", function (e) {
    var what = e.message || ("failed to load " + (e.target && (e.target.src || e.target.href)));
    var root = document.documentElement;
    root.setAttribute("data-js-errors", (root.getAttribute("data-js-errors") || "") + what + "\\n");
}, true);
</script>"""

# After the map's script: open every marker's tooltip, the tooltip of the commune with
# the malicious name (its layer shares one tooltip) and the popup of the first new site.
OPEN_PROBE = """<script>
(function () {
    var map = window["MAP"];
    map.eachLayer(function (layer) {
        if (layer.getLatLng && layer.getTooltip && layer.getTooltip()) { layer.openTooltip(); }
        if (layer.feature && JSON.stringify(layer.feature.properties).indexOf("onerror") >= 0) {
            layer.fire("mouseover", {latlng: layer.getCenter()}, true);
        }
    });
    map.eachLayer(function (layer) {
        var icon = layer.options && layer.options.icon;
        var site = icon && icon.options.className.indexOf("coverage-site") >= 0;
        if (site && icon.options.html.indexOf(">1</text>") > 0) {
            layer.openPopup();
        }
    });
})();
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but chromium is not installed: .ci/run should have installed it")
    pytest.skip("headless Chromium (/usr/bin/chromium) is not installed: apt-get install chromium")


def artifacts() -> Path:
    folder = Path(os.environ.get("COVERAGE_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_in_chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium on ``page`` with a fresh profile; fail on any JavaScript error it logs."""
    command = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"chromium exited with {done.returncode}:\n{done.stderr[-3000:]}"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if re.search(r"Uncaught|Error|error|Failed", line)]
    assert errors == [], "JavaScript errors in the console:\n" + "\n".join(errors)
    return done


class Dom(HTMLParser):
    """Counts of the rendered DOM: paths per Leaflet pane, marker icons per class."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.paths: Counter[str] = Counter()
        self.interactive_paths = 0
        self.markers: Counter[str] = Counter()
        self.js_errors: str | None = None
        self.pwned = False
        self.tooltip_text: list[str] = []
        self.popup_text: list[str] = []
        self.elements_in_tooltips: Counter[str] = Counter()

    def pane(self) -> str | None:
        for _, classes in reversed(self.stack):
            found = re.search(r"leaflet-(\w+)-pane", classes)
            if found and "leaflet-pane" in classes:
                return found.group(1)
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = attributes.get("class") or ""
        if tag == "html":
            self.js_errors = attributes.get("data-js-errors")
        if tag == "body":
            self.pwned = "data-pwned" in attributes
        pane = self.pane()
        if tag == "path" and pane is not None:
            self.paths[pane] += 1
            self.interactive_paths += "leaflet-interactive" in classes.split()
        if "leaflet-marker-icon" in classes:
            for kind in ("coverage-facility", "coverage-site", "coverage-candidate"):
                self.markers[kind] += kind in classes.split()
        if pane == "tooltip":
            self.elements_in_tooltips[tag] += 1
        if tag not in self.VOID:
            self.stack.append((tag, classes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        pane = self.pane()
        if pane == "tooltip":
            self.tooltip_text.append(data)
        elif pane == "popup":
            self.popup_text.append(data)


def rendered(html: str) -> Dom:
    dom = Dom()
    dom.feed(html)
    return dom


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    chromium()
    return tiny_run()


def write_page(run, path: Path, *, all_layers: bool = False, probes: bool = True, tiles=None) -> None:  # type: ignore[no-untyped-def]
    result, plan, departments = run
    fmap = gap_map(result, plan=plan, departments=departments, offline=True, tiles=tiles)
    if all_layers:
        for child in fmap._children.values():
            if hasattr(child, "show"):
                child.show = True
    page = fmap.get_root().render()
    if probes:
        page = page.replace("<head>", "<head>" + ERROR_PROBE, 1)
        page = page.replace("</html>", OPEN_PROBE.replace("MAP", fmap.get_name()) + "</html>")
    path.write_text(page, encoding="utf-8")


def test_offline_map_renders_in_chromium_without_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "map.html"
    write_page(run, page)
    dom = rendered(open_in_chromium(page, tmp_path / "profile-dom", "--dump-dom").stdout)

    assert dom.js_errors is None, f"errors in the page:\n{dom.js_errors}"
    # layers shown at start: communes, boundaries, circles; isochrones and candidates are off
    assert dom.paths["communes"] == N_UNITS
    assert dom.paths["boundaries"] == N_EPCI + N_DEPARTMENTS
    assert dom.paths["circles"] == N_BEYOND_LAST
    assert dom.paths["isochrones"] == 0
    assert dom.interactive_paths == N_UNITS + N_BEYOND_LAST  # outlines let the mouse through
    assert dom.markers == Counter({"coverage-facility": N_FACILITIES, "coverage-site": N_SITES})

    # the malicious names are shown as text: no element was made from them
    tooltips = " ".join(dom.tooltip_text)
    assert EVIL_FACILITY in tooltips
    assert EVIL_COMMUNE in tooltips
    assert dom.elements_in_tooltips["script"] == 0 and dom.elements_in_tooltips["img"] == 0
    assert not dom.pwned
    # the popup of the first new site shows its score components
    popup = " ".join(dom.popup_text)
    assert "Nouveaux couverts ≤ 4 min" in popup and "Their mean minutes today" in popup

    screenshot = artifacts() / "map-default.png"
    clean = tmp_path / "map-clean.html"
    write_page(run, clean, probes=False)
    open_in_chromium(clean, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 20_000, "the screenshot looks blank"
    print(f"screenshot: {screenshot}")


def test_every_layer_renders_when_switched_on(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "map-all.html"
    write_page(run, page, all_layers=True)
    dom = rendered(open_in_chromium(page, tmp_path / "profile-dom", "--dump-dom").stdout)
    assert dom.js_errors is None, f"errors in the page:\n{dom.js_errors}"
    assert dom.paths["isochrones"] == len(THRESHOLDS)
    assert dom.paths["communes"] == N_UNITS
    assert dom.paths["circles"] == N_BEYOND_LAST
    assert dom.markers == Counter(
        {"coverage-facility": N_FACILITIES, "coverage-site": N_SITES, "coverage-candidate": N_UNITS - N_SITES}
    )
    screenshot = artifacts() / "map-all-layers.png"
    clean = tmp_path / "map-all-clean.html"
    write_page(run, clean, all_layers=True, probes=False)
    open_in_chromium(clean, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    print(f"screenshot: {screenshot}")


def test_vector_layers_render_when_no_tile_server_answers(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import folium

    # a closed port: every tile fails at once, without asking any host on the internet
    tiles = folium.TileLayer("http://127.0.0.1:9/{z}/{x}/{y}.png", attr="tiles that never load")
    page = tmp_path / "map-no-tiles.html"
    write_page(run, page, tiles=tiles)
    dom = rendered(open_in_chromium(page, tmp_path / "profile-dom", "--dump-dom").stdout)
    failures = (dom.js_errors or "").splitlines()
    assert failures, "the tiles were expected to fail"
    assert all(line.startswith("failed to load http://127.0.0.1:9/") for line in failures), failures
    assert dom.paths["communes"] == N_UNITS
    assert dom.paths["boundaries"] == N_EPCI + N_DEPARTMENTS
    assert dom.paths["circles"] == N_BEYOND_LAST
    assert dom.markers == Counter({"coverage-facility": N_FACILITIES, "coverage-site": N_SITES})


def test_accessibility_layer_renders(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The access command's map: units by class change shown at start (the drive-time
    layer off), the sites receiving doctors as circles, the class legend."""
    import dataclasses

    from coverage.access_study import study_access
    from coverage.scenarios import AccessSettings, Pool, Scenario

    result, plan, departments = run
    result = dataclasses.replace(result, facilities=result.facilities.assign(n_gp=2))
    study = study_access(
        result,
        AccessSettings(measure="gps", priority_line=1e9),  # nobody reaches it: the whole pool is placed
        Scenario(name="<b>pool</b>", pool=Pool(3, team_size=1)),
        workers=1,
    )
    receiving = int((study.sites["supply_added"] > 0).sum())
    assert receiving >= 1
    fmap = gap_map(result, plan=plan, departments=departments, offline=True, tiles=None, access=study)
    page = tmp_path / "map-access.html"
    html = fmap.get_root().render()
    page.write_text(html.replace("<head>", "<head>" + ERROR_PROBE, 1), encoding="utf-8")
    dom = rendered(open_in_chromium(page, tmp_path / "profile-dom", "--dump-dom").stdout)
    assert dom.js_errors is None, f"errors in the page:\n{dom.js_errors}"
    assert dom.paths["communes"] == N_UNITS  # one layer of communes at start: the accessibility one
    assert dom.paths["doctors"] == receiving
    assert dom.paths["circles"] == 0  # the population beyond the last threshold is off at start
    assert "<b>pool</b>" not in html  # the scenario name is escaped like any input
    screenshot = artifacts() / "map-access.png"
    clean = tmp_path / "map-access-clean.html"
    clean.write_text(html, encoding="utf-8")
    open_in_chromium(clean, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    print(f"screenshot: {screenshot}")


def test_layers_added_to_the_returned_map_render_offline_with_the_layer_control(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A notebook user's own layers, added after gap_map: drawn, listed, no error, nothing fetched."""
    import folium

    result, plan, departments = run
    fmap = gap_map(result, plan=plan, departments=departments, tiles=None)  # offline by default
    fmap._repr_html_()  # shown once in the notebook before the layers are added
    x, y = 0.75, 47.39
    square = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + 0.02, y], [x + 0.02, y + 0.01], [x, y + 0.01], [x, y]]],
    }
    folium.GeoJson(square, name="Mon secteur / My area", style_function=lambda _f: {"color": "#ff00ff"}).add_to(fmap)
    folium.Marker([y + 0.005, x + 0.01], tooltip="Mon cabinet / My practice").add_to(fmap)
    page = tmp_path / "map-user-layers.html"
    page.write_text(fmap.get_root().render().replace("<head>", "<head>" + ERROR_PROBE, 1), encoding="utf-8")
    dump = open_in_chromium(page, tmp_path / "profile-dom", "--dump-dom").stdout
    dom = rendered(dump)

    assert dom.js_errors is None, f"errors in the page:\n{dom.js_errors}"
    control = re.search(r'<section class="leaflet-control-layers-list">(.*?)</section>', dump, re.S)
    assert control, "no layer control on the page"
    assert "Mon secteur / My area" in control.group(1)
    assert "Communes par temps d'accès / Communes by drive time" in control.group(1)
    assert dom.paths["overlay"] == 1  # the user's polygon, in Leaflet's default pane
    assert dom.paths["communes"] == N_UNITS  # and the map's own layers as before
    assert dom.markers == Counter({"coverage-facility": N_FACILITIES, "coverage-site": N_SITES})
    # Leaflet's default marker icon, inlined: drawn without fetching anything
    assert re.search(r'<img src="data:image/png;base64,[^"]+" class="leaflet-marker-icon', dump)
    screenshot = artifacts() / "map-user-layers.png"
    clean = tmp_path / "map-user-layers-clean.html"
    clean.write_text(fmap.get_root().render(), encoding="utf-8")
    open_in_chromium(clean, tmp_path / "profile-shot", f"--screenshot={screenshot}")
    print(f"screenshot: {screenshot}")
