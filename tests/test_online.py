"""Downloads from OpenStreetMap through OSMnx (run with COVERAGE_NETWORK_TESTS=1)."""

from __future__ import annotations

from pathlib import Path

import pytest

import coverage as cov
from coverage.io.roads import download_osm
from coverage.network import compile_network

pytestmark = pytest.mark.network


def test_download_bbox_of_central_tours(tmp_path: Path) -> None:
    graph = download_osm(
        bbox=(0.68, 47.385, 0.70, 47.395), profile=cov.load_speed_profile(), cache_folder=tmp_path / "cache"
    )
    assert graph.number_of_nodes() > 50
    assert all(d["travel_time"] > 0 for _, _, d in graph.edges(data=True))
    assert any((tmp_path / "cache").iterdir())  # OSMnx's cache was used


def test_download_place(tmp_path: Path) -> None:
    graph = download_osm(place="Chinon, France", profile=cov.load_speed_profile(), cache_folder=tmp_path)
    network = compile_network(graph)
    assert network.n_nodes > 100
