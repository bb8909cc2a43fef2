"""The coverage matrix on a Dask cluster is the matrix of one process, pair for pair.

One LocalCluster of two worker processes is started for the module (a few seconds); the
tests pass its client explicitly, or reach it by its address through ``dask_cluster``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import networkx as nx
import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

import coverage.cluster as cluster
from coverage.cli import main
from coverage.cluster import current_client, dask_cluster, dask_cluster_when_needed, run_blocks
from coverage.errors import CoverageError, InputDataError
from coverage.matrix import CoverageMatrix, coverage_matrix
from coverage.network import RoutingNetwork, compile_network

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
    )
    with distributed.Client(local, set_as_default=False) as c:
        yield c
    local.close()


def _grid_network(n: int, seed: int) -> RoutingNetwork:
    """An n x n street grid with random times, slower one way than the other."""
    rng = np.random.default_rng(seed)
    graph = nx.MultiDiGraph(crs="EPSG:2154")
    for i in range(n * n):
        graph.add_node(i, x=600_000.0 + (i // n) * 400.0, y=6_700_000.0 + (i % n) * 400.0)
    for i in range(n * n):
        for j in (i + 1 if (i + 1) % n else None, i + n if i + n < n * n else None):
            if j is not None:
                t = float(rng.uniform(15, 70))
                graph.add_edge(i, j, travel_time=t, length=400.0)
                graph.add_edge(j, i, travel_time=t * 1.3, length=400.0)
    return compile_network(graph)


def _inputs(network: RoutingNetwork, n_sites: int, n_units: int, seed: int) -> tuple[tuple, dict]:
    rng = np.random.default_rng(seed)
    site_nodes = rng.integers(0, network.n_nodes, n_sites)
    site_nodes[::17] = -1  # off the network: an empty row
    site_access = rng.uniform(0, 120, n_sites)
    site_access[5] = 10_000.0  # farther than the limit from its own node: an empty row
    unit_nodes = rng.integers(0, network.n_nodes, n_units)
    unit_nodes[::13] = -1  # never covered
    unit_access = rng.uniform(0, 120, n_units)
    ids = {"site_ids": [f"s{i}" for i in range(n_sites)], "unit_ids": [f"u{i}" for i in range(n_units)]}
    return (network, site_nodes, site_access, unit_nodes, unit_access, 15.0), ids


def _same(a: CoverageMatrix, b: CoverageMatrix) -> None:
    assert list(a.site_ids) == list(b.site_ids) and list(a.unit_ids) == list(b.unit_ids)
    assert a.minutes.shape == b.minutes.shape and a.max_minutes == b.max_minutes
    assert np.array_equal(a.minutes.indptr, b.minutes.indptr)
    assert np.array_equal(a.minutes.indices, b.minutes.indices)
    assert np.array_equal(a.minutes.data, b.minutes.data)  # the same floats, not close ones


@pytest.fixture(scope="module")
def network() -> RoutingNetwork:
    return _grid_network(60, seed=3)


def test_cluster_matrix_is_the_one_process_matrix(client: object, network: RoutingNetwork) -> None:
    args, ids = _inputs(network, 700, 1500, seed=4)
    one = coverage_matrix(*args, **ids)
    two = coverage_matrix(*args, **ids, client=client)
    _same(one, two)
    # many blocks (64 sites each on this small graph), so both workers took some
    assert one.minutes.nnz > 10_000
    # and the matrix itself is right: minutes recomputed by a search from each site (reversed graph)
    net, site_nodes, site_access, unit_nodes, unit_access, limit = args
    dense = two.minutes.toarray()
    for s in (0, 1, 2, 5, 17, 100, 699):
        expected = np.full(len(unit_nodes), np.inf)
        if site_nodes[s] >= 0:
            to_site = dijkstra(net.reverse_matrix, directed=True, indices=site_nodes[s])
            on = unit_nodes >= 0
            expected[on] = (to_site[unit_nodes[on]] + unit_access[on] + site_access[s]) / 60.0
        within = expected <= limit
        assert np.array_equal(dense[s] > 0, within & (expected > 0)), s
        assert np.allclose(dense[s][within], expected[within], rtol=0, atol=1e-9), s
    assert two.minutes[[0, 5, 17]].nnz == 0  # off the network, too far from its node, off again


def test_the_block_of_a_dask_cluster_is_used_by_every_matrix_inside(client: object, network: RoutingNetwork) -> None:
    args, ids = _inputs(network, 300, 800, seed=5)
    one = coverage_matrix(*args, **ids)
    address = client.scheduler.address  # type: ignore[attr-defined]
    seen: list[object] = []
    before = client.run(lambda dask_worker: len(dask_worker.state.log), nanny=False)  # type: ignore[attr-defined]
    with dask_cluster(scheduler=address) as inside:
        assert current_client() is inside
        seen.append(coverage_matrix(*args, **ids))
    assert current_client() is None
    _same(one, seen[0])  # type: ignore[arg-type]
    after = client.run(lambda dask_worker: len(dask_worker.state.log), nanny=False)  # type: ignore[attr-defined]
    assert sum(after.values()) > sum(before.values())  # the workers did run tasks


def test_run_blocks_gives_results_in_block_order_and_raises_a_block_error(client: object) -> None:
    got: dict[int, int] = {}
    run_blocks(client, _square_plus, {"plus": 7}, list(range(25)), on_result=got.__setitem__)
    assert got == {i: i * i + 7 for i in range(25)}
    with pytest.raises(ZeroDivisionError):
        run_blocks(client, _fails_on_three, {}, [1, 2, 3, 4], on_result=lambda i, r: None)


def _square_plus(block: int, shared: dict[str, int]) -> int:
    return block * block + shared["plus"]


def _fails_on_three(block: int, shared: dict[str, int]) -> int:
    return 1 // (block - 3)


def test_dask_cluster_needs_workers_or_a_scheduler() -> None:
    with pytest.raises(InputDataError, match="either workers"), dask_cluster():
        pass
    with pytest.raises(InputDataError, match="either workers"), dask_cluster(workers=2, scheduler="tcp://x:1"):
        pass
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InputDataError, match="whole number"), dask_cluster(workers=bad):  # type: ignore[arg-type]
            pass


def test_an_unreachable_scheduler_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{port}"
    with (
        pytest.raises(CoverageError, match=f"could not reach the Dask scheduler at '{address}'"),
        dask_cluster(scheduler=address),
    ):
        pass


def test_a_cluster_when_needed_starts_only_for_a_search(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[object, object]] = []

    class Fake:
        def __init__(self, workers: object, scheduler: object) -> None:
            started.append((workers, scheduler))

        def __enter__(self) -> str:
            return "client"

        def __exit__(self, *exc: object) -> None:
            started.append(("closed", None))

    monkeypatch.setattr(cluster, "dask_cluster", Fake)
    with dask_cluster_when_needed(workers=3):
        assert started == []  # nothing needed yet: nothing started
    assert started == []
    with dask_cluster_when_needed(workers=3):
        assert current_client() == "client" and current_client() == "client"
    assert started == [(3, None), ("closed", None)]  # started once, closed at the end
    assert current_client() is None
    started.clear()
    with dask_cluster_when_needed(scheduler="tcp://x:1") as handle:
        assert current_client() == "client"
        handle.close()  # the searches are done: closed before the block ends
        assert started == [(None, "tcp://x:1"), ("closed", None)]
    assert started == [(None, "tcp://x:1"), ("closed", None)]  # and not closed twice
    started.clear()
    with dask_cluster_when_needed(workers=1) as one, dask_cluster_when_needed(None, None) as none:
        assert one is None and none is None and current_client() is None  # one worker: this process
    assert started == []
    with pytest.raises(InputDataError, match="not both"), dask_cluster_when_needed(2, "tcp://x:1"):
        pass


def test_the_command_line_refuses_workers_with_a_scheduler(tmp_path: object, capsys: pytest.CaptureFixture) -> None:
    code = main(["access", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "o")])  # type: ignore[operator]
    assert code == 2
    assert "--workers N (a local Dask cluster) or --scheduler ADDRESS, not both" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["access", "--workers", "0", "--out", str(tmp_path / "o")])  # type: ignore[operator]
    assert "expected 1 or more, got 0" in capsys.readouterr().err


@pytest.mark.regional
def test_the_regional_cover_on_the_cluster_is_the_one_process_cover(client: object, data_dir: object) -> None:
    import coverage as cov
    from coverage.candidates import candidates_from_units, communes_with_facility, exclude_candidates
    from coverage.planning import plan_sites

    inputs = cov.load_regional_inputs(data_dir)  # type: ignore[arg-type]
    result = cov.analyse(inputs.roads, inputs.facilities, inputs.units, cov.AnalysisConfig(isochrones=False))
    candidates = exclude_candidates(
        candidates_from_units(result.units), communes=communes_with_facility(result.facilities, result.units)
    )
    one = plan_sites(result, candidates, threshold_min=20, solver="lscp", workers=1, exact_curve=False)
    with dask_cluster(scheduler=client.scheduler.address):  # type: ignore[attr-defined]
        there = plan_sites(result, candidates.copy(), threshold_min=20, solver="lscp", workers=1, exact_curve=False)
    _same(one.matrix, there.matrix)
    # the proven minimum of tests/test_certificates.py: 22 new sites cover everyone within 20 min
    assert sorted(there.selection.sites) == sorted(one.selection.sites) and len(there.selection.sites) == 22
    assert there.selection.status == "optimal"
