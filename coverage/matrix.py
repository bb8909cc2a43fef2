"""Coverage matrix: which sites each population unit reaches within T minutes, by road.

One bounded search per site on the reversed network gives the time from every node to
that site; the population units' nodes are read off and their access legs added.  The
matrix keeps the minutes of every pair within the largest threshold, so that several
thresholds share one set of searches.  Searches run in compiled code (SciPy), in
chunks of sites per call, in this process or on a Dask cluster (:mod:`coverage.cluster`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from coverage.cluster import checked_workers, current_client, dask_cluster, run_blocks
from coverage.errors import InputDataError
from coverage.network import RoutingNetwork

if TYPE_CHECKING:
    import geopandas as gpd
    from distributed import Client

    from coverage.analysis import GapAnalysis
    from coverage.snapping import Snapping

__all__ = ["CoverageMatrix", "aligned_values", "analysis_matrix", "coverage_matrix"]

logger = logging.getLogger(__name__)

# Rows of one compiled call are dense (sites x nodes); keep a call under this size.
_CHUNK_BYTES = 64 * 1024 * 1024
# Tasks per worker of a cluster: each a run of chunks (see _tasks).
_TASKS_PER_WORKER = 8
# Below this many sites, worker processes cost more than they save.
_MIN_SITES_PER_WORKER = 64


@dataclass(frozen=True, eq=False)
class CoverageMatrix:
    """Door-to-door minutes from population units to sites, for pairs within ``max_minutes``.

    Attributes
    ----------
    site_ids
        Id of each row.
    unit_ids
        Id of each column.
    minutes
        CSR ``sites x units``: the minutes from the unit to the site (unit access leg +
        network + site access leg), stored for every pair within ``max_minutes``
        (an explicit 0 is a pair at 0 minutes); absent pairs are farther or unreachable.
    max_minutes
        The largest threshold the matrix answers for.
    """

    site_ids: np.ndarray
    unit_ids: np.ndarray
    minutes: sp.csr_array
    max_minutes: float

    def covers(self, threshold_min: float) -> sp.csr_array:
        """Boolean CSR ``sites x units``: True where the unit is within the threshold."""
        if threshold_min > self.max_minutes + 1e-9:
            raise ValueError(f"the matrix was built up to {self.max_minutes} min, not {threshold_min}")
        m = self.minutes
        keep = m.data <= threshold_min
        row_of = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        counts = np.bincount(row_of[keep], minlength=m.shape[0])
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(m.indptr.dtype)
        return sp.csr_array((np.ones(int(keep.sum()), dtype=bool), m.indices[keep], indptr), shape=m.shape)

    def rows(self, site_ids: Sequence[str]) -> np.ndarray:
        """Row positions of the given site ids (an error names unknown ids)."""
        position = {s: i for i, s in enumerate(self.site_ids)}
        unknown = [s for s in site_ids if s not in position]
        if unknown:
            raise InputDataError(f"unknown site ids {unknown[:10]}; the matrix has {len(position)} sites")
        return np.array([position[s] for s in site_ids], dtype=np.int64)


def aligned_values(
    values: Sequence[float] | np.ndarray | pd.Series,
    ids: np.ndarray,
    what: str,
    *,
    rows: str = "units",
    allow_missing: bool = False,
) -> np.ndarray:
    """One number per id (a matrix's ``site_ids`` or ``unit_ids``).

    A Series indexed by the ids is aligned on them (an error names the ids it lacks when
    only some of its labels are ids); anything else is taken in the ids' order.  Values
    must be finite non-negative numbers; with ``allow_missing``, empty (NaN) ones are
    allowed too.  An error names the first id with a value that is not.
    """
    if isinstance(values, pd.Series):
        labels = set(values.index.astype(str))
        if set(ids) <= labels:
            values = values.set_axis(values.index.astype(str)).reindex(ids)
        elif labels & set(ids):  # labelled by ids, but not all of them: a typo, not an order
            missing = [i for i in ids if i not in labels]
            raise InputDataError(f"{what} has no value for {len(missing)} {rows}: {missing[:10]}")
    out = np.asarray(values, dtype=float)
    if out.shape != (len(ids),):
        raise InputDataError(f"{what} has {out.shape} values; the matrix has {len(ids)} {rows}")
    bad = ~np.isfinite(out) | (out < 0)
    if allow_missing:
        bad &= ~np.isnan(out)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputDataError(
            f"{what} must be finite non-negative numbers"
            + ("" if allow_missing else " (no empty values)")
            + f"; {ids[first]} has {out[first]:g}"
        )
    return out


def _rows_of_chunk(bounds: tuple[int, int], shared: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs within the limit for sites ``start:stop``: count per site, unit columns
    (int32) and minutes, row by row (``np.nonzero`` walks rows in order)."""
    start, stop = bounds
    s = shared
    site_access = s["site_access"][start:stop]
    limit = float(s["limit_s"] - site_access.min())
    if limit < 0:  # every site of the chunk is farther than the limit from its own node
        return np.zeros(stop - start, dtype=np.int64), np.empty(0, dtype=np.int32), np.empty(0)
    dist = np.atleast_2d(dijkstra(s["reverse"], directed=True, indices=s["site_nodes"][start:stop], limit=limit))
    seconds = dist[:, s["unit_nodes"]] + s["unit_access"][None, :] + site_access[:, None]
    rows, cols = np.nonzero(seconds <= s["limit_s"])
    counts = np.bincount(rows, minlength=stop - start)
    return counts, s["unit_positions"][cols].astype(np.int32), seconds[rows, cols] / 60.0


def _rows_of_chunks(
    chunks: list[tuple[int, int]], shared: dict[str, Any]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_rows_of_chunk` of several chunks in turn: one task of a cluster."""
    return [_rows_of_chunk(chunk, shared) for chunk in chunks]


def _tasks(bounds: list[tuple[int, int]], client: Client) -> list[list[tuple[int, int]]]:
    """Chunks grouped into tasks: about :data:`_TASKS_PER_WORKER` per worker thread, so that each
    task lasts long enough for the scheduler's round trips not to count, and the workers
    still share the end of the work."""
    workers = max(1, sum(client.nthreads().values()))  # one task at a time per worker thread
    n = min(len(bounds), _TASKS_PER_WORKER * workers)
    edges = np.linspace(0, len(bounds), n + 1).round().astype(int)
    return [bounds[a:b] for a, b in itertools.pairwise(edges) if b > a]


def _searched(
    shared: dict[str, Any], bounds: list[tuple[int, int]], client: Client | None, workers: int, bar: tqdm
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every chunk's pairs, in chunk order: in this process, on ``client``'s cluster, or on
    a local cluster of ``workers`` processes started for this call."""
    results: list[Any] = []

    def keep(i: int, done: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        results.extend(done)  # tasks come back in order
        bar.update(sum(len(counts) for counts, _, _ in done))

    def on(cluster: Client) -> None:
        run_blocks(cluster, _rows_of_chunks, shared, _tasks(bounds, cluster), on_result=keep)

    if client is not None:
        on(client)
    elif workers > 1:
        with dask_cluster(workers=workers) as local:
            on(local)
    else:
        for chunk in bounds:
            keep(0, [_rows_of_chunk(chunk, shared)])
    return results


def coverage_matrix(
    network: RoutingNetwork,
    site_node_index: np.ndarray,
    site_access_s: np.ndarray,
    unit_node_index: np.ndarray,
    unit_access_s: np.ndarray,
    max_minutes: float,
    *,
    site_ids: Sequence[str] | np.ndarray,
    unit_ids: Sequence[str] | np.ndarray,
    workers: int | None = None,
    client: Client | None = None,
    progress: bool = False,
) -> CoverageMatrix:
    """Minutes from every unit to every site within ``max_minutes``.

    Parameters
    ----------
    network
        Compiled network.
    site_node_index, site_access_s
        Matrix index of each site's node (``-1`` for a site off the network: its row
        stays empty) and its access leg in seconds.
    unit_node_index, unit_access_s
        The same for the population units (``-1``: the unit is never covered).
    max_minutes
        Largest threshold; pairs farther than this are not stored.
    site_ids, unit_ids
        Labels of the rows and columns.
    workers
        Start a Dask ``LocalCluster`` of this many processes for this call (only with 64
        sites or more per process: below that the start-up costs more than it saves).
        Default: this process, or the cluster of an enclosing
        :func:`coverage.cluster.dask_cluster` block.
    client
        A ``distributed.Client`` whose cluster runs the searches: the compiled graph is
        sent once to each worker, and blocks of sites are searched there.  The matrix is
        the same, pair for pair, as in one process.
    progress
        Show a progress bar (on a terminal only).
    """
    site_nodes = np.asarray(site_node_index, dtype=np.int64)
    site_access = np.asarray(site_access_s, dtype=float)
    unit_nodes = np.asarray(unit_node_index, dtype=np.int64)
    unit_access = np.asarray(unit_access_s, dtype=float)
    if not max_minutes > 0:
        raise InputDataError(f"the threshold must be positive, got {max_minutes} min")
    n_sites, n_units = len(site_nodes), len(unit_nodes)
    on_sites = np.flatnonzero(site_nodes >= 0)
    on_units = np.flatnonzero(unit_nodes >= 0)
    limit_s = max_minutes * 60.0
    counts = np.zeros(n_sites, dtype=np.int64)
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    if len(on_sites) and len(on_units):
        state = {
            "reverse": network.reverse_matrix,
            "site_nodes": site_nodes[on_sites],
            "site_access": site_access[on_sites],
            "unit_nodes": unit_nodes[on_units],
            "unit_access": unit_access[on_units],
            "unit_positions": on_units,
            "limit_s": limit_s,
        }
        chunk = int(max(1, min(64, _CHUNK_BYTES // (8 * network.n_nodes))))
        bounds = [(a, min(a + chunk, len(on_sites))) for a in range(0, len(on_sites), chunk)]
        client = client if client is not None else current_client()
        local = 1 if workers is None else checked_workers(workers)
        # a cluster started for one call pays its start-up only for many sites per worker
        local = max(1, min(local, len(on_sites) // _MIN_SITES_PER_WORKER, len(bounds)))
        bar = tqdm(total=len(on_sites), desc="coverage matrix", unit="site", disable=not progress or None)
        try:
            results = _searched(state, bounds, client, local, bar)
        finally:
            bar.close()
        for (start, stop), (chunk_counts, chunk_cols, chunk_vals) in zip(bounds, results, strict=True):
            counts[on_sites[start:stop]] = chunk_counts  # chunks in site order: the pairs come sorted
            cols.append(chunk_cols)
            vals.append(chunk_vals)
        del results
    nnz = int(counts.sum())
    index_type = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_sites + 1, dtype=index_type)
    np.cumsum(counts, out=indptr[1:])
    minutes = sp.csr_array(
        (
            np.concatenate(vals) if vals else np.empty(0),
            np.concatenate(cols).astype(index_type, copy=False) if cols else np.empty(0, dtype=index_type),
            indptr,
        ),
        shape=(n_sites, n_units),
    )
    return CoverageMatrix(
        site_ids=np.asarray([str(i) for i in site_ids], dtype=object),  # ids are text everywhere
        unit_ids=np.asarray([str(i) for i in unit_ids], dtype=object),
        minutes=minutes,
        max_minutes=float(max_minutes),
    )


def analysis_matrix(
    analysis: GapAnalysis,
    new_sites: gpd.GeoDataFrame,
    max_minutes: float,
    *,
    id_column: str,
    new_first: bool,
    what: str,
    workers: int | None = None,
    progress: bool = False,
    outside: gpd.GeoDataFrame | None = None,
) -> CoverageMatrix:
    """The matrix of an analysis' units against its facilities and ``new_sites``.

    ``outside``: more population units (``unit_id``, points), joined to the network like
    the analysis' units and put after them (e.g. the people around the territory, whose
    demand competes for its doctors); their ids must differ from the analysis' units'.

    ``new_sites`` (points with ids in ``id_column``) are joined to the network with the
    analysis' snapping parameters; their ``node``, ``access_minutes`` and
    ``snap_distance_m`` columns are set in place.  Rows: the new sites then the
    facilities when ``new_first``, else the facilities then the new sites; a site or
    unit off the network has an empty row or column.  Siting
    (:func:`coverage.planning.plan_sites`) and the accessibility study
    (:func:`coverage.access_study.study_access`) both build their matrix here.
    """
    from coverage.snapping import snap_points

    def snapped(points: gpd.GeoDataFrame, what: str, labels: pd.Index) -> Snapping:
        config = analysis.config
        return snap_points(
            points,
            analysis.network,
            access_speed_kph=config.access_speed_kph,
            max_snap_m=config.max_snap_m,
            what=what,
            labels=labels,
        )

    new_nodes = np.empty(0, dtype=np.int64)
    new_access = np.empty(0, dtype=float)
    if len(new_sites):
        snap = snapped(new_sites, what, pd.Index(new_sites[id_column]))
        new_sites["node"] = pd.array(snap.node, dtype=object)
        new_sites["access_minutes"] = snap.access_seconds / 60.0
        new_sites["snap_distance_m"] = snap.snap_distance_m
        new_nodes, new_access = snap.node_index, np.nan_to_num(snap.access_seconds)
    fac_nodes, fac_access = _snapped(analysis.network, analysis.facilities)
    unit_nodes, unit_access = _snapped(analysis.network, analysis.units)
    unit_ids = analysis.units["unit_id"].astype(str).to_numpy()
    if outside is not None and len(outside):
        ids = outside["unit_id"].astype(str)
        if clash := sorted(set(ids) & set(unit_ids)):
            raise InputDataError(f"units around the territory with the ids of its own units: {', '.join(clash[:10])}")
        snap = snapped(outside, "units around the territory", pd.Index(ids))
        unit_nodes = np.concatenate([unit_nodes, snap.node_index])
        unit_access = np.concatenate(
            [unit_access, np.where(snap.node_index >= 0, np.nan_to_num(snap.access_seconds), 0.0)]
        )
        unit_ids = np.concatenate([unit_ids, ids.to_numpy()])
    fac_ids = analysis.facilities["facility_id"].astype(str).to_numpy()
    new_ids = new_sites[id_column].to_numpy() if len(new_sites) else np.empty(0, dtype=object)
    groups = [(new_nodes, new_access, new_ids), (fac_nodes, fac_access, fac_ids)]
    if not new_first:
        groups.reverse()
    return coverage_matrix(
        analysis.network,
        np.concatenate([g[0] for g in groups]),
        np.concatenate([g[1] for g in groups]),
        unit_nodes,
        unit_access,
        max_minutes,
        site_ids=np.concatenate([g[2] for g in groups]),
        unit_ids=unit_ids,
        workers=workers,
        progress=progress,
    )


def _snapped(network: RoutingNetwork, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Matrix index of each row's node (-1 off the network) and its access leg in seconds."""
    nodes = network.indices_of(frame["node"])
    access = frame["access_minutes"].to_numpy(dtype=float) * 60.0
    return nodes, np.where(nodes >= 0, access, 0.0)
