"""Analysis settings: a frozen dataclass, read from no file (see :mod:`coverage.io.settings`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from coverage.crs import parse_metric_crs
from coverage.errors import InputDataError
from coverage.numbers import is_number

__all__ = ["DEFAULT_METRIC_CRS", "AnalysisConfig"]

#: Lambert-93: distances in metres for metropolitan France.
DEFAULT_METRIC_CRS = "EPSG:2154"


@dataclass(frozen=True)
class AnalysisConfig:
    """Parameters of a gap analysis.

    Attributes
    ----------
    thresholds_min
        Drive-time thresholds in minutes (10, 20, 30: "France Santé" promises 30,
        DREES's APL counts a GP beyond 20 as inaccessible).
    access_speed_kph
        Speed of the straight access leg between a point and its network node; slow
        on purpose, for the local streets the network lacks.
    max_snap_m
        Points farther than this from the network are flagged unreachable.
    metric_crs
        CRS in which distances are measured (Lambert-93 for metropolitan France): a
        projected CRS in metres (checked here); its scale over the territory is
        checked when the network is built (:mod:`coverage.crs`).
    isochrone_buffer_m
        Half-width of the band drawn around the roads reached in isochrones.
    isochrones
        Compute isochrone polygons (the slowest step on large networks).
    zone_label
        What the planner's own areas are called (a CPTS, a contrat local de santé, a
        bassin de vie): the ``zone`` level of the area tables
        (:func:`coverage.io.areas.with_planner_areas`), as titles and layers name it.
    """

    thresholds_min: tuple[float, ...] = (10.0, 20.0, 30.0)
    access_speed_kph: float = 30.0
    max_snap_m: float = 5000.0
    metric_crs: str = DEFAULT_METRIC_CRS
    isochrone_buffer_m: float = 500.0
    isochrones: bool = True
    zone_label: str = "zone"

    def __post_init__(self) -> None:
        try:
            if isinstance(self.thresholds_min, str | bytes) or any(isinstance(t, bool) for t in self.thresholds_min):
                raise TypeError("text or booleans")
            thresholds = tuple(float(t) for t in self.thresholds_min)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InputDataError(f"thresholds must be numbers of minutes, got {self.thresholds_min!r}") from exc
        if not thresholds or any(not (math.isfinite(t) and t > 0) for t in thresholds):
            raise InputDataError(f"thresholds must be positive minutes, got {self.thresholds_min}")
        object.__setattr__(self, "thresholds_min", tuple(sorted(set(thresholds))))
        for name in ("access_speed_kph", "max_snap_m", "isochrone_buffer_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputDataError(f"{name} must be a number, got {value!r}")
        parse_metric_crs(self.metric_crs)
        if not self.access_speed_kph > 0:
            raise InputDataError(f"access_speed_kph must be positive, got {self.access_speed_kph}")
        if not self.max_snap_m >= 0:
            raise InputDataError(f"max_snap_m must be >= 0, got {self.max_snap_m}")
        if not self.isochrone_buffer_m > 0:
            raise InputDataError(f"isochrone_buffer_m must be positive, got {self.isochrone_buffer_m}")
        for name in ("access_speed_kph", "max_snap_m", "isochrone_buffer_m"):
            if not is_number(getattr(self, name)):
                raise InputDataError(f"{name} must be a finite number, got {getattr(self, name)!r}")
        if not isinstance(self.zone_label, str) or not 0 < len(self.zone_label.strip()) <= 60:
            raise InputDataError(f"zone_label must be a name of 1 to 60 characters, got {self.zone_label!r}")
        if not isinstance(self.isochrones, bool):
            raise InputDataError(f"isochrones must be true or false, got {self.isochrones!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
