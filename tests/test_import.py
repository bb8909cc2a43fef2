"""`import coverage` must load this package, never coverage.py (same import name)."""

from pathlib import Path

import coverage


def test_import_name_is_this_package() -> None:
    assert Path(coverage.__file__).resolve().parent == Path(__file__).resolve().parents[1] / "coverage"
    assert hasattr(coverage, "analyse")
    assert not hasattr(coverage, "Coverage")  # coverage.py's main class


def test_public_surface_is_explicit() -> None:
    for name in coverage.__all__:
        assert hasattr(coverage, name), name


def test_error_hierarchy_subclasses_builtins() -> None:
    assert issubclass(coverage.InputDataError, ValueError)
    assert issubclass(coverage.InputDataError, coverage.CoverageError)
    assert issubclass(coverage.InputFileNotFoundError, FileNotFoundError)
    assert issubclass(coverage.OutputExistsError, FileExistsError)
