"""Helpers shared by the readers: opening files and checking columns with clear errors.

Tables (CSV) are decoded as UTF-8 (with or without BOM), else Windows-1252 (what Excel
FR writes as "CSV séparateur point-virgule"), else Latin-1; the encoding used is logged
at debug level.  Rows of a table are named by their line in the file the user opened
(the header is line 1): :func:`read_csv` returns a frame whose index is that line.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from coverage.errors import InputDataError, InputFileNotFoundError

logger = logging.getLogger(__name__)

VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".sqlite"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
#: Encodings tried in turn for text files.  Latin-1 decodes any bytes, so it comes last:
#: a Windows-1252 file read as Latin-1 turns ``œ ’ – €`` into control characters.
TEXT_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_SEPARATORS = (",", ";", "\t")


def existing(path: str | Path, what: str) -> Path:
    """The path as a Path, or an error naming what it was meant to be."""
    path = Path(path)
    if not path.exists():
        raise InputFileNotFoundError(f"{what} {path}: file not found")
    if path.is_dir() and path.suffix.lower() != ".gdb":
        raise InputDataError(f"{what} {path}: is a folder; expected a file")
    return path


def read_text(path: Path, what: str) -> str:
    """The text of a file: UTF-16 when it starts with its byte-order mark, else the first
    of :data:`TEXT_ENCODINGS` that decodes it (named in a debug log)."""
    raw = path.read_bytes()
    if raw.startswith(b"PK\x03\x04"):
        raise InputDataError(f"{what} {path}: this is a workbook (.xlsx), not a text table; save it as CSV")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = TEXT_ENCODINGS
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        logger.debug("%s %s: decoded as %s", what, path, encoding)
        return text
    raise InputDataError(f"{what} {path}: not a text file in {' or '.join(encodings)}")


def read_csv(path: Path, what: str) -> pd.DataFrame:
    """Read a CSV as strings, with the separator sniffed (``,`` ``;`` or tab).

    The encoding is found by :func:`read_text`.  The index of the frame is the line of
    each row in the file (the header is line 1; blank lines are skipped but counted, and
    a quoted value spanning several lines counts them all), so that messages can name the
    line the user sees in an editor, even after rows are filtered out.
    """
    text = read_text(path, what)
    head = next((line for line in text.splitlines() if line.strip()), "")
    if not head:
        raise InputDataError(f"{what} {path}: the file is empty; expected a header line")
    sep = max(_SEPARATORS, key=head.count)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputDataError(_unreadable(text, sep, f"{what} {path}", exc)) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.Index(_record_lines(text, sep, len(frame)), name="line")
    return frame


def _unreadable(text: str, sep: str, where: str, exc: Exception) -> str:
    """The message for a table pandas could not parse: the file line of the first row
    with more fields than the header where there is one (pandas counts lines otherwise)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header: list[str] | None = None
    previous = 0
    try:
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                if header is None:
                    header = record
                elif len(record) > len(header):
                    return (
                        f"{where}, line {previous + 1}: {len(record)} fields where the header has "
                        f"{len(header)} (a {sep!r} inside a value that is not quoted?)"
                    )
            previous = reader.line_num
    except csv.Error:
        pass
    return f"{where}: not a readable CSV table ({str(exc).strip()})"


def _record_lines(text: str, sep: str, n_rows: int) -> np.ndarray:
    """File line where each data row starts, counted as pandas counts rows (blank and
    whitespace-only lines skipped); row i + 2 where the two readings disagree."""
    fallback = np.arange(n_rows) + 2
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    previous = 0
    try:
        for record in reader:
            if record and not (len(record) == 1 and not record[0].strip()):
                starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:
        return fallback
    lines = np.asarray(starts[1:], dtype=int)  # starts[0] is the header
    if len(lines) != n_rows:
        logger.debug("line numbers of %d rows could not be matched; counting rows from line 2", n_rows)
        return fallback
    return lines


