"""The FINESS public extraction (``etalab-cs1100507``) and FINESS tables with a header:
primary-care structures (MSP, centres de santé) with their Lambert coordinates.

:func:`coverage.io.facilities.read_facilities` reads these files too, recognising them
by their first line (:func:`looks_like_finess`).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from coverage.errors import InputDataError
from coverage.io._common import (
    existing,
    is_table,
    read_csv,
    read_text,
)

__all__ = ["FINESS_CATEGORIES", "finess_columns", "looks_like_finess", "read_finess"]

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
    ``geolocalisation`` lines its coordinates; they are joined on ``nofinesset``.  A
    table with a header line of FINESS field names (``nofinesset``, ``coordxet``,
    ``coordyet``, optionally ``categetab``, ``rs``, ``rslongue``, ``departement``,
    ``commune``, ``sourcecoordet``...; ``,`` or ``;`` separated), as made by
    extracting the FINESS file with a spreadsheet, is read too; there coordinates
    without ``sourcecoordet`` are taken as Lambert-93, and without ``categetab``
    every row is kept (type ``facility``).

    Parameters
    ----------
    path
        The extraction (``;``-separated; UTF-8, Windows-1252 or Latin-1).
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
        with no coordinates are left out with a warning that names them; a coordinate
        that is given but is not a finite number is an error naming its line.
    """
    path = existing(path, "FINESS file")
    if _finess_header(path) is not None:
        est, coords = _finess_table(path)
    else:
        est, coords = _finess_extraction(path)
    where = f"FINESS file {path}"
    wanted = {str(c) for c in categories}
    if (est["categetab"] == "").all():
        logger.info("%s: no categetab given; every establishment is kept", where)
    else:
        est = est[est["categetab"].isin(wanted)]
    if departments is not None:
        est = est[est["departement"].isin({str(d) for d in departments})]
    if est.empty:
        raise InputDataError(
            f"{where}: no establishment of categories {sorted(wanted)}"
            + (f" in departments {list(departments)}" if departments is not None else "")
        )
    merged = est.merge(coords, on="nofinesset", how="left")
    xy = {c: _finess_number(merged, c, where) for c in ("coordxet", "coordyet")}
    x, y = xy["coordxet"], xy["coordyet"]
    crs_name = (
        merged["sourcecoordet"]
        .fillna("")
        .map(lambda s: next((c for key, c in _FINESS_CRS.items() if key in s.upper()), None))
    )
    located = x.notna() & y.notna() & crs_name.notna()
    if not located.all():
        missing = merged.loc[~located, "nofinesset"].tolist()
        logger.warning(
            "%s: %d establishments without usable coordinates are left out: %s",
            where,
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
            "type": merged["categetab"].map(lambda c: FINESS_CATEGORIES.get(c, c or "facility")),
            "code_insee": _insee_code(merged["departement"], merged["commune"]),
            **{c: merged[c] for c in _STRUCTURE_FIELDS if c != "nofinesset"},
            "sourcecoordet": merged["sourcecoordet"],
        },
        geometry=gpd.GeoSeries(geometry, crs="EPSG:2154"),
        crs="EPSG:2154",
    ).reset_index(drop=True)
    return out


