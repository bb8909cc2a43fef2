"""``couverture data`` and ``--source official``, against a local HTTP server.

Every test serves small files made here, in the publishers' formats, from a threaded
``http.server`` on 127.0.0.1 (byte ranges and ``If-Range`` supported, as the publishers'
servers do); no test reaches the internet.  Expected values are computed by hand: great-
circle lengths with the haversine formula, populations added up from the cells below.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import math
import re
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from pyproj import Transformer

from coverage.cli import main
from coverage.errors import InputFileNotFoundError
from coverage.io.official import ANALYSIS_SOURCES, SOURCES, SOURCES_URL_ENV, load_official_inputs, source_url

# --------------------------------------------------------------------------- the server


@dataclass
class Served:
    """What the test server holds, what it was asked, and how it misbehaves."""

    files: dict[str, bytes]
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    cut_after: dict[str, int] = field(default_factory=dict)  # file -> bytes sent before the connection drops, once
    base: str = ""

    def asked(self, name: str) -> list[str | None]:
        """The Range header of each request for ``name`` (None: the whole file)."""
        return [r for n, r in self.requests if n == name]


def _handler(served: Served) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            served.requests.append((name, self.headers.get("Range")))
            body = served.files.get(name)
            if body is None:
                self.send_error(404, "Not Found")
                return
            etag = '"' + hashlib.md5(body).hexdigest() + '"'
            start = 0
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if wanted and self.headers.get("If-Range") in (None, etag):
                start = int(wanted.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            part = body[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(part)))
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            cut = served.cut_after.pop(name, None)
            if cut is None:
                self.wfile.write(part)
                return
            self.wfile.write(part[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    return Handler


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the loopback address go straight to it, whatever proxy the machine sets."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv(SOURCES_URL_ENV, raising=False)


@pytest.fixture
def server(no_proxy: None) -> Iterator[Served]:
    served = Served(files=official_files())
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    served.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the files

TO_LAEA = Transformer.from_crs("EPSG:4326", "EPSG:3035", always_xy=True)
FROM_LAEA = Transformer.from_crs("EPSG:3035", "EPSG:4326", always_xy=True)
TO_LAMBERT93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)

# Filosofi cells (south-west corners in EPSG:3035) near Bourges: A, then B and C 2 km and
# 4 km east on the same row; P in Paris.  People: A 100, C 40, P 1000 (B has no cell).
_EAST, _NORTH = (int(v // 200 * 200) for v in TO_LAEA.transform(2.40, 47.08))
CELLS = {
    "A": (_EAST, _NORTH),
    "B": (_EAST + 2000, _NORTH),
    "C": (_EAST + 4000, _NORTH),
    "P": tuple(int(v // 200 * 200) for v in TO_LAEA.transform(2.35, 48.86)),
}
PEOPLE = {"A": 100.0, "C": 40.0, "P": 1000.0}


def centre(cell: str) -> tuple[float, float]:
    """Lon/lat of a cell's centre: where the road nodes are put."""
    east, north = CELLS[cell]
    return FROM_LAEA.transform(east + 100, north + 100)


