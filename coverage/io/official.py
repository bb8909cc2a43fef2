"""The official sources a planner uses, fetched into a cache folder (``couverture data``).

:data:`SOURCES` lists them: the FINESS extraction, INSEE's Filosofi 200 m grid, commune
and department contours, INSEE's legal populations by commune, the OpenStreetMap extract
of the region (Geofabrik) and DREES's APL per commune, each with its publisher, licence,
the address its publisher documents, how that address was checked, the checksum where the
publisher gives one, and the reader of this package that reads it.

:func:`fetch_sources` downloads them (pooch; progress bar, resumption, checksums, atomic
files; see :mod:`coverage.io._download`); :func:`source_table` says what the cache holds;
:func:`load_official_inputs` reads the cache with the package's readers into the same
:class:`~coverage.io.regional.RegionalInputs` as the shipped regional data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from coverage.columns import find_column
from coverage.config import DEFAULT_METRIC_CRS
from coverage.errors import InputDataError, InputFileNotFoundError
from coverage.io import _download as dl
from coverage.io._common import read_vector
from coverage.io.admin import read_communes, read_departments
from coverage.io.finess import FINESS_CATEGORIES, read_finess
from coverage.io.population import attach_communes, population_from_communes, read_filosofi, with_area_names
from coverage.io.regional import RegionalInputs
from coverage.io.roads import read_osm
from coverage.io.settings import load_speed_profile
from coverage.speeds import SpeedProfile

__all__ = [
    "ANALYSIS_SOURCES",
    "CENTRE_VAL_DE_LOIRE",
    "SOURCES",
    "SOURCES_URL_ENV",
    "Source",
    "default_cache",
    "fetch_sources",
    "load_official_inputs",
    "official_paths",
    "source_table",
    "source_url",
]

logger = logging.getLogger(__name__)

#: Environment variable giving a base URL that replaces every publisher's address:
#: source NAME is then fetched from ``<base>/<its cache file name>`` (a mirror, a test server).
SOURCES_URL_ENV = "COUVERTURE_SOURCES_URL"
#: Departments of the Région Centre-Val de Loire: what the official inputs are cut to.
CENTRE_VAL_DE_LOIRE = ("18", "28", "36", "37", "41", "45")


@dataclass(frozen=True)
class Source:
    """One official source: where it comes from, what it is, and how it is read.

    ``file`` is the name in the cache of what is downloaded; for an archive, ``member``
    is the glob of the file the reader needs and ``product`` its name in the cache.
    ``checksum`` is a pinned ``md5:``/``sha256:`` sum; ``checksum_url`` a file of the
    publisher beside the data that gives the MD5 of its current version.
    """

    name: str
    title: str
    publisher: str
    licence: str
    page: str
    url: str
    file: str
    reader: str
    verified: str
    checksum: str | None = None
    checksum_url: str | None = None
    checksum_note: str = "none published"
    member: str | None = None
    product: str | None = None
    size: str = "unknown"

    @property
    def cached_file(self) -> str:
        """The file of the cache a reader reads."""
        return self.product or self.file


_NOT_FETCHED = "not fetched here (only package registries are reachable from the development machine)"

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name="finess",
            title="FINESS: extraction of the establishments file, geolocated (etalab-cs1100507)",
            publisher="Ministère de la Santé (ANS) on data.gouv.fr",
            licence="Licence Ouverte / Open Licence",
            page="https://www.data.gouv.fr/fr/datasets/finess-extraction-du-fichier-des-etablissements/",
            # the dataset's stable link to the latest geolocated extraction
            url="https://www.data.gouv.fr/fr/datasets/r/98f3161f-79ff-4f16-8f6a-6d571a80fea2",
            file="finess_etalab_cs1100507.csv",
            reader="coverage.io.finess.read_finess",
            verified="dataset, publisher and licence: data.gouv.fr's FINESS listing and reuse pages (search tool); "
            "resource link of the geolocated file: public scripts and a 2026 copy of the dataset's API record "
            f"(etalab-cs1100507-stock-*.csv, ~48 MB); {_NOT_FETCHED}",
            checksum_note="none pinned: each extraction differs (data.gouv.fr's API gives a SHA-1 per version; "
            "not read)",
            size="~48 MB",
        ),
        Source(
            name="filosofi",
            title="INSEE Filosofi 2019: population on the 200 m grid (carreaux), metropolitan France",
            publisher="INSEE",
            licence="Licence Ouverte 2.0 (INSEE's reuse terms)",
            page="https://www.insee.fr/fr/statistiques/7655475?sommaire=7655515",
            url="https://www.insee.fr/fr/statistiques/fichier/7655475/Filosofi2019_carreaux_200m_csv.zip",
            file="Filosofi2019_carreaux_200m_csv.zip",
            member="*200m_met*.csv",
            product="filosofi2019_carreaux_200m_met.csv",
            reader="coverage.io.population.read_filosofi",
            verified="INSEE's page 7655475 and its file names (…_200m_csv.zip, _gpkg.zip, _shp.zip) as cited by "
            "public code (search tool); a zip that holds a 7z, as a public script that downloaded the gpkg "
            f"variant reports; {_NOT_FETCHED}",
        ),
        Source(
            name="communes",
            title="Commune contours 2024 (IGN ADMIN EXPRESS COG, generalised to 100 m by Etalab)",
            publisher="IGN; Etalab (data.gouv.fr)",
            licence="Licence Ouverte 2.0",
            page="https://github.com/datagouv/contours-administratifs",
            url="https://etalab-datasets.geo.data.gouv.fr/contours-administratifs/2024/geojson/communes-100m.geojson",
            file="communes-100m.geojson",
            reader="coverage.io.admin.read_communes (polygons)",
            verified="the producer's README (datagouv/contours-administratifs: layers and columns code, nom, "
            f"departement, region, epci) and public scripts using this address (search tool); {_NOT_FETCHED}",
            size="~30 MB",
        ),
        Source(
            name="departements",
            title="Department contours 2024 (same series as the communes)",
            publisher="IGN; Etalab (data.gouv.fr)",
            licence="Licence Ouverte 2.0",
            page="https://github.com/datagouv/contours-administratifs",
            url="https://etalab-datasets.geo.data.gouv.fr/contours-administratifs/2024/geojson/departements-100m.geojson",
            file="departements-100m.geojson",
            reader="coverage.io.admin.read_departments",
            verified="as the communes: the producer's README names departements-<generalisation>.geojson "
            f"(code, nom, region); {_NOT_FETCHED}",
        ),
        Source(
            name="epci",
            title="EPCI contours 2024 with their names (same series as the communes)",
            publisher="IGN; Etalab (data.gouv.fr)",
            licence="Licence Ouverte 2.0",
            page="https://github.com/datagouv/contours-administratifs",
            url="https://etalab-datasets.geo.data.gouv.fr/contours-administratifs/2024/geojson/epci-100m.geojson",
            file="epci-100m.geojson",
            reader="coverage.io.official (EPCI names of the communes)",
            verified="as the communes: the producer's README names epci-<generalisation>.geojson (code: SIREN, "
            f"nom); {_NOT_FETCHED}",
        ),
        Source(
            name="populations",
            title="INSEE legal populations 2022 by commune (in force 2025), in the COG at 1 January 2024",
            publisher="INSEE",
            licence="Licence Ouverte 2.0",
            page="https://www.insee.fr/fr/statistiques/8290591",
            url="https://www.insee.fr/fr/statistiques/fichier/8290591/ensemble.zip",
            file="insee_populations_legales_2022_ensemble.zip",
            member="donnees_communes.csv",
            product="insee_populations_legales_2022_communes.csv",
            reader="coverage.io.admin.read_communes (table: COM, Commune, DEP, PMUN)",
            verified="public code citing 8290591/ensemble.zip as the 2022 legal populations with "
            "donnees_communes.csv inside; data.gouv.fr's page on legal populations: each vintage is published "
            f"in the geography of 1 January of the year before it comes into force (search tool); {_NOT_FETCHED}",
        ),
        Source(
            name="osm",
            title="OpenStreetMap extract of the Centre region (Geofabrik, updated daily)",
            publisher="OpenStreetMap contributors; extract by Geofabrik",
            licence="ODbL 1.0 (© OpenStreetMap contributors)",
            page="https://download.geofabrik.de/europe/france/centre.html",
            url="https://download.geofabrik.de/europe/france/centre-latest.osm.pbf",
            file="centre-latest.osm.pbf",
            checksum_url="https://download.geofabrik.de/europe/france/centre-latest.osm.pbf.md5",
            checksum_note="MD5 from Geofabrik's .md5 file beside the extract, read at each download",
            reader="coverage.io.roads.read_osm",
            verified="Geofabrik's download URL pattern <region>/<area>-latest.osm.pbf and its .md5 sidecars "
            f"(search tool: Geofabrik download API descriptions, public scripts for this extract); {_NOT_FETCHED}",
            size="~230 MB",
        ),
        Source(
            name="apl",
            title="DREES APL (accessibilité potentielle localisée) to general practitioners, by commune",
            publisher="DREES",
            licence="Licence Ouverte 2.0 (not re-checked)",
            page="https://data.drees.solidarites-sante.gouv.fr/explore/dataset/530_l-accessibilite-potentielle-localisee-apl/information/",
            url="https://data.drees.solidarites-sante.gouv.fr/api/explore/v2.1/catalog/datasets/"
            "530_l-accessibilite-potentielle-localisee-apl/attachments/indicateur_d_apl_aux_medecins_generalistes_xlsx",
            file="drees_apl_medecins_generalistes.xlsx",
            reader="none yet: kept to compare with `couverture access` (sheets 'APL <year>')",
            verified="DREES's page on the APL indicator (search tool) and public scripts of 2025-2026 using this "
            "attachment (older scripts name it …_accessibilite_potentielle_localisee_apl_aux_medecins_"
            f"generalistes_xlsx); {_NOT_FETCHED}",
        ),
    )
}

#: The sources ``--source official`` reads (the APL is for comparison only).
ANALYSIS_SOURCES = ("osm", "finess", "filosofi", "communes", "departements", "epci", "populations")


def default_cache() -> Path:
    """The user's cache folder for couverture (``~/.cache/couverture`` on Linux)."""
    import pooch

    return Path(pooch.os_cache("couverture"))


