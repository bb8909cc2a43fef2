"""Command line: ``python -m coverage analyse|optimise|access|demo`` (also installed as ``couverture``).

:mod:`~coverage.cli.parser` declares the arguments; :mod:`~coverage.cli.run` runs a
command through the three layers: it reads with :mod:`coverage.io`, computes with the
engine and writes with :mod:`coverage.outputs`.
"""

from coverage.cli.parser import build_parser
from coverage.cli.run import main

__all__ = ["build_parser", "main"]
