"""The run report: one self-contained HTML page per run, for planners.

:func:`report_html` builds the page (key figures, tables, figures embedded as base64
PNG, the parameters that reproduce the run); :func:`write_report` writes it as
``report.html`` into an existing folder and nowhere else.  Every text that comes from
an input file (names, paths, ids) is HTML-escaped, and the page loads nothing from
the network.

The page is put together here from

- :mod:`~coverage.outputs.report_sections`: today's coverage and the parameters;
- :mod:`~coverage.outputs.report_scenarios`: the new sites and the accessibility study;
- :mod:`~coverage.outputs.html_blocks`: escaping, tables, cards, figures, the page shell;

and the figures of :mod:`coverage.outputs.figures`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage._version import __version__
from coverage.outputs.html_blocks import escape, page
from coverage.outputs.report_density import density_section
from coverage.outputs.report_phasing import phasing_section, pool_phasing_section
from coverage.outputs.report_scenarios import accessibility_section, siting_section
from coverage.outputs.report_sections import (
    cantons_section,
    departments_section,
    key_figures_section,
    maps_section,
    parameters_section,
    thresholds_section,
    worst_epci_section,
    written_at,
    zones_section,
)
from coverage.outputs.report_units import units_section
from coverage.outputs.style import fr_minutes

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.planning import SitingPlan
    from coverage.unit_comparison import UnitComparison

__all__ = ["FIGURE_NAMES", "REPORT_FILE", "figure_pngs", "report_html", "write_report"]

REPORT_FILE = "report.html"
#: Names of the figures of a run (``figures/<name>.png`` beside the report).
FIGURE_NAMES = (
    "minutes_map",
    "access_by_department",
    "coverage_curve",
    "budget_curve",
    "phasing",
    "pool_phasing",
    "capacity_by_department",
)


def figure_pngs(
    result: GapAnalysis,
    *,
    plan: SitingPlan | None = None,
    departments: gpd.GeoDataFrame | None = None,
    dpi: int = 150,
    access: AccessStudy | None = None,
) -> dict[str, bytes]:
    """PNG bytes of the run's figures, by name (see :data:`FIGURE_NAMES`).

    The coverage curve is drawn only with a ``plan``, the phasing figures only when the
    plan's sites or the ``access`` study's pool were phased.  A caller that also writes the
    PNG files passes this dictionary to :func:`write_report`, so each figure is drawn
    once.
    """
    from coverage.outputs.figures import access_by_department_figure, coverage_curve_figure, minutes_map, png_bytes

    pngs = {
        "minutes_map": png_bytes(minutes_map(result, departments=departments, plan=plan), dpi=dpi),
        "access_by_department": png_bytes(access_by_department_figure(result), dpi=dpi),
    }
    if plan is not None:
        pngs["coverage_curve"] = png_bytes(coverage_curve_figure(plan), dpi=dpi)
    if plan is not None and plan.budget_curve is not None:
        from coverage.outputs.report_budget import budget_figure

        pngs["budget_curve"] = png_bytes(budget_figure(plan.budget_curve, threshold_min=plan.threshold_min), dpi=dpi)
    if plan is not None and plan.phasing is not None:
        from coverage.outputs.report_phasing import phasing_figure

        pngs["phasing"] = png_bytes(phasing_figure(plan.phasing), dpi=dpi)
    if access is not None and access.pool_phasing is not None:
        from coverage.outputs.report_phasing import pool_phasing_figure

        pngs["pool_phasing"] = png_bytes(pool_phasing_figure(access.pool_phasing), dpi=dpi)
    if access is not None and access.capacity is not None and len(access.capacity.by_area):
        from coverage.outputs.report_capacity import capacity_figure

        pngs["capacity_by_department"] = png_bytes(capacity_figure(access.capacity.by_area), dpi=dpi)
    return pngs


def _header(result: GapAnalysis, info: Mapping[str, Any]) -> str:
    """Title, what is measured, the thresholds, the version and when the run was written."""
    thresholds = ", ".join(fr_minutes(t) for t in result.config.thresholds_min)
    return (
        "<header><h1>Accès aux soins primaires : rapport du calcul "
        '<span class="en">(primary-care coverage: run report)</span></h1>\n'
        f'<p class="meta">Temps de trajet en voiture jusqu’à la structure la plus proche (MSP, centre de santé), '
        f"seuils {escape(thresholds)} min. coverage {escape(info.get('version', __version__))}"
        f" · {escape(written_at(info))}</p></header>"
    )


def report_html(
    result: GapAnalysis,
    *,
    plan: SitingPlan | None = None,
    run_info: Mapping[str, Any] | None = None,
    figures: bool | Mapping[str, bytes] = True,
    departments: gpd.GeoDataFrame | None = None,
    access: AccessStudy | None = None,
    comparison: UnitComparison | None = None,
) -> str:
    """The run report as one HTML document (see :func:`write_report`)."""
    from coverage.outputs.summaries import plan_summary

    info: Mapping[str, Any] = run_info or {}
    if isinstance(figures, Mapping):
        pngs: Mapping[str, bytes] = figures
    elif figures:
        pngs = figure_pngs(result, plan=plan, departments=departments)
    else:
        pngs = {}
    siting = None
    if plan is not None:
        siting = info.get("siting") if isinstance(info.get("siting"), Mapping) else plan_summary(plan)
    sections = [
        _header(result, info),
        key_figures_section(result, plan, info),
        thresholds_section(result),
        units_section(comparison) if comparison is not None else "",
        maps_section(pngs, plan),
        departments_section(result),
        cantons_section(result),
        zones_section(result),
        worst_epci_section(result),
        siting_section(plan, pngs) if plan is not None else "",
        phasing_section(plan.phasing, pngs) if plan is not None and plan.phasing is not None else "",
        _budget(plan, pngs),
        accessibility_section(access) if access is not None else "",
        density_section(access, zone_label=result.config.zone_label) if access is not None else "",
        pool_phasing_section(access.pool_phasing, pngs) if access is not None and access.pool_phasing else "",
        _capacity(access, pngs),
        parameters_section(result, plan, info, siting),
    ]
    return page("Rapport de couverture (coverage run report)", sections)


def _budget(plan: SitingPlan | None, pngs: Mapping[str, bytes]) -> str:
    """The budget's section, when the plan has one."""
    if plan is None or plan.budget is None:
        return ""
    from coverage.outputs.report_budget import budget_section

    names = plan.candidates.drop_duplicates("candidate_id").set_index("candidate_id")["name"]
    return budget_section(plan.budget, plan.budget_curve, pngs.get("budget_curve"), names=names)