def _cache(cache: str | Path | None) -> Path:
    path = Path(cache).expanduser() if cache is not None else default_cache()
    if path.exists() and not path.is_dir():
        raise InputDataError(f"cache folder {path}: is a file; expected a folder")
    return path


def _base_url(base_url: str | None) -> str | None:
    return base_url or os.environ.get(SOURCES_URL_ENV) or None


def source_url(source: Source, base_url: str | None = None) -> str:
    """The address ``source`` is fetched from: the publisher's, or ``<base>/<file>``
    with a base URL (argument, else :data:`SOURCES_URL_ENV`)."""
    base = _base_url(base_url)
    return f"{base.rstrip('/')}/{source.file}" if base else source.url


def _checksum_url(source: Source, base_url: str | None) -> str | None:
    if source.checksum_url is None:
        return None
    base = _base_url(base_url)
    return f"{base.rstrip('/')}/{source.file}.md5" if base else source.checksum_url


def _sources(names: Iterable[str]) -> list[Source]:
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise InputDataError(f"unknown source {', '.join(map(repr, unknown))}; the sources are {', '.join(SOURCES)}")
    return [SOURCES[n] for n in names]


def fetch_sources(
    names: Iterable[str] | None = None,
    *,
    cache: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> dict[str, str]:
    """Fetch sources into the cache folder; returns ``{name: what happened}``.

    A source already in the cache as couverture wrote it is not downloaded again
    (``"in the cache"``).  Otherwise it is downloaded (``"fetched"``), with its
    publisher's checksum checked where there is one, and an archive's member taken out.
    A file of the cache that couverture did not write, or that changed since, is never
    overwritten (:class:`~coverage.errors.OutputExistsError`); a server that cannot be
    reached, a wrong checksum or a cut download are one-line
    :class:`~coverage.errors.DownloadError` (a cut download resumes on the next call).

    Parameters
    ----------
    names
        Source names (see :data:`SOURCES`); all of them when None.
    cache
        The cache folder; default :func:`default_cache`.
    base_url
        Fetch every source from ``<base_url>/<file>`` instead of its publisher (default
        the environment variable :data:`SOURCES_URL_ENV`, if set).
    progress
        Show a progress bar per download (only on a terminal).
    """
    folder = _cache(cache)
    chosen = _sources(SOURCES if names is None else names)
    folder.mkdir(parents=True, exist_ok=True)
    dl.sweep(folder)
    return {s.name: _fetch(s, folder, base_url, progress) for s in chosen}


def _fetch(source: Source, cache: Path, base_url: str | None, progress: bool) -> str:
    recorded = dl.read_manifest(cache)
    entry = recorded.get(source.name)
    target = cache / source.file
    product = cache / source.product if source.product else None
    have_download = entry is not None and dl.as_recorded(target, entry.get("download"))
    have_product = product is None or (entry is not None and dl.as_recorded(product, entry.get("product")))
    if have_download and have_product:
        logger.info("%s: already in the cache (%s, fetched %s)", source.name, target, entry.get("fetched"))  # type: ignore[union-attr]
        return "in the cache"
    if target.exists() and not have_download:
        raise dl.refuse_overwrite(target, changed=entry is not None)
    if product is not None and product.exists() and not have_product:
        raise dl.refuse_overwrite(product, changed=entry is not None)
    if not have_download:
        url = source_url(source, base_url)
        checksum_url = _checksum_url(source, base_url)
        known = source.checksum or (dl.published_md5(source.name, checksum_url) if checksum_url else None)
        logger.info("%s: downloading %s", source.name, url)
        dl.download(source.name, url, target, known, progress=progress)
        entry = {"url": url, "checksum": known, "fetched": dl.now(), "download": dl.record(target)}
        recorded[source.name] = entry
        dl.write_manifest(cache, recorded)  # the download counts even if taking the member out fails
        check = f"{known.split(':')[0].upper()} checked against the publisher's" if known else "no checksum published"
        logger.info("%s: %s in %s (%s)", source.name, target.name, cache, check)
    if product is not None:
        assert source.member is not None and entry is not None
        dl.extract_member(source.name, target, source.member, product)
        entry["product"] = dl.record(product)
        recorded[source.name] = entry
        dl.write_manifest(cache, recorded)
    return "fetched"


def source_table(cache: str | Path | None = None) -> pd.DataFrame:
    """One row per source: ``source``, ``publisher``, ``size`` (on disk when cached,
    else as documented), ``cached`` (``yes``, ``no``, ``by hand``: present but not
    fetched by couverture, ``changed``: modified since fetched) and ``checksum``."""
    folder = _cache(cache)
    recorded = dl.read_manifest(folder) if folder.is_dir() else {}
    rows = []
    for source in SOURCES.values():
        path = folder / source.cached_file
        entry = recorded.get(source.name)
        key = "product" if source.product else "download"
        if not path.is_file():
            cached = "no"
        elif entry is None or key not in entry:
            cached = "by hand"
        else:
            cached = "yes" if dl.as_recorded(path, entry[key]) else "changed"
        size = f"{path.stat().st_size / 1e6:.1f} MB" if path.is_file() else source.size
        rows.append(
            {
                "source": source.name,
                "publisher": source.publisher,
                "size": size,
                "cached": cached,
                "checksum": "published (" + source.checksum_note.split(" from ")[0] + ")"
                if source.checksum or source.checksum_url
                else "none published",
            }
        )
    return pd.DataFrame(rows)


def official_paths(cache: str | Path | None = None, names: Sequence[str] = ANALYSIS_SOURCES) -> dict[str, Path]:
    """The cached files of ``names``; one error naming every missing source and the
    ``couverture data fetch`` command that brings them."""
    folder = _cache(cache)
    chosen = _sources(names)
    paths = {s.name: folder / s.cached_file for s in chosen}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        cache_option = "" if cache is None else f" --cache {folder}"
        raise InputFileNotFoundError(
            f"official source{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in the cache {folder}: "
            f"run `couverture data fetch {' '.join(missing)}{cache_option}`"
        )
    return paths


def load_official_inputs(
    cache: str | Path | None = None,
    *,
    profile: SpeedProfile | None = None,
    departments: Sequence[str] = CENTRE_VAL_DE_LOIRE,
    finess_categories: Sequence[str] = tuple(FINESS_CATEGORIES),
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> RegionalInputs:
    """The regional inputs read from the cache of official sources.

    Roads: the OpenStreetMap extract (:func:`~coverage.io.roads.read_osm`).  Facilities:
    the FINESS extraction, ``finess_categories`` (MSP and centres de santé by default)
    in ``departments``.  Population: the Filosofi 200 m cells whose centre lies in a
    commune of ``departments`` (commune, EPCI and department from the contours and the
    legal-population table).  Communes and departments: cut to ``departments``.

    Every source must be in the cache (``couverture data fetch``); a missing one is an
    :class:`~coverage.errors.InputFileNotFoundError` naming the command to run.
    """
    paths = official_paths(cache)
    profile = profile or load_speed_profile()
    wanted = {str(d) for d in departments}
    communes = read_communes(paths["populations"], polygons=paths["communes"], metric_crs=metric_crs)
    communes = communes[communes["department"].isin(wanted)].reset_index(drop=True)
    communes = _with_epci(communes, paths["communes"], paths["epci"])
    if communes.empty:
        raise InputDataError(f"commune table {paths['populations']}: no commune in departments {sorted(wanted)}")
    department_polygons = read_departments(paths["departements"])
    department_polygons = department_polygons[department_polygons["department"].isin(wanted)].reset_index(drop=True)
    cells = attach_communes(read_filosofi(paths["filosofi"]), communes)
    inside = cells["department"].isin(wanted).to_numpy()
    logger.info(
        "Filosofi grid: %d of %d cells lie in the communes of departments %s", inside.sum(), len(cells), sorted(wanted)
    )
    if not inside.any():
        raise InputDataError(
            f"Filosofi grid {paths['filosofi']}: no cell in the communes of departments {sorted(wanted)}"
        )
    units = cells[inside].reset_index(drop=True)
    names = dict(zip(communes["code_insee"], communes["name"], strict=True))
    units["commune_name"] = units["commune"].map(names)
    units = with_area_names(units, department_polygons)
    facilities = read_finess(paths["finess"], categories=finess_categories, departments=sorted(wanted))
    graph = read_osm(paths["osm"], profile=profile)
    return RegionalInputs(
        roads=graph,
        facilities=facilities,
        units=units,
        communes=communes,
        departments=department_polygons,
        paths=paths,
        profile=profile,
        town_halls=with_area_names(population_from_communes(communes, metric_crs=metric_crs), department_polygons),
    )


def _with_epci(communes: gpd.GeoDataFrame, contours: Path, epci: Path) -> gpd.GeoDataFrame:
    """EPCI codes (SIREN) of the communes from the contours, and the EPCI names, where the
    commune table gives none (INSEE's legal populations do not)."""
    layer = read_vector(contours, "commune contours")
    where = f"commune contours {contours}"
    columns = [c for c in layer.columns if c != "geometry"]
    code = find_column(columns, ["code", "code_insee", "insee_com"], where=where)
    siren = find_column(columns, ["epci", "siren_epci", "epci_siren"], where=where, required=False)
    if siren is None:
        return communes
    by_commune = dict(zip(layer[code].astype(str).str.strip().str.zfill(5), layer[siren], strict=True))
    groups = read_vector(epci, "EPCI contours")
    where = f"EPCI contours {epci}"
    columns = [c for c in groups.columns if c != "geometry"]
    group_code = find_column(columns, ["code", "siren", "epci"], where=where)
    group_name = find_column(columns, ["nom", "name", "libelle"], where=where)
    names = dict(zip(groups[group_code].astype(str).str.strip(), groups[group_name].astype(str), strict=True))
    out = communes.copy()
    found = out["code_insee"].map(by_commune).astype("string").str.strip()
    out["epci"] = out["epci"].fillna(found)
    out["epci_name"] = out["epci_name"].fillna(out["epci"].map(names).astype("string"))
    return out
