"""Finding a column by any of its usual names, with an error that says what is there."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from typing import Literal, overload

from coverage.errors import InputDataError

__all__ = ["find_column"]


@overload
def find_column(
    columns: Sequence[str], wanted: str | Sequence[str], *, where: str, required: Literal[True] = ...
) -> str: ...


@overload
def find_column(columns: Sequence[str], wanted: str | Sequence[str], *, where: str, required: bool) -> str | None: ...


def find_column(
    columns: Sequence[str], wanted: str | Sequence[str], *, where: str, required: bool = True
) -> str | None:
    """The column matching one of ``wanted``, or an error.

    Names are compared case-insensitively; failing that, also ignoring accents and
    taking spaces, hyphens, dots and underscores alike (``"Code INSEE"`` is
    ``code_insee``, ``"Département"`` is ``departement``), as spreadsheets name columns.
    The error lists the columns present and suggests the closest name.
    """
    candidates = [wanted] if isinstance(wanted, str) else list(wanted)
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name.lower() in lower:
            return lower[name.lower()]
    loose: dict[str, str] = {}
    for column in columns:
        loose.setdefault(_loose(column), column)
    for name in candidates:
        if _loose(name) in loose:
            return loose[_loose(name)]
    if not required:
        return None
    close = difflib.get_close_matches(candidates[0].lower(), list(lower), n=1, cutoff=0.6)
    hint = f" Did you mean {lower[close[0]]!r}?" if close else ""
    expected = " or ".join(repr(c) for c in candidates)
    raise InputDataError(f"{where}: no column {expected}; columns are {list(columns)}.{hint}")


def _loose(name: str) -> str:
    """A column name without accents, case, or the separators spreadsheets vary."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return re.sub(r"[\s\-_.]+", "_", plain.strip().lower()).strip("_")