def read_vector(path: Path, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer (any format GDAL reads), checking the layer and its CRS."""
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise InputDataError(f"{what} {path}: not a readable vector file ({exc})") from exc
    names = [str(name) for name in layers[:, 0]]
    if layer is not None and layer not in names:
        raise InputDataError(f"{what} {path}: no layer {layer!r}; layers are {names}")
    # tables without geometry (QGIS's layer_styles, attribute tables) are not layers to choose from
    spatial = [str(name) for name, geometry in layers if geometry is not None]
    if layer is None and len(spatial) > 1:
        raise InputDataError(f"{what} {path}: holds several layers {spatial}; say which one to read")
    if layer is None and len(spatial) == 1 and len(names) > 1:
        layer = spatial[0]
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:
        raise InputDataError(f"{what} {path}: could not read layer {layer or names[0]!r} ({exc})") from exc
    if "geometry" not in frame or (frame.geometry.isna().all() and len(frame)):
        raise InputDataError(f"{what} {path}: the layer has no geometry")
    if frame.crs is None:
        raise InputDataError(f"{what} {path}: the layer has no CRS; expected one (e.g. EPSG:4326 or EPSG:2154)")
    return frame


def row_label(frame: pd.DataFrame | pd.Series, position: int, *, csv: bool) -> str:
    """How a row is named in messages: its line in a CSV (the index :func:`read_csv`
    gives), its feature number in a vector layer."""
    label = frame.index[position]
    return f"line {label}" if csv else f"feature {label}"


def check_unique_ids(ids: pd.Series, *, where: str, column: str, csv: bool) -> None:
    """Error naming the duplicated ids and their rows."""
    if ids.isna().any():
        pos = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputDataError(f"{where}, {row_label(ids, pos, csv=csv)}: empty {column!r}; every row needs an id")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        positions = np.flatnonzero(dup)
        listed = ", ".join(f"{ids.iloc[p]!r} ({row_label(ids, int(p), csv=csv)})" for p in positions[:10])
        raise InputDataError(f"{where}: duplicate values in id column {column!r}: {listed}")


def to_numbers(
    values: pd.Series,
    *,
    where: str,
    column: str,
    csv: bool,
    allow_negative: bool = False,
    allow_missing: bool = False,
) -> pd.Series:
    """Numbers of a column, or an error naming the column and the first bad rows.

    ``,`` is accepted as decimal mark and spaces as thousands separators (``1 234,5``).
    Empty cells (unless ``allow_missing``: then NaN), text, and non-finite values
    (``nan``, ``inf``) are errors.
    """
    text = values.astype("string").str.replace(r"[\s\u00a0\u202f]", "", regex=True).str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    bad = ~np.isfinite(numbers.to_numpy(na_value=np.nan))
    if allow_missing:
        bad &= ~(text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    if bad.any():
        positions = np.flatnonzero(bad)[:5]
        listed = ", ".join(f"{row_label(values, int(p), csv=csv)}: {_describe(values.iloc[p])}" for p in positions)
        raise InputDataError(f"{where}: column {column!r} must hold numbers; {listed}")
    if not allow_negative and (numbers < 0).any():
        positions = np.flatnonzero((numbers < 0).to_numpy())[:5]
        listed = ", ".join(f"{row_label(values, int(p), csv=csv)}: {values.iloc[p]}" for p in positions)
        raise InputDataError(f"{where}: column {column!r} must not be negative; {listed}")
    return numbers.set_axis(values.index)


def _describe(value: object) -> str:
    """A cell as messages show it: ``empty``, ``'inf' (not finite)`` or its repr."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "empty"
    number = pd.to_numeric(pd.Series([str(value).strip()]), errors="coerce").iloc[0]
    return f"{value!r} (not finite)" if pd.notna(number) and not np.isfinite(number) else repr(value)


def check_finite_coordinates(geometry: gpd.GeoSeries, *, where: str) -> None:
    """Error naming the first features whose geometry has a NaN or infinite coordinate."""
    coords, owner = shapely.get_coordinates(geometry.to_numpy(), include_z=False, return_index=True)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        positions = np.unique(owner[bad])
        listed = ", ".join(f"feature {geometry.index[p]}" for p in positions[:5])
        raise InputDataError(
            f"{where}: column {geometry.name or 'geometry'!r} has coordinates that are not finite numbers "
            f"(NaN or infinite) in {len(positions)} features: {listed}"
        )


def is_table(path: Path) -> bool:
    return path.suffix.lower() in TABLE_SUFFIXES