def cell_id(cell: str) -> str:
    east, north = CELLS[cell]
    return f"CRS3035RES200mN{north}E{east}"


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle metres between two lon/lat points on OSMnx's sphere (R = 6,371,009 m)."""
    (lon1, lat1), (lon2, lat2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_009 * math.asin(math.sqrt(h))


def osm_pbf(path: Path) -> bytes:
    """One primary road A-B-C, 60 km/h, written as PBF by libosmium."""
    import osmium

    with osmium.SimpleWriter(str(path)) as writer:
        for node_id, cell in enumerate("ABC", start=1):
            writer.add_node(osmium.osm.mutable.Node(id=node_id, location=osmium.osm.Location(*centre(cell)), tags={}))
        writer.add_way(osmium.osm.mutable.Way(id=100, nodes=[1, 2, 3], tags={"highway": "primary", "maxspeed": "60"}))
    return path.read_bytes()


def finess_csv() -> bytes:
    """The etalab-cs1100507 layout (header line, 32-field structureet lines, geolocalisation
    lines), in Windows-1252 as published: an MSP at A (Cher), a hospital at A (category
    355, not primary care) and an MSP in Paris (outside the region)."""
    x, y = TO_LAMBERT93.transform(*centre("A"))
    xp, yp = TO_LAMBERT93.transform(2.35, 48.86)

    def structure(finess: str, name: str, commune: str, dep: str, depname: str, cat: str, catname: str) -> str:
        fields = [
            "structureet", finess, finess[:8] + "9", name[:38], name, "", "", "1", "RUE", "DE LA SANTÉ", "", "",
            commune, dep, depname, f"{dep}000 VILLE", "", "", cat, catname, "2204", "Maisons de Santé", "", "8610Z",
            "99", "Indéterminé", "99", "Non concerné", "2020-01-02", "2020-01-02", "2025-06-30", "",
        ]  # fmt: skip
        assert len(fields) == 32
        return ";".join(fields)

    lines = [
        "finess;etalab;100;2026-11-01",
        structure("180000001", "MAISON DE SANTÉ PLURIPROFESSIONNELLE A", "033", "18", "CHER", "603", "Maison de santé"),
        structure("180000002", "CENTRE HOSPITALIER A", "033", "18", "CHER", "355", "Centre Hospitalier (C.H.)"),
        structure("750000003", "MSP PARIS", "056", "75", "PARIS", "603", "Maison de santé"),
        f"geolocalisation;180000001;{x!r};{y!r};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-06-30",
        f"geolocalisation;180000002;{x!r};{y!r};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-06-30",
        f"geolocalisation;750000003;{xp!r};{yp!r};1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2025-06-30",
    ]
    return ("\n".join(lines) + "\n").encode("cp1252")


FILOSOFI_CSV = (
    "idcar_200m,i_est_200,lcog_geo,ind,men\n"
    + f"{cell_id('A')},0,18033,{PEOPLE['A']:g},40\n"
    + f"{cell_id('C')},0,18050,{PEOPLE['C']:g},15\n"
    + f"{cell_id('P')},0,75056,{PEOPLE['P']:g},500\n"
).encode("utf-8")


def filosofi_zip(tmp: Path) -> bytes:
    """INSEE's layout: a zip holding a 7z holding the metropolitan CSV (and others)."""
    import py7zr

    seven = tmp / "Filosofi2019_carreaux_200m_csv.7z"
    with py7zr.SevenZipFile(seven, "w") as archive:
        archive.writestr(FILOSOFI_CSV, "carreaux_200m_met.csv")
        archive.writestr(b"idcar_200m,ind\n", "carreaux_200m_reun.csv")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.write(seven, seven.name)
    return out.getvalue()


POPULATIONS_CSV = (
    "REG;Région;DEP;CODARR;CODCAN;CODCOM;COM;Commune;PMUN;PCAP;PTOT\n"
    "24;Centre-Val de Loire;18;182;1805;033;18033;Bourges;64668;1500;66168\n"
    "24;Centre-Val de Loire;18;182;1810;050;18050;Commune C;1200;20;1220\n"
    "11;Île-de-France;75;751;7599;056;75056;Paris;2113705;30000;2143705\n"
).encode("cp1252")


def populations_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("donnees_departements.csv", "REG;DEP;Département;PMUN\n24;18;Cher;298660\n")
        zf.writestr("donnees_communes.csv", POPULATIONS_CSV)
    return out.getvalue()


def square(lon: float, lat: float, half: float) -> list[list[list[float]]]:
    return [[[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half],
             [lon - half, lat - half]]]  # fmt: skip


def geojson(features: list[tuple[dict[str, object], list[list[list[float]]]]]) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": p, "geometry": {"type": "Polygon", "coordinates": c}}
                for p, c in features
            ],
        }
    ).encode("utf-8")


