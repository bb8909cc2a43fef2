"""Readers of facilities (MSP, centres de santé...); each returns a point GeoDataFrame.

Every reader returns the columns ``facility_id`` (text, unique), ``name``, ``type``,
the input's other columns, and point geometries with a CRS.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.columns import find_column
from coverage.errors import InputDataError
from coverage.io._common import (
    check_unique_ids,
    existing,
    is_table,
    read_csv,
    read_vector,
    row_label,
    to_numbers,
)

__all__ = ["FACILITY_FORMATS", "FINESS_CATEGORIES", "read_candidates", "read_facilities", "read_finess"]

logger = logging.getLogger(__name__)

#: FINESS categories of primary-care structures (categetab) and the type they are given.
FINESS_CATEGORIES = {"603": "msp", "124": "centre_sante"}

# Layout of the FINESS public extraction (etalab-cs1100507-stock-*.csv), lines of type
# "structureet" and "geolocalisation", field positions after the line type.
_STRUCTURE_FIELDS = [
    "nofinesset",
    "nofinessej",
    "rs",
    "rslongue",
    "complrs",
    "compldistrib",
    "numvoie",
    "typvoie",
    "voie",
    "compvoie",
    "lieuditbp",
    "commune",
    "departement",
    "libdepartement",
    "ligneacheminement",
    "telephone",
    "telecopie",
    "categetab",
    "libcategetab",
    "categagretab",
    "libcategagretab",
    "siret",
    "codeape",
    "codemft",
    "libmft",
    "codesph",
    "libsph",
    "dateouv",
    "dateautor",
    "datemaj",
    "numuai",
]
_GEO_FIELDS = ["nofinesset", "coordxet", "coordyet", "sourcecoordet", "datemaj_geo"]
# FINESS gives its coordinates' system by name inside sourcecoordet.
_FINESS_CRS = {
    "LAMBERT_93": "EPSG:2154",
    "UTM_N20": "EPSG:5490",  # Guadeloupe, Martinique
    "UTM_N22": "EPSG:2972",  # Guyane
    "UTM_S40": "EPSG:2975",  # La Réunion
    "UTM_S38": "EPSG:4471",  # Mayotte
}


def read_finess(
    path: str | Path,
    *,
    categories: Sequence[str] = tuple(FINESS_CATEGORIES),
    departments: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Facilities of the FINESS public extraction (``etalab-cs1100507-stock-*.csv``).

    The file has no header: ``structureet`` lines carry the establishment, separate
    ``geolocalisation`` lines its coordinates; they are joined on ``nofinesset``.

    Parameters
    ----------
    path
        The extraction (``;``-separated, UTF-8 or Latin-1).
    categories
        ``categetab`` codes to keep; by default 603 (maison de santé, L.6223-3) and
        124 (centre de santé).
    departments
        Department codes to keep (``"18"``, ``"2A"``...); all when None.

    Returns
    -------
    geopandas.GeoDataFrame
        In Lambert-93 (EPSG:2154): ``facility_id`` (nofinesset), ``name`` (rslongue,
        else rs), ``type`` (``msp``/``centre_sante``, else the category code),
        ``code_insee``, the structure fields and ``sourcecoordet``.  Establishments
        with no coordinates are left out with a warning that names them.
    """
    path = existing(path, "FINESS file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    structures: list[list[str]] = []
    structure_lines: list[int] = []
    geo: list[list[str]] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text), delimiter=";"), start=1):
        if not row:
            continue
        kind = row[0].strip().lower()
        if kind == "structureet":
            if len(row) < len(_STRUCTURE_FIELDS):
                raise InputDataError(
                    f"FINESS file {path}, line {line_no}: a structureet line has {len(row)} fields; "
                    f"expected {len(_STRUCTURE_FIELDS) + 1}"
                )
            structures.append((row[1:] + [""] * len(_STRUCTURE_FIELDS))[: len(_STRUCTURE_FIELDS)])
            structure_lines.append(line_no)
        elif kind == "geolocalisation":
            if len(row) < 4:
                raise InputDataError(
                    f"FINESS file {path}, line {line_no}: a geolocalisation line has {len(row)} "
                    "fields; expected nofinesset, coordxet, coordyet, sourcecoordet, datemaj"
                )
            geo.append((row[1:] + [""] * len(_GEO_FIELDS))[: len(_GEO_FIELDS)])
        elif kind != "finess" and line_no > 1:
            raise InputDataError(
                f"FINESS file {path}, line {line_no}: unknown line type {row[0]!r}; expected "
                "'structureet' or 'geolocalisation' (is this the etalab-cs1100507 extraction?)"
            )
    if not structures:
        raise InputDataError(f"FINESS file {path}: no 'structureet' line; is this the FINESS extraction?")
    est = pd.DataFrame(structures, columns=_STRUCTURE_FIELDS).map(str.strip)
    duplicated = np.flatnonzero(est["nofinesset"].duplicated(keep=False).to_numpy())
    if len(duplicated):
        listed = ", ".join(f"{est['nofinesset'].iloc[i]!r} (line {structure_lines[i]})" for i in duplicated[:10])
        raise InputDataError(f"FINESS file {path}: duplicate nofinesset in structureet lines: {listed}")
    coords = pd.DataFrame(geo, columns=_GEO_FIELDS).map(str.strip).drop_duplicates("nofinesset", keep="last")
    wanted = {str(c) for c in categories}
    est = est[est["categetab"].isin(wanted)]
    if departments is not None:
        est = est[est["departement"].isin({str(d) for d in departments})]
    if est.empty:
        raise InputDataError(
            f"FINESS file {path}: no establishment of categories {sorted(wanted)}"
            + (f" in departments {list(departments)}" if departments is not None else "")
        )
    merged = est.merge(coords, on="nofinesset", how="left")
    x = pd.to_numeric(merged["coordxet"].str.replace(",", "."), errors="coerce")
    y = pd.to_numeric(merged["coordyet"].str.replace(",", "."), errors="coerce")
    crs_name = (
        merged["sourcecoordet"]
        .fillna("")
        .map(lambda s: next((c for key, c in _FINESS_CRS.items() if key in s.upper()), None))
    )
    located = x.notna() & y.notna() & crs_name.notna()
    if not located.all():
        missing = merged.loc[~located, "nofinesset"].tolist()
        logger.warning(
            "FINESS file %s: %d establishments without usable coordinates are left out: %s",
            path,
            len(missing),
            ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""),
        )
    merged = merged.assign(x=x, y=y, crs_name=crs_name)[located.to_numpy()]
    parts = []
    for crs, group in merged.groupby("crs_name"):
        pts = gpd.GeoSeries(gpd.points_from_xy(group["x"], group["y"]), index=group.index, crs=crs)
        parts.append(pts.to_crs("EPSG:2154"))
    geometry = pd.concat(parts).reindex(merged.index) if parts else gpd.GeoSeries([], crs="EPSG:2154")
    name = merged["rslongue"].where(merged["rslongue"] != "", merged["rs"])
    out = gpd.GeoDataFrame(
        {
            "facility_id": merged["nofinesset"],
            "name": name,
            "type": merged["categetab"].map(lambda c: FINESS_CATEGORIES.get(c, c)),
            "code_insee": _insee_code(merged["departement"], merged["commune"]),
            **{c: merged[c] for c in _STRUCTURE_FIELDS if c != "nofinesset"},
            "sourcecoordet": merged["sourcecoordet"],
        },
        geometry=gpd.GeoSeries(geometry, crs="EPSG:2154"),
        crs="EPSG:2154",
    ).reset_index(drop=True)
    return out


