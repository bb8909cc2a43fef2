"""Outputs: everything a run writes, and nothing that reads.

- :mod:`~coverage.outputs.write`: :func:`~coverage.outputs.write.write_analysis`, a whole run in one folder;
- :mod:`~coverage.outputs.folder`: the output folder, checked before the work and replaced in one move;
- :mod:`~coverage.outputs.files`: CSV tables and the Excel workbook (formulas neutralised), GeoPackage
  layers, GraphML;
- :mod:`~coverage.outputs.summaries`: the terminal summary and the run record (run.json);
- :mod:`~coverage.outputs.report` (with :mod:`~coverage.outputs.report_sections`,
  :mod:`~coverage.outputs.report_scenarios` and :mod:`~coverage.outputs.html_blocks`): the
  self-contained HTML report;
- :mod:`~coverage.outputs.figures` (with :mod:`~coverage.outputs.figure_canvas`,
  :mod:`~coverage.outputs.figure_map` and :mod:`~coverage.outputs.figure_charts`): static
  figures (matplotlib, PNG);
- :mod:`~coverage.outputs.webmap`: the interactive web map (Folium), with offline Leaflet assets;
- :mod:`~coverage.outputs.style`: the one palette, minute classes, facility symbols and number formats.
"""
