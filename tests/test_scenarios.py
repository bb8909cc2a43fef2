"""Accessibility study on a gap analysis: scenarios, their TOML file and the access command.

Tiny network (Lambert-93, metres; 5 minutes per edge, both ways), facilities and units
on its nodes (no access leg):

    A (0) -- B (1000) -- C (2000) -- D (3000)

    facilities: FA at A with n_gp 2, FD at D with n_gp empty (default 1 in the tests)
    units: uA 100, uB 200, uC 100, uD 50 inhabitants

Bands (7, 1), (12, 0.5), (20, 0.25): minutes 0 and 5 weigh 1, 10 weighs 0.5, 15 weighs 0.25.
    FA reaches uA 0, uB 5, uC 10, uD 15 -> weighted demand 100 + 200 + 50 + 12.5 = 362.5
    FD reaches uD 0, uC 5, uB 10, uA 15 -> weighted demand 50 + 100 + 100 + 25 = 275
    R_A = 2 / 362.5, R_D = 1 / 275
    A(uA) = R_A + 0.25 R_D      A(uB) = R_A + 0.5 R_D
    A(uC) = 0.5 R_A + R_D       A(uD) = 0.25 R_A + R_D
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

import coverage as cov
from coverage.access_study import study_access
from coverage.accessibility import StepDecay
from coverage.analysis import GapAnalysis
from coverage.cli import main
from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.io.settings import load_scenario
from coverage.scenarios import AccessSettings, Addition, Pool, Scenario
from tests.conftest import LOCAL_CRS, make_graph

X = {"A": 0.0, "B": 1000.0, "C": 2000.0, "D": 3000.0}
BANDS = StepDecay(((7.0, 1.0), (12.0, 0.5), (20.0, 0.25)))
R_A, R_D = 2 / 362.5, 1 / 275


def hand_accessibility(r_a: float = R_A, r_d: float = R_D) -> list[float]:
    return [r_a + 0.25 * r_d, r_a + 0.5 * r_d, 0.5 * r_a + r_d, 0.25 * r_a + r_d]


@pytest.fixture(scope="module")
def analysis() -> GapAnalysis:
    graph = make_graph({k: (x, 0.0) for k, x in X.items()}, [("A", "B", 300.0), ("B", "C", 300.0), ("C", "D", 300.0)])
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["FA", "FD"], "name": ["MSP A", "MSP D"], "type": ["msp", "msp"], "n_gp": ["2", ""]},
        geometry=[Point(X["A"], 0), Point(X["D"], 0)],
        crs=LOCAL_CRS,
    )
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["uA", "uB", "uC", "uD"],
            "name": ["Aville", "Bville", "Cville", "Dville"],
            "population": [100.0, 200.0, 100.0, 50.0],
            "commune": ["uA", "uB", "uC", "uD"],
            "department": ["18", "18", "36", "36"],
        },
        geometry=[Point(x, 0) for x in X.values()],
        crs=LOCAL_CRS,
    )
    return cov.analyse(graph, facilities, units, cov.AnalysisConfig(thresholds_min=(10.0, 20.0), isochrones=False))


SETTINGS = AccessSettings(decay=BANDS, measure="gps", per_inhabitants=1000.0, default_supply=1.0, priority_line=6.0)


def test_baseline_by_hand(analysis: GapAnalysis) -> None:
    study = study_access(analysis, SETTINGS, workers=1)
    units = study.units.set_index("unit_id")
    expected = np.array(hand_accessibility()) * 1000
    assert units["accessibility"].to_numpy() == pytest.approx(expected)
    assert units["change"].to_numpy() == pytest.approx([0, 0, 0, 0])
    # per 1,000: uA 6.43, uB 7.34, uC 6.40, uD 5.02 -> only uD below 6
    assert units["class"].tolist() == ["above threshold"] * 3 + ["priority"]
    classes = study.classes.set_index("class")
    assert classes.loc["priority", "population"] == 50.0
    sites = study.sites.set_index("site_id")
    assert sites.loc["FA", "supply_before"] == 2.0 and sites.loc["FD", "supply_before"] == 1.0
    assert sites["supply_source"].to_dict() == {"FA": "stated", "FD": "default"}
    # supply is shared out, never created: sum of population x accessibility = 3 doctors
    assert (units["population"] * units["accessibility"]).sum() / 1000 == pytest.approx(3.0)
    dep = study.by_area[study.by_area["level"] == "department"].set_index("area_id")
    assert dep.loc["18", "accessibility"] == pytest.approx((100 * expected[0] + 200 * expected[1]) / 300)
    assert dep.loc["36", "population_priority"] == 50.0


def test_additions_at_a_facility_a_commune_and_a_point(analysis: GapAnalysis) -> None:
    scenario = Scenario(
        name="three additions",
        additions=(
            Addition(1, facility="FD"),
            Addition(3, commune="uC"),
            Addition(2, lon=None, lat=None, facility=None, commune="uA"),
        ),
    )
    study = study_access(analysis, SETTINGS, scenario, workers=1)
    # FD doubles: R_D = 2 / 275.  New site at C (minutes uC 0, uB 5, uD 5, uA 10):
    # weighted demand 100 + 200 + 50 + 50 = 400, R_C = 3 / 400.  New site at A (uA 0,
    # uB 5, uC 10, uD 15), same catchment as FA: 362.5, R = 2 / 362.5.
    r_c, r_a2 = 3 / 400, 2 / 362.5
    expected = np.array(hand_accessibility(r_d=2 / 275)) + np.array(
        [0.5 * r_c + r_a2, r_c + r_a2, r_c + 0.5 * r_a2, r_c + 0.25 * r_a2]
    )
    units = study.units.set_index("unit_id")
    assert units["accessibility_scenario"].to_numpy() == pytest.approx(expected * 1000)
    assert (units["change"] > 0).all()
    assert (units["population"] * units["change"]).sum() / 1000 == pytest.approx(6.0)
    sites = study.sites.set_index("site_id")
    assert sites.loc[["FD", "uC", "uA"], "supply_added"].tolist() == [1.0, 3.0, 2.0]
    assert sites.loc["uC", "kind"] == "new site" and sites.loc["uC", "department"] == "36"
    assert study.summary()["supply_added"] == 6.0


def test_addition_at_a_point_snaps_to_the_network(analysis: GapAnalysis) -> None:
    lonlat = gpd.GeoSeries([Point(X["B"], 0)], crs=LOCAL_CRS).to_crs("EPSG:4326").iloc[0]
    scenario = Scenario(additions=(Addition(1, lon=lonlat.x, lat=lonlat.y, name="Cabinet B"),))
    study = study_access(analysis, SETTINGS, scenario, workers=1)
    # a site at B reaches uA, uB, uC at 5 or 0 min (weight 1) and uD at 10 (0.5): 100 + 200 + 100 + 25 = 425
    units = study.units.set_index("unit_id")
    assert units["change"].to_numpy() == pytest.approx(np.array([1, 1, 1, 0.5]) / 425 * 1000)
    assert study.sites.set_index("site_id").loc["new-1", "name"] == "Cabinet B"


def test_pool_lifts_people_above_the_line(analysis: GapAnalysis) -> None:
    study = study_access(analysis, SETTINGS, Scenario(pool=Pool(2, team_size=1)), workers=1)
    # Below 6 per 1,000: uD only (5.02, short of 0.98).  One doctor more:
    #   at FA or at A: +0.25 / 362.5 -> 5.71, not lifted
    #   at FD or at D: +1 / 275 -> 8.65; at B: +0.5 / 425 -> 6.19; at C: +1 / 400 -> 7.52
    # Each of these lifts 50 people and removes the whole shortfall: a tie, which goes to
    # the first site in the matrix (facilities first): FD.  Then nobody is below the
    # line and the second doctor stays in the pool.
    steps = study.allocation_steps
    assert steps["site_id"].tolist() == ["FD"]
    assert steps["people_lifted"].tolist() == [50.0]
    assert study.classes.set_index("class").loc["priority", "population_scenario"] == 0.0
    assert study.summary()["teams_placed"] == 1
    assert study.sites["supply_added"].sum() == 1.0


def test_pool_candidates_limited_to_communes_of_a_given_size(analysis: GapAnalysis) -> None:
    # Town halls only.  Populations uA 100, uB 200, uC 100, uD 50: at 150, uB alone may take
    # a team.  A doctor at B lifts uD (+0.5 / 425 per person -> 6.19 per 1,000, above 6).
    pool = Pool(2, team_size=1, candidates="communes", min_population=150)
    study = study_access(analysis, SETTINGS, Scenario(pool=pool), workers=1)
    assert study.sites.loc[study.sites["kind"] == "new site", "site_id"].tolist() == ["uB"]
    assert study.allocation_steps["site_id"].tolist() == ["uB"]
    assert study.allocation_steps["people_lifted"].tolist() == [50.0]
    assert study.units.set_index("unit_id").loc["uD", "accessibility_scenario"] == pytest.approx(
        (hand_accessibility()[3] + 0.5 / 425) * 1000
    )
    # above every commune's population: no candidate, the pool stays whole
    none = study_access(analysis, SETTINGS, Scenario(pool=replace(pool, min_population=250)), workers=1)
    assert (none.sites["kind"] == "new site").sum() == 0
    assert none.allocation_steps.empty and none.summary()["supply_added"] == 0.0
    # facilities stay candidates whatever the size of their commune
    with_facilities = replace(pool, candidates="facilities+communes", min_population=250)
    study = study_access(analysis, SETTINGS, Scenario(pool=with_facilities), workers=1)
    assert study.allocation_steps["site_id"].tolist() == ["FD"]


def test_map_layer_of_units_without_polygons(analysis: GapAnalysis) -> None:
    from coverage.outputs.style import ACCESS_CLASSES as _ACCESS_CLASSES
    from coverage.outputs.webmap import gap_map

    study = study_access(analysis, SETTINGS, Scenario(additions=(Addition(1, facility="FA"),)), workers=1)
    html = gap_map(analysis, offline=True, tiles=None, access=study).get_root().render()
    # +1 at FA adds 1 / 362.5 (2.76 per 1,000) to uA and uB, 0.25 / 362.5 (0.69) to uD:
    # uD 5.02 -> 5.71 stays a priority, improved; uA, uB, uC stay above the line
    improved, above = _ACCESS_CLASSES[1][0], _ACCESS_CLASSES[3][0]
    assert study.units["class_scenario"].tolist() == ["above threshold"] * 3 + ["priority"]
    assert html.count(f'"fillColor": "{improved}"') == 1
    assert html.count(f'"fillColor": "{above}"') == 3
    assert html.count(f'"fillColor": "{_ACCESS_CLASSES[0][0]}"') == 0


def test_unknown_sites_are_named(analysis: GapAnalysis) -> None:
    with pytest.raises(InputDataError, match="facility FX: no such facility"):
        study_access(analysis, SETTINGS, Scenario(additions=(Addition(1, facility="FX"),)), workers=1)
    with pytest.raises(InputDataError, match=r"'99999' is neither a facility id .* nor a population unit"):
        study_access(analysis, SETTINGS, Scenario(additions=(Addition(1, commune="99999"),)), workers=1)
    with pytest.raises(InputDataError, match="exactly one place"):
        Addition(1, facility="FA", commune="uA")
    with pytest.raises(InputDataError, match="positive number of doctors"):
        Addition(0, facility="FA")


def test_consultations_measure_and_default_threshold() -> None:
    s = AccessSettings()
    assert s.scale == 5400 and s.priority_line_value == 2.5
    g = AccessSettings(measure="gps")
    # 2.5 consultations at 5,400 a GP: 2.5 / 5400 GPs a person, i.e. 46.3 per 100,000
    assert g.priority_line_value == pytest.approx(2.5 / 5400 * 100_000)
    with pytest.raises(InputDataError, match="unknown measure"):
        AccessSettings(measure="apl")


# ---------------------------------------------------------------- scenario file


def write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_load_scenario(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[accessibility]
bands = [[5, 1.0], [10, 0.3], [15, 0.1]]
measure = "gps"
threshold = 40
supply_column = "etp"
default_supply = 0.5
age_table = "ages.csv"
[accessibility.age_weights]
young = 1.0
old = 3.0

[scenario]
name = "test"
[[scenario.add]]
gps = 2
facility = "F1"
[[scenario.add]]
gps = 1
lon = 1.5
lat = 47.0
[scenario.pool]
gps = 30
team_size = 3
exclude = ["45234", 18033]
min_population = 1000
""",
    )
    settings, scenario = load_scenario(path)
    assert settings.decay.bands == ((5.0, 1.0), (10.0, 0.3), (15.0, 0.1))
    assert (settings.measure, settings.priority_line_value, settings.supply_column) == ("gps", 40.0, "etp")
    assert settings.age_table == tmp_path / "ages.csv"
    assert settings.age_weights == {"young": 1.0, "old": 3.0}
    assert scenario.name == "test"
    assert scenario.additions == (Addition(2, facility="F1"), Addition(1, lon=1.5, lat=47.0))
    assert scenario.pool == Pool(30, team_size=3, exclude=("45234", "18033"), min_population=1000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scenario]\nnme = 'x'\n", r"unknown keys \['nme'\]"),
        ("[accessibility]\nmeasure = 'apl'\n", r"\[accessibility\]: unknown measure 'apl'"),
        ("[accessibility]\nbands = [[20, 1], [10, 0.5]]\n", "increasing"),
        ("[[scenario.add]]\nfacility = 'F1'\n", "addition 1: say how many doctors"),
        ("[[scenario.add]]\ngps = 2\nfacility = 'F1'\ncommune = '18033'\n", "addition 1: an addition needs exactly"),
        ("[[scenario.add]]\ngps = -2\nfacility = 'F1'\n", "addition 1: an addition needs a positive"),
        ("[scenario.pool]\ngps = 10\nteam_size = 0\n", "team size must be a positive"),
        ("[scenario.pool]\ngps = 10\ncandidates = 'everywhere'\n", "unknown pool candidates"),
        ("[scenario.pool]\ngps = 10\nteam_size = 3\nmax_per_site = 2\n", "at least the team size"),
        ("[scenario.pool]\ngps = 10\nmin_population = -1\n", "min_population must be a non-negative number"),
        ("[scenario.pool]\ngps = 10\nmin_population = 'large'\n", "min_population must be a non-negative number"),
        ("[scenario\n", "not valid TOML"),
        ("[accessibility]\nthreshold = 'low'\n", "threshold must be a positive number"),
    ],
)
def test_bad_scenario_files(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputDataError, match=message) as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_continuous_decay_in_the_scenario_file(tmp_path: Path) -> None:
    from coverage.accessibility import ContinuousDecay

    path = write(tmp_path, "[accessibility]\ndecay = { shape = 'gaussian', max_minutes = 25 }\n")
    settings, scenario = load_scenario(path)
    assert settings.decay == ContinuousDecay("gaussian", 25)
    assert scenario.is_empty
    both = write(tmp_path, "[accessibility]\nbands = [[10, 1]]\ndecay = { shape = 'linear', max_minutes = 20 }\n")
    with pytest.raises(InputDataError, match="either bands or a continuous decay"):
        load_scenario(both)


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match="file not found"):
        load_scenario(tmp_path / "absent.toml")