def _insee_code(departement: pd.Series, commune: pd.Series) -> pd.Series:
    """INSEE commune code from FINESS's department and 3-digit commune code."""
    dep = departement.fillna("")
    com = commune.fillna("").str.zfill(3)
    # Overseas departments are 9A..9F in FINESS and 971..976 in INSEE codes; there the
    # commune field already holds the last digits after the 3-character department.
    overseas = dep.str.match(r"^9[A-F]$")
    code = dep.str.zfill(2) + com
    dom = "97" + dep.str[1].map({"A": "1", "B": "2", "C": "3", "D": "4", "F": "6"}).fillna("") + com.str[-2:]
    return code.where(~overseas, dom)


#: Formats :func:`read_facilities` reads.
FACILITY_FORMATS = ("auto", "finess", "points")


def _looks_like_finess(path: Path) -> bool:
    """The FINESS extraction starts with a ``finess;`` header line or a ``structureet;`` line."""
    if not path.is_file():
        return False
    with path.open("rb") as fh:
        head = fh.read(64)
    return head.lower().startswith((b"finess;", b"structureet;"))


def read_facilities(
    path: str | Path,
    *,
    layer: str | None = None,
    id_column: str = "facility_id",
    name_column: str | None = "name",
    type_column: str | None = "type",
    x_column: str | None = None,
    y_column: str | None = None,
    crs: str | None = None,
    status_column: str | None = "status",
    keep_status: Sequence[str] | None = ("open",),
    format: str = "auto",
    categories: Sequence[str] = tuple(FINESS_CATEGORIES),
    departments: Sequence[str] | None = None,
) -> gpd.GeoDataFrame:
    """Facilities from a point layer, a CSV with coordinate columns, or the FINESS extraction.

    Parameters
    ----------
    path
        A vector file (points), a CSV, or the FINESS public extraction.
    format
        ``"points"`` (a point layer or a CSV), ``"finess"`` (:func:`read_finess`, with
        ``categories`` and ``departments``; the other options do not apply), or
        ``"auto"`` (default): FINESS when the file's first line starts with ``finess;``
        or ``structureet;``, points otherwise.
    layer
        Layer of a multi-layer file.
    id_column, name_column, type_column
        Columns copied to ``facility_id``, ``name`` and ``type`` (matched
        case-insensitively); the name and type columns are optional (None) but an error
        when named and absent.  When the default ``"name"``/``"type"`` is absent, the
        id (resp. ``"facility"``) stands in, with a warning.
    x_column, y_column
        For a CSV: coordinate columns; by default ``lon``/``lat`` (also
        ``longitude``/``latitude``), else ``x``/``y``.
    crs
        For a CSV: CRS of the coordinates; EPSG:4326 for lon/lat by default.  Needed
        for x/y columns.
    status_column, keep_status
        Where the status column exists, keep only rows whose status is in
        ``keep_status`` (``open`` by default, as in the regional list); None keeps all.
    """
    if format not in FACILITY_FORMATS:
        raise InputDataError(f"unknown facilities format {format!r}; expected one of {', '.join(FACILITY_FORMATS)}")
    path = existing(path, "facilities file")
    if format == "finess" or (format == "auto" and _looks_like_finess(path)):
        return read_finess(path, categories=categories, departments=departments)
    where = f"facilities file {path}"
    table = is_table(path)
    if table:
        frame = read_csv(path, "facilities file")
        frame = _points_from_table(frame, where, x_column, y_column, crs)
    else:
        frame = read_vector(path, "facilities file", layer)
        geom_types = set(frame.geom_type.dropna())
        if not geom_types <= {"Point"}:
            raise InputDataError(f"{where}: expected point geometries, found {sorted(geom_types)}")
    if len(frame) == 0:
        raise InputDataError(f"{where}: no facility (the table is empty)")
    columns = [c for c in frame.columns if c != "geometry"]
    id_col = find_column(columns, id_column, where=where)
    frame = frame.reset_index(drop=True)
    ids = frame[id_col].astype("string").str.strip() if not table else frame[id_col].str.strip()
    check_unique_ids(ids, where=where, column=id_col, csv=table)  # type: ignore[arg-type]
    name_col = _optional_column(columns, name_column, where, default="name")
    type_col = _optional_column(columns, type_column, where, default="type")
    status_col = find_column(columns, status_column, where=where, required=False) if status_column else None
    used = {id_col, name_col, type_col}
    others = {(f"input_{c}" if c in {"facility_id", "name", "type"} else c): frame[c] for c in columns if c not in used}
    out = pd.DataFrame(
        {
            "facility_id": ids.astype(str),
            "name": frame[name_col].astype(str) if name_col else ids.astype(str),
            "type": frame[type_col].astype(str) if type_col else "facility",
            **others,
        }
    )
    out = gpd.GeoDataFrame(out, geometry=frame.geometry, crs=frame.crs)
    if status_col is not None and keep_status is not None:
        status = frame[status_col].astype(str).str.strip()
        keep = status.isin(set(keep_status)).to_numpy()
        dropped = status[~keep].value_counts()
        if len(dropped):
            logger.info(
                "%s: kept %d facilities with %s %s; left out %s",
                where,
                int(keep.sum()),
                status_col,
                list(keep_status),
                ", ".join(f"{n} {s!r}" for s, n in dropped.items()),
            )
        out = out[keep]
        if out.empty:
            raise InputDataError(
                f"{where}: no facility has {status_col!r} in {list(keep_status)}; values are {sorted(status.unique())}"
            )
    empty_geom = out.geometry.isna() | out.geometry.is_empty
    if empty_geom.any():
        first = int(np.flatnonzero(empty_geom.to_numpy())[0])
        raise InputDataError(
            f"{where}, {row_label(out, first, csv=table)}: facility {out['facility_id'].iloc[first]!r} has no location"
        )
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs).reset_index(drop=True)


