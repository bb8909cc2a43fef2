"""coverage: drive-time coverage of primary-care facilities for territorial planning.

The data flow one way, in three layers::

    io/ (read)  ->  engine (compute)                                  ->  outputs/ (write)
    roads,          speeds -> network -> snapping -> traveltime           write, files,
    facilities,       -> stats, isochrones -> analysis                    summaries, report,
    population,       -> candidates -> matrix -> siting -> planning       figures, webmap,
    admin,            -> accessibility, pool -> scenarios                 style
    settings          -> access_study

This face holds the names a planner starts from, in the order of that flow; every
building block stays importable from its module (``coverage.siting.mclp_exact``,
``coverage.accessibility.floating_catchment``, ``coverage.network.compile_network``…).
Heavy optional dependencies (OSMnx, pyosmium, Folium, matplotlib) are imported inside the
functions that use them, so ``import coverage`` stays light and has no side effect.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from coverage._version import __version__
from coverage.access_study import study_access
from coverage.analysis import analyse
from coverage.cluster import dask_cluster
from coverage.config import AnalysisConfig
from coverage.errors import (
    CoverageError,
    InputDataError,
    InputFileNotFoundError,
    NoFacilityReachableError,
    OutputExistsError,
    UnknownRoadClassError,
)
from coverage.io.admin import read_communes, read_departments
from coverage.io.facilities import read_facilities
from coverage.io.population import population_from_communes, read_filosofi, read_population_layer
from coverage.io.regional import load_regional_inputs
from coverage.io.roads import read_roads
from coverage.io.settings import load_config, load_scenario, load_speed_profile, resolve_data_dir
from coverage.outputs.report import report_html
from coverage.outputs.webmap import gap_map
from coverage.outputs.write import write_analysis
from coverage.planning import plan_sites
from coverage.scenarios import AccessSettings, Scenario
from coverage.speeds import SpeedProfile

__all__ = [  # noqa: RUF022 (in the order of the data flow)
    # read
    "resolve_data_dir",
    "load_regional_inputs",
    "read_roads",
    "read_facilities",
    "read_communes",
    "read_departments",
    "population_from_communes",
    "read_filosofi",
    "read_population_layer",
    "load_config",
    "load_speed_profile",
    "load_scenario",
    # compute
    "analyse",
    "plan_sites",
    "study_access",
    "dask_cluster",
    # write
    "gap_map",
    "write_analysis",
    "report_html",
    # settings
    "AnalysisConfig",
    "SpeedProfile",
    "AccessSettings",
    "Scenario",
    # errors
    "CoverageError",
    "InputDataError",
    "InputFileNotFoundError",
    "NoFacilityReachableError",
    "OutputExistsError",
    "UnknownRoadClassError",
    "__version__",
]

#: Names this package exported before 0.2, and the module that holds each now.  They
#: still work from ``coverage`` for one release, with a DeprecationWarning.
_MOVED = {
    **dict.fromkeys(
        (
            "DEFAULT_BANDS",
            "ContinuousDecay",
            "FloatingCatchment",
            "StepDecay",
            "accessibility_by_area",
            "age_weighted_demand",
            "facility_supply",
            "floating_catchment",
            "parse_bands",
            "priority_classes",
        ),
        "coverage.accessibility",
    ),
    **dict.fromkeys(("PoolAllocation", "allocate_pool"), "coverage.pool"),
    **dict.fromkeys(("GapAnalysis", "prepare_network"), "coverage.analysis"),
    **dict.fromkeys(("AccessStudy",), "coverage.access_study"),
    **dict.fromkeys(
        (
            "candidates_from_network",
            "candidates_from_points",
            "candidates_from_units",
            "communes_with_facility",
            "exclude_candidates",
        ),
        "coverage.candidates",
    ),
    **dict.fromkeys(("read_finess",), "coverage.io.facilities"),
    **dict.fromkeys(("attach_communes",), "coverage.io.population"),
    **dict.fromkeys(("download_osm", "read_graphml", "read_osm", "read_road_lines"), "coverage.io.roads"),
    **dict.fromkeys(("save_graphml",), "coverage.outputs.files"),
    **dict.fromkeys(("CoverageMatrix", "coverage_matrix"), "coverage.matrix"),
    **dict.fromkeys(
        ("RoutingNetwork", "add_travel_times", "compile_network", "graph_from_lines", "largest_strong_component"),
        "coverage.network",
    ),
    **dict.fromkeys(("SitingPlan",), "coverage.planning"),
    **dict.fromkeys(("Addition", "Pool"), "coverage.scenarios"),
    **dict.fromkeys(
        (
            "SitingResult",
            "coverage_curve",
            "covered_population",
            "fragility",
            "lscp",
            "mclp_exact",
            "mclp_greedy",
            "p_median",
        ),
        "coverage.siting",
    ),
    **dict.fromkeys(("Snapping", "snap_points"), "coverage.snapping"),
    **dict.fromkeys(("parse_maxspeed",), "coverage.speeds"),
    **dict.fromkeys(("coverage_by_area", "coverage_summary"), "coverage.stats"),
    **dict.fromkeys(
        ("NearestFacility", "bounded_times_to_facilities", "nearest_facility", "unit_travel_times"),
        "coverage.traveltime",
    ),
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'coverage' has no attribute {name!r}")
    warnings.warn(
        f"coverage.{name} moved to {module}.{name}; import it from there (the old name goes in the next release)",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