# ---------------------------------------------------------------- command line


@pytest.fixture
def cli_inputs(tmp_path: Path) -> dict[str, Path]:
    """A 3 km road at 60 km/h (1 min a km), two facilities and four units on it.

    x (km):   0 (FA, uA 100)   1 (uB 200)   2   3 (uC 100)   4 (FD, uD 50)
    Bands 2.5:1, 5:0.5 -> FA weighs uA, uB 1 and uC, uD 0.5: 375; FD: uD, uC 1, uB, uA 0.5: 300.
    """
    x0, y0 = 650_000.0, 6_670_000.0
    folder = tmp_path / "inputs"
    folder.mkdir()
    gpd.GeoDataFrame(
        {"cls": ["secondary"]}, geometry=[LineString([(x0, y0), (x0 + 4000, y0)])], crs="EPSG:2154"
    ).to_file(folder / "roads.gpkg", engine="pyogrio")
    (folder / "speeds.toml").write_text("[speeds_kph]\nsecondary = 60\n", "utf-8")
    (folder / "facilities.csv").write_text(
        f"facility_id,name,type,x,y,n_gp\nFA,MSP A,msp,{x0},{y0},2\nFD,MSP D,msp,{x0 + 4000},{y0},\n", "utf-8"
    )
    gpd.GeoDataFrame(
        {"id": ["uA", "uB", "uC", "uD"], "population": [100, 200, 100, 50]},
        geometry=[Point(x0 + d, y0) for d in (0, 1000, 3000, 4000)],
        crs="EPSG:2154",
    ).to_file(folder / "units.gpkg", engine="pyogrio")
    return {p.stem: p for p in folder.iterdir()}


