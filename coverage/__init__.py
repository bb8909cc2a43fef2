"""coverage: drive-time coverage of primary-care facilities for territorial planning.

The data flow one way, one step per module::

    io (roads, facilities, population) -> network -> snapping -> traveltime
        -> stats, isochrones -> analysis (all steps) -> io.export, maps

Heavy optional dependencies (OSMnx, pyosmium, Folium) are imported inside the
functions that use them, so ``import coverage`` stays light and has no side effect.
"""

from __future__ import annotations

__version__ = "0.1.0"

from coverage.accessibility import (
    DEFAULT_BANDS,
    ContinuousDecay,
    FloatingCatchment,
    PoolAllocation,
    StepDecay,
    accessibility_by_area,
    age_weighted_demand,
    allocate_pool,
    facility_supply,
    floating_catchment,
    parse_bands,
    priority_classes,
)
from coverage.analysis import GapAnalysis, analyse, prepare_network
from coverage.candidates import (
    candidates_from_network,
    candidates_from_points,
    candidates_from_units,
    communes_with_facility,
    exclude_candidates,
)
from coverage.config import AnalysisConfig, load_config, resolve_data_dir
from coverage.errors import (
    CoverageError,
    InputDataError,
    InputFileNotFoundError,
    NoFacilityReachableError,
    OutputExistsError,
    UnknownRoadClassError,
)
from coverage.io.admin import read_communes, read_departments
from coverage.io.export import write_analysis
from coverage.io.facilities import read_facilities, read_finess
from coverage.io.population import (
    attach_communes,
    population_from_communes,
    read_filosofi,
    read_population_layer,
)
from coverage.io.regional import load_regional_inputs
from coverage.io.roads import download_osm, read_graphml, read_osm, read_road_lines, read_roads, save_graphml
from coverage.isochrones import isochrones
from coverage.matrix import CoverageMatrix, coverage_matrix
from coverage.network import (
    RoutingNetwork,
    add_travel_times,
    compile_network,
    graph_from_lines,
    largest_strong_component,
)
from coverage.planning import SitingPlan, plan_sites
from coverage.scenarios import AccessSettings, AccessStudy, Addition, Pool, Scenario, load_scenario, study_access
from coverage.siting import (
    SitingResult,
    coverage_curve,
    covered_population,
    fragility,
    lscp,
    mclp_exact,
    mclp_greedy,
    p_median,
)
from coverage.snapping import Snapping, snap_points
from coverage.speeds import SpeedProfile, load_speed_profile, parse_maxspeed
from coverage.stats import coverage_by_area, coverage_summary
from coverage.traveltime import NearestFacility, bounded_times_to_facilities, nearest_facility, unit_travel_times

__all__ = [
    "DEFAULT_BANDS",
    "AccessSettings",
    "AccessStudy",
    "Addition",
    "AnalysisConfig",
    "ContinuousDecay",
    "CoverageError",
    "CoverageMatrix",
    "FloatingCatchment",
    "GapAnalysis",
    "InputDataError",
    "InputFileNotFoundError",
    "NearestFacility",
    "NoFacilityReachableError",
    "OutputExistsError",
    "Pool",
    "PoolAllocation",
    "RoutingNetwork",
    "Scenario",
    "SitingPlan",
    "SitingResult",
    "Snapping",
    "SpeedProfile",
    "StepDecay",
    "UnknownRoadClassError",
    "__version__",
    "accessibility_by_area",
    "add_travel_times",
    "age_weighted_demand",
    "allocate_pool",
    "analyse",
    "attach_communes",
    "bounded_times_to_facilities",
    "candidates_from_network",
    "candidates_from_points",
    "candidates_from_units",
    "communes_with_facility",
    "compile_network",
    "coverage_by_area",
    "coverage_curve",
    "coverage_matrix",
    "coverage_summary",
    "covered_population",
    "download_osm",
    "exclude_candidates",
    "facility_supply",
    "floating_catchment",
    "fragility",
    "graph_from_lines",
    "isochrones",
    "largest_strong_component",
    "load_config",
    "load_regional_inputs",
    "load_scenario",
    "load_speed_profile",
    "lscp",
    "mclp_exact",
    "mclp_greedy",
    "nearest_facility",
    "p_median",
    "parse_bands",
    "parse_maxspeed",
    "plan_sites",
    "population_from_communes",
    "prepare_network",
    "priority_classes",
    "read_communes",
    "read_departments",
    "read_facilities",
    "read_filosofi",
    "read_finess",
    "read_graphml",
    "read_osm",
    "read_population_layer",
    "read_road_lines",
    "read_roads",
    "resolve_data_dir",
    "save_graphml",
    "snap_points",
    "study_access",
    "unit_travel_times",
    "write_analysis",
]
