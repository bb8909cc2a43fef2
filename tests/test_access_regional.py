"""The access command on the Centre-Val de Loire data, re-checked independently.

Runs ``python -m coverage access`` once with its regional default (300 salaried GPs in
teams of 3) and checks the supply read from the facility list against the raw file, the
conservation of supply before and after, and the baseline and scenario accessibility of
every commune recomputed from the exported network with NetworkX and plain pandas.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest

from coverage.cli import main
from tests.test_regional import reversed_digraph

pytestmark = pytest.mark.regional

PER_FTE = 5400.0  # consultations a year of one GP FTE (default)


@pytest.fixture(scope="module")
def access_out(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("access") / "cvl"
    assert main(["access", "--data-dir", str(data_dir), "--out", str(out), "-q", "--no-isochrones"]) == 0
    return out


def test_outputs(access_out: Path) -> None:
    for name in (
        "accessibility.csv",
        "accessibility_by_area.csv",
        "accessibility_classes.csv",
        "accessibility_sites.csv",
        "allocation_steps.csv",
        "map.html",
        "report.html",
    ):
        assert (access_out / name).is_file(), name
    layers = dict(pyogrio.list_layers(access_out / "coverage.gpkg"))
    assert layers["accessibility"] == "MultiPolygon"
    assert layers["accessibility_sites"] == "Point"
    assert pyogrio.read_info(access_out / "coverage.gpkg", layer="accessibility")["features"] == 1754
    page = (access_out / "map.html").read_text("utf-8")
    # layer names travel JSON-escaped, the legend as HTML
    assert json.dumps("Densité médicale par canton / by canton")[1:-1] in page
    assert "Médecins pour 10 000 hab." in page
    assert json.dumps("Sans médecin ayant de la place (après / after)")[1:-1] in page
    assert json.dumps("Médecins du contingent 2028 (39) / Pool")[1:-1] in page
    # the report compares the scenario with the baseline: classes with their populations
    report = (access_out / "report.html").read_text("utf-8")
    classes = pd.read_csv(access_out / "accessibility_classes.csv").set_index("class")
    section = report[report.index("Accessibilité par habitant") :]
    for value in classes.loc["priority", ["population", "population_scenario"]]:
        assert f"{value:,.0f}".replace(",", "\u202f") in section


def test_supply_is_the_facility_list_or_the_median(access_out: Path, data_dir: Path) -> None:
    files = ["facilities/cvl_primary_care_facilities_compiled.csv", "facilities/cvl_facilities_additions_turn2.csv"]
    raw = pd.concat([pd.read_csv(data_dir / name, dtype=str) for name in files], ignore_index=True)
    raw = raw[raw["status"] == "open"]
    stated = pd.to_numeric(raw["n_gp"], errors="coerce")
    median = statistics.median(stated.dropna())
    expected = dict(zip(raw["facility_id"], stated.fillna(median), strict=True))
    sites = pd.read_csv(access_out / "accessibility_sites.csv", dtype={"site_id": str})
    facilities = sites[sites["kind"] == "facility"].set_index("site_id")
    # the sites table lists sites with doctors before or after (CVLPC050 and CVLPC108 state 0 GPs)
    assert facilities["supply_before"].to_dict() == pytest.approx({k: v for k, v in expected.items() if v > 0})
    assert {k for k, v in expected.items() if v == 0} == {"CVLPC050", "CVLPC108"}
    assert (facilities["supply_source"] == "default").sum() == stated.isna().sum()


def test_supply_is_conserved_before_and_after(access_out: Path) -> None:
    table = pd.read_csv(access_out / "accessibility.csv")
    summary = json.loads((access_out / "run.json").read_text())["accessibility"]["summary"]
    assert summary["supply_unused_before"] == 0
    assert summary["supply_added"] == 300
    # sum of demand x accessibility = supply (in consultations), before and after
    assert (table["demand"] * table["accessibility"]).sum() / PER_FTE == pytest.approx(
        summary["supply_total_before"], rel=1e-9
    )
    assert (table["demand"] * table["change"]).sum() / PER_FTE == pytest.approx(300, rel=1e-9)
    assert (table["change"] >= -1e-9).all()
    steps = pd.read_csv(access_out / "allocation_steps.csv")
    assert steps["supply_added"].tolist() == [3.0] * 100
    assert steps["people_above"].is_monotonic_increasing
    classes = pd.read_csv(access_out / "accessibility_classes.csv").set_index("class")
    lifted = classes.loc["above threshold", "population_scenario"] - classes.loc["above threshold", "population"]
    assert lifted == pytest.approx(steps["people_lifted"].sum())
    assert lifted == pytest.approx(steps["people_above"].iloc[-1] - classes.loc["above threshold", "population"])


def e2sfca(minutes: pd.DataFrame, supply: pd.Series, demand: pd.Series) -> pd.Series:
    """Plain pandas E2SFCA with the default bands, from (site, unit, minutes) rows."""
    weight = np.select(
        [minutes["minutes"] <= 10, minutes["minutes"] <= 15, minutes["minutes"] <= 20], [1.0, 2 / 3, 1 / 3], 0.0
    )
    pairs = minutes.assign(w=weight)
    pairs = pairs[pairs["w"] > 0]
    weighted = (pairs["w"] * pairs["unit"].map(demand)).groupby(pairs["site"]).sum()
    ratio = supply.reindex(weighted.index) / weighted
    return (pairs["w"] * pairs["site"].map(ratio)).groupby(pairs["unit"]).sum().reindex(demand.index, fill_value=0.0)


def test_accessibility_recomputed_with_networkx(access_out: Path, data_dir: Path) -> None:
    """Minutes from every site with doctors to every commune by NetworkX on the exported
    network (access legs included), then the E2SFCA in pandas: same values, before and after."""
    reverse = reversed_digraph(nx.read_graphml(access_out / "network.graphml"))
    sites = pd.read_csv(access_out / "accessibility_sites.csv", dtype={"site_id": str, "node": str})
    units = pd.read_csv(access_out / "population_access.csv", dtype={"unit_id": str, "node": str})
    table = pd.read_csv(access_out / "accessibility.csv", dtype={"unit_id": str}).set_index("unit_id")
    by_node = units.groupby("node")
    rows = []
    for site in sites.itertuples():
        budget = 20 * 60 - site.access_minutes * 60
        seconds = nx.single_source_dijkstra_path_length(reverse, site.node, cutoff=budget, weight="t")
        for node, t in seconds.items():
            if node in by_node.groups:
                group = units.loc[by_node.groups[node]]
                total = (t + group["access_minutes"] * 60 + site.access_minutes * 60) / 60
                rows += [(site.site_id, u, m) for u, m in zip(group["unit_id"], total, strict=True)]
    minutes = pd.DataFrame(rows, columns=["site", "unit", "minutes"])
    demand = table["demand"]
    before = e2sfca(minutes, sites.set_index("site_id")["supply_before"], demand) * PER_FTE
    after = e2sfca(minutes, sites.set_index("site_id")["supply_after"], demand) * PER_FTE
    assert table["accessibility"].to_numpy() == pytest.approx(before.to_numpy(), rel=1e-6, abs=1e-9)
    assert table["accessibility_scenario"].to_numpy() == pytest.approx(after.to_numpy(), rel=1e-6, abs=1e-9)


def test_density_by_canton_from_the_sites_communes(access_out: Path) -> None:
    # an independent path: each facility's commune (its code in the sites table) gives its
    # canton through the commune rows of the unit table; GPs per 10,000 of the canton's people
    sites = pd.read_csv(access_out / "accessibility_sites.csv", dtype={"site_id": str, "commune": str})
    units = pd.read_csv(access_out / "accessibility.csv", dtype={"unit_id": str, "canton": str})
    canton_of = units.set_index("unit_id")["canton"]
    gps = sites.groupby(sites["commune"].map(canton_of))["supply_before"].sum()
    people = units.groupby("canton")["population"].sum()
    areas = pd.read_csv(access_out / "accessibility_by_area.csv", dtype={"area_id": str})
    cantons = areas[areas["level"] == "canton"].set_index("area_id")
    assert cantons["gps_before"].to_dict() == pytest.approx(gps.reindex(cantons.index, fill_value=0).to_dict())
    expected = 10_000 * gps.reindex(cantons.index, fill_value=0) / people.reindex(cantons.index)
    assert cantons["gps_per_10000_before"].to_numpy() == pytest.approx(expected.to_numpy())
    # every level shares out the same doctors: those of the facilities, then the pool's 300 more
    for level, part in areas.groupby("level"):
        assert part["gps_before"].sum() == pytest.approx(sites["supply_before"].sum()), level
        assert part["gps_after"].sum() == pytest.approx(sites["supply_before"].sum() + 300), level
    # a canton's supply is "known" only when none of its facilities has the default supply
    defaulted = sites[sites["supply_source"] == "default"]["commune"].map(canton_of).dropna().unique()
    assert set(cantons.index[~cantons["supply_known"]]) == set(defaulted)


def test_patient_lists_and_phased_pool(access_out: Path) -> None:
    summary = json.loads((access_out / "run.json").read_text())["accessibility"]["summary"]
    lists = summary["patient_lists"]
    # 960 places per GP: the people followed can not exceed the places, nor the people
    lists_units = pd.read_csv(access_out / "patient_lists.csv")
    places = 960 * summary["supply_total_before"]
    followed = lists_units["served_before"].sum()
    assert followed <= places + 1e-6
    assert lists["people_without_doctor_with_room_before"] == pytest.approx(lists_units["population"].sum() - followed)
    assert (lists_units["served_after"] >= -1e-9).all()
    assert (lists_units["served_after"] <= lists_units["population"] + 1e-6).all()
    by_year = pd.read_csv(access_out / "pool_phasing_by_year.csv", dtype={"year": str})
    assert by_year["year"].tolist() == [str(y) for y in range(2021, 2029)]
    assert by_year["doctors_added"].sum() == 300
    classes = pd.read_csv(access_out / "accessibility_classes.csv").set_index("class")
    assert by_year["people_above"].iloc[-1] == pytest.approx(classes.loc["above threshold", "population_scenario"])
    assert summary["pool_phasing"]["people_above_person_years"] >= summary["pool_phasing"]["pool_order_person_years"]
