"""The CRS in which distances are measured: projected, in metres, and true over the territory.

Every length, snapping distance and isochrone band is measured in the analysis'
metric CRS.  A geographic CRS (degrees) or one whose scale is far from 1 over the
territory gives wrong minutes without any error: in EPSG:4326 a degree counts as a
metre and everyone looks "covered"; in Web Mercator (EPSG:3857) distances in France
come out about 45 % too long.  :func:`parse_metric_crs` refuses the first kind as soon as
the setting is read; :func:`check_scale` refuses the second once the territory is
known, before any search.
"""

from __future__ import annotations

import numpy as np
from pyproj import CRS, Proj, Transformer
from pyproj.exceptions import CRSError

from coverage.errors import InputDataError

__all__ = ["MAX_SCALE_ERROR", "check_scale", "parse_metric_crs"]

#: Largest relative error of lengths accepted over the territory (1 %).  Lambert-93
#: stays within 0.3 % over metropolitan France, a UTM zone within 0.1 % over a region
#: and LAEA Europe (EPSG:3035) within 0.3 %; Web Mercator is off by 35-60 %.
MAX_SCALE_ERROR = 0.01

_ADVICE = "use a projection made for the territory, e.g. EPSG:2154 (Lambert-93) for metropolitan France"
# Points at which the scale is checked: enough to see the extremes of a territory.
_SAMPLE = 2000


def parse_metric_crs(value: object, *, what: str = "metric_crs") -> CRS:
    """``value`` as a pyproj CRS, if it is projected with axes in metres; else InputDataError."""
    if isinstance(value, bool) or not isinstance(value, str | int | CRS):
        raise InputDataError(f"{what} must be a CRS code such as 'EPSG:2154', got {value!r}")
    try:
        crs = CRS.from_user_input(value)
    except CRSError:
        raise InputDataError(f"{what}: {value!r} is not a CRS known to PROJ; {_ADVICE}") from None
    if not crs.is_projected:
        kind = "geographic (degrees)" if crs.is_geographic else "not a projected CRS"
        raise InputDataError(f"{what}: {value!r} is {kind}; distances need metres: {_ADVICE}")
    units = {axis.unit_name for axis in crs.axis_info[:2]}
    if units != {"metre"}:
        raise InputDataError(f"{what}: {value!r} measures in {', '.join(sorted(units))}, not metres; {_ADVICE}")
    return crs


def check_scale(
    crs: str | CRS, x: np.ndarray, y: np.ndarray, source_crs: str | CRS, *, what: str = "metric_crs"
) -> None:
    """Refuse ``crs`` if it stretches or shrinks lengths by more than :data:`MAX_SCALE_ERROR`.

    ``x``/``y`` are points of the territory (e.g. the network's nodes) in
    ``source_crs``; the Tissot ellipse of ``crs`` is evaluated at a sample of them
    and at the corners of their bounding box, in every direction (non-conformal
    projections stretch some directions more than others).
    """
    target = parse_metric_crs(crs, what=what)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if len(x) == 0:
        return
    to_lonlat = Transformer.from_crs(CRS.from_user_input(source_crs), "EPSG:4326", always_xy=True)
    lon, lat = (np.asarray(c, dtype=float) for c in to_lonlat.transform(x, y))
    ok = np.isfinite(lon) & np.isfinite(lat)
    lon, lat = lon[ok], lat[ok]
    if len(lon) == 0:
        return
    step = max(1, len(lon) // _SAMPLE)
    corners_lon = np.array([lon.min(), lon.min(), lon.max(), lon.max()])
    corners_lat = np.array([lat.min(), lat.max(), lat.min(), lat.max()])
    lon = np.concatenate([lon[::step], corners_lon])
    lat = np.concatenate([lat[::step], corners_lat])
    factors = Proj(target).get_factors(lon, lat)
    major = np.asarray(factors.tissot_semimajor, dtype=float)
    minor = np.asarray(factors.tissot_semiminor, dtype=float)
    error = np.nanmax(np.maximum(np.abs(major - 1.0), np.abs(minor - 1.0)))
    if not np.isfinite(error) or error > MAX_SCALE_ERROR:
        worst = int(np.nanargmax(np.maximum(np.abs(major - 1.0), np.abs(minor - 1.0))))
        scale = major[worst] if abs(major[worst] - 1.0) >= abs(minor[worst] - 1.0) else minor[worst]
        raise InputDataError(
            f"{what}: {target.to_string()} distorts lengths by up to {error:.0%} over this territory "
            f"(scale {scale:.3f} at {lat[worst]:.2f}°N, {lon[worst]:.2f}°E; at most "
            f"{MAX_SCALE_ERROR:.0%} is accepted); {_ADVICE}"
        )
