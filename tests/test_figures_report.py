"""Static figures and the run report, on a tiny hand-checked case and on the regional data.

The tiny case (every time added up by hand; thresholds 10, 20, 30 min)::

    f1 at A
    A ---720 s--- B ---720 s--- C ---1260 s--- D            u5 (10000, 5000), 8.6 km away
    u1 at A       u2 at B       u3 at C        u4 at D      from the network: unreachable
    0 min         12 min        24 min         45 min

Populations 100, 200, 300, 400, 50 (total 1,050): covered 100 at 10 min, 300 at 20 min,
600 at 30 min, 50 unreachable; population-weighted mean of the reachable units
(0·100 + 12·200 + 24·300 + 45·400) / 1000 = 27.6 min.  Departments: 18 = u1, u2 (mean
8.0 min); 36 = u3, u4, u5 (mean 36.0 min).  One new site within 20 min: u4 (at D) adds
400 (C adds 300: u2 is already covered), so 300 -> 700 (66.7 %).
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import pytest
from conftest import LOCAL_CRS, facilities_at, make_graph, units_at
from matplotlib.collections import PatchCollection, PathCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from shapely.geometry import box

import coverage as cov
from coverage.analysis import GapAnalysis
from coverage.candidates import candidates_from_units, communes_with_facility, exclude_candidates
from coverage.outputs import figures, style
from coverage.outputs.report import FIGURE_NAMES, REPORT_FILE, figure_pngs, report_html, write_report
from coverage.planning import SitingPlan

NNBSP = "\u202f"  # French thousands separator and space before %
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL_FACILITY = '<img src="http://evil.example/x.png">'
EVIL_SITE = "<script>alert(1)</script>"
EVIL_EPCI = "<b>EPCI & co</b>"
EVIL_DEPARTMENT = "Indre <i>"


def tiny_units(*, areas: bool = True) -> gpd.GeoDataFrame:
    units = units_at(
        {"u1": (0, 0), "u2": (1000, 0), "u3": (2000, 0), "u4": (3000, 0), "u5": (10000, 5000)},
        [100, 200, 300, 400, 50],
    )
    units["name"] = ["Alpha", "Beta", "Gamma", EVIL_SITE, "Epsilon"]
    units["commune"] = units["unit_id"]
    units["commune_name"] = units["name"]
    units["department"] = ["18", "18", "36", "36", "36"]
    units["department_name"] = ["Cher", "Cher", EVIL_DEPARTMENT, EVIL_DEPARTMENT, EVIL_DEPARTMENT]
    units["epci"] = ["e1", "e1", "e2", "e3", "e3"]
    units["epci_name"] = ["CC Un", "CC Un", EVIL_EPCI, "CC Trois", "CC Trois"]
    units["canton"] = ["k1", "k1", "k1", "k2", "k2"]
    units["canton_name"] = ["Canton <un>", "Canton <un>", "Canton <un>", "Deux", "Deux"]
    if areas:
        squares = [
            box(x - 500, y - 500, x + 500, y + 500) for x, y in zip(units.geometry.x, units.geometry.y, strict=True)
        ]
        units["area"] = gpd.GeoSeries(squares, crs=units.crs)
    return units


def tiny_analysis(*, areas: bool = True) -> GapAnalysis:
    graph = make_graph(
        {"A": (0, 0), "B": (1000, 0), "C": (2000, 0), "D": (3000, 0)},
        [("A", "B", 720), ("B", "C", 720), ("C", "D", 1260)],
    )
    facilities = facilities_at({"f1": (0, 0)})
    facilities["name"] = [EVIL_FACILITY]
    config = cov.AnalysisConfig(thresholds_min=(10, 20, 30), max_snap_m=500, isochrones=False, metric_crs=LOCAL_CRS)
    return cov.analyse(graph, facilities, tiny_units(areas=areas), config)


@pytest.fixture(scope="module")
def result() -> GapAnalysis:
    return tiny_analysis()


@pytest.fixture(scope="module")
def plan(result: GapAnalysis) -> SitingPlan:
    candidates = candidates_from_units(result.units)
    return cov.plan_sites(result, candidates, threshold_min=20, k=1, solver="exact", workers=1)


def run_info() -> dict[str, object]:
    return {
        "tool": "coverage",
        "written": "2026-11-22T10:00:00+0100",
        "command": "couverture optimise --sites 1 --out <out>",
        "inputs": {"roads": "/data/roads <&>.gpkg", "facilities": "facilities.csv", "population": "communes.csv"},
        "speed_profile": cov.load_speed_profile().as_dict(),
        "version": cov.__version__,
        "network": {"nodes": 4, "edges": 6},
        "siting_options": {"time_limit_s": 60, "note": "<b>bold</b>"},
    }


def legend_texts(fig: Figure) -> list[list[str]]:
    return [[t.get_text() for t in legend.get_texts()] for legend in fig.legends]


def collection(ax: matplotlib.axes.Axes, gid: str) -> PatchCollection | PathCollection:
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, [c.get_gid() for c in ax.collections]
    return found[0]


def test_tiny_case_times_are_the_hand_computed_ones(result: GapAnalysis, plan: SitingPlan) -> None:
    minutes = result.units.set_index("unit_id")["minutes_to_nearest"]
    assert minutes[["u1", "u2", "u3", "u4"]].tolist() == pytest.approx([0, 12, 24, 45])
    assert np.isnan(minutes["u5"])
    assert result.summary["population_covered"].tolist() == [100, 300, 600]
    assert plan.selection.sites == ("u4",)
    assert plan.curve["population_covered_greedy"].tolist() == [300, 700]


# ----------------------------------------------------------------------------- classes


def test_minute_classes_follow_the_coverage_bounds() -> None:
    minutes = [0, 10, 10.01, 20, 25, 30, 31, np.nan]
    assert style.minute_class(minutes, (10, 20, 30)).tolist() == [0, 0, 1, 1, 2, 2, 3, 4]
    assert style.minute_class_labels((30, 10, 20)) == [
        "0–10 min",
        "10–20 min",
        "20–30 min",
        "> 30 min",
        "Injoignable (unreachable)",
    ]
    assert style.minute_class_labels((7.5,)) == ["0–7,5 min", "> 7,5 min", "Injoignable (unreachable)"]
    colours = style.minute_class_colours(3)
    assert len(colours) == 5
    assert len(set(colours)) == 5
    assert colours[-1] == style.UNREACHABLE_COLOUR


# ----------------------------------------------------------------------------- the map


def test_minutes_map_one_patch_per_unit_coloured_by_class(result: GapAnalysis) -> None:
    fig = figures.minutes_map(result)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert not ax.axison
    assert ax.get_aspect() == 1.0
    assert "Temps d'accès" in ax.get_title()
    units = collection(ax, "units")
    assert len(units.get_paths()) == 5
    colours = style.minute_class_colours(3)
    assert [to_hex(c) for c in units.get_facecolors()] == colours  # u1..u5 fall in classes 0..4
    # Lambert-93 metres, not degrees: the squares span x = -500..3500
    x0, x1 = ax.get_xlim()
    assert x0 <= -500 and x1 >= 10500
    classes, facilities = legend_texts(fig)
    assert classes == [
        "0–10 min : 100 hab.",
        "10–20 min : 200 hab.",
        "20–30 min : 300 hab.",
        "> 30 min : 400 hab.",
        "Injoignable (unreachable) : 50 hab.",
    ]
    assert fig.legends[0].get_title().get_text().startswith("Temps d'accès (min) / Access time (min)")
    assert facilities == ["MSP (maison de santé pluriprofessionnelle) (1)"]
    assert len(collection(ax, "facilities").get_offsets()) == 1
    # department outlines dissolved from the units' squares: 18 and 36
    assert len(collection(ax, "departments").get_paths()) == 2
    labels = {t.get_text() for t in ax.texts}
    assert {"18 Cher", f"36 {EVIL_DEPARTMENT}", "2 km"} <= labels


def test_minutes_map_with_given_departments_and_new_sites(result: GapAnalysis, plan: SitingPlan) -> None:
    departments = gpd.GeoDataFrame(
        {"department": ["99"], "name": ["Tout"]}, geometry=[box(-1000, -1000, 11000, 6000)], crs=LOCAL_CRS
    ).to_crs("EPSG:4326")
    fig = figures.minutes_map(result, departments=departments, plan=plan)
    (ax,) = fig.axes
    assert len(collection(ax, "departments").get_paths()) == 1
    sites = collection(ax, "new_sites")
    np.testing.assert_allclose(sites.get_offsets(), [[3000, 0]], atol=1e-3)
    assert "99 Tout" in {t.get_text() for t in ax.texts}
    assert legend_texts(fig)[1][-1] == "Nouveau site (new site), 20 min (1)"


def test_minutes_map_draws_points_when_units_have_no_area() -> None:
    fig = figures.minutes_map(tiny_analysis(areas=False))
    (ax,) = fig.axes
    assert not [c for c in ax.collections if c.get_gid() in ("units", "departments")]
    points = collection(ax, "unit_points")
    np.testing.assert_allclose(points.get_offsets()[:4], [[0, 0], [1000, 0], [2000, 0], [3000, 0]], atol=1e-3)
    assert len(points.get_offsets()) == 5


# ----------------------------------------------------------------------------- the curve


def test_coverage_curve_greedy_and_exact_from_today(plan: SitingPlan) -> None:
    fig = figures.coverage_curve_figure(plan)
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.get_lines()}
    for gid in ("exact", "greedy"):
        assert lines[gid].get_xdata().tolist() == [0, 1]
        assert lines[gid].get_ydata().tolist() == [300, 700]
    assert lines["total"].get_ydata()[0] == 1050
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Exacte (exact MCLP)", "Gloutonne (greedy)"]
    assert ax.get_xlabel() == "Nombre de nouveaux sites (number of new sites)"
    assert ax.get_ylabel() == "Population à moins de 20 min (population within 20 min)"
    assert "Courbe de couverture à 20 min" in ax.get_title()
    secondary = [child for child in ax.get_children() if type(child).__name__ == "SecondaryAxis"]
    assert len(secondary) == 1
    assert secondary[0].get_ylabel() == "Part de la population (share, %)"
    assert any(t.get_text().startswith("Aujourd'hui (today)\n28,6") for t in ax.texts)


def test_coverage_curve_without_exact_values(plan: SitingPlan) -> None:
    from dataclasses import replace

    greedy_only = replace(plan, curve=plan.curve[["k", "population_covered_greedy", "share_greedy"]])
    ax = figures.coverage_curve_figure(greedy_only).axes[0]
    assert "exact" not in {line.get_gid() for line in ax.get_lines()}


# ----------------------------------------------------------------------------- by department


def test_access_by_department_bars_and_cumulative_curves(result: GapAnalysis) -> None:
    fig = figures.access_by_department_figure(result)
    bars_ax, cdf_ax = fig.axes[:2]
    ticks = [t.get_text() for t in bars_ax.get_yticklabels()]
    assert ticks == [f"Ensemble (all)\n1{NNBSP}050 hab.", "18 Cher\n300 hab.", f"36 {EVIL_DEPARTMENT}\n750 hab."]
    # shares of each group's population in each class (rows: all, 18, 36)
    expected = {
        0: [100 / 1050, 100 / 300, 0],
        1: [200 / 1050, 200 / 300, 0],
        2: [300 / 1050, 0, 300 / 750],
        3: [400 / 1050, 0, 400 / 750],
        4: [50 / 1050, 0, 50 / 750],
    }
    for c, shares in expected.items():
        bars = bars_ax.containers[c]
        assert bars.get_label() == style.minute_class_labels((10, 20, 30))[c]
        assert [p.get_width() for p in bars.patches] == pytest.approx(shares)
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == style.minute_class_labels((10, 20, 30))
    thresholds = [line for line in cdf_ax.get_lines() if line.get_gid() == "threshold"]
    assert sorted(line.get_xdata()[0] for line in thresholds) == [10, 20, 30]
    curves = {line.get_label(): line for line in cdf_ax.get_lines() if str(line.get_gid()).startswith("cdf_")}
    assert set(curves) == {"Ensemble (all)", "18 Cher", f"36 {EVIL_DEPARTMENT}"}
    assert curves["18 Cher"].get_ydata()[-1] == pytest.approx(1.0)
    assert curves[f"36 {EVIL_DEPARTMENT}"].get_ydata()[-1] == pytest.approx(700 / 750)  # u5 unreachable
    assert cdf_ax.get_xlabel() == "Temps d'accès (min) / Access time (min)"


# ----------------------------------------------------------------------------- PNG


def test_png_helpers(result: GapAnalysis, tmp_path: Path) -> None:
    fig = figures.access_by_department_figure(result)
    data = figures.png_bytes(fig, dpi=50)
    assert data.startswith(PNG_MAGIC)
    path = figures.save_png(fig, tmp_path / "f.png", dpi=50)
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_import_touches_no_matplotlib_state() -> None:
    code = (
        "import sys, coverage.outputs.figures, coverage.outputs.report; "
        "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_figures_leave_the_global_backend_alone(result: GapAnalysis, plan: SitingPlan) -> None:
    backend = matplotlib.rcParams["backend"]
    figure_pngs(result, plan=plan, dpi=40)
    assert matplotlib.rcParams["backend"] == backend
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()


# ----------------------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def report(result: GapAnalysis, plan: SitingPlan, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("run")
    path = write_report(result, folder, plan=plan, run_info=run_info())
    assert path == folder / REPORT_FILE
    assert [p.name for p in folder.iterdir()] == [REPORT_FILE]  # nothing else written
    return path.read_text("utf-8")


def section(page: str, title: str) -> str:
    start = page.index(title)
    end = page.find("<section>", start)
    return page[start : end if end >= 0 else None]


def test_report_key_figures_by_hand(report: str) -> None:
    key = section(report, "Chiffres clés")
    assert f"1{NNBSP}050</div>" in key  # population
    assert "5 unités (units)" in key
    assert "1 / 1</div>" in key  # facilities on the network / listed
    assert '4</div><div class="l">nœuds du réseau (network nodes), 6 arcs' in key
    assert "27,6 min</div>" in key  # population-weighted mean
    for share, covered, t in (("9,5", "100", 10), ("28,6", "300", 20), ("57,1", "600", 30)):
        assert f'{share}{NNBSP}%</div><div class="l">à moins de {t} min (within): {covered} hab.' in key
    assert '50</div><div class="l">habitants injoignables (unreachable), 1 unités' in key
    assert f"28,6{NNBSP}% → 66,7{NNBSP}%" in key


def test_report_tables(report: str) -> None:
    summary = section(report, "Couverture par seuil")
    rows = re.findall(r"<tr>(.*?)</tr>", summary)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows[1:]]
    assert cells == [
        ["10 min", "100", "900", "50", f"1{NNBSP}050", f"9,5{NNBSP}%"],
        ["20 min", "300", "700", "50", f"1{NNBSP}050", f"28,6{NNBSP}%"],
        ["30 min", "600", "400", "50", f"1{NNBSP}050", f"57,1{NNBSP}%"],
    ]
    by_dep = section(report, "Couverture par département")
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", by_dep)[1:]]
    assert cells == [
        ["18 Cher", "2", "300", "8,0", f"33,3{NNBSP}%", f"100,0{NNBSP}%", f"100,0{NNBSP}%", "0"],
        ["36 Indre &lt;i&gt;", "3", "750", "36,0", f"0,0{NNBSP}%", f"0,0{NNBSP}%", f"40,0{NNBSP}%", "450"],
    ]
    # by canton, folded: k1 = u1, u2, u3 (100, 200, 300 people at 0, 12, 24 min): mean
    # (0 + 2400 + 7200) / 600 = 16.0, within 10 min 100 / 600, within 20 min 300 / 600;
    # k2 = u4 (400 at 45 min) and u5 (50, unreachable): mean 45.0, 450 beyond 30 min
    by_canton = section(report, "Couverture par canton")
    assert "<details><summary>2 lignes (2 rows)</summary>" in by_canton
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", by_canton)[1:]]
    assert cells == [
        ["k1 Canton &lt;un&gt;", "3", "600", "16,0", f"16,7{NNBSP}%", f"50,0{NNBSP}%", f"100,0{NNBSP}%", "0"],
        ["k2 Deux", "2", "450", "45,0", f"0,0{NNBSP}%", f"0,0{NNBSP}%", f"0,0{NNBSP}%", "450"],
    ]
    epci = section(report, "EPCI les moins bien desservis")
    names = [re.findall(r"<td[^>]*>(.*?)</td>", row)[0] for row in re.findall(r"<tr>(.*?)</tr>", epci)[1:]]
    assert names == ["CC Trois", "&lt;b&gt;EPCI &amp; co&lt;/b&gt;", "CC Un"]  # 450, then 0 beyond 30 but 300 beyond 20
    assert "(the 3 worst-served EPCI)" in epci


def test_report_siting_section(report: str) -> None:
    siting = section(report, "Nouveaux sites")
    for text in ("mclp-exact", "optimal", f"0,00{NNBSP}%", f"300 → 700 (28,6{NNBSP}% → 66,7{NNBSP}%)"):
        assert text in siting, text
    selection = section(siting, "Sites retenus")
    row = re.findall(r"<tr>(.*?)</tr>", selection)[1]
    assert re.findall(r"<td[^>]*>(.*?)</td>", row) == [
        "1",
        "u4",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "CC Trois",
        "36",
        "400",
        "700",
        f"66,7{NNBSP}%",
    ]
    fragility = section(siting, "Fragilité")
    row = re.findall(r"<tr>(.*?)</tr>", fragility)[1]
    assert re.findall(r"<td[^>]*>(.*?)</td>", row)[-3:] == ["100", "300", "600"]
    assert "coverage curve, values" in siting


def test_report_embeds_three_png_figures(report: str) -> None:
    images = re.findall(r"<img [^>]*src=\"data:image/png;base64,([^\"]+)\"", report)
    assert len(images) == 3
    for data in images:
        assert base64.b64decode(data, validate=True).startswith(PNG_MAGIC)


def test_report_escapes_input_text_and_loads_nothing(report: str) -> None:
    assert "<script" not in report.lower()
    assert EVIL_FACILITY not in report
    assert html_escaped(EVIL_FACILITY) in report
    assert EVIL_EPCI not in report
    assert "/data/roads &lt;&amp;&gt;.gpkg" in report
    assert "&lt;b&gt;bold&lt;/b&gt;" in report  # an unknown run_info key, shown as escaped JSON
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", report, re.IGNORECASE)
    assert "<link" not in report and "@import" not in report and "url(" not in report


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_report_parameters(report: str) -> None:
    params = section(report, "Paramètres pour reproduire")
    for text in (
        "thresholds_min</td><td>10, 20, 30",
        "access_speed_kph</td><td>30",
        "max_snap_m</td><td>500",
        "metric_crs</td><td>+proj=lcc +lat_0=46.5",
        "isochrones</td><td>False",
        "France, car, realistic average speeds",
        'motorway</td><td class="n">115',
        "facilities.csv",
        "couverture optimise --sites 1 --out &lt;out&gt;",
        f"Version de coverage (version)</td><td>{cov.__version__}",
        "Solveur (solver)</td><td>mclp-exact",
        "Seuil (threshold_min)</td><td>20",
    ):
        assert text in params, text


def test_report_without_plan_or_figures(result: GapAnalysis, tmp_path: Path) -> None:
    page = report_html(result, figures=False)
    assert "<img" not in page
    assert "Nouveaux sites" not in page
    assert f"Version de coverage (version)</td><td>{cov.__version__}" in page
    two = report_html(result)
    assert len(re.findall(r"data:image/png;base64,", two)) == 2


def test_report_uses_figures_already_drawn(result: GapAnalysis, plan: SitingPlan, tmp_path: Path) -> None:
    pngs = figure_pngs(result, plan=plan, dpi=40)
    # the budget, phasing and patient-list figures only with a budget, a schedule or a capacity study
    assert set(pngs) == {"minutes_map", "access_by_department", "coverage_curve"} < set(FIGURE_NAMES)
    page = report_html(result, plan=plan, figures={"minutes_map": PNG_MAGIC + b"drawn"})
    (data,) = re.findall(r"data:image/png;base64,([^\"]+)\"", page)
    assert base64.b64decode(data) == PNG_MAGIC + b"drawn"


def test_report_needs_an_existing_folder(result: GapAnalysis, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(result, tmp_path / "absent", figures=False)
    assert not (tmp_path / "absent").exists()


# ----------------------------------------------------------------------------- regional


@pytest.mark.regional
def test_figures_and_report_on_the_regional_data(data_dir: Path, tmp_path: Path) -> None:
    inputs = cov.load_regional_inputs(data_dir)
    result = cov.analyse(inputs.graph, inputs.facilities, inputs.units, cov.AnalysisConfig(isochrones=False))
    candidates = exclude_candidates(
        candidates_from_units(result.units), communes=communes_with_facility(result.facilities, result.units)
    )
    plan = cov.plan_sites(result, candidates, threshold_min=20, k=5, solver="exact", workers=1)

    fig = figures.minutes_map(result, departments=inputs.departments, plan=plan)
    ax = fig.axes[0]
    assert len(collection(ax, "units").get_paths()) == len(result.units) == 1754
    assert len(collection(ax, "departments").get_paths()) == 6
    assert len(collection(ax, "new_sites").get_offsets()) == 5
    classes, facilities = legend_texts(fig)
    counted = sum(int(text.split(" : ")[1].removesuffix(" hab.").replace(NNBSP, "")) for text in classes)
    assert counted == pytest.approx(result.units["population"].sum(), abs=len(classes))
    assert sum(int(re.search(r"\((\d+)\)$", text).group(1)) for text in facilities[:-1]) == len(result.facilities)
    x0, x1 = ax.get_xlim()
    assert 400_000 < x0 < x1 < 850_000  # Lambert-93 metres
    figures.save_png(fig, tmp_path / "minutes_map.png")
    dep_fig = figures.access_by_department_figure(result)
    assert len([t for t in dep_fig.axes[0].get_yticklabels()]) == 7  # all + 6 departments
    figures.save_png(dep_fig, tmp_path / "access_by_department.png")
    figures.save_png(figures.coverage_curve_figure(plan), tmp_path / "coverage_curve.png")
    for name in ("minutes_map", "access_by_department", "coverage_curve"):
        assert (tmp_path / f"{name}.png").read_bytes().startswith(PNG_MAGIC)

    out = tmp_path / "run"
    out.mkdir()
    page = write_report(result, out, plan=plan, departments=inputs.departments).read_text("utf-8")
    assert len(re.findall(r"data:image/png;base64,", page)) == 3
    assert f"2{NNBSP}587{NNBSP}031</div>" in page
    assert "Loir-et-Cher" in page