def cli_args(inputs: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "access",
        "--roads", str(inputs["roads"]), "--class-column", "cls", "--speeds", str(inputs["speeds"]),
        "--facilities", str(inputs["facilities"]), "--facilities-crs", "EPSG:2154",
        "--population", str(inputs["units"]), "--population-format", "layer", "--unit-id-column", "id",
        "--max-edge-length", "1000",
        "--bands", "2.5:1,5:0.5", "--measure", "gps", "--default-supply", "1", "--workers", "1",
        "--no-isochrones", "--no-report", "-q",
        "--out", str(out),
        *extra,
    ]  # fmt: skip


def test_access_command_by_hand(cli_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, "--add", "uC:3", "--add", "FA:1")) == 0
    table = pd.read_csv(out / "accessibility.csv").set_index("unit_id")
    r_a, r_d = 2 / 375, 1 / 300
    before = np.array([r_a + 0.5 * r_d, r_a + 0.5 * r_d, 0.5 * r_a + r_d, 0.5 * r_a + r_d]) * 100_000
    assert table["accessibility"].to_numpy() == pytest.approx(before)
    # +1 at FA: R_A = 3 / 375.  New site at uC (x = 3 km): uC 0, uD 1, uB 2 min weigh 1, uA
    # 3 min weighs 0.5: 100 + 50 + 200 + 50 = 400, R = 3 / 400.
    r_a1, r_c = 3 / 375, 3 / 400
    after = np.array(
        [r_a1 + 0.5 * r_d + 0.5 * r_c, r_a1 + 0.5 * r_d + r_c, 0.5 * r_a1 + r_d + r_c, 0.5 * r_a1 + r_d + r_c]
    )
    assert table["accessibility_scenario"].to_numpy() == pytest.approx(after * 100_000)
    sites = pd.read_csv(out / "accessibility_sites.csv", dtype={"site_id": str}).set_index("site_id")
    assert sites.loc[["FA", "FD", "uC"], "supply_after"].tolist() == [3.0, 1.0, 3.0]
    run = json.loads((out / "run.json").read_text("utf-8"))
    # the command of this run (not pytest's sys.argv), quoted so that a shell can run it again
    assert run["command"].startswith("python -m coverage access --roads ")
    assert run["command"].endswith(" --add uC:3 --add FA:1")
    assert shlex.split(run["command"])[3:] == cli_args(cli_inputs, out, "--add", "uC:3", "--add", "FA:1")
    assert run["accessibility"]["summary"]["supply_added"] == 4.0
    assert run["accessibility"]["settings"]["decay"] == {"bands": [[2.5, 1.0], [5.0, 0.5]]}
    layer = gpd.read_file(out / "coverage.gpkg", layer="accessibility", engine="pyogrio")
    assert layer.set_index("unit_id").loc[["uA", "uB", "uC", "uD"], "change"].to_numpy() == pytest.approx(
        (after * 100_000) - before
    )
    assert not (out / "allocation_steps.csv").exists()  # no pool


