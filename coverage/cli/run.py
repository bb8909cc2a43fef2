"""Running a command: parse -> read (io) -> compute (engine) -> write (outputs).

Each step calls the layer that does it; this module opens no file, shapes no table and
formats no text itself.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx

from coverage._version import __version__
from coverage.analysis import GapAnalysis, analyse, isochrones_beside, with_isochrones_from
from coverage.background import can_fork
from coverage.cli.choices import _access_setup, _candidate_points, _candidates, _siting, _siting_options
from coverage.cli.inputs import _list, _regional_choices, _regional_defaults, _regional_inputs
from coverage.cli.parser import (
    DEFAULT_ACCESS_OUT,
    build_parser,
)
from coverage.cluster import dask_cluster_when_needed
from coverage.config import AnalysisConfig
from coverage.errors import CoverageError
from coverage.io.admin import read_departments
from coverage.io.facilities import read_facilities
from coverage.io.population import read_population
from coverage.io.roads import RoadLayer, download_osm, read_roads
from coverage.io.settings import load_config, load_speed_profile, read_age_table
from coverage.outputs.folder import atomic_output_dir
from coverage.outputs.summaries import print_summary
from coverage.outputs.write import write_outputs
from coverage.planning import SitingPlan, plan_sites
from coverage.scenarios import (
    AccessSettings,
    resolve_sites,
)
from coverage.speeds import SpeedProfile

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.io.regional import RegionalInputs

logger = logging.getLogger("coverage")


def _config(args: argparse.Namespace) -> AnalysisConfig:
    overrides = {
        "thresholds_min": args.thresholds,
        "access_speed_kph": args.access_speed,
        "max_snap_m": args.max_snap,
        "metric_crs": args.metric_crs,
        "isochrone_buffer_m": args.isochrone_buffer,
        "isochrones": False if args.no_isochrones else None,
        "zone_label": args.areas_label,
    }
    if args.config is not None:
        return load_config(args.config, **overrides)
    return AnalysisConfig(**{k: v for k, v in overrides.items() if v is not None})


def _profile(args: argparse.Namespace) -> SpeedProfile:
    profile = load_speed_profile(args.speeds)
    return profile.with_default(args.default_speed) if args.default_speed is not None else profile


def _read_graph(args: argparse.Namespace, profile: SpeedProfile, config: AnalysisConfig) -> nx.MultiDiGraph:
    sources = [args.roads is not None, args.osm_place is not None, args.osm_bbox is not None]
    if sum(sources) != 1:
        raise CoverageError("give exactly one of --roads, --osm-place, --osm-bbox")
    if args.roads is not None:
        road_layer = RoadLayer(
            profile=profile,
            class_column=args.class_column,
            layer=args.roads_layer,
            oneway_column=args.oneway_column,
            name_column=args.road_name_column,
            max_edge_length_m=args.max_edge_length,
            metric_crs=config.metric_crs,
        )
        return read_roads(args.roads, road_layer)
    return download_osm(place=args.osm_place, bbox=args.osm_bbox, profile=profile, cache_folder=args.osm_cache)


def _planner_areas(args: argparse.Namespace) -> gpd.GeoDataFrame | None:
    """The planner's own polygons (``--areas``), read before anything else, or None."""
    if getattr(args, "areas", None) is None:
        return None
    from coverage.io.areas import read_areas

    return read_areas(
        args.areas,
        level=args.areas_label or "zone",
        layer=args.areas_layer,
        code_column=args.areas_code_column,
        name_column=args.areas_name_column,
    )


