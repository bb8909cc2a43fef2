"""The frozen values and readers the layered design added, each against a hand-checked case:
FINESS detection in ``read_facilities``, ``RoadLayer``, ``SitingOptions`` (and its target
number of structures), the shared site x unit matrix, scenario naming and ``--add``
resolution, the renamed priority line, and the age table read before the study."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import LOCAL_CRS, facilities_at, make_graph, points, units_at

import coverage as cov
from coverage.access_study import study_access
from coverage.candidates import candidates_from_units
from coverage.io.facilities import read_candidates, read_facilities, read_finess
from coverage.io.roads import RoadLayer, read_road_lines, read_roads
from coverage.io.settings import load_scenario, read_age_table
from coverage.matrix import analysis_matrix
from coverage.planning import SitingOptions, plan_sites
from coverage.scenarios import AccessSettings, Addition, Pool, Scenario, resolve_sites, scenario_name

DATA = Path(__file__).parent / "data"
FINESS_SAMPLE = DATA / "readers" / "finess_sample.csv"


# ----------------------------------------------------------------------------- facilities


def test_read_facilities_detects_the_finess_extraction() -> None:
    auto = read_facilities(FINESS_SAMPLE)
    expected = read_finess(FINESS_SAMPLE)
    pd.testing.assert_frame_equal(pd.DataFrame(auto), pd.DataFrame(expected))
    # the categories and departments options reach the FINESS reader
    only_msp = read_facilities(FINESS_SAMPLE, categories=["603"])
    assert set(only_msp["type"]) == {"msp"}
    assert len(only_msp) < len(auto)


def test_read_facilities_formats(tmp_path: Path) -> None:
    with pytest.raises(cov.InputDataError, match="unknown facilities format 'xls'"):
        read_facilities(FINESS_SAMPLE, format="xls")
    # a FINESS file read as points has no lon/lat nor id column: a clear error, not FINESS rows
    with pytest.raises(cov.InputDataError, match="facilities file"):
        read_facilities(FINESS_SAMPLE, format="points")
    csv = tmp_path / "points.csv"
    csv.write_text("facility_id,name,type,lon,lat\nF1,A,msp,1.5,47.0\n", "utf-8")
    assert read_facilities(csv)["facility_id"].tolist() == ["F1"]  # auto: not FINESS, so points


def test_read_candidates_names_the_ids_candidate_id(tmp_path: Path) -> None:
    csv = tmp_path / "sites.csv"
    csv.write_text("code,label,lon,lat\nS2,Two,1.5,47.0\nS1,One,1.6,47.1\n", "utf-8")
    sites = read_candidates(csv, id_column="code", name_column="label")
    assert sites["candidate_id"].tolist() == ["S2", "S1"]
    assert sites["name"].tolist() == ["Two", "One"]


# ----------------------------------------------------------------------------- roads


def test_road_layer_value_and_keywords_read_the_same(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString

    lines = gpd.GeoDataFrame(
        {"cls": ["A", "D"], "nom": ["A10", "D1"]},
        geometry=[LineString([(0, 0), (3000, 0)]), LineString([(3000, 0), (3000, 2000)])],
        crs=LOCAL_CRS,
    )
    path = tmp_path / "roads.gpkg"
    lines.to_file(path, layer="routes", engine="pyogrio")
    profile = cov.load_speed_profile().with_default(50.0)
    layer = RoadLayer(profile=profile, class_column="cls", layer="routes", max_edge_length_m=1000.0)
    by_value = read_roads(path, layer)
    by_keywords = read_roads(path, profile=profile, class_column="cls", layer="routes", max_edge_length_m=1000.0)
    assert sorted(by_value.edges(data="travel_time")) == sorted(by_keywords.edges(data="travel_time"))
    # 3 km split every 1 km and 2 km split in 2, both ways: 10 edges
    assert by_value.number_of_edges() == 10
    # keywords override the value's fields: no split at all
    unsplit = read_road_lines(path, layer, max_edge_length_m=None)
    assert unsplit.number_of_edges() == 4
    with pytest.raises(cov.InputDataError, match="road-class column"):
        read_road_lines(path, RoadLayer(profile=profile, layer="routes"))


# ----------------------------------------------------------------------------- siting


def line_analysis() -> cov.analyse:  # type: ignore[valid-type]
    """Facility F at x=0 on a line of nodes 1 km apart, 60 s each; units at every node."""
    nodes = {f"n{i}": (1000.0 * i, 0.0) for i in range(7)}
    edges = [(f"n{i}", f"n{i + 1}", 60.0) for i in range(6)]
    units = units_at({f"u{i}": nodes[f"n{i}"] for i in range(7)}, [10.0] * 7)
    return cov.analyse(
        make_graph(nodes, edges),
        facilities_at({"F": (0.0, 0.0)}).assign(n_gp=["2"]),
        units,
        cov.AnalysisConfig(thresholds_min=(1.5,), isochrones=False),
    )


def test_siting_options_check_what_to_choose() -> None:
    with pytest.raises(cov.InputDataError, match="either"):
        SitingOptions(20.0, k=2, target_structures=3)
    with pytest.raises(cov.InputDataError, match="either"):
        SitingOptions(20.0)
    with pytest.raises(cov.InputDataError, match="target share"):
        SitingOptions(20.0, target_share=1.5)
    with pytest.raises(cov.InputDataError, match="solver"):
        SitingOptions(20.0, k=1, solver="magic")
    assert SitingOptions(20.0, solver="lscp").k is None  # the fewest sites: no number needed


def test_target_structures_count_the_existing_facilities() -> None:
    analysis = line_analysis()
    candidates = candidates_from_units(analysis.units)
    # 3 structures wanted, 1 exists: 2 new sites, as with k=2
    by_target = plan_sites(analysis, candidates, SitingOptions(threshold_min=1.5, target_structures=3), workers=1)
    by_k = plan_sites(analysis, candidates, threshold_min=1.5, k=2, workers=1)
    assert len(by_target.selection.sites) == 2
    assert by_target.selection.sites == by_k.selection.sites
    # 1.5 minutes reach the next node: F covers u0-u1; two new sites add 5 units at best
    # (u2-u4 from u3 and u5-u6 from u5 or u6, or u2-u3 from u2 and u4-u6 from u5): 7 units of 10
    assert by_target.selection.population_covered_after == 70.0
    # keywords override the value
    fewer = plan_sites(
        analysis, candidates, SitingOptions(threshold_min=1.5, target_structures=3), target_structures=2, workers=1
    )
    assert len(fewer.selection.sites) == 1
    with pytest.raises(cov.InputDataError, match="only one"):  # k given over a target: ambiguous, refused
        plan_sites(analysis, candidates, SitingOptions(threshold_min=1.5, target_structures=3), k=1, workers=1)


def test_one_matrix_helper_in_either_order() -> None:
    analysis = line_analysis()
    new = points({"c3": (3000.0, 0.0), "c6": (6000.0, 0.0)}).rename(columns={"id": "site_id"})
    first = analysis_matrix(analysis, new.copy(), 2.0, id_column="site_id", new_first=True, what="sites")
    last = analysis_matrix(analysis, new.copy(), 2.0, id_column="site_id", new_first=False, what="sites")
    assert first.site_ids.tolist() == ["c3", "c6", "F"]
    assert last.site_ids.tolist() == ["F", "c3", "c6"]
    dense_first = first.minutes.toarray()
    dense_last = last.minutes.toarray()
    assert np.array_equal(dense_first[[2, 0, 1]], dense_last)
    # by hand: c3 reaches u2, u3, u4 at 1, 0, 1 min (and u1, u5 at 2); F reaches u0-u2 at 0, 1, 2
    row = dict(zip(first.unit_ids, dense_first[0], strict=True))
    assert [row[u] for u in ("u1", "u2", "u3", "u4", "u5")] == [2.0, 1.0, 0.0, 1.0, 2.0]
    assert first.minutes[[2], :].nnz == 3  # F: u0 (an explicit 0), u1, u2
    # the new sites got their node and access columns set in place
    placed = new.copy()
    analysis_matrix(analysis, placed, 2.0, id_column="site_id", new_first=True, what="sites")
    assert placed["node"].tolist() == ["n3", "n6"]
    assert placed["access_minutes"].tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------- scenarios


def test_scenario_name_and_site_resolution() -> None:
    adds = (Addition(supply=2, facility="F1"), Addition(supply=3, facility="36063"))
    assert scenario_name(adds, Pool(supply=300, team_size=3)) == "+2 at F1; +3 at 36063; pool of 300 in teams of 3"
    assert scenario_name((), None) == "baseline"
    resolved = resolve_sites(Scenario(name="s", additions=adds), {"F1", "F2"})
    assert [(a.facility, a.commune) for a in resolved.additions] == [("F1", None), (None, "36063")]


def test_priority_line_and_its_old_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert AccessSettings(priority_line=4.0).priority_line_value == 4.0
    assert AccessSettings(measure="gps").priority_line_value == pytest.approx(2.5 / 5400 * 100_000)
    new = tmp_path / "new.toml"
    new.write_text("[accessibility]\npriority_line = 3\n", "utf-8")
    assert load_scenario(new)[0].priority_line_value == 3.0
    old = tmp_path / "old.toml"
    old.write_text("[accessibility]\nthreshold = 3\n", "utf-8")
    with caplog.at_level(logging.WARNING, logger="coverage"):
        assert load_scenario(old)[0].priority_line_value == 3.0
    assert "'threshold' is now called 'priority_line'" in caplog.text
    both = tmp_path / "both.toml"
    both.write_text("[accessibility]\nthreshold = 3\npriority_line = 4\n", "utf-8")
    with pytest.raises(cov.InputDataError, match="unknown keys \\['threshold'\\]"):
        load_scenario(both)


def test_the_age_table_is_read_before_the_study(tmp_path: Path) -> None:
    analysis = line_analysis()
    table = tmp_path / "ages.csv"
    table.write_text("code,young,old\n" + "".join(f"u{i},{5},{5}\n" for i in range(7)), "utf-8")
    settings = AccessSettings(age_weights={"young": 1.0, "old": 3.0}, age_table=table, age_id_column="code")
    with pytest.raises(cov.InputDataError, match="read_age_table"):
        study_access(analysis, settings, workers=1)
    study = study_access(analysis, settings, ages=read_age_table(table), workers=1)
    # every unit has the same age mix, so the standardised demand equals the population
    assert study.units["demand"].tolist() == pytest.approx([10.0] * 7)


def test_the_p_median_summary_says_what_each_number_is() -> None:
    import io

    from coverage.outputs.summaries import print_summary

    nodes = {f"n{i}": (1000.0 * i, 0.0) for i in range(7)}
    analysis = cov.analyse(
        make_graph(nodes, [(f"n{i}", f"n{i + 1}", 60.0) for i in range(6)]),
        facilities_at({"F": (0.0, 0.0)}),
        units_at({f"u{i}": nodes[f"n{i}"] for i in range(7)}, [10.0] * 7),
        cov.AnalysisConfig(thresholds_min=(1.5, 3.0), isochrones=False),
    )
    plan = plan_sites(
        analysis, candidates_from_units(analysis.units), threshold_min=1.5, k=1, solver="pmedian", workers=1
    )
    out = io.StringIO()
    print_summary(analysis, Path("out"), 1.0, out, plan=plan)
    text = out.getvalue()
    assert "New sites that lower the mean minutes most (pmedian-exact, optimal" in text
    assert "within 1.5 min (" not in text.split("New sites")[1].splitlines()[0]
    # people counted within the matrix's largest threshold (3 min), gains in person-minutes
    assert "covered within 3 min" in text and "person-minutes saved" in text
    assert "people newly covered" not in text
    # the mean is stated: one site at u4 or u5 of 7 units 1 min apart, 10 people each;
    # today 0..6 min (210 person-minutes), the site saves 14 x 10: (210 - 140) / 70 = 1
    assert plan.selection.objective_value == pytest.approx(1.0)
    assert "with them: 1.00 (proven lower bound 1.00)" in text
