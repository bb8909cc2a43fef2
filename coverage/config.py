"""Analysis settings (a frozen dataclass) and where the regional data are found."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.network import DEFAULT_METRIC_CRS

__all__ = ["DATA_DIR_ENV", "AnalysisConfig", "load_config", "resolve_data_dir"]

#: Environment variable naming the data folder (the layout of shared/data).
DATA_DIR_ENV = "COVERAGE_DATA_DIR"


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
        CRS in which distances are measured (Lambert-93 for metropolitan France).
    isochrone_buffer_m
        Half-width of the band drawn around the roads reached in isochrones.
    isochrones
        Compute isochrone polygons (the slowest step on large networks).
    """

    thresholds_min: tuple[float, ...] = (10.0, 20.0, 30.0)
    access_speed_kph: float = 30.0
    max_snap_m: float = 5000.0
    metric_crs: str = DEFAULT_METRIC_CRS
    isochrone_buffer_m: float = 500.0
    isochrones: bool = True

    def __post_init__(self) -> None:
        try:
            thresholds = tuple(float(t) for t in self.thresholds_min)
        except (TypeError, ValueError) as exc:
            raise InputDataError(f"thresholds must be numbers of minutes, got {self.thresholds_min!r}") from exc
        if not thresholds or any(not (math.isfinite(t) and t > 0) for t in thresholds):
            raise InputDataError(f"thresholds must be positive minutes, got {self.thresholds_min}")
        object.__setattr__(self, "thresholds_min", tuple(sorted(set(thresholds))))
        for name in ("access_speed_kph", "max_snap_m", "isochrone_buffer_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputDataError(f"{name} must be a number, got {value!r}")
        if not self.access_speed_kph > 0:
            raise InputDataError(f"access_speed_kph must be positive, got {self.access_speed_kph}")
        if not self.max_snap_m >= 0:
            raise InputDataError(f"max_snap_m must be >= 0, got {self.max_snap_m}")
        if not self.isochrone_buffer_m > 0:
            raise InputDataError(f"isochrone_buffer_m must be positive, got {self.isochrone_buffer_m}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_config(path: str | Path, **overrides: Any) -> AnalysisConfig:
    """Settings from the ``[analysis]`` table of a TOML file, then ``overrides``."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"configuration {path}: file not found")
    try:
        data = tomllib.loads(path.read_text("utf-8")).get("analysis", {})
    except UnicodeDecodeError as exc:
        raise InputDataError(f"configuration {path}: not UTF-8 text; TOML files must be UTF-8 ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputDataError(f"configuration {path}: not valid TOML ({exc})") from exc
    if not isinstance(data, dict):
        raise InputDataError(f"configuration {path}: 'analysis' must be a table, got {data!r}")
    known = {f.name for f in fields(AnalysisConfig)}
    unknown = set(data) - known
    if unknown:
        raise InputDataError(
            f"configuration {path}: unknown keys {sorted(unknown)} in [analysis]; known: {sorted(known)}"
        )
    data.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(data.get("thresholds_min"), list):
        data["thresholds_min"] = tuple(data["thresholds_min"])
    try:
        return AnalysisConfig(**data)
    except InputDataError as exc:
        raise InputDataError(f"configuration {path}, [analysis]: {exc}") from exc


def resolve_data_dir(explicit: str | Path | None = None) -> Path:
    """The data folder: ``explicit``, else ``$COVERAGE_DATA_DIR``, else ``shared/data``
    beside the checkout (``<checkout>/../shared/data``), else beside the working
    directory (``../shared/data``)."""
    candidates: list[tuple[Path, str]] = []
    if explicit is not None:
        candidates.append((Path(explicit), "--data-dir"))
    elif os.environ.get(DATA_DIR_ENV):
        candidates.append((Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"))
    else:
        checkout = Path(__file__).resolve().parents[1]
        candidates.append((checkout.parent / "shared" / "data", "the folder beside the checkout"))
        candidates.append((Path.cwd().parent / "shared" / "data", "the folder beside the working directory"))
    for path, _ in candidates:
        if path.is_dir():
            return path.resolve()
    tried = "; ".join(f"{p} ({why})" for p, why in candidates)
    raise InputFileNotFoundError(f"data folder not found (tried {tried}); set {DATA_DIR_ENV} or pass --data-dir")
