"""The regional inputs with the roads of France around the region (``road_buffer_m``,
``--road-buffer``): which file is read, what is refused, and that no regional route is lost."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

import coverage.io.regional as regional_module
from coverage.cli import main as cli_main
from coverage.errors import InputDataError
from coverage.io.regional import load_regional_inputs


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "30000", None, True])
def test_a_bad_road_buffer_is_refused_before_anything_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bad: object
) -> None:
    """Refused in one line naming the setting, before any file is opened (the data folder
    given does not even exist)."""
    monkeypatch.setattr(regional_module, "read_departments", lambda *_: pytest.fail("a file was read"))
    with pytest.raises(InputDataError, match=r"^road buffer: expected metres, 0 or more, got ") as info:
        load_regional_inputs(tmp_path / "nowhere", road_buffer_m=bad)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_the_road_buffer_needs_the_regional_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the planner's own files, --road-buffer has no region to widen: one line, exit 2,
    and no output folder."""
    out = tmp_path / "out"
    args = ["access", "--facilities", "f.csv", "--population", "p.csv", "--out", str(out), "--road-buffer", "30000"]
    assert cli_main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--road-buffer" in err[0]
    assert not out.exists()


@pytest.fixture(scope="module")
def both(data_dir: Path) -> tuple[regional_module.RegionalInputs, regional_module.RegionalInputs]:
    return load_regional_inputs(data_dir), load_regional_inputs(data_dir, road_buffer_m=30_000)


@pytest.mark.regional
def test_the_buffered_network_is_read_from_the_national_file(
    both: tuple[regional_module.RegionalInputs, regional_module.RegionalInputs],
) -> None:
    own, wide = both
    assert own.paths["roads"].name == "travelmapping_fra_cvl_routes.gpkg" and "roads_france" not in own.paths
    assert wide.paths["roads"].name == "travelmapping_fra_routes.gpkg" and "roads_france" not in wide.paths
    # the same facilities and people; more roads
    assert wide.units["unit_id"].tolist() == own.units["unit_id"].tolist()
    assert wide.facilities["facility_id"].tolist() == own.facilities["facility_id"].tolist()
    assert wide.graph.number_of_nodes() > 1.5 * own.graph.number_of_nodes()


@pytest.mark.regional
def test_every_road_of_the_region_is_in_the_buffered_network(
    data_dir: Path, both: tuple[regional_module.RegionalInputs, regional_module.RegionalInputs]
) -> None:
    """Every route of the regional file (by its Travel Mapping name, read here with
    GeoPandas) names edges of the buffered network, but the excluded E-roads and tourist
    routes (systems ``eure`` and ``fratr``)."""
    own, wide = both
    routes = gpd.read_file(data_dir / "roads/travelmapping_fra_cvl_routes.gpkg", layer="routes", engine="pyogrio")
    kept = routes[~routes["system"].isin(["eure", "fratr"])]
    names = {str(d.get("name")) for _, _, d in wide.graph.edges(data=True)}
    missing = sorted(set(kept["route"].astype(str)) - names)
    assert not missing, missing[:10]
    assert {str(d.get("name")) for _, _, d in own.graph.edges(data=True)} <= names
