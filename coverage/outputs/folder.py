"""The output folder of a run: checked before the work, written aside, moved into place at the end.

A run writes into a hidden staging folder beside the target (``.NAME.couverture-tmp-PID-…``,
with a marker file) and moves it into place only when every file is written.  An existing
target is replaced only when it holds a previous run of this tool whose ``run.json`` lists
every file in it: a file the tool did not write (a planner's workbook, a QGIS project) stops
the run with one line before anything is written (before any reading, on the command line),
and the folder is left as it was.

:func:`check_output_dir` runs every check that can fail before the computation: the folder
is not the current folder, holds no input of the run and nothing foreign, can be written,
has room and leaves paths short enough.  :func:`atomic_output_dir` runs them, removes the
staging folders of runs that were killed, and replaces the target at the end.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from coverage.errors import OutputExistsError

__all__ = [
    "MIN_FREE_BYTES",
    "RUN_FILE",
    "STAGING_MARKER",
    "TOOL",
    "atomic_output_dir",
    "check_output_dir",
    "files_below",
    "foreign_files",
    "remove_stale_staging",
    "written_files",
]

logger = logging.getLogger(__name__)

#: Marker file of an output folder written by this tool; it lists the files written.
RUN_FILE = "run.json"
TOOL = "coverage"
#: Marker file of a staging folder, removed before the folder is moved into place.
STAGING_MARKER = ".couverture-staging.json"
#: Free space asked for at the least before a run (more when the inputs or the previous run are larger).
MIN_FREE_BYTES = 50 * 2**20
#: Room kept for the longest path a run writes below its folder (``figures/access_by_department.png``).
LONGEST_RELATIVE_PATH = 64
#: What a ``run.json`` written before the list of files was kept may stand beside.
_LEGACY_OUTPUTS = frozenset(
    {
        RUN_FILE,
        "population_access.csv",
        "facilities.csv",
        "coverage_summary.csv",
        "coverage_by_area.csv",
        "candidates.csv",
        "selection.csv",
        "coverage_curve.csv",
        "fragility.csv",
        "accessibility.csv",
        "accessibility_by_area.csv",
        "accessibility_classes.csv",
        "accessibility_sites.csv",
        "allocation_steps.csv",
        "coverage.gpkg",
        "network.graphml",
        "map.html",
        "report.html",
        "figures/minutes_map.png",
        "figures/access_by_department.png",
        "figures/coverage_curve.png",
    }
)


#: Errors that only writing raises: no room, over quota, file too large.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _staging_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.couverture-(tmp|old)-(\d+)-.+")


def written_files(folder: Path) -> frozenset[str] | None:
    """The files (relative, ``/``-separated) that the run in ``folder`` wrote, from its ``run.json``.

    None when ``folder`` holds no ``run.json`` of this tool.  A ``run.json`` without a list
    (written by an earlier version) stands for the files such a run could write.
    """
    try:
        record = json.loads((folder / RUN_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("tool") != TOOL:
        return None
    files = record.get("files")
    if isinstance(files, list) and all(isinstance(f, str) for f in files):
        return frozenset(files) | {RUN_FILE}
    return _LEGACY_OUTPUTS


def _contents(folder: Path) -> list[str]:
    """Every file, link and folder below ``folder``, relative and ``/``-separated (links are not followed)."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        found += [(rel / d).as_posix() for d in dirs]
        found += [(rel / f).as_posix() for f in files]
    return found


def files_below(folder: Path) -> list[str]:
    """Every file and link below ``folder``, relative and ``/``-separated, sorted."""
    return sorted(p for p in _contents(folder) if not (folder / p).is_dir() or (folder / p).is_symlink())


def foreign_files(folder: Path, written: frozenset[str]) -> list[str]:
    """What lies in ``folder`` and is not in ``written``: files, and folders holding no written file."""
    parents = {p.as_posix() for w in written for p in Path(w).parents}
    return sorted(p for p in _contents(folder) if p not in written and p not in parents)