def contours() -> dict[str, bytes]:
    """Etalab's contours layout: communes (code, nom, departement, region, epci),
    departments (code, nom, region), EPCI (code, nom)."""
    a, c = centre("A"), centre("C")
    mid = ((a[0] + c[0]) / 2, a[1])
    return {
        "communes-100m.geojson": geojson(
            [
                (
                    {"code": "18033", "nom": "Bourges", "departement": "18", "region": "24", "epci": "241800507"},
                    square(*a, 0.01),
                ),
                (
                    {"code": "18050", "nom": "Commune C", "departement": "18", "region": "24", "epci": "241800507"},
                    square(*c, 0.01),
                ),
                (
                    {"code": "75056", "nom": "Paris", "departement": "75", "region": "11", "epci": "200054781"},
                    square(2.35, 48.86, 0.02),
                ),
            ]
        ),
        "departements-100m.geojson": geojson(
            [
                ({"code": "18", "nom": "Cher", "region": "24"}, square(*mid, 0.2)),
                ({"code": "75", "nom": "Paris", "region": "11"}, square(2.35, 48.86, 0.05)),
            ]
        ),
        "epci-100m.geojson": geojson(
            [
                ({"code": "241800507", "nom": "CA Bourges Plus"}, square(*mid, 0.1)),
                ({"code": "200054781", "nom": "Métropole du Grand Paris"}, square(2.35, 48.86, 0.05)),
            ]
        ),
    }


def apl_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "APL 2023"
    sheet.append(["Code commune INSEE", "Commune", "APL aux médecins généralistes"])
    sheet.append(["18033", "Bourges", 3.1])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def official_files(tmp: Path | None = None) -> dict[str, bytes]:
    """Every source's file, under the name ``--base-url`` fetches it by."""
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        pbf = osm_pbf(folder / "centre-latest.osm.pbf")
        files = {
            "finess_etalab_cs1100507.csv": finess_csv(),
            "Filosofi2019_carreaux_200m_csv.zip": filosofi_zip(folder),
            "insee_populations_legales_2022_ensemble.zip": populations_zip(),
            "centre-latest.osm.pbf": pbf,
            "centre-latest.osm.pbf.md5": f"{hashlib.md5(pbf).hexdigest()}  centre-latest.osm.pbf\n".encode(),
            "drees_apl_medecins_generalistes.xlsx": apl_xlsx(),
            **contours(),
        }
    assert set(files) == {s.file for s in SOURCES.values()} | {"centre-latest.osm.pbf.md5"}
    return files


def fetch(served: Served, cache: Path, *names: str) -> int:
    return main(["data", "fetch", *names, "--cache", str(cache), "--base-url", served.base])


def errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if " ERROR " in line]


def in_cache(cache: Path) -> set[str]:
    """Files of the cache folder a reader could take for data (not couverture's own)."""
    return {p.name for p in cache.iterdir() if p.is_file() and p.name != "couverture-sources.json"}


# --------------------------------------------------------------------------- the registry


def test_every_source_says_where_it_comes_from_and_no_checksum_is_invented() -> None:
    assert set(SOURCES) == {"finess", "filosofi", "communes", "departements", "epci", "populations", "osm", "apl"}
    for source in SOURCES.values():
        assert source.url.startswith("https://") and source.page.startswith("https://"), source.name
        assert source.licence and source.publisher and source.reader and source.title, source.name
        assert "not fetched here" in source.verified, source.name  # says honestly how it was checked
        assert source.checksum is None, source.name  # no publisher gives a fixed sum: none is written down
    osm = SOURCES["osm"]
    assert osm.url == "https://download.geofabrik.de/europe/france/centre-latest.osm.pbf"
    assert osm.checksum_url == osm.url + ".md5"  # Geofabrik's MD5, read at each download
    assert set(ANALYSIS_SOURCES) == set(SOURCES) - {"apl"}


def test_source_url_is_the_publishers_unless_a_base_url_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SOURCES_URL_ENV, raising=False)
    finess = SOURCES["finess"]
    assert source_url(finess) == finess.url
    assert source_url(finess, "http://mirror.test/data/") == "http://mirror.test/data/finess_etalab_cs1100507.csv"
    monkeypatch.setenv(SOURCES_URL_ENV, "http://env.test")
    assert source_url(finess) == "http://env.test/finess_etalab_cs1100507.csv"


# --------------------------------------------------------------------------- list


