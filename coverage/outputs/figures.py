"""Static figures of a gap analysis and a siting plan (matplotlib, PNG) for reports.

Every function returns a :class:`matplotlib.figure.Figure` drawn on an Agg canvas of
its own: pyplot is never imported, so no global figure registry, backend or style is
touched and figures are freed like any object.  :func:`save_png` and :func:`png_bytes`
write them out.  Labels are in French with English in parentheses; colours, minute
classes, facility symbols and number formats are those of :mod:`coverage.outputs.style`,
shared with the web map and the report.

This module is the public face of the figures; they are drawn in

- :mod:`~coverage.outputs.figure_map`: :func:`minutes_map`, the map of minutes by unit;
- :mod:`~coverage.outputs.figure_charts`: :func:`coverage_curve_figure` and
  :func:`access_by_department_figure`;
- :mod:`~coverage.outputs.figure_canvas`: the canvas, :func:`png_bytes` and :func:`save_png`.
"""

from __future__ import annotations

from coverage.outputs.figure_canvas import png_bytes, save_png
from coverage.outputs.figure_charts import access_by_department_figure, coverage_curve_figure
from coverage.outputs.figure_map import minutes_map

__all__ = [
    "access_by_department_figure",
    "coverage_curve_figure",
    "minutes_map",
    "png_bytes",
    "save_png",
]
