"""Settings files: the TOML configuration, speed profiles, scenario files, age tables,
and where the data folder is.

Every reader here checks its file and names it in its errors; the settings themselves are
frozen dataclasses of the engine (:class:`~coverage.config.AnalysisConfig`,
:class:`~coverage.speeds.SpeedProfile`, :class:`~coverage.scenarios.AccessSettings`,
:class:`~coverage.scenarios.Scenario`), which read no file.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from coverage.accessibility import ContinuousDecay, parse_bands
from coverage.config import AnalysisConfig
from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.io._common import read_csv
from coverage.scenarios import AccessSettings, Addition, Pool, Scenario, check_priority_line
from coverage.speeds import SpeedProfile, profile_from_mapping

__all__ = [
    "DATA_DIR_ENV",
    "load_config",
    "load_scenario",
    "load_speed_profile",
    "read_age_table",
    "resolve_data_dir",
]

#: Environment variable naming the data folder (the layout of shared/data).
DATA_DIR_ENV = "COVERAGE_DATA_DIR"

logger = logging.getLogger(__name__)


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed TOML file, or one clear error naming ``what`` and the file."""
    if not path.exists():
        raise InputFileNotFoundError(f"{what} {path}: file not found")
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{what} {path}: not UTF-8 text; TOML files must be UTF-8 ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputDataError(f"{what} {path}: not valid TOML ({exc})") from exc


def load_config(path: str | Path, **overrides: Any) -> AnalysisConfig:
    """Settings from the ``[analysis]`` table of a TOML file, then ``overrides``."""
    path = Path(path)
    data = _read_toml(path, "configuration").get("analysis", {})
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
        checkout = Path(__file__).resolve().parents[2]
        candidates.append((checkout.parent / "shared" / "data", "the folder beside the checkout"))
        candidates.append((Path.cwd().parent / "shared" / "data", "the folder beside the working directory"))
    for path, _ in candidates:
        if path.is_dir():
            return path.resolve()
    tried = "; ".join(f"{p} ({why})" for p, why in candidates)
    raise InputFileNotFoundError(f"data folder not found (tried {tried}); set {DATA_DIR_ENV} or pass --data-dir")


def load_speed_profile(path: str | Path | None = None) -> SpeedProfile:
    """Load the built-in French profile, overridden by the TOML file at ``path``.

    The override file has the layout of ``coverage/profiles/france.toml``; each key it
    sets replaces the built-in value, and its ``[classes]`` patterns are tried before
    the built-in ones.
    """
    base = tomllib.loads(resources.files("coverage.profiles").joinpath("france.toml").read_text("utf-8"))
    if path is None:
        return profile_from_mapping(base, "built-in profile france.toml")
    path = Path(path)
    source = f"speed profile {path}"
    override = _read_toml(path, "speed profile")
    for key in ("speeds_kph", "classes", "maxspeed_implicit"):
        if key in override and not isinstance(override[key], dict):
            raise InputDataError(f"{source}: [{key}] must be a table, got {override[key]!r}")
    own_classes = override.get("classes", {})
    merged = {
        **{k: v for k, v in override.items() if k not in {"speeds_kph", "classes", "maxspeed_implicit"}},
        "name": override.get("name", f"{base['name']} + {path.name}"),
        "speeds_kph": {**base["speeds_kph"], **override.get("speeds_kph", {})},
        "classes": {**own_classes, **{k: v for k, v in base["classes"].items() if k not in own_classes}},
        "maxspeed_implicit": {**base["maxspeed_implicit"], **override.get("maxspeed_implicit", {})},
    }
    return profile_from_mapping(merged, source)


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputDataError(f"{where}: [{key}] must be a table, got {value!r}")
    return value


