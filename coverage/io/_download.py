"""Downloading one file into the cache of official sources (:mod:`coverage.io.official`).

- Files go through :func:`pooch.retrieve`: the bytes land in a temporary file of the cache
  folder, the publisher's checksum (when known) is checked, and only then is the file
  moved to its name, so a partial or wrong download never looks complete.
- :class:`ResumingDownloader` (the downloader handed to pooch) keeps the bytes received in
  ``.couverture-partial/`` and asks for the rest with an HTTP ``Range`` request next time,
  guarded by ``If-Range`` so that a file changed on the server starts again from zero.
- ``couverture-sources.json`` records what couverture wrote (size, date, SHA-256): a file
  of the cache that it does not list, or that changed since, is never overwritten.
- Archives: the member a reader needs is taken out of a zip with :class:`pooch.Unzip`
  (and out of a 7z inside it with py7zr) into a temporary folder, then moved into place.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from coverage.errors import DownloadError, InputDataError, OutputExistsError

logger = logging.getLogger(__name__)

#: What couverture wrote in a cache folder, with sizes, dates and SHA-256 sums.
MANIFEST = "couverture-sources.json"
#: Bytes of interrupted downloads, kept for the next attempt to resume.
PARTIAL_DIR = ".couverture-partial"
_WORK_PREFIX = ".couverture-extract-"
_MANIFEST_TMP_PREFIX = ".couverture-manifest-"
#: Seconds to wait for a server to accept the connection, then for each piece of data.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
_CHUNK = 1 << 16


# --------------------------------------------------------------------------- manifest


def read_manifest(cache: Path) -> dict[str, dict[str, Any]]:
    """The sources recorded in the cache's manifest (empty when there is none)."""
    path = cache / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputDataError(f"cache manifest {path}: not readable ({exc}); move it away to start afresh") from None
    sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(sources, dict):
        raise InputDataError(f"cache manifest {path}: no 'sources' table; is this couverture's manifest?")
    return sources


def write_manifest(cache: Path, sources: dict[str, dict[str, Any]]) -> None:
    """Write the manifest completely or not at all (a temporary file, then a rename)."""
    fd, tmp = tempfile.mkstemp(prefix=_MANIFEST_TMP_PREFIX, suffix=".json", dir=cache)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"written_by": "couverture", "sources": sources}, fh, indent=2, sort_keys=True)
        os.replace(tmp, cache / MANIFEST)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def record(path: Path) -> dict[str, Any]:
    """What the manifest keeps of a file couverture wrote."""
    import pooch

    status = path.stat()
    return {
        "file": path.name,
        "bytes": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "sha256": pooch.file_hash(str(path), alg="sha256"),
    }


def as_recorded(path: Path, recorded: dict[str, Any] | None) -> bool:
    """True when ``path`` is the file the manifest records: same size, and same date or,
    after a copy that changed the date, the same SHA-256."""
    import pooch

    if recorded is None or not path.is_file():
        return False
    status = path.stat()
    if status.st_size != recorded.get("bytes"):
        return False
    if status.st_mtime_ns == recorded.get("mtime_ns"):
        return True
    return bool(pooch.file_hash(str(path), alg="sha256") == recorded.get("sha256"))


def sweep(cache: Path) -> None:
    """Remove the temporary folders and files a killed run of couverture left (its own
    prefixes only)."""
    if not cache.is_dir():
        return
    for leftover in cache.iterdir():
        if leftover.name.startswith(_WORK_PREFIX) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        elif leftover.name.startswith(_MANIFEST_TMP_PREFIX) and leftover.is_file():
            with contextlib.suppress(OSError):
                leftover.unlink()


def refuse_overwrite(path: Path, changed: bool) -> OutputExistsError:
    why = "changed since couverture fetched it" if changed else "was not written by couverture"
    return OutputExistsError(
        f"{path} is already in the cache folder and {why}; couverture never overwrites such a file: "
        "move it away (or choose another --cache) and fetch again"
    )


# --------------------------------------------------------------------------- network


