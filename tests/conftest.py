"""Shared fixtures: tiny hand-built networks and the regional data folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from shapely.geometry import Point

import coverage as cov
from coverage.matrix import CoverageMatrix

#: Lambert-93, for test data drawn at real coordinates of France (x ~ 700,000 m).
CRS = "EPSG:2154"
#: Lambert-93 with its false origin moved to its centre (3°E, 46.5°N), for networks drawn
#: near (0, 0): in EPSG:2154 itself such points lie off Gabon, where its scale is 1.45 and
#: the analysis refuses it (coverage.crs).  Distances are those of Lambert-93: going from
#: one to the other is a translation.
LOCAL_CRS = (
    "+proj=lcc +lat_0=46.5 +lon_0=3 +lat_1=49 +lat_2=44 +x_0=0 +y_0=0 "
    "+ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs +type=crs"
)


def crs_for(xy: Iterable[tuple[float, float]]) -> str:
    """:data:`LOCAL_CRS` for coordinates drawn near (0, 0), :data:`CRS` for real ones."""
    return LOCAL_CRS if all(abs(y) < 1_000_000 for _, y in xy) else CRS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``network`` need the internet: they run only when
    COVERAGE_NETWORK_TESTS=1, so that an offline run never tries to reach a host."""
    if os.environ.get("COVERAGE_NETWORK_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set COVERAGE_NETWORK_TESTS=1 to run")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


#: Set to 1 to skip, not fail, the regional tests on a machine without the data folder.
ALLOW_MISSING_DATA = "COVERAGE_ALLOW_MISSING_DATA"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The regional data folder.  Where it is absent the tests that need it fail (a CI
    job without the data must not pass by skipping them), unless
    COVERAGE_ALLOW_MISSING_DATA=1 is set outside CI (CI=true always fails)."""
    try:
        return cov.resolve_data_dir()
    except cov.InputFileNotFoundError as exc:
        in_ci = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
        if os.environ.get(ALLOW_MISSING_DATA) == "1" and not in_ci:
            pytest.skip(f"{exc} ({ALLOW_MISSING_DATA}=1)")
        why = "CI=true: the data folder is required" if in_ci else f"set {ALLOW_MISSING_DATA}=1 to skip these tests"
        pytest.fail(f"{exc}; {why}", pytrace=False)


def make_graph(
    nodes: dict[str, tuple[float, float]], edges: list[tuple[str, str, float]], *, two_way: bool = True
) -> nx.MultiDiGraph:
    """MultiDiGraph in OSMnx conventions (in :func:`crs_for` its coordinates), from (u, v, seconds) edges.

    ``length`` is the straight distance; ``travel_time`` is given, not derived, so that
    expected times can be added up by hand.
    """
    graph = nx.MultiDiGraph(crs=crs_for(nodes.values()))
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
    """Point GeoDataFrame from {id: (x, y)}, in :func:`crs_for` the coordinates."""
    crs = crs_for(rows.values())
    return gpd.GeoDataFrame({"id": list(rows), **columns}, geometry=[Point(xy) for xy in rows.values()], crs=crs)


def facilities_at(rows: dict[str, tuple[float, float]], types: list[str] | None = None) -> gpd.GeoDataFrame:
    frame = points(rows)
    return gpd.GeoDataFrame(
        {"facility_id": frame["id"], "name": frame["id"], "type": types or ["msp"] * len(frame)},
        geometry=frame.geometry,
        crs=frame.crs,
    )


def units_at(rows: dict[str, tuple[float, float]], population: list[float]) -> gpd.GeoDataFrame:
    frame = points(rows)
    return gpd.GeoDataFrame(
        {"unit_id": frame["id"], "name": frame["id"], "population": population},
        geometry=frame.geometry,
        crs=frame.crs,
    )


def square_areas(units: gpd.GeoDataFrame, centres: Iterable[tuple[float, float]]) -> gpd.GeoDataFrame:
    """Give each unit a 2 km square around its centre as ``area`` (in place); the departments
    (``department``, ``name``) dissolved from the squares of the units' ``department``."""
    from shapely.geometry import box

    squares = [box(x - 1000, y - 1000, x + 1000, y + 1000) for x, y in centres]
    units["area"] = gpd.GeoSeries(squares, crs=units.crs)
    frame = gpd.GeoDataFrame(
        {"department": units["department"], "name": units["department_name"]}, geometry=squares, crs=units.crs
    )
    return frame.dissolve(by=["department", "name"]).reset_index()


@pytest.fixture
def no_lagrangian_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MCLP's Lagrangian steps switched off: no bound, no starts, nothing ruled out."""
    import numpy as np

    import coverage.siting.exact

    monkeypatch.setattr(coverage.siting.exact, "_lagrangian_bound", lagrangian_stub(np.inf, iterations=0))


def lagrangian_stub(bound: float, *, iterations: int) -> Callable[..., object]:
    """A stand-in for ``_lagrangian_bound`` that proves ``bound`` and gives no starts,
    no reduced costs and nothing ruled out."""
    import numpy as np

    from coverage.siting.lagrange import _Lagrangian

    def stub(a: object, *args: object, **kwargs: object) -> _Lagrangian:
        n = a.shape[1]  # type: ignore[attr-defined]
        return _Lagrangian(
            bound=bound,
            costs=np.zeros(n),
            raw=np.inf,
            whole=False,
            best_sites=np.arange(0),
            best_value=-np.inf,
            iterations=iterations,
        )

    return stub


def spy_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str, seen: list[dict[str, object]]) -> None:
    """Record the keyword arguments of each call of ``module.<name>``, then call it."""
    real = getattr(module, name)

    def recording(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)


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


class FakeClock:
    """``time.perf_counter`` for a module under test (set as its ``time``): it moves on
    ``step`` seconds at each reading."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now
