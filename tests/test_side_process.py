"""The map and the network file written by a forked process beside the rest of the outputs:
the same files as when everything is written in one process, and a failure there is a
failure of the run (raised here, with its message; nothing moved into place)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import facilities_at, make_graph, units_at

import coverage
import coverage.outputs.write as write_module
from coverage import write_analysis


@pytest.fixture(scope="module")
def result() -> coverage.GapAnalysis:
    graph = make_graph({"a": (0, 0), "b": (1000, 0), "c": (2000, 500)}, [("a", "b", 120.0), ("b", "c", 200.0)])
    return coverage.analyse(
        graph,
        facilities_at({"F1": (0, 0)}),
        units_at({"u1": (0, 0), "u2": (1000, 0), "u3": (2100, 500)}, [10.0, 20.0, 5.0]),
        coverage.AnalysisConfig(thresholds_min=(3.0, 6.0), isochrones=False),
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_ids(page: bytes) -> str:
    """The page without the random element ids folium draws for each run."""
    return re.sub(r"[0-9a-f]{32}", "ID", page.decode("utf-8"))


def test_the_same_files_with_the_side_process(
    result: coverage.GapAnalysis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(result.units) < write_module._MIN_UNITS_FOR_A_SIDE_PROCESS
    starts = []
    real = write_module._SideProcess

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            starts.append(os.getpid())
            super().__init__()

    monkeypatch.setattr(write_module, "_SideProcess", Counting)
    write_analysis(result, tmp_path / "one", map=True)
    assert starts == []  # a small case: one process
    monkeypatch.setattr(write_module, "_MIN_UNITS_FOR_A_SIDE_PROCESS", 1)
    write_analysis(result, tmp_path / "two", map=True)
    assert starts == [os.getpid()]
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert sorted(one) == sorted(two)
    assert {"map.html", "network.graphml", "run.json", "tables.xlsx"} <= set(two)
    assert one["network.graphml"] == two["network.graphml"]
    assert _without_ids(one["map.html"]) == _without_ids(two["map.html"])
    for name in one:
        if name.endswith(".csv"):
            assert one[name] == two[name], name


def test_a_failure_in_the_side_process_fails_the_run(
    result: coverage.GapAnalysis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_module, "_MIN_UNITS_FOR_A_SIDE_PROCESS", 1)

    def broken(graph: object, path: Path) -> None:
        Path(path).write_text("<graphml half written", "utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(write_module, "save_graphml", broken)
    with pytest.raises(OSError, match="No space left") as caught:
        write_analysis(result, tmp_path / "out", map=True)
    # the folder's writer says which folder it could not write; the cause says where it failed
    assert "could not write the output folder" in str(caught.value)
    notes = getattr(caught.value.__cause__, "__notes__", [])
    assert any("process writing map.html" in note and "in broken" in note for note in notes)
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone, nothing in place


def test_a_side_process_that_dies_fails_the_run(
    result: coverage.GapAnalysis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_module, "_MIN_UNITS_FOR_A_SIDE_PROCESS", 1)
    monkeypatch.setattr(write_module, "save_graphml", lambda graph, path: os._exit(3))
    with pytest.raises(RuntimeError, match=r"ended without a word \(exit code 3\)"):
        write_analysis(result, tmp_path / "out", map=True)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_here_stops_the_side_process(
    result: coverage.GapAnalysis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_module, "_MIN_UNITS_FOR_A_SIDE_PROCESS", 1)
    processes = []
    real = write_module._SideProcess

    class Kept(real):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            processes.append(self._process)

    def slow(graph: object, path: Path) -> None:
        import time

        time.sleep(60)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(write_module, "_SideProcess", Kept)
    monkeypatch.setattr(write_module, "save_graphml", slow)
    monkeypatch.setattr(write_module, "write_workbook", broken)
    with pytest.raises(OSError, match="disk full"):
        write_analysis(result, tmp_path / "out", map=True)
    assert len(processes) == 1 and not processes[0].is_alive()  # stopped, not waited for
    assert list(tmp_path.iterdir()) == []