def test_access_command_with_a_pool_and_a_scenario_file(cli_inputs: dict[str, Path], tmp_path: Path) -> None:
    scenario = write(tmp_path, "[scenario]\nname = 'pool'\n[scenario.pool]\ngps = 4\nteam_size = 2\n")
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, "--scenario", str(scenario), "--apl-threshold", "100000")) == 0
    steps = pd.read_csv(out / "allocation_steps.csv")
    assert steps["supply_added"].sum() == 4.0
    table = pd.read_csv(out / "accessibility.csv")
    # 4 doctors more, all shared out: sum of population x change = 4 doctors
    assert (table["population"] * table["change"]).sum() / 100_000 == pytest.approx(4.0)
    classes = pd.read_csv(out / "accessibility_classes.csv").set_index("class")
    assert classes["population_scenario"].sum() == 450
    html = (out / "map.html").read_text("utf-8")
    # the legend's section (layer names travel JSON-escaped, the browser test reads them)
    assert "Accessibilité (GPs per 100,000 inhabitants), seuil 100000" in html
    assert "Site recevant des médecins" in html


def test_access_command_pool_of_town_halls_of_larger_communes(cli_inputs: dict[str, Path], tmp_path: Path) -> None:
    # populations uA 100, uB 200, uC 100, uD 50: at 150 inhabitants, uB's town hall alone
    out = tmp_path / "out"
    extra = ("--pool", "2", "--pool-candidates", "communes", "--pool-min-population", "150")
    assert main(cli_args(cli_inputs, out, *extra, "--apl-threshold", "100000")) == 0
    sites = pd.read_csv(out / "accessibility_sites.csv", dtype={"site_id": str})
    assert sites.loc[sites["kind"] == "new site", "site_id"].tolist() == ["uB"]
    steps = pd.read_csv(out / "allocation_steps.csv", dtype={"site_id": str})
    assert steps["site_id"].tolist() == ["uB", "uB"]  # everyone is below the line: both doctors go there
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["accessibility"]["scenario"]["pool"]["min_population"] == 150.0