def _capacity(access: AccessStudy | None, pngs: Mapping[str, bytes]) -> str:
    """The patient lists' section, when the study has them."""
    if access is None or access.capacity is None:
        return ""
    from coverage.outputs.report_capacity import capacity_section

    c = access.capacity
    return capacity_section(c.before, c.after, by_area=c.by_area, comparison=c.comparison, pool=c.pool, pngs=pngs)


def write_report(
    result: GapAnalysis,
    folder: str | Path,
    *,
    plan: SitingPlan | None = None,
    run_info: Mapping[str, Any] | None = None,
    figures: bool | Mapping[str, bytes] = True,
    departments: gpd.GeoDataFrame | None = None,
    access: AccessStudy | None = None,
    comparison: UnitComparison | None = None,
) -> Path:
    """Write the run report ``report.html`` into the existing ``folder``; returns its path.

    Parameters
    ----------
    result
        The gap analysis.
    folder
        An existing folder (the temporary folder of an atomic output write); nothing
        is written anywhere else.
    plan
        The siting plan, whose results get their own section.
    run_info
        The content of ``run.json`` (or the part of it the caller has): ``command``,
        ``inputs``, ``speed_profile``, ``version``, ``written``, ``network``,
        ``siting``…; any other key is listed as is.
    figures
        True: draw the figures and embed them as base64 PNG; False: no figure; or the
        PNG bytes already drawn, by name (see :func:`figure_pngs`).
    departments
        Department polygons for the outlines of the map (default: dissolved from the
        units' areas).
    access
        An accessibility study, whose baseline and scenario get their own section
        (classes, departments, the sites receiving the most doctors).
    comparison
        The same territory with its people placed another way
        (:func:`coverage.unit_comparison.compare_units`), in a section of its own.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"report folder {folder} does not exist or is not a folder")
    path = folder / REPORT_FILE
    text = report_html(
        result,
        plan=plan,
        run_info=run_info,
        figures=figures,
        departments=departments,
        access=access,
        comparison=comparison,
    )
    path.write_text(text, encoding="utf-8")
    return path
