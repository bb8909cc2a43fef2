"""The command line's regional inputs: the data folder, or the cache of official sources."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from coverage.config import AnalysisConfig
from coverage.io.facilities import FINESS_CATEGORIES
from coverage.io.regional import DEFAULT_ROAD_BUFFER_M, RegionalInputs
from coverage.speeds import SpeedProfile

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger("coverage")

_ALL_STATUSES = ("open", "planned", "under_construction")


def _list(text: str | None) -> tuple[str, ...] | None:
    """``"a, b"`` -> ``("a", "b")``; None stays None."""
    return None if text is None else tuple(t.strip() for t in text.split(","))


def _regional_inputs(
    args: argparse.Namespace,
    profile: SpeedProfile,
    config: AnalysisConfig,
    facilities: gpd.GeoDataFrame | None = None,
) -> RegionalInputs:
    """The inputs of the data folder: a ``--territory`` from the national files (with the
    planner's ``facilities`` if given), the cache of official sources (``--source
    official``), else the region's files."""
    if getattr(args, "territory", None) is not None:
        from coverage.io.national import load_territory_inputs

        logger.info("reading the national files for the territory %s", args.territory)
        return load_territory_inputs(
            args.territory,
            getattr(args, "data_dir", None),
            profile=profile,
            facilities=facilities,
            keep_status=("open", "planned", "under_construction")
            if getattr(args, "all_statuses", False)
            else ("open",),
            road_buffer_m=args.territory_buffer,
            metric_crs=config.metric_crs,
        )
    if getattr(args, "source", "shipped") == "official":
        from coverage.io.official import load_official_inputs

        logger.info("reading the official sources of the cache")
        return load_official_inputs(
            args.cache,
            profile=profile,
            finess_categories=_list(getattr(args, "finess_categories", None)) or tuple(FINESS_CATEGORIES),
            metric_crs=config.metric_crs,
        )
    from coverage.io.regional import load_regional_inputs

    logger.info("reading the regional data")
    return load_regional_inputs(
        args.data_dir,
        profile=profile,
        keep_status=_ALL_STATUSES if args.all_statuses else ("open",),
        metric_crs=config.metric_crs,
        population=getattr(args, "population_units", "communes"),
        road_buffer_m=getattr(args, "road_buffer", 0.0),
        outside_demand=args.command == "access" and not getattr(args, "no_outside_demand", False),
    )


def _regional_defaults(args: argparse.Namespace, regional: bool) -> None:
    """The population units and road buffer not given: the demo on the shipped data runs on
    the census grid and the roads within 30 km of the region; anything else on the
    communes' town halls and the region's own roads."""
    shipped_demo = args.command == "demo" and regional and getattr(args, "source", "shipped") == "shipped"
    if hasattr(args, "population_units") and args.population_units is None:
        args.population_units = "grid" if shipped_demo else "communes"
    if hasattr(args, "road_buffer") and args.road_buffer is None:
        args.road_buffer = DEFAULT_ROAD_BUFFER_M if shipped_demo else 0.0


def _regional_choices(args: argparse.Namespace) -> dict[str, object]:
    """What the regional run was read with, for run.json (defaults included)."""
    if getattr(args, "territory", None) is not None:
        return {"territory": str(args.territory), "territory_buffer_m": args.territory_buffer}
    return {
        "source": getattr(args, "source", "shipped"),
        "population_units": getattr(args, "population_units", None),
        "road_buffer_m": getattr(args, "road_buffer", None),
    }