def unreachable(name: str, url: str, exc: Exception) -> DownloadError:
    """One line for a server that cannot be reached: the source, the URL, and why."""
    import requests

    host = urlsplit(url).netloc or url
    text = str(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        why = "its proxy cannot be reached"
    elif isinstance(exc, requests.exceptions.Timeout):
        why = f"no answer within {CONNECT_TIMEOUT_S:g} s"
    elif re.search(r"resolv|name or service|nodename|getaddrinfo", text, re.IGNORECASE):
        why = "the name does not resolve"
    elif "refused" in text.lower():
        why = "connection refused"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        why = "no connection"
    else:
        return DownloadError(f"{name}: downloading {url} failed ({type(exc).__name__})")
    return DownloadError(
        f"{name}: cannot reach {host} ({why}) to download {url}: the machine seems offline; "
        "connect it and run the command again"
    )


def _http_error(name: str, url: str, status: int, reason: str) -> DownloadError:
    return DownloadError(f"{name}: {url} answered {status} {reason}".rstrip())


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{int(n)} bytes"


def published_md5(name: str, url: str) -> str:
    """The MD5 a publisher gives in a checksum file beside the data (``<md5>  <file>``)."""
    import requests

    try:
        response = requests.get(url, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    except requests.exceptions.RequestException as exc:
        raise unreachable(name, url, exc) from None
    if response.status_code >= 400:
        raise _http_error(name, url, response.status_code, response.reason or "")
    words = response.text.split()
    if not words or not re.fullmatch(r"[0-9a-fA-F]{32}", words[0]):
        raise DownloadError(f"{name}: the checksum file {url} does not start with an MD5 sum")
    return "md5:" + words[0].lower()


class ResumingDownloader:
    """A pooch downloader that resumes an interrupted download with an HTTP ``Range``
    request, and turns network failures into one-line :class:`DownloadError`.

    Bytes go to ``partial`` as they arrive; a failure leaves them there, with the
    server's validator (``ETag``, else ``Last-Modified``) beside them, and the next call
    asks for the rest ``If-Range`` the file is unchanged.  A server that ignores the range
    or answers that the file changed sends the whole file, which then starts from zero.
    When the whole file is there, it moves to pooch's temporary file.
    """

    def __init__(self, partial: Path, *, name: str, progress: bool = True) -> None:
        self.partial = partial
        self.meta = partial.with_name(partial.name + ".json")
        self.name = name
        self.progress = progress

    def __call__(self, url: str, output_file: Any, pooch: object, check_only: bool = False) -> bool | None:
        import requests

        if check_only:  # pooch's availability check: not used by couverture
            return True
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        start, validator = self._resume_point()
        headers = {"Accept-Encoding": "identity"}  # ranges of the file as stored, not of a compressed stream
        if start:
            headers.update({"Range": f"bytes={start}-", "If-Range": validator})
            logger.info("%s: resuming at %s", self.name, _size(start))
        try:
            response = requests.get(url, headers=headers, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.exceptions.RequestException as exc:
            raise unreachable(self.name, url, exc) from None
        with response:
            if response.status_code == 416 and start:  # what we hold is not a beginning of the file
                self.discard()
                return self(url, output_file, pooch)
            if response.status_code >= 400:
                raise _http_error(self.name, url, response.status_code, response.reason or "")
            resumed = bool(start) and response.status_code == 206 and _range_start(response) == start
            start = start if resumed else 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length and length.isdigit() else None
            self._save_validator(response)
            received = self._receive(response, start, total, url)
        if total is not None and received != total:
            raise DownloadError(
                f"{self.name}: the download from {url} stopped at {_size(received)} of {_size(total)}; "
                "run the same command again to resume it"
            )
        target = output_file if isinstance(output_file, str | os.PathLike) else output_file.name
        os.replace(self.partial, target)
        with contextlib.suppress(OSError):
            self.meta.unlink()
        return None

    def _receive(self, response: Any, start: int, total: int | None, url: str) -> int:
        import requests
        import urllib3
        from tqdm import tqdm

        received = start
        bar = tqdm(
            total=total,
            initial=start,
            unit="B",
            unit_scale=True,
            desc=self.name,
            file=sys.stderr,
            disable=None if self.progress else True,  # None: off when stderr is not a terminal
            leave=False,
        )
        try:
            with self.partial.open("ab" if start else "wb") as fh, bar:
                for chunk in _chunks(response):
                    fh.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError):
            of = f" of {_size(total)}" if total is not None else ""
            raise DownloadError(
                f"{self.name}: the download from {url} was cut after {_size(received)}{of}; "
                "run the same command again to resume it"
            ) from None
        return received

    def _resume_point(self) -> tuple[int, str]:
        """Bytes already held and the validator they were received under (0 when there is
        no validator: without one a resumed file could mix two versions)."""
        if not self.partial.is_file():
            return 0, ""
        try:
            validator = str(json.loads(self.meta.read_text("utf-8")).get("validator") or "")
        except (OSError, ValueError, AttributeError):
            validator = ""
        return (self.partial.stat().st_size, validator) if validator else (0, "")

    def _save_validator(self, response: Any) -> None:
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified") or ""
        self.meta.write_text(json.dumps({"validator": validator}), "utf-8")

    def discard(self) -> None:
        for path in (self.partial, self.meta):
            with contextlib.suppress(OSError):
                path.unlink()


def _chunks(response: Any) -> Iterator[bytes]:
    """The body as it arrives.  ``read1`` hands over every byte received before a
    connection drops (``iter_content`` may lose the last, incomplete chunk), so that a
    resumed download starts exactly where the last one stopped."""
    raw = response.raw
    if not hasattr(raw, "read1"):  # urllib3 < 2
        yield from response.iter_content(_CHUNK)
        return
    while chunk := raw.read1(_CHUNK, decode_content=True):
        yield chunk


def _range_start(response: Any) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


@contextlib.contextmanager
def quiet_pooch() -> Iterator[None]:
    """Pooch logs each download and hash at INFO on its own handler; couverture says it once."""
    import pooch

    log = pooch.get_logger()
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def download(name: str, url: str, target: Path, known_hash: str | None, *, progress: bool) -> None:
    """``url`` to ``target`` through pooch, checked against ``known_hash`` when given."""
    import pooch

    downloader = ResumingDownloader(target.parent / PARTIAL_DIR / (target.name + ".part"), name=name, progress=progress)
    with quiet_pooch():
        try:
            pooch.retrieve(url, known_hash=known_hash, fname=target.name, path=target.parent, downloader=downloader)
        except ValueError as exc:  # pooch: the hash of the download differs from the known one
            downloader.discard()
            if "hash" not in str(exc).lower():
                raise DownloadError(f"{name}: downloading {url} failed ({exc})") from None
            raise DownloadError(
                f"{name}: the file downloaded from {url} does not match the publisher's checksum {known_hash}; "
                "nothing was kept in the cache"
            ) from None


# --------------------------------------------------------------------------- archives


def extract_member(name: str, archive: Path, pattern: str, product: Path) -> None:
    """The member of ``archive`` whose file name matches ``pattern`` (a glob), written to
    ``product`` completely or not at all.  A zip may hold it directly or inside a 7z."""
    import pooch

    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile:
        raise InputDataError(f"{name}: {archive} is not a zip archive") from None
    work = Path(tempfile.mkdtemp(prefix=_WORK_PREFIX, dir=archive.parent))
    try:
        direct = _matching(names, pattern)
        inner = [n for n in names if n.lower().endswith(".7z")]
        with quiet_pooch():
            if direct:
                member = _one(name, direct, archive)
                found = Path(pooch.Unzip(members=[member], extract_dir=work.name)(str(archive), "download", None)[0])
            elif inner:
                seven = Path(pooch.Unzip(members=[inner[0]], extract_dir=work.name)(str(archive), "download", None)[0])
                found = _from_7z(name, seven, pattern, work / "7z")
            else:
                raise InputDataError(
                    f"{name}: no file matching {pattern!r} in {archive} (it holds {', '.join(names[:10]) or 'nothing'})"
                )
        logger.info("%s: %s taken out of %s", name, found.name, archive.name)
        os.replace(found, product)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _from_7z(name: str, seven: Path, pattern: str, out: Path) -> Path:
    import py7zr

    try:
        with py7zr.SevenZipFile(seven) as archive:
            names = [n for n in archive.getnames() if not n.endswith("/")]
        member = _one(name, _matching(names, pattern), seven)
        with py7zr.SevenZipFile(seven) as archive:
            archive.extract(path=out, targets=[member])
    except py7zr.exceptions.ArchiveError as exc:
        raise InputDataError(f"{name}: {seven.name} is not a readable 7z archive ({exc})") from None
    found = out / member
    if not found.is_file() or out.resolve() not in found.resolve().parents:
        raise InputDataError(f"{name}: {member!r} could not be taken out of {seven.name}")
    return found


def _matching(names: list[str], pattern: str) -> list[str]:
    return sorted(n for n in names if fnmatch.fnmatch(Path(n).name.lower(), pattern.lower()))


def _one(name: str, matches: list[str], archive: Path) -> str:
    if not matches:
        raise InputDataError(f"{name}: {archive.name} holds no file of the expected name")
    if len(matches) > 1:
        raise InputDataError(f"{name}: {archive.name} holds several candidate files: {', '.join(matches)}")
    return matches[0]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
