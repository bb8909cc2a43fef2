"""Shared fixtures: tiny hand-built networks and the regional data folder."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from shapely.geometry import Point

import coverage as cov
from coverage.matrix import CoverageMatrix

CRS = "EPSG:2154"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``network`` need the internet: they run only when
    COVERAGE_NETWORK_TESTS=1, so that an offline run never tries to reach a host."""
    if os.environ.get("COVERAGE_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set COVERAGE_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The regional data folder; tests that need it are skipped where it is absent."""
    try:
        return cov.resolve_data_dir()
    except cov.InputFileNotFoundError as exc:
        pytest.skip(str(exc))


def make_graph(
    nodes: dict[str, tuple[float, float]], edges: list[tuple[str, str, float]], *, two_way: bool = True
) -> nx.MultiDiGraph:
    """MultiDiGraph in OSMnx conventions, EPSG:2154, from (u, v, seconds) edges.

    ``length`` is the straight distance; ``travel_time`` is given, not derived, so that
    expected times can be added up by hand.
    """
    graph = nx.MultiDiGraph(crs=CRS)
    for name, (x, y) in nodes.items():
        graph.add_node(name, x=x, y=y)
    for u, v, seconds in edges:
        (x1, y1), (x2, y2) = nodes[u], nodes[v]
        length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
        graph.add_edge(u, v, length=length, travel_time=seconds)
        if two_way:
            graph.add_edge(v, u, length=length, travel_time=seconds)
    return graph


def points(rows: dict[str, tuple[float, float]], **columns: list[object]) -> gpd.GeoDataFrame:
    """Point GeoDataFrame in EPSG:2154 from {id: (x, y)}."""
    return gpd.GeoDataFrame({"id": list(rows), **columns}, geometry=[Point(xy) for xy in rows.values()], crs=CRS)


def facilities_at(rows: dict[str, tuple[float, float]], types: list[str] | None = None) -> gpd.GeoDataFrame:
    frame = points(rows)
    return gpd.GeoDataFrame(
        {"facility_id": frame["id"], "name": frame["id"], "type": types or ["msp"] * len(frame)},
        geometry=frame.geometry,
        crs=CRS,
    )


def units_at(rows: dict[str, tuple[float, float]], population: list[float]) -> gpd.GeoDataFrame:
    frame = points(rows)
    return gpd.GeoDataFrame(
        {"unit_id": frame["id"], "name": frame["id"], "population": population},
        geometry=frame.geometry,
        crs=CRS,
    )


@pytest.fixture
def no_lagrangian_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MCLP's Lagrangian steps switched off: no bound, no starts, nothing ruled out."""
    import numpy as np

    import coverage.siting.exact
    from coverage.siting.lagrange import _Lagrangian

    def off(a: object, *args: object, **kwargs: object) -> _Lagrangian:
        n = a.shape[1]  # type: ignore[attr-defined]
        return _Lagrangian(
            bound=np.inf,
            costs=np.zeros(n),
            raw=np.inf,
            whole=False,
            best_sites=np.arange(0),
            best_value=-np.inf,
            iterations=0,
        )

    monkeypatch.setattr(coverage.siting.exact, "_lagrangian_bound", off)


def matrix_from_dense(present: np.ndarray) -> CoverageMatrix:
    """Sites ``s0``… x units ``u0``…; every present pair at 1 minute."""
    cover = sp.csr_array(present.astype(float))
    cover.sort_indices()
    return CoverageMatrix(
        site_ids=np.asarray([f"s{i}" for i in range(present.shape[0])], dtype=object),
        unit_ids=np.asarray([f"u{i}" for i in range(present.shape[1])], dtype=object),
        minutes=cover,
        max_minutes=10.0,
    )