def _finess_extraction(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Establishments and coordinates of the header-less extraction, each row with its
    file line in ``_line``."""
    text = read_text(path, "FINESS file")
    structures: list[list[str]] = []
    structure_lines: list[int] = []
    geo: list[list[str]] = []
    geo_lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    line_no = 1
    for row in reader:
        kind = row[0].strip().lower() if row else ""
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
            geo_lines.append(line_no)
        elif row and kind != "finess" and line_no > 1:
            raise InputDataError(
                f"FINESS file {path}, line {line_no}: unknown line type {row[0]!r}; expected "
                "'structureet' or 'geolocalisation' (is this the etalab-cs1100507 extraction?)"
            )
        line_no = reader.line_num + 1  # the line where the next record starts
    if not structures:
        raise InputDataError(f"FINESS file {path}: no 'structureet' line; is this the FINESS extraction?")
    est = pd.DataFrame(structures, columns=_STRUCTURE_FIELDS).map(str.strip)
    est.index = pd.Index(structure_lines, name="line")
    _check_unique_finess(est, path)
    coords = pd.DataFrame(geo, columns=_GEO_FIELDS).map(str.strip)
    coords["_line"] = geo_lines
    return est, coords.drop_duplicates("nofinesset", keep="last")


def _finess_table(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Establishments and coordinates of a FINESS table with a header line."""
    frame = read_csv(path, "FINESS file")
    frame.columns = [c.lower() for c in frame.columns]
    missing = [c for c in ("nofinesset", "coordxet", "coordyet") if c not in frame.columns]
    if missing:
        raise InputDataError(f"FINESS file {path}: no column {missing}; columns are {list(frame.columns)}")
    frame = frame.fillna("").astype(str).map(str.strip)
    est = pd.DataFrame({c: frame[c] if c in frame.columns else "" for c in _STRUCTURE_FIELDS}, index=frame.index)
    _check_unique_finess(est, path)
    coords = pd.DataFrame(
        {
            "nofinesset": frame["nofinesset"].to_numpy(),
            "coordxet": frame["coordxet"].to_numpy(),
            "coordyet": frame["coordyet"].to_numpy(),
            "sourcecoordet": (
                frame["sourcecoordet"].where(frame["sourcecoordet"] != "", "LAMBERT_93")
                if "sourcecoordet" in frame.columns
                else pd.Series("LAMBERT_93", index=frame.index)
            ).to_numpy(),
            "datemaj_geo": frame["datemaj"].to_numpy() if "datemaj" in frame.columns else "",
            "_line": frame.index.to_numpy(),
        }
    )
    return est, coords


def _check_unique_finess(est: pd.DataFrame, path: Path) -> None:
    duplicated = np.flatnonzero(est["nofinesset"].duplicated(keep=False).to_numpy())
    if len(duplicated):
        listed = ", ".join(f"{est['nofinesset'].iloc[i]!r} (line {est.index[i]})" for i in duplicated[:10])
        raise InputDataError(f"FINESS file {path}: duplicate nofinesset in structureet lines: {listed}")


def _finess_number(merged: pd.DataFrame, column: str, where: str) -> pd.Series:
    """A coordinate column: NaN where empty, an error where given but not a finite number."""
    text = merged[column].fillna("").astype(str).str.strip()
    numbers = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce").astype(float)
    bad = (text != "") & ~np.isfinite(numbers.to_numpy(na_value=np.nan))
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputDataError(
            f"{where}, line {int(merged['_line'].iloc[first])}: column {column!r} = {text.iloc[first]!r} "
            f"is not a finite number ({int(bad.sum())} such cells)"
        )
    return numbers.where(text != "")


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
def looks_like_finess(path: Path) -> bool:
    """The FINESS extraction starts with a ``finess;`` header line or a ``structureet;``
    line; a FINESS table has ``nofinesset`` and ``coordxet`` among its header's fields."""
    return path.is_file() and (
        _finess_first_line(path).startswith(("finess;", "structureet;")) or bool(_finess_header(path))
    )


def _finess_first_line(path: Path) -> str:
    """First non-blank line, lower-cased, without BOM, quotes or spaces."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8-sig", errors="replace")
    line = next((t for t in text.splitlines() if t.strip()), "")
    return line.replace('"', "").replace(" ", "").lower()


def _finess_header(path: Path) -> list[str] | None:
    """The fields of a FINESS table's header line, None for any other file."""
    if not is_table(path) and path.suffix:
        return None
    line = _finess_first_line(path)
    fields = line.replace("\t", ";").replace(",", ";").split(";")
    return fields if {"nofinesset", "coordxet", "coordyet"} <= set(fields) else None


def finess_columns(path: Path) -> list[str]:
    """The file's own columns: its header, or the fields of the raw extraction."""
    return list(_finess_header(path) or _STRUCTURE_FIELDS)