def test_access_command_with_a_linear_decay(cli_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = cli_args(cli_inputs, out)
    i = args.index("--bands")
    args[i : i + 2] = ["--decay", "linear:5"]
    assert main(args) == 0
    table = pd.read_csv(out / "accessibility.csv").set_index("unit_id")
    # weights 1 - t/5: FA reaches uA 0 (1), uB 1 (0.8), uC 3 (0.4), uD 4 (0.2):
    # 100 + 160 + 40 + 10 = 310; FD: uD 1, uC 0.8, uB 0.4, uA 0.2: 50 + 80 + 80 + 20 = 230
    r_a, r_d = 2 / 310, 1 / 230
    expected = [r_a + 0.2 * r_d, 0.8 * r_a + 0.4 * r_d, 0.4 * r_a + 0.8 * r_d, 0.2 * r_a + r_d]
    assert table["accessibility"].to_numpy() == pytest.approx(np.array(expected) * 100_000)
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["accessibility"]["settings"]["decay"] == {"shape": "linear", "max_minutes": 5.0}


def test_access_command_with_age_weights(cli_inputs: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "ages.csv").write_text("CODGEO,young,old\nuA,50,50\nuB,100,100\nuC,100,0\nuD,0,100\n", "utf-8")
    scenario = write(
        tmp_path,
        "[accessibility]\nage_table = 'ages.csv'\nage_id_column = 'CODGEO'\n"
        "[accessibility.age_weights]\nyoung = 1.0\nold = 3.0\n",
    )
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, "--scenario", str(scenario))) == 0
    table = pd.read_csv(out / "accessibility.csv").set_index("unit_id")
    # mean weights: uA 2, uB 2, uC 1, uD 3 -> 200, 400, 100, 150 = 850, rescaled to 450 people
    assert table["demand"].to_numpy() == pytest.approx(np.array([200, 400, 100, 150]) * 450 / 850)
    d = table["demand"]
    assert (d * table["accessibility"]).sum() / 100_000 == pytest.approx(3.0)  # still 3 doctors shared out


