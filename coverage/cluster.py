"""Searches past one process: blocks of sites run on a Dask cluster (dask.distributed).

The steps whose cost grows with sites x network (the coverage matrix, and through it
the floating catchment and the siting models) are bounded searches from each site.
:func:`run_blocks` sends what every block needs (the compiled graph, the units' nodes)
once to each worker, runs the blocks there and gives their results back in block order,
so that the caller assembles exactly what one process would.

A cluster is chosen with :func:`dask_cluster`::

    with coverage.dask_cluster(workers=2):          # a LocalCluster on this machine
        plan = coverage.plan_sites(result, candidates, options)
    with coverage.dask_cluster(scheduler="tcp://10.0.0.5:8786"):   # an existing cluster
        ...

or by passing a ``distributed.Client`` as ``client=`` to
:func:`coverage.matrix.coverage_matrix`.  Outside such a block everything runs in the
calling process.  Dask is imported only here, and only when a cluster is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from coverage.errors import CoverageError, InputDataError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["checked_workers", "current_client", "dask_cluster", "dask_cluster_when_needed", "run_blocks"]

logger = logging.getLogger(__name__)

_CLIENT: ContextVar[Client | _Pending | None] = ContextVar("coverage_dask_client", default=None)

#: Seconds to wait for an existing scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 20.0


class _Pending:
    """A cluster asked for but not yet started: it starts on the first search that needs it."""

    def __init__(self, workers: int | None, scheduler: str | None) -> None:
        self.workers, self.scheduler = workers, scheduler
        self.context: Any = None
        self.client: Client | None = None

    def get(self) -> Client:
        if self.client is None:
            self.context = dask_cluster(self.workers, self.scheduler)
            self.client = self.context.__enter__()
        return self.client

    def close(self) -> None:
        """Close the cluster if it was started (a later search would start it again)."""
        if self.context is not None:
            context, self.context, self.client = self.context, None, None
            context.__exit__(None, None, None)


def current_client() -> Client | None:
    """The Dask client of the innermost :func:`dask_cluster` block (started now if the
    block is a :func:`dask_cluster_when_needed` one), or None."""
    found = _CLIENT.get()
    return found.get() if isinstance(found, _Pending) else found


@contextmanager
def dask_cluster_when_needed(workers: int | None = None, scheduler: str | None = None) -> Iterator[_Pending | None]:
    """As :func:`dask_cluster`, but the cluster is started (or reached) only when a search
    first needs it, and not at all by a run that does none: the command line's
    ``--workers`` and ``--scheduler``, so that bad input is refused before any start-up.
    ``workers`` of 1 (or neither argument) runs everything in this process (and yields
    None).  The object yielded has ``close()``, to close the cluster before the end of the
    block once no more searches are coming (before forking processes to write files)."""
    if workers is not None:
        checked_workers(workers)
    if scheduler is None and (workers is None or workers == 1):
        yield None
        return
    if workers is not None and scheduler is not None:
        raise InputDataError("give either a number of local workers or a scheduler address, not both")
    pending = _Pending(workers, scheduler)
    token = _CLIENT.set(pending)
    try:
        yield pending
    finally:
        pending.close()  # resets the client it set, back to the pending one
        _CLIENT.reset(token)


def checked_workers(workers: object) -> int:
    """A number of worker processes: a whole number, 1 or more (else one clear line)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputDataError(f"workers = {workers!r}; expected a whole number of worker processes, 1 or more")
    return workers


@contextmanager
def dask_cluster(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    memory_limit: str | float | None = "auto",
) -> Iterator[Client]:
    """Run the searches of the enclosed calls on a Dask cluster.

    Parameters
    ----------
    workers
        Start a ``LocalCluster`` of this many worker processes (one thread each) on this
        machine, closed when the block ends.
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``) to use instead; its
        workers need this package installed at the same version.
    memory_limit
        Memory limit of each local worker (Dask's ``memory_limit``; ``"auto"``: the
        machine's memory shared equally).

    Yields
    ------
    distributed.Client
        The client; the enclosed calls find it through :func:`current_client`.
    """
    if (workers is None) == (scheduler is None):
        raise InputDataError("dask_cluster: give either workers (a local cluster) or scheduler (an address)")
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise CoverageError(f"Dask is not installed ({exc}); pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise CoverageError(f"could not reach the Dask scheduler at {scheduler!r}: {exc}") from None
    else:
        n = checked_workers(workers)
        logger.info("starting a Dask LocalCluster of %d worker processes", n)
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port (None falls back to :8787)
            memory_limit=memory_limit,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster, set_as_default=False)
    token = _CLIENT.set(client)
    try:
        yield client
    finally:
        _CLIENT.reset(token)
        client.close()
        if cluster is not None:
            cluster.close()


def run_blocks(
    client: Client,
    function: Callable[..., Any],
    shared: dict[str, Any],
    blocks: Sequence[Any],
    *,
    on_result: Callable[[int, Any], None],
) -> None:
    """``function(block, shared)`` for every block, on the cluster's workers.

    ``shared`` is sent once to every worker (``scatter(broadcast=True)``), not with each
    block.  ``on_result(i, result)`` is called in this process for each block in turn
    (``i``: its position), and the block's copy on the cluster is then released, so that
    results are never all held twice.  A block that fails raises its error here, and the remaining ones are cancelled.
    """
    if not blocks:
        return
    (state,) = client.scatter([shared], broadcast=True, hash=False)
    futures = client.map(function, list(blocks), shared=state, pure=False)
    try:
        for i, future in enumerate(futures):  # the scheduler runs them about in this order
            on_result(i, future.result())
            future.release()
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        client.cancel([state])
