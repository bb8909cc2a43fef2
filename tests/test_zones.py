"""The planner's own areas (``--areas``) as one more level of every table, and the medical density by area."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from coverage.cli import main
from tests.test_scenarios import cli_args, cli_inputs  # noqa: F401 (the fixture)

X0, Y0 = 650_000.0, 6_670_000.0
HOSTILE = "<b>CPTS</b> {{7*7}}"


def _zones(folder: Path) -> Path:
    # Z1 holds 0-2 km (uA, uB and FA), Z2 2-4.5 km (uC, uD and FD); shuffled rows
    path = folder / "cpts.gpkg"
    gpd.GeoDataFrame(
        {"code": ["Z2", "Z1"], "nom": ["=SUM(A1)", "Nord"]},
        geometry=[box(X0 + 2000, Y0 - 500, X0 + 4500, Y0 + 500), box(X0 - 500, Y0 - 500, X0 + 2000, Y0 + 500)],
        crs="EPSG:2154",
    ).to_file(path, engine="pyogrio")
    return path


def test_zones_and_density_by_hand(cli_inputs: dict[str, Path], tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    extra = ("--areas", str(_zones(tmp_path)), "--areas-label", HOSTILE, "--apl-threshold", "100000", "--no-capacity")
    args = cli_args(cli_inputs, out, *extra, "--add", "uC:3")
    args.remove("--no-report")
    assert main(args) == 0
    by_area = pd.read_csv(out / "accessibility_by_area.csv", dtype={"area_id": str})
    zones = by_area[by_area["level"] == "zone"].set_index("area_id")
    # Z1: 100 + 200 people, FA's 2 GPs: 2 / 300 x 10,000 = 66.67; Z2: 100 + 50, FD's 1 GP
    # (the default supply, not stated) then 3 more at uC: 1 / 150 and 4 / 150 x 10,000
    assert zones.loc[["Z1", "Z2"], "population"].tolist() == [300, 150]
    assert zones.loc[["Z1", "Z2"], "gps_before"].tolist() == [2, 1]
    assert zones.loc[["Z1", "Z2"], "gps_after"].tolist() == [2, 4]
    assert zones.loc["Z1", "gps_per_10000_before"] == pytest.approx(2 / 300 * 10_000)
    assert zones.loc["Z2", "gps_per_10000_after"] == pytest.approx(4 / 150 * 10_000)
    assert zones.loc[["Z1", "Z2"], "supply_known"].tolist() == [True, False]
    assert zones.loc["Z2", "area_name"] == "'=SUM(A1)"  # a formula in a CSV starts with '
    coverage = pd.read_csv(out / "coverage_by_area.csv", dtype={"area_id": str})
    assert set(coverage.loc[coverage["level"] == "zone", "area_id"]) == {"Z1", "Z2"}
    report = (out / "report.html").read_text("utf-8")
    assert "Couverture par &lt;b&gt;CPTS&lt;/b&gt; {{7*7}}" in report
    assert HOSTILE not in report
    # the density rises in Z2 only (1 -> 4 GPs); Z1's supply is stated, Z2's FD is the default
    assert "La densité augmente dans 1 des 2 zones" in report
    assert "toutes les structures dans 1 d’entre elles" in report


def test_a_zone_layer_that_is_not_polygons_is_refused(cli_inputs: dict[str, Path], tmp_path: Path, capsys) -> None:  # noqa: F811
    path = tmp_path / "points.gpkg"
    gpd.GeoDataFrame({"code": ["Z"]}, geometry=gpd.points_from_xy([X0], [Y0]), crs="EPSG:2154").to_file(path)
    out = tmp_path / "out"
    assert main(cli_args(cli_inputs, out, "--areas", str(path))) != 0
    assert "expected polygons" in capsys.readouterr().err
    assert not out.exists()
