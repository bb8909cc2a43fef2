"""What every static figure shares: a canvas of its own, PNG output, neutral inks, labels.

:func:`new_figure` gives a :class:`matplotlib.figure.Figure` on an Agg canvas of its own:
pyplot is never imported, so no global figure registry, backend or style is touched and
figures are freed like any object.  :func:`png_bytes` and :func:`save_png` write them
out.  The palette, minute classes, symbols and number formats come from
:mod:`coverage.outputs.style`; this module only adds the neutral greys of text, outlines
and grids, which carry no meaning.

Text from input files (department, facility type and site names) reaches a figure
through :func:`literal`, so that matplotlib draws it as written: a ``$`` in a name
starts no mathtext formula.

matplotlib is imported inside the functions, so importing this module (and
:mod:`coverage.outputs.figures`) loads no matplotlib at all.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ACCESS_TIME_LABEL",
    "GRID",
    "INK",
    "MUTED_INK",
    "SOFT_INK",
    "department_label",
    "literal",
    "new_figure",
    "png_bytes",
    "save_png",
]

#: Axis and legend title of access times, shared by the map and the charts.
ACCESS_TIME_LABEL = "Temps d'accès (min) / Access time (min)"

#: Near-black of outlines and labels drawn over the map.
INK = "#1a1a1a"
#: Grey of secondary annotations and of the edges of legend patches.
MUTED_INK = "#555555"
#: Darker grey of threshold lines, which must stay visible over the curves.
SOFT_INK = "#444444"
#: Light grey of grid lines.
GRID = "#dddddd"


def new_figure(size: tuple[float, float]) -> Figure:
    """A figure on its own Agg canvas (no pyplot, no global backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure, *, dpi: int = 150) -> bytes:
    """The PNG bytes of ``fig`` (for embedding in a report)."""
    buffer = io.BytesIO()
    # no "Software" metadata: the same figure gives the same bytes whatever the matplotlib version
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def save_png(fig: Figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write ``fig`` as a PNG file at ``path``; returns the path."""
    path = Path(path)
    path.write_bytes(png_bytes(fig, dpi=dpi))
    return path


def literal(text: object) -> str:
    """``text`` as matplotlib draws it literally: every ``$`` escaped as ``\\$``.

    With an even number of ``$``, matplotlib would read the text between them as a
    mathtext formula (and stop on one it cannot parse); an escaped ``$`` is drawn as
    ``$``, whenever the text is drawn (a tick label, for one, is made at drawing time).
    """
    return str(text).replace("$", r"\$")


def department_label(code: object, name: object) -> str:
    """``36 Indre``: the code, then the name unless it is missing or repeats the code."""
    code_text = "" if pd.isna(code) else str(code)
    if name is None or pd.isna(name) or str(name) in ("", code_text):
        return code_text
    return f"{code_text} {name}"
