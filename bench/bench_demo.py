"""Benchmark of the demo end to end: ``python -m coverage demo`` in a child process.

Prints the child's wall time, CPU time and peak RSS (``resource.getrusage`` of the
children, read after it ends), then the step timings the run wrote in its
``run.json`` (key ``timings_s``).  The outputs go to a temporary folder that is
removed afterwards; nothing is written into the repository.

Run ``python bench/bench_demo.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def rss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MiB (KiB on Linux, bytes on macOS)."""
    return ru_maxrss / 2**20 if sys.platform == "darwin" else ru_maxrss / 1024


def run_demo(out_dir: Path, data_dir: Path | None) -> dict[str, Any]:
    """Run the demo into ``out_dir`` and return its figures; raise if it fails."""
    command = [sys.executable, "-m", "coverage", "demo", "--out", str(out_dir), "-q"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir.resolve())]  # the child runs elsewhere
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # Run from the temporary folder so that nothing lands in the working directory.
    proc = subprocess.run(command, cwd=out_dir.parent, capture_output=True, text=True, check=False)
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"the demo failed (exit {proc.returncode}): {' '.join(command)}\n{proc.stdout}{proc.stderr}")
    run_info = json.loads((out_dir / "run.json").read_text("utf-8"))
    return {
        "command": command,
        "wall_s": wall_s,
        "user_s": after.ru_utime - before.ru_utime,
        "system_s": after.ru_stime - before.ru_stime,
        # The maximum over the children waited for; this script starts only the demo.
        "child_max_rss_mb": rss_mb(after.ru_maxrss),
        "timings_s": run_info.get("timings_s", {}),
        "network": run_info.get("network", {}),
        "outputs": sorted(p.name for p in out_dir.iterdir()),
        "stderr": proc.stderr.strip(),
    }


def print_figures(figures: dict[str, Any]) -> None:
    """The figures of one run."""
    print(f"command: {' '.join(figures['command'])}")
    print(f"wall time      {figures['wall_s']:8.2f} s")
    print(
        f"CPU time       {figures['user_s'] + figures['system_s']:8.2f} s (user {figures['user_s']:.2f}, "
        f"system {figures['system_s']:.2f})"
    )
    print(f"child peak RSS {figures['child_max_rss_mb']:8,.0f} MiB")
    network = figures["network"]
    if network:
        print(f"network        {network.get('nodes', 0):,} nodes, {network.get('edges', 0):,} edges")
    timings = figures["timings_s"]
    print("steps of the analysis (run.json timings_s):")
    for step, seconds in timings.items():
        print(f"  {step:<20} {seconds:8.3f} s")
    steps_total = sum(timings.values())
    print(f"  {'sum of the steps':<20} {steps_total:8.3f} s")
    print(
        f"  {'reading, writing':<20} {figures['wall_s'] - steps_total:8.3f} s (wall time - sum: start-up, "
        "reading the data, writing the outputs and the map)"
    )
    print(f"outputs: {', '.join(figures['outputs'])}")
    if figures["stderr"]:
        print(f"demo stderr: {figures['stderr']}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="data folder passed to the demo (default: the demo's own)")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"bench_demo: Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        try:
            figures = run_demo(Path(tmp) / "out", args.data_dir)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
    figures["load_average_end"] = os.getloadavg()
    print_figures(figures)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2), "utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
