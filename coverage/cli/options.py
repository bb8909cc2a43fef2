"""Option groups of the command line that several commands share: where the searches
run (``--workers``, ``--scheduler``) and which territory is read (``--territory``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from coverage.io.national import TERRITORY_KINDS
from coverage.io.settings import DATA_DIR_ENV

__all__ = ["add_cluster_options", "add_territory_options"]

#: Metres of roads and facilities kept around a territory read with --territory.
DEFAULT_TERRITORY_BUFFER_M = 30_000.0


def add_territory_options(p: argparse.ArgumentParser, *, data_dir: bool) -> None:
    """``--territory`` (any territory of metropolitan France from the national files),
    its buffer and, where the command has none yet, ``--data-dir``."""
    g = p.add_argument_group("any territory of metropolitan France (national files of the data folder)")
    g.add_argument(
        "--territory",
        metavar="TERRITORY",
        help=f"{' | '.join(TERRITORY_KINDS)}: france, region:53, departments:18,36 or epci:SIREN; roads and "
        "communes (town halls, population) are read from the data folder's national files, facilities from "
        "--facilities (a FINESS extraction or a point layer), else the shipped Centre-Val de Loire list, which "
        "may hold none: then nobody is covered and siting starts from scratch",
    )
    g.add_argument(
        "--territory-buffer",
        type=float,
        metavar="METRES",
        default=DEFAULT_TERRITORY_BUFFER_M,
        help=f"roads and facilities kept within this many metres of the territory (default "
        f"{DEFAULT_TERRITORY_BUFFER_M:.0f}; France: every road)",
    )
    if data_dir:
        g.add_argument("--data-dir", type=Path, help=f"data folder (default ${DATA_DIR_ENV} or ../shared/data)")


def add_cluster_options(g: argparse._ArgumentGroup, also: str) -> None:
    """``--workers`` and ``--scheduler``: where the coverage matrix's searches run."""
    g.add_argument(
        "--workers",
        type=_whole,
        help="N > 1: the coverage matrix on a Dask LocalCluster of N worker processes, and N processes for "
        f"{also} (default: the matrix in this process; all cores for {also})",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="the coverage matrix on the existing Dask cluster of this scheduler (tcp://host:8786); "
        "its workers need this package installed",
    )


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value