def _check_keys(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise InputDataError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")


def load_scenario(path: str | Path) -> tuple[AccessSettings, Scenario]:
    """Settings and scenario from a TOML file (every table optional)::

    [accessibility]               # AccessSettings; bands as [[minutes, weight], ...]
    bands = [[10, 1.0], [15, 0.67], [20, 0.33]]
    # or a continuous decay: decay = { shape = "gaussian", max_minutes = 20 }
    measure = "consultations"
    priority_line = 2.5           # priority zones are below it
    supply_column = "n_gp"
    default_supply = 2
    age_table = "ages.csv"        # relative to the TOML file
    age_id_column = "CODGEO"
    capacity_minutes = 20         # patient lists: doctors with room within 20 min
    patients_per_gp = 960
    [accessibility.age_weights]
    P21_POP0014 = 2.9
    P21_POP75P = 7.1

    [scenario]
    name = "300 salaried GPs"
    [[scenario.add]]              # Addition: facility, commune, or lon/lat
    gps = 3
    commune = "36063"
    [scenario.pool]               # Pool
    gps = 300
    team_size = 3
    min_population = 1000         # town halls of communes of at least 1,000 inhabitants
    schedule = "2021-2028"        # doctors hired each year: the pool spread evenly
    """
    path = Path(path)
    where = f"scenario file {path}"
    data = _read_toml(path, "scenario file")
    _check_keys(data, {"accessibility", "scenario"}, where)

    acc = dict(_table(data, "accessibility", where))
    if "threshold" in acc and "priority_line" not in acc:
        # the name before 0.2: 'threshold' now always means minutes
        logger.warning("%s, [accessibility]: 'threshold' is now called 'priority_line'; please rename it", where)
        check_priority_line(acc["threshold"], name=f"{where}, [accessibility]: threshold")
        acc["priority_line"] = acc.pop("threshold")
    known = {f.name for f in fields(AccessSettings)} | {"bands"}
    _check_keys(acc, known, f"{where}, [accessibility]")
    try:
        if "bands" in acc and "decay" in acc:
            raise InputDataError("give either bands or a continuous decay, not both")
        if "bands" in acc:
            acc["decay"] = parse_bands(acc.pop("bands"))
        elif "decay" in acc:
            decay = acc["decay"]
            if not isinstance(decay, dict) or set(decay) != {"shape", "max_minutes"}:
                raise InputDataError(f"decay must be a table with shape and max_minutes, got {decay!r}")
            acc["decay"] = ContinuousDecay(str(decay["shape"]), decay["max_minutes"])
        if "age_table" in acc:
            acc["age_table"] = (path.parent / str(acc["age_table"])).resolve()
        if "age_weights" in acc and not isinstance(acc["age_weights"], dict):
            raise InputDataError(f"age_weights must be a table of column = weight, got {acc['age_weights']!r}")
        settings = AccessSettings(**acc)
    except (InputDataError, TypeError) as exc:
        raise InputDataError(f"{where}, [accessibility]: {exc}") from exc

    sc = _table(data, "scenario", where)
    _check_keys(sc, {"name", "add", "pool"}, f"{where}, [scenario]")
    additions = []
    adds = sc.get("add", [])
    if not isinstance(adds, list):
        raise InputDataError(f"{where}: [[scenario.add]] must be an array of tables")
    for n, item in enumerate(adds, start=1):
        here = f"{where}, addition {n}"
        if not isinstance(item, dict):
            raise InputDataError(f"{here}: expected a table, got {item!r}")
        _check_keys(item, {"gps", "facility", "commune", "lon", "lat", "name"}, here)
        if "gps" not in item:
            raise InputDataError(f"{here}: say how many doctors with gps = N")
        args: dict[str, Any] = {k: (str(v) if k in {"facility", "commune", "name"} else v) for k, v in item.items()}
        try:
            additions.append(Addition(supply=args.pop("gps"), **args))
        except InputDataError as exc:
            raise InputDataError(f"{here}: {exc}") from exc
    pool = None
    if "pool" in sc:
        p = sc["pool"]
        if not isinstance(p, dict):
            raise InputDataError(f"{where}: [scenario.pool] must be a table")
        _check_keys(
            p,
            {"gps", "team_size", "candidates", "max_per_site", "exclude", "min_population", "schedule"},
            f"{where}, [scenario.pool]",
        )
        if "gps" not in p:
            raise InputDataError(f"{where}, [scenario.pool]: say how many doctors with gps = N")
        try:
            pool = Pool(
                supply=p["gps"],
                team_size=p.get("team_size", 1.0),
                candidates=p.get("candidates", "facilities+communes"),
                max_per_site=p.get("max_per_site"),
                exclude=tuple(str(x) for x in p.get("exclude", [])),
                min_population=p.get("min_population", 0.0),
                schedule=None if p.get("schedule") is None else str(p["schedule"]),
            )
        except InputDataError as exc:
            raise InputDataError(f"{where}, [scenario.pool]: {exc}") from exc
    return settings, Scenario(name=str(sc.get("name", path.stem)), additions=tuple(additions), pool=pool)


def read_age_table(path: str | Path) -> pd.DataFrame:
    """The age table of age-weighted demand (``age_table`` of a scenario file), as text columns."""
    return read_csv(Path(path), "age table")