def _optional_column(columns: list[str], wanted: str | None, where: str, default: str) -> str | None:
    if wanted is None:
        return None
    found = find_column(columns, wanted, where=where, required=wanted != default)
    if found is None:
        logger.warning("%s: no column %r; using a stand-in", where, wanted)
    return found


def _points_from_table(
    frame: pd.DataFrame, where: str, x_column: str | None, y_column: str | None, crs: str | None
) -> gpd.GeoDataFrame:
    columns = list(frame.columns)
    if (x_column is None) != (y_column is None):
        raise InputDataError(f"{where}: give both the x and the y column, or neither")
    if x_column is None:
        lon = find_column(columns, ["lon", "longitude", "lng"], where=where, required=False)
        lat = find_column(columns, ["lat", "latitude"], where=where, required=False)
        if lon and lat:
            x_column, y_column, crs = lon, lat, crs or "EPSG:4326"
        else:
            x_column = find_column(columns, ["x"], where=f"{where} (no lon/lat columns either)")
            y_column = find_column(columns, ["y"], where=where)
    else:
        x_column = find_column(columns, x_column, where=where)
        y_column = find_column(columns, y_column, where=where)  # type: ignore[arg-type]
    if crs is None:
        raise InputDataError(f"{where}: coordinates in columns {x_column!r}/{y_column!r} need a CRS (--facilities-crs)")
    x = to_numbers(frame[x_column], where=where, column=x_column, csv=True, allow_negative=True)
    y = to_numbers(frame[y_column], where=where, column=y_column, csv=True, allow_negative=True)
    if crs.upper() in {"EPSG:4326", "WGS84"}:
        bad = (x.abs() > 180) | (y.abs() > 90)
        if bad.any():
            p = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputDataError(
                f"{where}, line {p + 2}: ({x.iloc[p]}, {y.iloc[p]}) is not a longitude/latitude; "
                "give the CRS of projected coordinates"
            )
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs=crs)


def read_candidates(
    path: str | Path, *, layer: str | None = None, id_column: str = "candidate_id", name_column: str | None = "name"
) -> gpd.GeoDataFrame:
    """A planner's own candidate sites (vacant buildings, volunteering communes): a point
    layer or a CSV with coordinates, read as :func:`read_facilities` reads facilities, with
    ``candidate_id`` and ``name`` (see :func:`coverage.candidates.candidates_from_points`)."""
    points = read_facilities(
        path,
        format="points",
        layer=layer,
        id_column=id_column,
        name_column=name_column,
        type_column=None,
        status_column=None,
        keep_status=None,
    )
    return points.rename(columns={"facility_id": "candidate_id"})
