"""Road speeds: the per-class speed profile and the parsing of OSM ``maxspeed`` tags.

A :class:`SpeedProfile` says how fast a car goes on each road class.  The built-in
profile (``coverage/profiles/france.toml``, read by
:func:`coverage.io.settings.load_speed_profile`) documents its French defaults; a planner's
TOML file with the same layout overrides any of its keys.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from coverage.errors import InputDataError
from coverage.numbers import is_number

__all__ = ["EXCLUDE", "SpeedProfile", "parse_maxspeed", "profile_from_mapping"]

#: Class value of lines that must not be routed.
EXCLUDE = "exclude"

_MPH = 1.609344
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SpeedProfile:
    """Speeds per road class, with the patterns that map raw class values onto classes.

    Parameters
    ----------
    speeds_kph
        km/h for each road class (OSM ``highway`` names in the built-in profile).
    classes
        ``(pattern, class)`` pairs, tried in order: a raw class value matching the
        shell-style pattern is given that class, or is excluded when the class is
        ``"exclude"``.  A raw value equal to a class name needs no pattern.
    maxspeed_implicit
        km/h of implicit ``maxspeed`` values such as ``FR:urban``.
    default_kph
        Speed for classes the profile does not know.  ``None`` (the default) makes
        unknown classes an error, so that no road gets a speed silently.
    name
        Where the profile came from, for reports.
    """

    speeds_kph: Mapping[str, float]
    classes: tuple[tuple[str, str], ...] = ()
    maxspeed_implicit: Mapping[str, float] = field(default_factory=dict)
    default_kph: float | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        for cls, kph in self.speeds_kph.items():
            if not (is_number(kph) and kph > 0):
                raise InputDataError(
                    f"speed profile {self.name!r}: speed of class {cls!r} is {kph!r}; "
                    "expected a positive number of km/h"
                )
        for pattern, cls in self.classes:
            if cls != EXCLUDE and cls not in self.speeds_kph:
                raise InputDataError(
                    f"speed profile {self.name!r}: [classes] maps {pattern!r} to {cls!r}, "
                    f"which has no speed in [speeds_kph] (known: {sorted(self.speeds_kph)})"
                )
        for key, kph in self.maxspeed_implicit.items():
            if not (is_number(kph) and kph > 0):
                raise InputDataError(
                    f"speed profile {self.name!r}: implicit maxspeed {key!r} is {kph!r}; expected positive km/h"
                )
        if self.default_kph is not None and not (is_number(self.default_kph) and self.default_kph > 0):
            raise InputDataError(f"speed profile {self.name!r}: default_kph must be positive, got {self.default_kph!r}")

    def classify(self, raw: object) -> str | None:
        """Return the class of a raw class value, ``EXCLUDE``, or None when unknown."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        value = str(raw)
        if value in self.speeds_kph:
            return value
        for pattern, cls in self.classes:
            if fnmatch.fnmatchcase(value, pattern):
                return cls
        return None

    def speed_of(self, road_class: str | None) -> float | None:
        """Speed of a class in km/h; ``default_kph`` (possibly None) when unknown."""
        if road_class is not None and road_class in self.speeds_kph:
            return float(self.speeds_kph[road_class])
        return self.default_kph

    def with_default(self, default_kph: float | None) -> SpeedProfile:
        """Copy of the profile that gives unknown classes ``default_kph``."""
        return replace(self, default_kph=default_kph)

    def as_dict(self) -> dict[str, Any]:
        """Plain dictionary of the profile, for run reports."""
        return {
            "name": self.name,
            "speeds_kph": dict(self.speeds_kph),
            "classes": [list(p) for p in self.classes],
            "maxspeed_implicit": dict(self.maxspeed_implicit),
            "default_kph": self.default_kph,
        }


def profile_from_mapping(data: Mapping[str, Any], source: str) -> SpeedProfile:
    """Profile from a mapping with the layout of ``france.toml``; every error names ``source``."""
    unknown_keys = set(data) - {"name", "speeds_kph", "classes", "maxspeed_implicit", "default_kph"}
    if unknown_keys:
        raise InputDataError(
            f"{source}: unknown keys {sorted(unknown_keys)}; expected name, speeds_kph, "
            "classes, maxspeed_implicit, default_kph"
        )
    for key in ("speeds_kph", "classes", "maxspeed_implicit"):
        if key in data and not isinstance(data[key], dict):
            raise InputDataError(f"{source}: [{key}] must be a table, got {data[key]!r}")
    classes = data.get("classes", {})
    for pattern, cls in classes.items():
        if not isinstance(cls, str):
            raise InputDataError(f"{source}: [classes] {pattern!r} = {cls!r}; expected a class name or 'exclude'")
    default = data.get("default_kph")
    if default is not None and (isinstance(default, bool) or not isinstance(default, int | float)):
        raise InputDataError(f"{source}: default_kph must be a number of km/h, got {default!r}")
    try:
        return SpeedProfile(
            speeds_kph=dict(data.get("speeds_kph", {})),
            classes=tuple(classes.items()),
            maxspeed_implicit=dict(data.get("maxspeed_implicit", {})),
            default_kph=default,
            name=str(data.get("name", source)),
        )
    except InputDataError as exc:
        raise InputDataError(f"{source}: {exc}") from exc


def parse_maxspeed(value: object, implicit: Mapping[str, float]) -> float | None:
    """km/h of an OSM ``maxspeed`` value, or None when it gives no usable speed.

    Numbers (``"50"``), miles per hour (``"30 mph"``), implicit values from
    ``implicit`` (``"FR:urban"``) and lists (``"50;70"``, or a Python list after OSMnx
    merged edges: the mean) are understood; ``"none"``, ``"signals"`` and the like give
    None, so that the class speed is used.
    """
    if value is None:
        return None
    if isinstance(value, list | tuple):
        values = [v for v in (parse_maxspeed(x, implicit) for x in value) if v is not None]
        return sum(values) / len(values) if values else None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value > 0 else None
    text = str(value).strip()
    if ";" in text or "|" in text:
        return parse_maxspeed(re.split(r"[;|]", text), implicit)
    if text in implicit:
        return float(implicit[text])
    match = _NUMBER.match(text)
    if not match:
        return None
    kph = float(match.group(1)) * (_MPH if (match.group(2) or "").lower() == "mph" else 1.0)
    return kph if kph > 0 else None


def unknown_classes_message(unknown: Mapping[str, int], where: str, profile: SpeedProfile) -> str:
    """Message naming the unknown classes (with their counts) and how to fix it."""
    listed = ", ".join(f"{k!r} ({n} lines)" for k, n in sorted(unknown.items()))
    return (
        f"{where}: road classes with no speed in profile {profile.name!r}: {listed}. "
        "Add them to [speeds_kph] or [classes] of a speed profile (--speeds), or give "
        "a default speed for unknown classes (--default-speed)."
    )


def count_values(values: Iterable[object]) -> dict[str, int]:
    """Count values by their string form (``<empty>`` for missing values)."""
    counts: dict[str, int] = {}
    for v in values:
        key = "<empty>" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
        counts[key] = counts.get(key, 0) + 1
    return counts