def list_rows(capsys: pytest.CaptureFixture[str], cache: Path) -> dict[str, str]:
    """``couverture data list``: {source: its line}."""
    assert main(["data", "list", "--cache", str(cache)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["source", "publisher", "size", "cached", "checksum"]
    return {line.split()[0]: " ".join(line.split()) for line in lines[1:]}


def test_list_shows_the_sources_and_what_the_cache_holds(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    rows = list_rows(capsys, cache)
    assert list(rows) == list(SOURCES)
    assert not cache.exists()  # listing creates nothing
    assert rows["osm"].endswith("~230 MB no published (MD5)")
    assert rows["finess"].endswith("~48 MB no none published")
    assert rows["filosofi"].endswith("unknown no none published")

    assert fetch(server, cache, "finess") == 0
    (cache / "communes-100m.geojson").write_bytes(b"{}")  # a planner's own copy
    capsys.readouterr()
    rows = list_rows(capsys, cache)
    size = len(server.files["finess_etalab_cs1100507.csv"]) / 1e6
    assert rows["finess"].endswith(f" {size:.1f} MB yes none published")
    assert rows["communes"].endswith(" 0.0 MB by hand none published")
    (cache / "finess_etalab_cs1100507.csv").write_bytes(b"edited")
    assert list_rows(capsys, cache)["finess"].endswith(" 0.0 MB changed none published")


# --------------------------------------------------------------------------- fetch


def test_fetch_one_source_and_a_second_fetch_downloads_nothing(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    assert fetch(server, cache, "finess") == 0
    assert capsys.readouterr().out.strip() == "finess: fetched"
    assert (cache / "finess_etalab_cs1100507.csv").read_bytes() == server.files["finess_etalab_cs1100507.csv"]
    assert in_cache(cache) == {"finess_etalab_cs1100507.csv"}
    assert server.asked("finess_etalab_cs1100507.csv") == [None]

    assert fetch(server, cache, "finess") == 0
    assert capsys.readouterr().out.strip() == "finess: in the cache"
    assert len(server.requests) == 1  # nothing asked the second time
    manifest = json.loads((cache / "couverture-sources.json").read_text("utf-8"))["sources"]["finess"]
    assert manifest["download"]["sha256"] == hashlib.sha256(server.files["finess_etalab_cs1100507.csv"]).hexdigest()
    assert manifest["checksum"] is None


def test_fetch_all_verifies_the_published_checksum_and_takes_members_out_of_archives(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    assert fetch(server, cache, "--all") == 0
    assert capsys.readouterr().out.splitlines() == [f"{name}: fetched" for name in SOURCES]
    # Geofabrik's .md5 was read and the extract checked against it
    assert server.asked("centre-latest.osm.pbf.md5") == [None]
    recorded = json.loads((cache / "couverture-sources.json").read_text("utf-8"))["sources"]
    assert recorded["osm"]["checksum"] == "md5:" + hashlib.md5(server.files["centre-latest.osm.pbf"]).hexdigest()
    # the members the readers need, as the publisher's archives hold them
    assert (cache / "filosofi2019_carreaux_200m_met.csv").read_bytes() == FILOSOFI_CSV
    assert (cache / "insee_populations_legales_2022_communes.csv").read_bytes() == POPULATIONS_CSV
    assert in_cache(cache) == {s.file for s in SOURCES.values()} | {
        "filosofi2019_carreaux_200m_met.csv",
        "insee_populations_legales_2022_communes.csv",
    }
    assert not [p for p in cache.iterdir() if p.is_dir() and any(p.iterdir())]  # no work folder, no partial left
    before = len(server.requests)
    assert fetch(server, cache, "--all") == 0
    assert len(server.requests) == before


def test_a_member_removed_from_the_cache_is_taken_out_again_without_downloading(server: Served, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert fetch(server, cache, "populations") == 0
    (cache / "insee_populations_legales_2022_communes.csv").unlink()
    assert fetch(server, cache, "populations") == 0
    assert (cache / "insee_populations_legales_2022_communes.csv").read_bytes() == POPULATIONS_CSV
    assert server.asked("insee_populations_legales_2022_ensemble.zip") == [None]


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    server.files["centre-latest.osm.pbf.md5"] = b"0123456789abcdef0123456789abcdef  centre-latest.osm.pbf\n"
    assert fetch(server, cache, "osm") == 2
    err = capsys.readouterr().err
    assert errors(err) == [errors(err)[0]] and "Traceback" not in err
    assert "osm: the file downloaded from" in err
    assert "does not match the publisher's checksum md5:0123456789abcdef0123456789abcdef" in err
    assert in_cache(cache) == set()
    assert not any((cache / ".couverture-partial").iterdir())
    assert not (cache / "couverture-sources.json").exists()  # nothing recorded either


def test_an_interrupted_download_resumes_where_it_stopped(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    name = "finess_etalab_cs1100507.csv"
    body = server.files[name]
    server.cut_after[name] = 500
    assert fetch(server, cache, "finess") == 2
    err = capsys.readouterr().err
    assert len(errors(err)) == 1 and "Traceback" not in err
    assert f"finess: the download from {server.base}/{name} was cut after 500 bytes of {len(body)} bytes" in err
    assert "run the same command again to resume it" in err
    assert not (cache / name).exists()  # a partial download never looks complete
    assert (cache / ".couverture-partial" / (name + ".part")).read_bytes() == body[:500]

    assert fetch(server, cache, "finess") == 0
    assert server.asked(name) == [None, "bytes=500-"]
    assert (cache / name).read_bytes() == body
    assert not any((cache / ".couverture-partial").iterdir())


def test_a_file_changed_on_the_server_meanwhile_starts_again_from_zero(server: Served, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    name = "finess_etalab_cs1100507.csv"
    server.cut_after[name] = 500
    assert fetch(server, cache, "finess") == 2
    newer = server.files[name].replace(b"2026-11-01", b"2026-12-01")
    server.files[name] = newer
    assert fetch(server, cache, "finess") == 0
    assert server.asked(name) == [None, "bytes=500-"]  # asked If-Range: the server sent the whole new file
    assert (cache / name).read_bytes() == newer


def test_offline_is_one_line_and_fast(no_proxy: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    start = time.perf_counter()
    code = main(["data", "fetch", "osm", "--cache", str(tmp_path / "cache"), "--base-url", base])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 2 and elapsed < 5
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (
        f"osm: cannot reach 127.0.0.1:{base.rsplit(':', 1)[1]} (connection refused) to download "
        f"{base}/centre-latest.osm.pbf.md5: the machine seems offline" in err
    )


def test_a_missing_file_on_the_server_is_one_line(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    del server.files["epci-100m.geojson"]
    assert fetch(server, tmp_path / "cache", "epci") == 2
    err = capsys.readouterr().err
    assert len(errors(err)) == 1 and f"epci: {server.base}/epci-100m.geojson answered 404 Not Found" in err


def test_a_file_couverture_did_not_write_is_never_overwritten(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    mine = cache / "finess_etalab_cs1100507.csv"
    mine.write_text("my own extraction", "utf-8")
    assert fetch(server, cache, "finess") == 2
    err = capsys.readouterr().err
    assert len(errors(err)) == 1 and f"{mine} is already in the cache folder and was not written by couverture" in err
    assert mine.read_text("utf-8") == "my own extraction"
    assert server.requests == []


def test_fetch_needs_known_names_or_all(server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fetch(server, tmp_path / "c") == 2
    assert "name the sources to fetch (finess, filosofi" in capsys.readouterr().err
    assert fetch(server, tmp_path / "c", "finnes") == 2
    assert "unknown source 'finnes'; the sources are finess, filosofi" in capsys.readouterr().err
    assert server.requests == []


def test_the_base_url_may_come_from_the_environment(
    server: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SOURCES_URL_ENV, server.base)
    assert main(["data", "fetch", "departements", "--cache", str(tmp_path / "cache"), "-q"]) == 0
    assert server.asked("departements-100m.geojson") == [None]


# --------------------------------------------------------------------------- --source official


def test_a_missing_source_names_the_fetch_command(
    server: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    assert fetch(server, cache, "finess", "communes") == 0
    capsys.readouterr()
    code = main(["analyse", "--source", "official", "--cache", str(cache), "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and len(errors(err)) == 1 and "Traceback" not in err
    assert (
        f"official sources osm, filosofi, departements, epci, populations not in the cache {cache}: "
        f"run `couverture data fetch osm filosofi departements epci populations --cache {cache}`" in err
    )
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputFileNotFoundError, match="run `couverture data fetch osm filosofi"):
        load_official_inputs(cache)


def test_demo_and_analyse_take_the_source_and_the_cache(tmp_path: Path) -> None:
    from coverage.cli import build_parser

    args = build_parser().parse_args(["demo", "--source", "official", "--cache", str(tmp_path)])
    assert (args.source, args.cache) == ("official", tmp_path)
    assert build_parser().parse_args(["analyse", "--out", "o", "--facilities", "f", "--population", "p"]).source == (
        "shipped"
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--source", "internet"])


def test_official_source_takes_no_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roads = tmp_path / "roads.osm.pbf"
    code = main(["analyse", "--source", "official", "--roads", str(roads), "--out", str(tmp_path / "out")])
    assert code == 2 and "give no --roads" in capsys.readouterr().err
    code = main(["analyse", "--roads", str(roads), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "analyse needs --facilities and --population, or --territory" in err
    assert "or --source official for the cache" in err


def test_analyse_runs_on_the_official_sources_of_the_cache(server: Served, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert fetch(server, cache, *ANALYSIS_SOURCES) == 0
    out = tmp_path / "out"
    argv = ["analyse", "--source", "official", "--cache", str(cache), "--thresholds", "3,5"]
    assert main([*argv, "--no-map", "--no-report", "--no-isochrones", "-q", "--out", str(out)]) == 0

    # One road A-B-C at 60 km/h (1 km a minute); the MSP and the cells A and C sit on its
    # nodes.  The hospital (category 355) and the Paris MSP and cell are left out.
    # PBF stores degrees to 1e-7: the nodes are those points, within 1 cm of the cells'
    # centres (access legs under 1e-4 minutes at 30 km/h).
    a, b, c = (tuple(round(v, 7) for v in centre(cell)) for cell in "ABC")
    a_to_c_km = (haversine_m(a, b) + haversine_m(b, c)) / 1000
    assert 3 < a_to_c_km < 5
    facilities = pd.read_csv(out / "facilities.csv", dtype=str)
    assert facilities["facility_id"].tolist() == ["180000001"]
    units = pd.read_csv(out / "population_access.csv", dtype={"unit_id": str, "commune": str, "epci": str})
    units = units.set_index("unit_id")
    assert sorted(units.index) == sorted([cell_id("A"), cell_id("C")])
    assert units.loc[cell_id("A"), "minutes_to_nearest"] == pytest.approx(0.0, abs=1e-4)
    assert units.loc[cell_id("C"), "minutes_to_nearest"] == pytest.approx(a_to_c_km, abs=1e-4)
    assert units.loc[cell_id("C"), "commune"] == "18050"
    assert units.loc[cell_id("C"), "epci_name"] == "CA Bourges Plus"
    assert units.loc[cell_id("C"), "department_name"] == "Cher"
    summary = pd.read_csv(out / "coverage_summary.csv").set_index("threshold_min")
    assert summary["population_total"].tolist() == [140.0, 140.0]  # 100 + 40, not Paris's 1,000
    assert summary.loc[3, "population_covered"] == 100.0  # A only: C is 3-5 minutes away
    assert summary.loc[5, "population_covered"] == 140.0
    run = json.loads((out / "run.json").read_text("utf-8"))
    assert run["inputs"]["finess"] == str(cache / "finess_etalab_cs1100507.csv")


@pytest.mark.parametrize(
    ("error", "why"),
    [
        ("ConnectionError", "the name does not resolve"),
        ("ProxyError", "its proxy cannot be reached"),
        ("ConnectTimeout", "no answer within 10 s"),
    ],
)
def test_each_way_of_being_offline_is_named(error: str, why: str) -> None:
    import requests

    from coverage.io._download import unreachable

    text = "Failed to resolve 'download.geofabrik.de' ([Errno -3] Temporary failure in name resolution)"
    exc = getattr(requests.exceptions, error)(text if error == "ConnectionError" else "no route")
    url = "https://download.geofabrik.de/europe/france/centre-latest.osm.pbf"
    assert str(unreachable("osm", url, exc)) == (
        f"osm: cannot reach download.geofabrik.de ({why}) to download {url}: the machine seems offline; "
        "connect it and run the command again"
    )