def _read_facilities(args: argparse.Namespace, settings: AccessSettings | None = None) -> gpd.GeoDataFrame:
    """The facility file; with the settings of ``access``, its supply column is checked
    here, before the long computation (missing and no default: one line)."""
    return read_facilities(
        args.facilities[0] if len(args.facilities) == 1 else args.facilities,
        format=args.facilities_format,
        categories=_list(args.finess_categories) or (),
        departments=_list(args.finess_departments),
        layer=args.facilities_layer,
        id_column=args.facility_id_column,
        name_column=args.facility_name_column,
        type_column=args.facility_type_column,
        x_column=args.x_column,
        y_column=args.y_column,
        crs=args.facilities_crs,
        keep_status=None if args.keep_status == "all" else _list(args.keep_status),
        supply_column=None if settings is None else settings.supply_column,
        default_supply=None if settings is None else settings.default_supply,
    )


def _read_units(
    args: argparse.Namespace, config: AnalysisConfig, departments: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    return read_population(
        args.population,
        format=args.population_format,
        population_column=args.population_column,
        id_column=args.unit_id_column,
        name_column=args.unit_name_column,
        layer=args.population_layer,
        placement=args.placement,
        commune_polygons=args.commune_polygons,
        commune_polygons_layer=args.commune_polygons_layer,
        town_halls=args.town_halls,
        town_halls_layer=args.town_halls_layer,
        communes=args.communes,
        departments=departments,
        metric_crs=config.metric_crs,
    )


def _regional(args: argparse.Namespace) -> bool:
    """Whether the inputs come from the data folder (the region, any --territory, or the
    cache of official sources) rather than the planner's own files."""
    if args.command == "demo":
        return True
    own = [args.roads, args.osm_place, args.osm_bbox, args.facilities, args.population]
    if getattr(args, "territory", None) is not None:
        if any(v is not None for v in (args.roads, args.osm_place, args.osm_bbox, args.population)):
            raise CoverageError(
                "--territory reads the roads and the communes from the data folder's national files: "
                "give no --roads, --osm-place, --osm-bbox or --population with it (--facilities may be given)"
            )
        if getattr(args, "source", "shipped") == "official" or getattr(args, "population_units", None) == "grid":
            raise CoverageError("--territory reads the national files: not with --source official or a grid")
        return True
    if args.command in ("analyse", "optimise"):
        if getattr(args, "source", "shipped") == "official" and any(v is not None for v in own):
            raise CoverageError(
                "--source official reads the cache of official sources: "
                "give no --roads, --osm-place, --osm-bbox, --facilities or --population with it"
            )
        if getattr(args, "source", "shipped") != "official" and (args.facilities is None or args.population is None):
            raise CoverageError(
                f"{args.command} needs --facilities and --population, or --territory (e.g. region:53) for the "
                "national files" + (", or --source official for the cache" if args.command == "analyse" else "")
            )
        return bool(getattr(args, "source", "shipped") == "official")
    if args.command != "access":
        return False
    if not any(v is not None for v in own):
        return True
    if args.facilities is None or args.population is None:
        raise CoverageError("give --facilities and --population with the roads, or none of them for the regional data")
    return False


def _run(args: argparse.Namespace) -> int:
    if args.command == "compare":
        from coverage.cli.compare import run_compare

        return run_compare(args)
    if args.command == "data":
        return _run_data(args)
    start = time.perf_counter()
    regional = _regional(args)
    _regional_defaults(args, regional)
    if getattr(args, "road_buffer", 0.0) and (
        not regional or getattr(args, "source", "shipped") == "official" or getattr(args, "territory", None)
    ):
        raise CoverageError(
            "--road-buffer widens the regional roads: not with your own inputs, --source or --territory "
            "(whose buffer is --territory-buffer)"
        )
    if args.command == "access" and args.out is None:
        if not regional:
            raise CoverageError("give the output folder with --out")
        args.out = DEFAULT_ACCESS_OUT
    # the output folder is checked and staged before any reading: a refused folder should not cost a full run
    workers, scheduler = getattr(args, "workers", None), getattr(args, "scheduler", None)
    if workers is not None and workers > 1 and scheduler is not None:
        raise CoverageError("give --workers N (a local Dask cluster) or --scheduler ADDRESS, not both")
    with (
        atomic_output_dir(args.out, inputs=_input_paths(args)) as staging,
        dask_cluster_when_needed(None if scheduler else workers, scheduler) as cluster,
    ):
        result, plan, study = _analyse_and_write(args, regional, staging, cluster)
    logger.info("outputs written to %s", args.out)
    if not args.quiet:
        print_summary(result, args.out, time.perf_counter() - start, plan=plan, access=study)
    return 0


def _run_data(args: argparse.Namespace) -> int:
    """``couverture data list`` prints the table of sources; ``fetch`` downloads them."""
    from coverage.io.official import SOURCES, fetch_sources, source_table

    if args.data_command == "list":
        print(source_table(args.cache).to_string(index=False))
        return 0
    if args.all == bool(args.names):
        raise CoverageError(f"name the sources to fetch ({', '.join(SOURCES)}), or give --all")
    done = fetch_sources(
        None if args.all else args.names, cache=args.cache, base_url=args.base_url, progress=not args.quiet
    )
    if not args.quiet:
        for name, what in done.items():
            print(f"{name}: {what}")
    return 0


def _input_paths(args: argparse.Namespace) -> list[Path]:
    """The files and folders given on the command line, which must not lie in the output folder."""
    paths = [value for key, value in vars(args).items() if isinstance(value, Path) and key != "out"]
    paths += [p for value in vars(args).values() if isinstance(value, list) for p in value if isinstance(p, Path)]
    if getattr(args, "candidates", None) not in (None, "communes", "network"):
        paths.append(Path(args.candidates))
    return paths


def _analyse_and_write(
    args: argparse.Namespace, regional: bool, staging: Path, cluster: Any = None
) -> tuple[GapAnalysis, SitingPlan | None, AccessStudy | None]:
    """Read, compute and write every output into ``staging``; what the summary shows.
    ``cluster`` (from :func:`~coverage.cluster.dask_cluster_when_needed`) is closed once the
    searches are done, before the outputs' forked writers start."""
    config = _config(args)
    profile = _profile(args)
    access_setup = _access_setup(args, regional) if args.command == "access" else None
    wants_siting = args.command == "optimise" or (args.command == "demo" and not args.no_siting)
    siting = _siting(args) if wants_siting else None
    # the planner's own files are read before the long computation, so that a bad one fails first
    candidate_points = _candidate_points(args) if siting is not None else None
    ages = None
    if access_setup is not None and access_setup[0].age_weights and access_setup[0].age_table is not None:
        ages = read_age_table(access_setup[0].age_table)
    zones = _planner_areas(args)
    town_halls = outside = communes = None  # the regional data's candidates, the people around it, communes
    inputs: RegionalInputs | None = None
    if regional:
        facilities_given = _read_facilities(args) if getattr(args, "territory", None) and args.facilities else None
        inputs = _regional_inputs(args, profile, config, facilities_given)
        graph, facilities, units, town_halls = inputs.roads, inputs.facilities, inputs.units, inputs.town_halls
        outside = inputs.outside
        departments, sources = inputs.departments, {k: str(v) for k, v in inputs.paths.items()}
        communes = inputs.communes
    else:
        logger.info("reading the road network")
        graph = _read_graph(args, profile, config)
        logger.info("reading facilities and population")
        facilities = _read_facilities(args, None if access_setup is None else access_setup[0])
        departments = read_departments(args.departments_file) if args.departments_file else None
        units = _read_units(args, config, departments)
        roads, facility_files = args.roads or args.osm_place or args.osm_bbox, "; ".join(map(str, args.facilities))
        sources = {"roads": str(roads), "facilities": facility_files, "population": str(args.population)}
    if zones is not None:
        from coverage.io.areas import with_planner_areas

        units = with_planner_areas(units, zones, communes=communes, metric_crs=config.metric_crs)
        if town_halls is not None:
            town_halls = with_planner_areas(town_halls, zones, communes=communes, metric_crs=config.metric_crs)
        sources["areas"] = str(args.areas)
    logger.info("analysing")
    workers = getattr(args, "workers", None)
    # the isochrones (for the outputs only) are drawn by a forked process while the rest is computed
    beside = config.isochrones and can_fork() and any(x is not None for x in (siting, access_setup, town_halls))
    now = replace(config, isochrones=config.isochrones and not beside)
    result = replace(analyse(graph, facilities, units, now, progress=not args.quiet, workers=workers), config=config)
    # the network is compiled (its largest pieces, in result.network): the roads as read are let go
    graph, inputs = None, None  # type: ignore[assignment]
    job = isochrones_beside(result, workers=workers) if beside else None
    try:
        comparison = None
        if regional and getattr(args, "population_units", "communes") == "grid" and town_halls is not None:
            from coverage.unit_comparison import compare_units

            logger.info("the same analysis with the people at their town halls, for comparison")
            halls = analyse(result.network, facilities, town_halls, replace(config, isochrones=False), workers=1)
            comparison = compare_units(halls, result, names=("town_halls", "grid"))
        plan = None
        if siting is not None:
            logger.info("choosing new sites")
            candidates = _candidates(args, result, candidate_points, town_halls)
            plan = plan_sites(result, candidates, siting, workers=args.workers, progress=not args.quiet)
        study = None
        if access_setup is not None:
            from coverage.access_study import study_access

            logger.info("accessibility per inhabitant")
            settings, scenario = access_setup
            study = study_access(
                result,
                settings,
                resolve_sites(scenario, set(result.facilities["facility_id"].astype(str))),
                ages=ages,
                facilities_source=f"facilities file {sources['facilities']}",
                workers=args.workers,
                progress=not args.quiet,
                outside=outside,
            )
        result = with_isochrones_from(result, job)
    finally:
        if job is not None:
            job.stop()
    if cluster is not None:
        cluster.close()
    logger.info("writing outputs")
    write_outputs(
        result,
        staging,
        run_info={
            "command": args.command_line,
            "inputs": sources,
            "speed_profile": profile.as_dict(),
            "version": __version__,
            **({"regional": _regional_choices(args)} if regional else {}),
            **({"siting_options": _siting_options(args)} if plan is not None else {}),
        },
        map=not args.no_map,
        plan=plan,
        report=not args.no_report,
        departments=departments,
        access=study,
        comparison=comparison,
    )
    return result, plan, study


class _Terminated(BaseException):
    """SIGTERM arrived: raised in the main thread so that the staging folder is removed as for Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


@contextmanager
def _sigterm_like_sigint() -> Iterator[None]:
    """While the run lasts, SIGTERM unwinds the run as Ctrl-C does; the caller's handler is restored after."""
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _os_error_line(exc: OSError) -> str:
    """An operating-system error in one line: what failed, on which file."""
    if exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return exc.strerror or str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    0 on success; 2 for bad input or a refused output folder; 1 when a file cannot be
    read or written (a read-only folder, a full disk); 130 on Ctrl-C and 143 on SIGTERM,
    after the staging folder is removed.  Each of these is one line, not a traceback.

    Logging to stderr is set up for the run and the ``coverage`` logger is restored
    afterwards, so that calling this from Python leaves the caller's logging alone
    (and its SIGTERM handler).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    # what run.json and the report record: the arguments of this run, not the caller's sys.argv
    args.command_line = shlex.join(["python", "-m", "coverage", *arguments])
    level = logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    root = logging.getLogger("coverage")
    saved = (root.handlers[:], root.level, root.propagate)
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    try:
        with _sigterm_like_sigint():
            return _run(args)
    except CoverageError as exc:
        logger.error("%s", exc)
        return 2
    except OSError as exc:
        logger.error("%s", _os_error_line(exc))
        return 1
    except KeyboardInterrupt:
        logger.error("interrupted (Ctrl-C); temporary files removed")
        return 130
    except _Terminated:
        logger.error("terminated (SIGTERM); temporary files removed")
        return 128 + signal.SIGTERM
    finally:
        root.handlers[:], root.level, root.propagate = saved
