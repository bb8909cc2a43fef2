"""The command line: parsing, exit codes, and leaving the caller's logging alone."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from coverage.cli import build_parser, main


def test_main_restores_the_coverage_logger(tmp_path: Path) -> None:
    logger = logging.getLogger("coverage")
    before = (logger.handlers[:], logger.level, logger.propagate)
    assert main(["demo", "--data-dir", str(tmp_path / "absent"), "--out", str(tmp_path / "out"), "-q"]) == 2
    assert (logger.handlers[:], logger.level, logger.propagate) == before


def test_refused_output_folder_is_checked_before_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    # the data folder does not exist either: the output folder is what must be reported
    assert main(["demo", "--data-dir", str(tmp_path / "absent"), "--out", str(out)]) == 2
    assert "is not a previous output" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"


def test_thresholds_option_parses_a_list() -> None:
    args = build_parser().parse_args(["demo", "--thresholds", "15,45"])
    assert args.thresholds == (15.0, 45.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--thresholds", "ten"])


def test_output_folder_gets_ordinary_permissions(tmp_path: Path) -> None:
    import os

    from coverage.outputs.files import atomic_output_dir

    umask = os.umask(0o022)
    try:
        with atomic_output_dir(tmp_path / "out") as tmp:
            (tmp / "a.txt").write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
