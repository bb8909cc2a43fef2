"""The patient lists through ``couverture access``, and the QGIS styles table read back."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from coverage.cli import main
from coverage.io._common import read_vector
from coverage.outputs.qgis_styles import add_layer_styles
from tests.test_scenarios import cli_args, cli_inputs  # noqa: F401 (the fixture)

# The road at 1 min a km: FA (2 GPs) at 0 km, FD (1 GP, the default supply) at 4 km;
# uA 100 at 0 km, uB 200 at 1 km, uC 100 at 3 km, uD 50 at 4 km.  With 100 patients per
# GP and 2.5 minutes: FA (200 places) reaches uA and uB (300 people), FD (100 places)
# uC and uD (150).  The most followed: 200 + 100 = 300; then the fewest minutes: FA takes
# uA (0 min) and 100 of uB, FD uD (0 min) and 50 of uC.  Left: uB 100, uC 50.
CAPACITY = ("--capacity-minutes", "2.5", "--patients-per-gp", "100", "--apl-threshold", "100000")


def test_patient_lists_by_hand(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, *CAPACITY)) == 0
    units = pd.read_csv(out / "patient_lists.csv").set_index("unit_id")
    assert units.loc[["uA", "uB", "uC", "uD"], "served_before"].tolist() == [100, 100, 50, 50]
    assert units.loc[["uA", "uB", "uC", "uD"], "unserved_before"].tolist() == [0, 100, 50, 0]
    sites = pd.read_csv(out / "patient_lists_sites.csv").set_index("site_id")
    assert sites.loc[["FA", "FD"], "capacity_before"].tolist() == [200, 100]
    assert sites.loc[["FA", "FD"], "load_before"].tolist() == [200, 100]
    layer = gpd.read_file(out / "coverage.gpkg", layer="patient_lists", engine="pyogrio").set_index("unit_id")
    assert layer.loc[["uA", "uB", "uC", "uD"], "unserved_before"].tolist() == [0, 100, 50, 0]
    run = json.loads((out / "run.json").read_text("utf-8"))
    lists = run["accessibility"]["summary"]["patient_lists"]
    assert lists["people_without_doctor_with_room_before"] == 150
    assert lists["status_before"] == "optimal"
    assert run["accessibility"]["settings"]["patients_per_gp"] == 100


def test_pool_by_patient_lists_by_hand(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    # two more doctors: 200 more places; one within reach of uB and one of uC follows the 150 left
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, *CAPACITY, "--pool", "2", "--no-report")) == 0
    compared = pd.read_csv(out / "pool_allocations_compared.csv").set_index("allocation")
    assert compared["people_unmet"].iloc[0] == 150  # before
    by_lists = compared.loc[[a for a in compared.index if a.startswith("patient lists")]].iloc[0]
    assert by_lists["people_unmet"] == 0 and by_lists["doctors_added"] == 2
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["accessibility"]["summary"]["patient_lists"]["pool_by_capacity"]["status"] == "optimal"


def test_no_capacity(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, "--no-capacity", "--apl-threshold", "100000")) == 0
    assert not (out / "patient_lists.csv").exists()
    assert "patient_lists" not in json.loads((out / "run.json").read_text("utf-8"))["accessibility"]["summary"]


def test_bad_patients_per_gp_fails_first(cli_inputs: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: F811
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        main(cli_args(cli_inputs, out, "--patients-per-gp", "-5"))
    assert stop.value.code == 2
    assert "--patients-per-gp: expected a positive number, got '-5'" in capsys.readouterr().err
    assert not out.exists()


def test_a_styled_geopackage_reads_as_one_layer(tmp_path: Path) -> None:
    # QGIS (and our runs) add a layer_styles table: it is not a layer to choose from
    path = tmp_path / "points.gpkg"
    frame = gpd.GeoDataFrame(
        {"facility_id": ["F1"], "name": ["MSP"], "type": ["msp"]}, geometry=[Point(650_000, 6_670_000)], crs=2154
    )
    frame.to_file(path, layer="facilities", engine="pyogrio")
    assert add_layer_styles(path) == ["facilities"]
    read = read_vector(path, "facilities file")
    assert read["facility_id"].tolist() == ["F1"]
    frame.to_file(path, layer="other", engine="pyogrio")
    with pytest.raises(Exception, match="several layers"):
        read_vector(path, "facilities file")
