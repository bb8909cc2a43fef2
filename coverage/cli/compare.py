"""The ``compare`` sub-command: what changed between two output folders.

``couverture compare RUN_A RUN_B --out DIR`` reads two output folders of any command
(:func:`coverage.outputs.compare_runs.compare_runs`, run A being "before" and run B "after") and
writes what changed into ``DIR``, completely or not at all
(:func:`~coverage.outputs.folder.atomic_output_dir`; the files are those of
:func:`coverage.outputs.report_compare.write_comparison`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

__all__ = ["add_compare_parser", "run_compare"]

logger = logging.getLogger("coverage")


def add_compare_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register the ``compare`` sub-command on the sub-parsers of ``couverture``; returns its parser."""
    p = subparsers.add_parser(
        "compare",
        help="what changed between two runs (two output folders)",
        description="Compare two output folders of any command (analyse, optimise, demo, access), RUN_A being "
        "'before' and RUN_B 'after': minutes to the nearest facility, minute class, coverage at each threshold "
        "and accessibility per unit and per area (commune, canton, EPCI, department), the people who changed "
        "class, and the totals. Two runs whose units (kind or ids) or thresholds differ are refused.",
    )
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="output folder of the first run ('before')")
    p.add_argument("run_b", type=Path, metavar="RUN_B", help="output folder of the second run ('after')")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (a previous run's folder is replaced; one holding other files is refused)",
    )
    p.add_argument("--no-map", action="store_true", help="do not write map.html")
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
    p.add_argument("-v", "--verbose", action="store_true", help="log every step")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return p


def run_compare(args: argparse.Namespace) -> int:
    """Run ``couverture compare`` with the parsed ``args``; returns the exit code (0).

    Errors are raised (:class:`~coverage.errors.CoverageError` for refused runs, bad
    files or a refused output folder) for :func:`coverage.cli.run.main` to report in one
    line; the output folder is then left as it was.
    """
    from coverage.outputs.compare_runs import compare_runs
    from coverage.outputs.folder import atomic_output_dir
    from coverage.outputs.report_compare import write_comparison

    with atomic_output_dir(args.out, inputs=[args.run_a, args.run_b]) as staging:
        logger.info("reading %s and %s", args.run_a, args.run_b)
        comparison = compare_runs(args.run_a, args.run_b)
        logger.info("writing the comparison")
        write_comparison(
            comparison,
            staging,
            command=getattr(args, "command_line", None),
            map=not args.no_map,
            report=not args.no_report,
        )
    logger.info("outputs written to %s", args.out)
    if not args.quiet:
        m = comparison.moves
        w = sys.stdout.write
        w(f"compared {m['units']:,} units ({comparison.unit_kind}): {m['units_changed']:,} changed\n")
        w(f"  people in a better minute class: {m['population_better_class']:,.0f}\n")
        w(f"  people in a worse minute class:  {m['population_worse_class']:,.0f}\n")
        covered = comparison.totals[comparison.totals["indicator"] == "population_covered"]
        for _, r in covered.iterrows():
            w(f"  within {r['threshold_min']:g} min: {r['run_a']:,.0f} -> {r['run_b']:,.0f} ({r['change']:+,.0f})\n")
        if comparison.accessibility:
            w(f"  lifted above the priority line: {m['population_lifted_above_line']:,.0f}\n")
        w(f"outputs: {args.out}\n")
    return 0