def test_access_command_errors(cli_inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "bad-facilities.csv"
    bad.write_text(cli_inputs["facilities"].read_text("utf-8").replace(",2\n", ",two\n"), "utf-8")
    args = cli_args(cli_inputs, out)
    args[args.index(str(cli_inputs["facilities"]))] = str(bad)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"facilities file {bad}: facility 'FA': n_gp = 'two' is not a non-negative number" in err
    assert not out.exists()
    assert main(cli_args(cli_inputs, out, "--add", "nowhere:2")) == 2
    assert "'nowhere' is neither a facility id" in capsys.readouterr().err
    assert not out.exists()
    # a missing supply column: with a default (the FINESS case) every facility takes it ...
    assert main(cli_args(cli_inputs, out, "--supply-column", "etp")) == 0
    sites = pd.read_csv(out / "accessibility_sites.csv")
    assert set(sites.loc[sites["site_id"].isin(["FA", "FD"]), "supply_before"]) == {1.0}  # --default-supply 1
    shutil.rmtree(out)
    # ... without one, one line listing the file's own columns, before any computation
    args = cli_args(cli_inputs, out, "--supply-column", "etp")
    del args[args.index("--default-supply") : args.index("--default-supply") + 2]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no supply column 'etp'" in err and "node" not in err and "beyond_max_snap" not in err
    assert not out.exists()
    args = cli_args(cli_inputs, out)
    args.remove("--population")
    args.remove(str(cli_inputs["units"]))
    assert main(args) == 2
    assert "give --facilities and --population" in capsys.readouterr().err
