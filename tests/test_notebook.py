"""The tutorial notebook: stripped in git, runs without error, and agrees with the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from coverage.cli import main

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "gap_analysis_centre_val_de_loire.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.regional
def test_notebook_runs_and_matches_the_cli(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("COVERAGE_DATA_DIR", str(data_dir))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    figures = json.loads(nb.cells[-1].outputs[0]["text"])

    out = tmp_path / "cli"
    communes = ["--population-units", "communes", "--road-buffer", "0"]
    assert (
        main(["demo", "--data-dir", str(data_dir), "--out", str(out), "-q", "--no-isochrones", "--no-map", *communes])
        == 0
    )
    summary = pd.read_csv(out / "coverage_summary.csv")
    assert figures["population_total"] == summary["population_total"].iloc[0]
    assert figures["covered"] == {
        f"{t:g}": c for t, c in zip(summary.threshold_min, summary.population_covered, strict=True)
    }
    siting = json.loads((out / "run.json").read_text())["siting"]
    assert figures["new_sites"] == siting["new_sites"]
    assert figures["covered_after"] == siting["population_covered_after"]
