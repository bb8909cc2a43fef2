"""What counts as a number in a setting: finite, and not a boolean."""

from __future__ import annotations

import math

__all__ = ["is_number"]


def is_number(value: object) -> bool:
    """True for a finite int or float; False for booleans (TOML ``true`` is not 1), text,
    NaN, infinities and integers too large for a float (TOML accepts them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
