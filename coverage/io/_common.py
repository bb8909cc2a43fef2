"""Helpers shared by the readers: opening files and checking columns with clear errors."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from coverage.errors import InputDataError, InputFileNotFoundError

VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".sqlite"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}


def existing(path: str | Path, what: str) -> Path:
    """The path as a Path, or an error naming what it was meant to be."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"{what} {path}: file not found")
    if path.is_dir() and path.suffix.lower() != ".gdb":
        raise InputDataError(f"{what} {path}: is a folder; expected a file")
    return path


def read_csv(path: Path, what: str, **kwargs: object) -> pd.DataFrame:
    """Read a CSV as strings, with the separator sniffed (``,`` ``;`` or tab)."""
    try:
        with path.open("r", encoding="utf-8-sig", errors="strict") as fh:
            head = fh.readline()
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        with path.open("r", encoding="latin-1") as fh:
            head = fh.readline()
        encoding = "latin-1"
    if not head.strip():
        raise InputDataError(f"{what} {path}: the file is empty; expected a header line")
    sep = max([",", ";", "\t"], key=head.count)
    try:
        frame = pd.read_csv(
            path, sep=sep, dtype=str, encoding=encoding, keep_default_na=False, na_values=[""], **kwargs
        )  # type: ignore[call-overload]
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputDataError(f"{what} {path}: not a readable CSV table ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_vector(path: Path, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer (any format GDAL reads), checking the layer and its CRS."""
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise InputDataError(f"{what} {path}: not a readable vector file ({exc})") from exc
    names = [str(name) for name in layers[:, 0]]
    if layer is not None and layer not in names:
        raise InputDataError(f"{what} {path}: no layer {layer!r}; layers are {names}")
    if layer is None and len(names) > 1:
        raise InputDataError(f"{what} {path}: holds several layers {names}; say which one to read")
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:
        raise InputDataError(f"{what} {path}: could not read layer {layer or names[0]!r} ({exc})") from exc
    if "geometry" not in frame or (frame.geometry.isna().all() and len(frame)):
        raise InputDataError(f"{what} {path}: the layer has no geometry")
    if frame.crs is None:
        raise InputDataError(f"{what} {path}: the layer has no CRS; expected one (e.g. EPSG:4326 or EPSG:2154)")
    return frame


def row_label(frame: pd.DataFrame, position: int, *, csv: bool) -> str:
    """How a row is named in messages: its line in a CSV, its feature number otherwise."""
    return f"line {position + 2}" if csv else f"feature {frame.index[position]}"


def check_unique_ids(ids: pd.Series, *, where: str, column: str, csv: bool) -> None:
    """Error naming the duplicated ids and their rows."""
    if ids.isna().any():
        pos = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputDataError(
            f"{where}, {row_label(ids.to_frame(), pos, csv=csv)}: empty {column!r}; every row needs an id"
        )
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        positions = np.flatnonzero(dup)
        listed = ", ".join(f"{ids.iloc[p]!r} ({row_label(ids.to_frame(), int(p), csv=csv)})" for p in positions[:10])
        raise InputDataError(f"{where}: duplicate values in id column {column!r}: {listed}")


def to_numbers(values: pd.Series, *, where: str, column: str, csv: bool, allow_negative: bool = False) -> pd.Series:
    """Numbers of a column (``,`` accepted as decimal mark), or an error naming the first bad rows."""
    text = values.astype("string").str.strip().str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    bad = numbers.isna().to_numpy() | ~np.isfinite(numbers.to_numpy(na_value=np.nan))
    if bad.any():
        positions = np.flatnonzero(bad)[:5]
        listed = ", ".join(
            f"{row_label(values.to_frame(), int(p), csv=csv)}: "
            + ("empty" if pd.isna(values.iloc[p]) else repr(values.iloc[p]))
            for p in positions
        )
        raise InputDataError(f"{where}: column {column!r} must hold numbers; {listed}")
    if not allow_negative and (numbers < 0).any():
        positions = np.flatnonzero((numbers < 0).to_numpy())[:5]
        listed = ", ".join(f"{row_label(values.to_frame(), int(p), csv=csv)}: {values.iloc[p]}" for p in positions)
        raise InputDataError(f"{where}: column {column!r} must not be negative; {listed}")
    return numbers.set_axis(values.index)


def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES
