"""Deprecated: the web map is :func:`coverage.gap_map` (module :mod:`coverage.outputs.webmap`).

Kept for one release so that notebooks written with ``from coverage.maps import gap_map``
still run; importing it warns.
"""

import warnings

from coverage.outputs.webmap import gap_map

warnings.warn(
    "coverage.maps moved to coverage.outputs.webmap; use coverage.gap_map (the old module goes in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["gap_map"]