def _refuse_foreign(target: Path) -> int:
    """Raise unless ``target`` is absent, empty or holds only a previous run's files; the bytes in it."""
    if not target.exists() and not target.is_symlink():
        return 0
    if not target.is_dir():
        raise OutputExistsError(f"output folder {target} exists and is not a folder; choose another folder")
    if not any(target.iterdir()):
        return 0
    written = written_files(target)
    if written is None:
        raise OutputExistsError(
            f"output folder {target} exists and is not a previous output of this tool "
            f"(no {RUN_FILE}); choose another folder or empty it"
        )
    foreign = foreign_files(target, written)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputExistsError(
            f"output folder {target} holds {len(foreign)} file(s) this tool did not write ({shown}); "
            "a run would replace the folder: move them out or choose another folder"
        )
    return sum((target / w).stat().st_size for w in written if (target / w).is_file())


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _limits(folder: Path) -> tuple[int, int]:
    """The longest file name and path the file system of ``folder`` takes."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):  # Windows has no pathconf
        return 255, 260 if os.name == "nt" else 4096


def check_output_dir(target: str | Path, *, inputs: Iterable[str | Path] = ()) -> None:
    """Raise unless ``target`` may receive a run's outputs; changes nothing on disk.

    The folder must not be the current folder or hold it, must hold none of the run's
    ``inputs`` (a run replaces the folder) nor lie inside an input folder, must be absent, empty or a previous output of
    this tool with no file that run did not write (:class:`OutputExistsError` otherwise),
    must be writable (:class:`PermissionError`), and its file system must have room
    (:class:`OSError` ``ENOSPC``: the size of the previous output, three times the size
    of the input files, and at least :data:`MIN_FREE_BYTES`) and take its paths
    (:class:`OSError` ``ENAMETOOLONG``).  Each message is one line naming the folder.
    """
    target = Path(target)
    absolute = Path(os.path.abspath(target))
    resolved = target.resolve()
    if resolved.parent == resolved or _inside(Path.cwd().resolve(), resolved):
        raise OutputExistsError(
            f"output folder {target} is the current folder or holds it; a run replaces its output folder: "
            "give a new subfolder (e.g. outputs/run1)"
        )
    input_bytes = 0
    for given in inputs:
        path = Path(given)
        if _inside(path.resolve(), resolved):
            raise OutputExistsError(
                f"input {path} lies inside the output folder {target}, which a run replaces: "
                "choose another output folder or move the input"
            )
        if path.is_dir() and _inside(resolved, path.resolve()):
            # an input folder (a run compared, a data folder) is never written into
            raise OutputExistsError(
                f"output folder {target} lies inside the input folder {path}, which is never written into: "
                "choose an output folder outside it"
            )
        if path.is_file():
            input_bytes += path.stat().st_size
    previous_bytes = _refuse_foreign(target)

    base = _nearest_existing(absolute.parent)
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write the output folder {target}: {base} is not a writable folder")
    if target.is_dir():
        for folder in [target, *(target / p for p in _contents(target) if (target / p).is_dir())]:
            if not os.access(folder, os.W_OK | os.X_OK):
                raise PermissionError(f"cannot replace the output folder {target}: {folder} is read-only")

    name_max, path_max = _limits(base)
    staging_name = f".{absolute.name}.couverture-tmp-{os.getpid()}-xxxxxxxx"
    longest = len(str(absolute.parent / staging_name)) + 1 + LONGEST_RELATIVE_PATH
    if len(staging_name) > name_max or longest > path_max:
        raise OSError(
            errno.ENAMETOOLONG,
            f"output folder {target}: its name or path is too long for the file system "
            f"(names up to {name_max} characters, paths up to {path_max}); choose a shorter one",
        )

    needed = max(MIN_FREE_BYTES, previous_bytes, 3 * input_bytes)
    free = shutil.disk_usage(base).free
    if free < needed:
        raise OSError(
            errno.ENOSPC,
            f"not enough free space for the output folder {target}: {free / 2**20:,.0f} MiB free on its disk, "
            f"about {needed / 2**20:,.0f} MiB needed",
        )


def _alive(pid: int, folder: Path) -> bool:
    """Whether the run of process ``pid``, which made ``folder``, may still be going on."""
    if os.name == "nt":  # os.kill would end the process there: a day-old folder counts as left behind
        return time.time() - folder.stat().st_mtime < 86_400
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _discard(old: Path) -> None:
    """Remove a replaced output folder, its ``run.json`` last (so that what is left is still recognised)."""
    record = old / RUN_FILE
    for name in sorted(_contents(old), reverse=True):  # what a folder holds sorts after the folder
        path = old / name
        if path == record:
            continue
        with suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
    try:
        record.unlink(missing_ok=True)
        old.rmdir()
    except OSError:
        logger.warning("could not remove all of the replaced output folder %s", old)


def remove_stale_staging(target: str | Path) -> None:
    """Remove what runs into ``target`` that were killed left beside it.

    Only folders named like this tool's (``.NAME.couverture-tmp-PID-…``,
    ``.NAME.couverture-old-PID-…``) whose process no longer runs (on Windows: a day old): a
    staging folder must hold the marker naming this host; a replaced output must hold this
    tool's ``run.json`` and only the files it lists (or be empty).  A replaced output left
    while ``target`` is missing (a run killed between its two moves) is put back.
    """
    target = Path(os.path.abspath(target))
    pattern = _staging_pattern(target.name)
    try:
        entries = sorted(target.parent.iterdir(), key=lambda p: p.name, reverse=True)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_dir() or entry.is_symlink() or _alive(int(match.group(2)), entry):
            continue
        if match.group(1) == "tmp":
            try:
                marker = json.loads((entry / STAGING_MARKER).read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(marker, dict) and marker.get("tool") == TOOL and marker.get("host") == socket.gethostname():
                logger.info("removing %s, left by a run that was stopped", entry)
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if not any(entry.iterdir()):
            entry.rmdir()
            continue
        written = written_files(entry)
        if written is None or foreign_files(entry, written):
            continue
        if not target.exists():
            logger.warning("putting back the previous output %s, left aside by a run that was stopped", target)
            os.replace(entry, target)
        else:
            _discard(entry)


@contextmanager
def atomic_output_dir(target: str | Path, *, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``target`` in one move.

    Before anything is written, :func:`check_output_dir` checks ``target`` (and that no
    path of ``inputs`` lies inside it) and the staging folders of killed runs are removed
    (:func:`remove_stale_staging`).  At the end ``target`` is checked again, so that a
    file put there during the run is never deleted.  On any error, ``KeyboardInterrupt``
    included, the staging folder is removed and ``target`` is left as it was.
    """
    target = Path(target)
    check_output_dir(target, inputs=inputs)
    remove_stale_staging(target)
    parent = Path(os.path.abspath(target)).parent
    parent.mkdir(parents=True, exist_ok=True)
    name = Path(os.path.abspath(target)).name
    staging: Path | None = None
    try:
        with _signals_held():  # a Ctrl-C now would leave a folder that nothing removes
            staging = Path(tempfile.mkdtemp(prefix=f".{name}.couverture-tmp-{os.getpid()}-", dir=parent))
            marker = {"tool": TOOL, "pid": os.getpid(), "host": socket.gethostname(), "target": name}
            (staging / STAGING_MARKER).write_text(json.dumps(marker), "utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the output folder should not be
        try:
            yield staging
        except OSError as exc:
            raise _writing_error(exc, staging, target) from exc
        (staging / STAGING_MARKER).unlink()
        _refuse_foreign(target)
        if target.exists() or target.is_symlink():
            old = parent / f".{name}.couverture-old-{os.getpid()}-{time.time_ns()}"
            with _signals_held():  # never stop between the two moves
                os.replace(target, old)
                try:
                    os.replace(staging, target)
                except OSError:
                    os.replace(old, target)
                    raise
            _discard(old)
        else:
            os.replace(staging, target)
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _writing_error(exc: OSError, staging: Path, target: Path) -> OSError:
    """``exc`` in words naming the output folder, when it is about writing there; else ``exc`` itself."""
    filename = None if exc.filename is None else Path(os.path.abspath(exc.filename))
    if filename is not None and _inside(filename, staging):
        what = f"{filename.relative_to(staging).as_posix()} in the output folder"
    elif filename is None and exc.errno in _FULL:  # a writer that did not say which file
        what = "the output folder"
    else:
        return exc
    return OSError(exc.errno, f"could not write {what} {target}, left as it was: {exc.strerror}")


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (where POSIX lets us) until the block is done."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
