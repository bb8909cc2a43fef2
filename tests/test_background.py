"""Work in a forked process beside this one: its value or its error handed back, its death
reported, stopped when this side fails; and the isochrones drawn that way are the ones
the analysis draws itself."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest
import shapely
from conftest import facilities_at, make_graph, units_at

import coverage
from coverage.analysis import facility_isochrones, isochrones_beside, with_isochrones_from
from coverage.background import Forked


def _square(x: int) -> int:
    return x * x


def _pool_sum(n: int) -> int:
    """Starts processes of its own: a daemon process could not."""
    with ProcessPoolExecutor(2) as pool:
        return sum(pool.map(_square, range(n)))


def _fails() -> None:
    raise ValueError("bad row 7")


def test_the_value_comes_back_and_a_non_daemon_may_start_processes() -> None:
    big = list(range(200_000))  # inherited, not sent; the value comes back through the pipe
    job = Forked(lambda: sum(big) + os.getpid(), what="summing")
    child = job.result() - sum(big)
    assert child != os.getpid()
    # 0 + 1 + 4 + 9 + 16 = 30
    assert Forked(_pool_sum, 5, what="pooling", daemon=False).result() == 30


def test_an_error_there_is_raised_here_with_its_traceback() -> None:
    job = Forked(_fails, what="reading rows")
    with pytest.raises(ValueError, match="bad row 7") as caught:
        job.result()
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "raised in the process reading rows" in notes and "_fails" in notes


def test_a_death_without_a_word_names_its_exit_code() -> None:
    job = Forked(os._exit, 5, what="dying")
    with pytest.raises(RuntimeError, match=r"the process dying ended without a word \(exit code 5\)"):
        job.result()


def test_a_value_that_cannot_travel_is_an_error_naming_it() -> None:
    job = Forked(lambda: lambda: None, what="returning a function")
    with pytest.raises(RuntimeError, match=r"PicklingError|AttributeError|Can.t pickle"):
        job.result()


def test_stop_ends_a_process_still_running() -> None:
    job = Forked(time.sleep, 60, what="sleeping")
    start = time.perf_counter()
    job.stop()
    assert not job._process.is_alive() and time.perf_counter() - start < 30


class _Unwound(BaseException):
    pass


def _unwind(signum: int, frame: object) -> None:
    raise _Unwound


def test_stop_is_quiet_under_a_sigterm_handler_that_raises(capfd: pytest.CaptureFixture[str]) -> None:
    # the command line unwinds a run on SIGTERM; the forked process must not inherit that
    # (it printed a traceback when stopped): it ends by the signal, silently
    previous = signal.signal(signal.SIGTERM, _unwind)
    try:
        job = Forked(time.sleep, 60, what="sleeping")
        time.sleep(0.5)  # the child is in time.sleep, past _run's first lines
        job.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert job._process.exitcode == -signal.SIGTERM
    assert "Traceback" not in capfd.readouterr().err


def test_isochrones_drawn_beside_are_the_analysis_own() -> None:
    graph = make_graph(
        {"a": (0, 0), "b": (1000, 0), "c": (2000, 500), "d": (0, 1500)},
        [("a", "b", 120.0), ("b", "c", 200.0), ("a", "d", 150.0)],
    )
    facilities = facilities_at({"F1": (0, 0), "F2": (2000, 500)})
    units = units_at({"u1": (0, 0), "u2": (1000, 0), "u3": (2100, 500)}, [10.0, 20.0, 5.0])
    config = coverage.AnalysisConfig(thresholds_min=(2.0, 5.0), isochrone_buffer_m=100.0)
    whole = coverage.analyse(graph, facilities, units, config)
    without = coverage.analyse(graph, facilities, units, replace(config, isochrones=False))
    assert len(without.isochrones) == 0
    assert isochrones_beside(without) is None  # its config asks for none
    asked = replace(without, config=config)
    job = isochrones_beside(asked)
    assert job is not None
    later = with_isochrones_from(asked, job)
    assert len(whole.isochrones) == 4  # two facilities, two thresholds
    assert later.isochrones[["facility_id", "threshold_min", "name", "type"]].equals(
        whole.isochrones[["facility_id", "threshold_min", "name", "type"]]
    )
    assert shapely.equals_exact(later.isochrones.geometry.values, whole.isochrones.geometry.values, 1e-9).all()
    assert later.timings["isochrones"] >= 0
    # and as facility_isochrones draws them in this process
    here = facility_isochrones(asked, workers=1)
    assert shapely.equals_exact(here.geometry.values, whole.isochrones.geometry.values, 1e-9).all()
