"""Exceptions raised by the library.

Every error derives from :class:`CoverageError`; the ones about input data also derive
from the built-in exception a caller would expect (``ValueError``, ``FileNotFoundError``),
so ``except ValueError`` keeps working in code that does not know this library.
"""

from __future__ import annotations

__all__ = [
    "CoverageError",
    "DownloadError",
    "InputDataError",
    "InputFileNotFoundError",
    "NoFacilityReachableError",
    "OutputExistsError",
    "UnknownRoadClassError",
]


class CoverageError(Exception):
    """Root of every error raised on purpose by this library."""


class InputDataError(ValueError, CoverageError):
    """An input file or table is not what was expected.

    The message names the file, the row or field and what was expected.
    """


class InputFileNotFoundError(FileNotFoundError, InputDataError):
    """An input path does not exist."""


class UnknownRoadClassError(InputDataError):
    """Road classes were found for which the speed profile has no speed."""

    def __init__(self, message: str, unknown: dict[str, int]) -> None:
        super().__init__(message)
        self.unknown = unknown


class OutputExistsError(FileExistsError, CoverageError):
    """The output folder exists and is not a previous output of this tool."""


class NoFacilityReachableError(InputDataError):
    """No facility could be placed on the road network."""


class DownloadError(ConnectionError, CoverageError):
    """A server the command needs (OpenStreetMap's Overpass, Nominatim) cannot be reached."""
