"""Comparing two runs: what changed between two output folders of ``couverture``.

:func:`read_run` reads what a comparison needs of one output folder, whatever the command
that wrote it (``analyse``, ``optimise``, ``demo``, ``access``): its ``run.json``, the
table of units ``population_access.csv`` and ``accessibility.csv`` where the run has
one.  Nothing is trusted: a missing or malformed file raises
:class:`~coverage.errors.InputDataError` naming it and what was expected.

:func:`compare_runs` checks that two runs describe the same units (kind, ids) with the
same thresholds (:class:`IncomparableRunsError` says how they differ otherwise) and
computes, run A being "before" and run B "after": per unit the minutes to the nearest
facility, their class, coverage at each threshold and, where both runs have it,
accessibility and its priority class; the same per area of every level both runs have;
the people who changed class; and the totals.  :mod:`coverage.outputs.report_compare`
writes them, with the report, the map and the units' points.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.outputs.files import FORMULA_STARTS
from coverage.outputs.folder import RUN_FILE, TOOL
from coverage.outputs.style import minute_class, minute_class_labels
from coverage.stats import AREA_LEVELS, NO_CODE, area_codes, common_names

__all__ = [
    "MINUTES_TOLERANCE",
    "IncomparableRunsError",
    "RunComparison",
    "RunFolder",
    "compare_runs",
    "read_run",
]

UNITS_FILE = "population_access.csv"
ACCESS_FILE = "accessibility.csv"
#: Minutes closer than this are the same (the CSV tables keep 10 significant digits).
MINUTES_TOLERANCE = 1e-6
PRIORITY, ABOVE, NO_VALUE = "priority", "above threshold", "(no value)"
_GRID_ID = re.compile(r"CRS\d+RES\d+m[NS]\d+[EW]\d+")
_COMMUNE_ID = re.compile(r"\d{5}|2[AB]\d{3}")


class IncomparableRunsError(InputDataError):
    """Two runs whose units, unit kinds or thresholds differ: no change can be told."""


@dataclass(frozen=True, eq=False)
class RunFolder:
    """One output folder as read for a comparison.

    ``units`` holds ``unit_id`` (text), ``name``, ``population``, ``minutes_to_nearest``
    (NaN: unreachable), ``nearest_facility`` and the area columns the run has, then,
    for a run with an accessibility study, ``accessibility`` (after the run's scenario),
    ``demand`` and ``priority`` (recomputed from the run's priority line).
    """

    label: str
    folder: Path
    record: Mapping[str, Any]
    thresholds_min: tuple[float, ...]
    unit_kind: str
    units: pd.DataFrame
    access_unit: str | None = None
    priority_line: float | None = None


@dataclass(frozen=True, eq=False)
class RunComparison:
    """What changed from run A (before) to run B (after).

    ``units``: one row per unit (run A's order); ``areas``: one row per area of each
    level both runs have; ``transitions``: people by class before x class after
    (``measure`` ``minutes`` and, with accessibility, ``priority``); ``totals``:
    indicator, threshold, run A, run B, change; ``moves``: counts of the units and people
    that changed.
    """

    run_a: RunFolder
    run_b: RunFolder
    thresholds_min: tuple[float, ...]
    unit_kind: str
    units: pd.DataFrame
    areas: pd.DataFrame
    transitions: pd.DataFrame
    totals: pd.DataFrame
    moves: Mapping[str, float]

    @property
    def accessibility(self) -> bool:
        """Whether accessibility is compared (both runs have it, in the same unit)."""
        return "accessibility_a" in self.units

    @property
    def class_labels(self) -> list[str]:
        """Labels of the minute classes, best first, unreachable last."""
        return minute_class_labels(self.thresholds_min)


# ----------------------------------------------------------------------------- reading


def _json_file(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise InputDataError(f"{what}: {path} is missing: expected the run.json of an output folder of couverture")
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputDataError(f"{what}: {path} is not readable JSON ({exc}): expected the run record") from None
    if not isinstance(record, dict) or record.get("tool") != TOOL:
        raise InputDataError(
            f'{what}: {path} is not a run record of couverture (expected an object with "tool": "{TOOL}")'
        )
    return record


def _number(value: object) -> float | None:
    """A finite JSON number, else None (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _thresholds(record: Mapping[str, Any], where: str) -> tuple[float, ...]:
    config = record.get("config")
    raw = config.get("thresholds_min") if isinstance(config, dict) else None
    values = [_number(v) for v in raw] if isinstance(raw, list) else []
    if not values or any(v is None or v <= 0 for v in values):
        raise InputDataError(
            f"{where}: config.thresholds_min is {raw!r}: expected a non-empty list of positive minutes"
        )
    return tuple(sorted(v for v in values if v is not None))


def _table(path: Path, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise InputDataError(f"{what}: {path} is missing: expected the table that the run wrote there")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise InputDataError(f"{what}: {path} is not a readable CSV table ({exc})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputDataError(f"{what}: {path} has no column {', '.join(missing)}: expected {', '.join(required)}")
    # a text that the writer neutralised ('=...) is read back as it was given
    for column in frame.columns:
        text = frame[column].astype(object)
        quoted = text.map(lambda v: isinstance(v, str) and len(v) > 1 and v[0] == "'" and v[1] in FORMULA_STARTS)
        frame[column] = text.where(~quoted, text.str[1:]).map(lambda v: v.strip() if isinstance(v, str) else "")
    return frame


def _numbers(frame: pd.DataFrame, column: str, path: Path, *, empty_ok: bool) -> np.ndarray:
    """A column of finite numbers >= 0 (an empty cell is NaN where ``empty_ok``)."""
    out = np.full(len(frame), np.nan)
    for i, text in enumerate(frame[column].tolist()):
        if text == "" and empty_ok:
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise InputDataError(
                f"{path}: column {column!r} holds {text!r} on line {i + 2} "
                f"(unit {frame['unit_id'].iloc[i]!r}): expected a finite number >= 0"
                + (" or an empty cell" if empty_ok else "")
            )
        out[i] = value
    return out


def _unit_ids(frame: pd.DataFrame, path: Path) -> None:
    ids = frame["unit_id"]
    if (ids == "").any():
        raise InputDataError(f"{path}: column 'unit_id' is empty on line {int(np.argmax(ids == '')) + 2}")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputDataError(f"{path}: {len(dup)} unit_id repeated (e.g. {dup.iloc[0]!r}): expected one row per unit")


def _unit_kind(record: Mapping[str, Any], ids: pd.Series) -> str:
    """``grid`` or ``communes`` (from run.json, else from the ids), else ``other``."""
    regional = record.get("regional")
    stated = regional.get("population_units") if isinstance(regional, dict) else None
    if stated in ("grid", "communes"):
        return str(stated)
    if len(ids) and ids.map(lambda i: bool(_GRID_ID.fullmatch(i))).all():
        return "grid"
    if len(ids) and ids.map(lambda i: bool(_COMMUNE_ID.fullmatch(i))).all():
        return "communes"
    return "other"


def _access(folder: Path, record: Mapping[str, Any], units: pd.DataFrame, what: str) -> tuple[str, float]:
    """Adds accessibility (after the run's scenario), demand and priority to ``units``."""
    settings = record["accessibility"].get("settings") if isinstance(record["accessibility"], dict) else None
    line = _number(settings.get("priority_line")) if isinstance(settings, dict) else None
    if line is None or line <= 0:
        raise InputDataError(
            f"{what}: {folder / RUN_FILE} has accessibility but no accessibility.settings.priority_line: "
            "expected a positive number"
        )
    unit = settings.get("unit") if isinstance(settings.get("unit"), str) else ""  # type: ignore[union-attr]
    path = folder / ACCESS_FILE
    table = _table(path, what, ("unit_id", "accessibility_scenario"))
    _unit_ids(table, path)
    if set(table["unit_id"]) != set(units["unit_id"]):
        raise InputDataError(f"{what}: the units of {path} are not those of {folder / UNITS_FILE}")
    table = table.set_index("unit_id").reindex(units["unit_id"]).reset_index()
    values = _numbers(table, "accessibility_scenario", path, empty_ok=True)
    demand = _numbers(table, "demand", path, empty_ok=False) if "demand" in table else units["population"].to_numpy()
    units["accessibility"] = values
    units["demand"] = demand
    units["priority"] = np.where(np.isnan(values), NO_VALUE, np.where(values < line, PRIORITY, ABOVE))
    return str(unit), line


def read_run(folder: str | Path, label: str = "A") -> RunFolder:
    """Read what a comparison needs of the output folder of any command.

    Parameters
    ----------
    folder
        An output folder of ``couverture`` (its ``run.json`` and ``population_access.csv``;
        ``accessibility.csv`` when its run.json has an accessibility study).
    label
        How messages name the run (``A`` or ``B``).

    Returns
    -------
    RunFolder
        The record, thresholds, kind of units and the table of units.

    Raises
    ------
    InputDataError
        A missing or malformed file, naming it and what was expected.
    """
    folder = Path(folder)
    what = f"run {label} ({folder})"
    if not folder.is_dir():
        raise InputFileNotFoundError(f"{what}: no such folder: expected the output folder of a couverture command")
    record = _json_file(folder / RUN_FILE, what)
    thresholds = _thresholds(record, f"{what}: {folder / RUN_FILE}")
    path = folder / UNITS_FILE
    table = _table(path, what, ("unit_id", "population", "minutes_to_nearest"))
    _unit_ids(table, path)
    units = pd.DataFrame({"unit_id": table["unit_id"]})
    units["name"] = table.get("name", "")
    units["population"] = _numbers(table, "population", path, empty_ok=False)
    units["minutes_to_nearest"] = _numbers(table, "minutes_to_nearest", path, empty_ok=True)
    units["nearest_facility"] = table.get("nearest_facility", "")
    for id_col, name_col in AREA_LEVELS.values():
        if id_col in table and (table[id_col] != "").any():
            units[id_col] = table[id_col]
            units[name_col] = table[name_col] if name_col and name_col in table else ""
    access_unit = line = None
    if "accessibility" in record:
        access_unit, line = _access(folder, record, units, what)
    kind = _unit_kind(record, units["unit_id"])
    return RunFolder(label, folder, record, thresholds, kind, units, access_unit, line)


# ----------------------------------------------------------------------------- checks


def _refusal(a: RunFolder, b: RunFolder) -> str | None:
    """Why the two runs cannot be compared, or None."""
    kinds = {"grid": "grid cells", "communes": "communes", "other": "units"}
    if a.unit_kind != b.unit_kind:
        return (
            f"run A's units are {kinds[a.unit_kind]} ({len(a.units):,}), run B's are {kinds[b.unit_kind]} "
            f"({len(b.units):,}): compare two runs on the same kind of units"
        )
    reasons = []

    def _examples(values: set[str]) -> str:
        return ", ".join(sorted(values)[:3]) + (", …" if len(values) > 3 else "")

    ids_a, ids_b = set(a.units["unit_id"]), set(b.units["unit_id"])
    if ids_a != ids_b:
        only_a, only_b = ids_a - ids_b, ids_b - ids_a
        parts = [f"run A has {len(ids_a):,} units and run B {len(ids_b):,}"]
        if only_a:
            parts.append(f"{len(only_a):,} of A's are not in B ({_examples(only_a)})")
        if only_b:
            parts.append(f"{len(only_b):,} of B's are not in A ({_examples(only_b)})")
        reasons.append("their units differ: " + ", ".join(parts))
    if len(a.thresholds_min) != len(b.thresholds_min) or not np.allclose(a.thresholds_min, b.thresholds_min):

        def shown(ts: tuple[float, ...]) -> str:
            return ", ".join(f"{t:g}" for t in ts) + " min"

        reasons.append(f"their thresholds differ: run A {shown(a.thresholds_min)}, run B {shown(b.thresholds_min)}")
    return "; ".join(reasons) or None


# ----------------------------------------------------------------------------- computing


def _mean(values: np.ndarray, weights: np.ndarray) -> float:
    keep = ~np.isnan(values)
    total = weights[keep].sum()
    return float((values[keep] * weights[keep]).sum() / total) if total > 0 else math.nan


def _unit_table(a: RunFolder, b: RunFolder, thresholds: tuple[float, ...], access: bool) -> pd.DataFrame:
    ua = a.units.reset_index(drop=True)
    ub = b.units.set_index("unit_id").reindex(ua["unit_id"]).reset_index()
    out = pd.DataFrame({"unit_id": ua["unit_id"], "name": ua["name"].where(ua["name"] != "", ub["name"])})
    for id_col, name_col in AREA_LEVELS.values():
        if id_col in ua and id_col in ub:
            for col in (id_col, name_col):
                if col:
                    out[col] = ua[col].where(ua[col] != "", ub[col])
    out["population_a"], out["population_b"] = ua["population"], ub["population"]
    ma, mb = ua["minutes_to_nearest"].to_numpy(float), ub["minutes_to_nearest"].to_numpy(float)
    out["minutes_a"], out["minutes_b"], out["minutes_change"] = ma, mb, mb - ma
    ca, cb = minute_class(ma, thresholds), minute_class(mb, thresholds)
    labels = np.array(minute_class_labels(thresholds), dtype=object)
    out["class_a"], out["class_b"] = labels[ca], labels[cb]
    out["class_change"] = np.where(cb < ca, "better", np.where(cb > ca, "worse", "same"))
    out["nearest_facility_a"], out["nearest_facility_b"] = ua["nearest_facility"], ub["nearest_facility"]
    for t in thresholds:
        out[f"covered_{t:g}min_a"], out[f"covered_{t:g}min_b"] = ma <= t, mb <= t  # NaN (unreachable) is False
    changed = (ca != cb) | (np.isnan(ma) != np.isnan(mb)) | (np.abs(np.nan_to_num(mb - ma)) > MINUTES_TOLERANCE)
    changed |= out["population_a"].to_numpy() != out["population_b"].to_numpy()
    if access:
        xa, xb = ua["accessibility"].to_numpy(float), ub["accessibility"].to_numpy(float)
        out["accessibility_a"], out["accessibility_b"], out["accessibility_change"] = xa, xb, xb - xa
        out["demand_a"], out["demand_b"] = ua["demand"], ub["demand"]
        out["priority_a"], out["priority_b"] = ua["priority"], ub["priority"]
        close = np.isclose(xa, xb, rtol=1e-9, atol=1e-12, equal_nan=True)
        changed |= ~close | (out["priority_a"] != out["priority_b"]).to_numpy()
    out["changed"] = changed
    return out


def _area_table(units: pd.DataFrame, thresholds: tuple[float, ...], access: bool) -> pd.DataFrame:
    """One row per area of every level the units carry (units without a code: their own row)."""
    rows = []
    pa, pb = units["population_a"].to_numpy(float), units["population_b"].to_numpy(float)
    ma, mb = units["minutes_a"].to_numpy(float), units["minutes_b"].to_numpy(float)
    better = (units["class_change"] == "better").to_numpy()
    worse = (units["class_change"] == "worse").to_numpy()
    changed = units["changed"].to_numpy()
    for level, (id_col, name_col) in AREA_LEVELS.items():
        if id_col not in units:
            continue
        ids = area_codes(units[id_col]).fillna(NO_CODE)
        names = units[name_col].astype("string").fillna("") if name_col and name_col in units else ids
        area_names = common_names(ids, names.where(ids != NO_CODE, f"(no {level} code)"))
        for area_id, at in ids.groupby(ids, sort=True).indices.items():
            row: dict[str, Any] = {
                "level": level,
                "area_id": area_id,
                "area_name": area_names[area_id],
                "n_units": len(at),
                "units_changed": int(changed[at].sum()),
                "population_a": pa[at].sum(),
                "population_b": pb[at].sum(),
                "mean_minutes_a": _mean(ma[at], pa[at]),
                "mean_minutes_b": _mean(mb[at], pb[at]),
            }
            row["mean_minutes_change"] = row["mean_minutes_b"] - row["mean_minutes_a"]
            for t in thresholds:
                ya, yb = pa[at][ma[at] <= t].sum(), pb[at][mb[at] <= t].sum()
                row[f"covered_{t:g}min_a"], row[f"covered_{t:g}min_b"] = ya, yb
                row[f"covered_{t:g}min_change"] = yb - ya
            row["population_better_class"] = pb[at][better[at]].sum()
            row["population_worse_class"] = pb[at][worse[at]].sum()
            if access:
                for s in ("a", "b"):
                    x, d = units[f"accessibility_{s}"].to_numpy(float)[at], units[f"demand_{s}"].to_numpy(float)[at]
                    row[f"accessibility_{s}"] = _mean(x, d)
                row["accessibility_change"] = row["accessibility_b"] - row["accessibility_a"]
                for s, p in (("a", pa), ("b", pb)):
                    row[f"population_priority_{s}"] = p[at][(units[f"priority_{s}"] == PRIORITY).to_numpy()[at]].sum()
            rows.append(row)
    return pd.DataFrame(rows)


def _transitions(units: pd.DataFrame, labels: list[str], access: bool) -> pd.DataFrame:
    """People (run B's population) by class in run A x class in run B, every pair listed."""
    rows = []
    measures = [("minutes", "class", labels)]
    if access:
        found = set(units["priority_a"]) | set(units["priority_b"])
        measures.append(("priority", "priority", [c for c in (PRIORITY, ABOVE, NO_VALUE) if c in found]))
    for measure, column, classes in measures:
        pairs = units.groupby([f"{column}_a", f"{column}_b"])["population_b"].agg(["size", "sum"])
        for before in classes:
            for after in classes:
                n, people = pairs.loc[(before, after)] if (before, after) in pairs.index else (0, 0.0)
                rows.append(
                    {"measure": measure, "class_a": before, "class_b": after, "units": int(n), "population": people}
                )
    return pd.DataFrame(rows, columns=["measure", "class_a", "class_b", "units", "population"])


def _totals(
    units: pd.DataFrame, a: RunFolder, b: RunFolder, thresholds: tuple[float, ...], access: bool
) -> pd.DataFrame:
    """Indicator, threshold, run A, run B, change: population, coverage, minutes, accessibility, siting."""
    rows: list[tuple[str, float, float | None, float | None]] = []
    pa, pb = units["population_a"].to_numpy(float), units["population_b"].to_numpy(float)
    ma, mb = units["minutes_a"].to_numpy(float), units["minutes_b"].to_numpy(float)
    rows.append(("population_total", math.nan, pa.sum(), pb.sum()))
    for t in thresholds:
        ya, yb = pa[ma <= t].sum(), pb[mb <= t].sum()
        rows.append(("population_covered", t, ya, yb))
        rows.append(
            ("share_covered", t, ya / pa.sum() if pa.sum() else math.nan, yb / pb.sum() if pb.sum() else math.nan)
        )
    rows.append(("population_unreachable", math.nan, pa[np.isnan(ma)].sum(), pb[np.isnan(mb)].sum()))
    rows.append(("mean_minutes", math.nan, _mean(ma, pa), _mean(mb, pb)))
    if access:
        xa, xb = units["accessibility_a"].to_numpy(float), units["accessibility_b"].to_numpy(float)
        da, db = units["demand_a"].to_numpy(float), units["demand_b"].to_numpy(float)
        rows.append(("mean_accessibility", math.nan, _mean(xa, da), _mean(xb, db)))
        prio_a, prio_b = (units["priority_a"] == PRIORITY).to_numpy(), (units["priority_b"] == PRIORITY).to_numpy()
        rows.append(("population_priority", math.nan, pa[prio_a].sum(), pb[prio_b].sum()))
    sa, sb = a.record.get("siting"), b.record.get("siting")
    if isinstance(sa, dict) and isinstance(sb, dict):
        ta, tb = _number(sa.get("threshold_min")), _number(sb.get("threshold_min"))
        if ta is not None and ta == tb:
            for key in ("new_sites", "population_covered_after"):
                rows.append((f"siting_{key}", ta, _number(sa.get(key)), _number(sb.get(key))))
    frame = pd.DataFrame(rows, columns=["indicator", "threshold_min", "run_a", "run_b"])
    frame[["run_a", "run_b"]] = frame[["run_a", "run_b"]].astype(float)
    frame["change"] = frame["run_b"] - frame["run_a"]
    return frame


def compare_runs(run_a: str | Path, run_b: str | Path) -> RunComparison:
    """What changed from the output folder ``run_a`` (before) to ``run_b`` (after).

    Parameters
    ----------
    run_a, run_b
        Output folders of any ``couverture`` command (see :func:`read_run`).

    Returns
    -------
    RunComparison
        The unit, area, transition and totals tables, and the counts of what moved.

    Raises
    ------
    IncomparableRunsError
        The kinds of units differ (grid cells against communes), the units differ (how
        many on each side, with examples) or the thresholds differ (both lists).
    InputDataError
        A missing or malformed file of either run.
    """
    a, b = read_run(run_a, "A"), read_run(run_b, "B")
    why = _refusal(a, b)
    if why:
        raise IncomparableRunsError(f"cannot compare run A ({a.folder}) with run B ({b.folder}): {why}")
    thresholds = a.thresholds_min
    access = a.access_unit is not None and b.access_unit is not None and a.access_unit == b.access_unit
    units = _unit_table(a, b, thresholds, access)
    labels = minute_class_labels(thresholds)
    pb = units["population_b"].to_numpy(float)
    moves: dict[str, float] = {"units": len(units), "units_changed": int(units["changed"].sum())}
    for direction in ("better", "worse"):
        moving = (units["class_change"] == direction).to_numpy()
        moves[f"units_{direction}_class"], moves[f"population_{direction}_class"] = int(moving.sum()), pb[moving].sum()
    if access:
        for key, (before, after) in {
            "lifted_above_line": (PRIORITY, ABOVE),
            "fallen_below_line": (ABOVE, PRIORITY),
        }.items():
            moving = ((units["priority_a"] == before) & (units["priority_b"] == after)).to_numpy()
            moves[f"population_{key}"] = pb[moving].sum()
    return RunComparison(
        run_a=a,
        run_b=b,
        thresholds_min=thresholds,
        unit_kind=a.unit_kind,
        units=units,
        areas=_area_table(units, thresholds, access),
        transitions=_transitions(units, labels, access),
        totals=_totals(units, a, b, thresholds, access),
        moves=moves,
    )
