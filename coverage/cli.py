"""Command line: ``python -m coverage analyse|optimise|access|demo`` (also installed as ``couverture``)."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import networkx as nx

from coverage._version import __version__
from coverage.accessibility import ContinuousDecay
from coverage.analysis import GapAnalysis, analyse
from coverage.candidates import (
    candidates_from_network,
    candidates_from_points,
    candidates_from_units,
    communes_with_facility,
    exclude_candidates,
)
from coverage.config import AnalysisConfig
from coverage.errors import CoverageError, InputDataError
from coverage.io.admin import read_communes, read_departments
from coverage.io.facilities import FINESS_CATEGORIES, read_facilities, read_finess
from coverage.io.population import attach_communes, population_from_communes, read_filosofi, read_population_layer
from coverage.io.roads import download_osm, read_roads
from coverage.io.settings import DATA_DIR_ENV, load_config, load_scenario, load_speed_profile, read_age_table
from coverage.outputs.files import check_output_dir
from coverage.outputs.summaries import print_summary
from coverage.outputs.write import write_analysis
from coverage.planning import SOLVERS, SitingPlan, plan_sites
from coverage.scenarios import (
    MEASURES,
    POOL_CANDIDATES,
    AccessSettings,
    Addition,
    Pool,
    Scenario,
)
from coverage.speeds import SpeedProfile

logger = logging.getLogger("coverage")

DEFAULT_DEMO_OUT = Path("outputs") / "centre-val-de-loire"
DEFAULT_ACCESS_OUT = Path("outputs") / "centre-val-de-loire-access"
#: The Region's plan: 300 salaried GPs in the most under-served zones (default scenario
#: of ``access`` on the regional data, in teams of DEFAULT_TEAM_SIZE).
DEFAULT_POOL = 300
DEFAULT_TEAM_SIZE = 3
#: The Region's aim: 125 MSP or grouped structures for a complete mesh of the territory.
DEFAULT_TARGET_STRUCTURES = 125
#: DREES counts a GP farther than 20 minutes as inaccessible.
DEFAULT_SITING_THRESHOLD = 20.0


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from exc


def _bbox(text: str) -> tuple[float, float, float, float]:
    values = _floats(text)
    if len(values) != 4:
        raise argparse.ArgumentTypeError("expected west,south,east,north")
    return values  # type: ignore[return-value]


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("analysis parameters (override --config)")
    g.add_argument("--config", type=Path, help="TOML file with an [analysis] table of parameters")
    g.add_argument("--thresholds", type=_floats, help="drive-time thresholds in minutes (default 10,20,30)")
    g.add_argument(
        "--access-speed", type=float, help="km/h of the straight leg between a point and the network (default 30)"
    )
    g.add_argument(
        "--max-snap", type=float, help="metres beyond which a point is not joined to the network (default 5000)"
    )
    g.add_argument("--metric-crs", help="CRS for distances (default EPSG:2154, Lambert-93)")
    g.add_argument("--isochrone-buffer", type=float, help="half-width in metres of isochrone bands (default 500)")
    g.add_argument("--no-isochrones", action="store_true", help="skip isochrone polygons")
    g.add_argument("--speeds", type=Path, help="TOML speed profile overriding the built-in French one")
    g.add_argument(
        "--default-speed", type=float, help="km/h for road classes the profile does not know (default: error)"
    )
    g.add_argument("--no-map", action="store_true", help="do not write map.html")
    g.add_argument("--no-report", action="store_true", help="do not write report.html and figures/")
    g.add_argument("-v", "--verbose", action="store_true", help="log every step")
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="couverture",
        description="Drive-time coverage of primary-care facilities (MSP, centres de santé).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyse", help="gap analysis of any territory", description="Gap analysis of any territory.")
    _add_input_options(a)
    _add_analysis_options(a)

    o = sub.add_parser(
        "optimise",
        help="gap analysis, then the best new sites",
        description="Gap analysis of any territory, then candidate scores and an optimal set of new sites "
        "with every existing facility kept.",
    )
    _add_input_options(o)
    _add_analysis_options(o)
    _add_siting_options(o, default_exclude=False)

    x = sub.add_parser(
        "access",
        help="accessibility per inhabitant (floating catchment) before and after a scenario",
        description="Gap analysis, then accessibility per inhabitant (2SFCA / E2SFCA, APL-style) before and "
        "after a scenario of added doctors (a TOML file, or --add/--pool). Without --roads/--facilities/"
        f"--population it runs on the Centre-Val de Loire data folder (--data-dir, else ${DATA_DIR_ENV}, else "
        f"shared/data beside the checkout) with the scenario '{DEFAULT_POOL} salaried GPs in teams of "
        f"{DEFAULT_TEAM_SIZE}' unless a scenario is given.",
    )
    x.add_argument("--data-dir", type=Path, help=f"data folder (default ${DATA_DIR_ENV} or ../shared/data)")
    x.add_argument("--all-statuses", action="store_true", help="regional data: keep planned and under-construction")
    _add_input_options(x, required=False)
    x.add_argument("--out", type=Path, help=f"output folder (default {DEFAULT_ACCESS_OUT} on the regional data)")
    _add_analysis_options(x)
    _add_access_options(x)

    d = sub.add_parser(
        "demo",
        help="gap analysis and siting scenario of Centre-Val de Loire with the data folder",
        description=f"Full gap analysis of Centre-Val de Loire, and the scenario 'complete the mesh to "
        f"{DEFAULT_TARGET_STRUCTURES} structures'. Data folder: --data-dir, else ${DATA_DIR_ENV}, "
        "else shared/data beside the checkout.",
    )
    d.add_argument("--data-dir", type=Path, help=f"data folder (default ${DATA_DIR_ENV} or ../shared/data)")
    d.add_argument("--out", type=Path, default=DEFAULT_DEMO_OUT, help=f"output folder (default {DEFAULT_DEMO_OUT})")
    d.add_argument("--all-statuses", action="store_true", help="keep planned and under-construction facilities too")
    d.add_argument("--no-siting", action="store_true", help="gap analysis only, no siting scenario")
    _add_analysis_options(d)
    _add_siting_options(d, default_exclude=True)
    return parser


def _add_input_options(a: argparse.ArgumentParser, *, required: bool = True) -> None:
    r = a.add_argument_group("roads (one of)")
    r.add_argument("--roads", type=Path, help=".osm/.osm.pbf, .graphml, or a line layer with a road-class column")
    r.add_argument("--osm-place", help="download OSM roads of a place (needs the internet)")
    r.add_argument("--osm-bbox", type=_bbox, help="download OSM roads of west,south,east,north (needs the internet)")
    r.add_argument("--roads-layer", help="layer of a multi-layer road file")
    r.add_argument("--class-column", help="road-class column of a line layer")
    r.add_argument("--oneway-column", help="column marking one-way lines of a line layer")
    r.add_argument("--road-name-column", help="column with road names or numbers of a line layer")
    r.add_argument(
        "--max-edge-length",
        type=float,
        default=500.0,
        help="split line-layer segments longer than this, metres (default 500)",
    )
    r.add_argument("--osm-cache", type=Path, default=Path("cache/osmnx"), help="cache folder of OSM downloads")

    f = a.add_argument_group("facilities")
    f.add_argument("--facilities", type=Path, required=required, help="FINESS extraction, point layer or CSV")
    f.add_argument("--facilities-format", choices=["auto", "finess", "points"], default="auto")
    f.add_argument("--facilities-layer")
    f.add_argument("--facility-id-column", default="facility_id")
    f.add_argument("--facility-name-column", default="name")
    f.add_argument("--facility-type-column", default="type")
    f.add_argument("--facilities-crs", help="CRS of x/y columns of a CSV (lon/lat are EPSG:4326)")
    f.add_argument("--x-column")
    f.add_argument("--y-column")
    f.add_argument(
        "--keep-status",
        default="open",
        help="statuses kept where a status column exists, comma-separated, or 'all' (default open)",
    )
    f.add_argument(
        "--finess-categories", default=",".join(FINESS_CATEGORIES), help="FINESS categetab codes (default 603,124)"
    )
    f.add_argument("--finess-departments", help="FINESS department codes to keep, comma-separated")

    pop = a.add_argument_group("population")
    pop.add_argument(
        "--population",
        type=Path,
        required=required,
        help="INSEE commune table, Filosofi grid CSV, or a point/polygon layer",
    )
    pop.add_argument("--population-format", choices=["communes", "filosofi", "layer"], default="communes")
    pop.add_argument("--population-layer")
    pop.add_argument("--population-column", help="population column (default: population, ind for Filosofi)")
    pop.add_argument("--unit-id-column", default="code_insee")
    pop.add_argument("--unit-name-column")
    pop.add_argument(
        "--placement",
        choices=["town_hall", "centroid"],
        default="town_hall",
        help="where a commune's people are placed",
    )
    pop.add_argument(
        "--commune-polygons", type=Path, help="commune polygons (code_insee); for maps, catchments and grid units"
    )
    pop.add_argument("--commune-polygons-layer")
    pop.add_argument("--town-halls", type=Path, help="town-hall points (code_insee)")
    pop.add_argument("--town-halls-layer")
    pop.add_argument(
        "--communes",
        type=Path,
        help="commune table giving EPCI and department to grid or layer units (with --commune-polygons)",
    )
    pop.add_argument("--departments-file", type=Path, help="department polygons with code and name")

    if required:
        a.add_argument(
            "--out", type=Path, required=True, help="output folder (replaced only if it holds a previous run)"
        )


def _number(text: str, *, zero_ok: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value >= 0 if zero_ok else value > 0):
        raise argparse.ArgumentTypeError(f"expected a {'non-negative' if zero_ok else 'positive'} number, got {text!r}")
    return value


def _positive(text: str) -> float:
    return _number(text, zero_ok=False)


def _non_negative(text: str) -> float:
    return _number(text, zero_ok=True)


def _addition(text: str) -> tuple[str, float]:
    site, sep, n = text.rpartition(":")
    if not sep or not site.strip():
        raise argparse.ArgumentTypeError(f"expected SITE:N (a facility or commune id and a number), got {text!r}")
    return site.strip(), _positive(n)


def _decay(text: str) -> ContinuousDecay:
    shape, _, minutes = text.partition(":")
    try:
        return ContinuousDecay(shape.strip(), _positive(minutes))
    except (InputDataError, argparse.ArgumentTypeError) as exc:
        raise argparse.ArgumentTypeError(f"expected gaussian:MINUTES or linear:MINUTES, got {text!r} ({exc})") from None


def _add_access_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("accessibility (override the scenario file)")
    g.add_argument("--scenario", type=Path, help="TOML file: [accessibility] settings and the [scenario]")
    g.add_argument("--measure", choices=list(MEASURES), help="consultations per inhabitant (default) or GPs")
    d = g.add_mutually_exclusive_group()
    d.add_argument("--bands", help="step decay minutes:weight,... (default 10:1,15:0.667,20:0.333)")
    d.add_argument("--decay", type=_decay, metavar="SHAPE:MINUTES", help="continuous decay: gaussian:20 or linear:20")
    g.add_argument(
        "--apl-threshold", type=_positive, help="priority line in the measure's unit (default 2.5 consultations)"
    )
    g.add_argument("--supply-column", help="facility column with GPs or FTE (default n_gp)")
    g.add_argument(
        "--default-supply", type=float, help="supply of facilities with an empty cell (default: median, warned)"
    )
    g.add_argument("--consultations-per-fte", type=_positive, help="consultations a year of one GP FTE (default 5400)")
    g.add_argument(
        "--add",
        type=_addition,
        action="append",
        default=[],
        metavar="SITE:N",
        help="add N doctors at a facility id or a commune (unit) id; repeatable",
    )
    g.add_argument("--pool", type=_positive, help="doctors to share out across candidate sites")
    g.add_argument("--team-size", type=_positive, help="doctors placed at a time (default 1; regional default 3)")
    g.add_argument("--pool-candidates", choices=list(POOL_CANDIDATES), help="sites the pool may use")
    g.add_argument("--max-per-site", type=_positive, help="most doctors one site may receive from the pool")
    g.add_argument(
        "--pool-min-population",
        type=_non_negative,
        metavar="N",
        help="town halls of communes of at least N inhabitants only, as pool candidates (default 0: all)",
    )
    g.add_argument("--workers", type=int, help="processes for the travel-time matrix (default: all cores)")


def _add_siting_options(p: argparse.ArgumentParser, *, default_exclude: bool) -> None:
    g = p.add_argument_group("siting (new sites, existing facilities kept)")
    g.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_SITING_THRESHOLD,
        help=f"coverage threshold of the new sites, minutes (default {DEFAULT_SITING_THRESHOLD:g})",
    )
    n = g.add_mutually_exclusive_group()
    n.add_argument("--sites", type=int, help="number of new sites")
    n.add_argument("--target-share", type=float, help="share of the population to bring within the threshold (0-1)")
    n.add_argument(
        "--target-structures",
        type=int,
        help=f"total structures wanted, existing included (demo default {DEFAULT_TARGET_STRUCTURES})",
    )
    g.add_argument(
        "--solver",
        choices=list(SOLVERS),
        default="exact",
        help="exact MCLP (HiGHS), greedy MCLP, lscp (fewest sites covering everyone), pmedian",
    )
    g.add_argument(
        "--candidates",
        default="communes",
        help="'communes' (town halls), 'network' (nodes in uncovered areas) or a CSV/GeoPackage of points",
    )
    g.add_argument("--candidates-layer")
    g.add_argument("--candidate-id-column", default="candidate_id")
    g.add_argument("--candidate-name-column", default="name")
    g.add_argument("--candidate-spacing", type=float, default=2000.0, help="metres between network-node candidates")
    g.add_argument(
        "--exclude-facility-communes",
        action=argparse.BooleanOptionalAction,
        default=default_exclude,
        help="leave out candidates in communes that already host a facility",
    )
    g.add_argument("--exclude-codes", default="", help="commune codes (or candidate ids) to leave out, comma-separated")
    g.add_argument("--time-limit", type=float, default=60.0, help="seconds for each exact solve (default 60)")
    g.add_argument("--curve-max", type=int, help="largest number of new sites on the coverage curve")
    g.add_argument("--no-exact-curve", action="store_true", help="greedy values only on the coverage curve")
    g.add_argument("--workers", type=int, help="processes for the coverage matrix (default: all cores)")


def _config(args: argparse.Namespace) -> AnalysisConfig:
    overrides = {
        "thresholds_min": args.thresholds,
        "access_speed_kph": args.access_speed,
        "max_snap_m": args.max_snap,
        "metric_crs": args.metric_crs,
        "isochrone_buffer_m": args.isochrone_buffer,
        "isochrones": False if args.no_isochrones else None,
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
        return read_roads(
            args.roads,
            profile=profile,
            class_column=args.class_column,
            layer=args.roads_layer,
            oneway_column=args.oneway_column,
            name_column=args.road_name_column,
            max_edge_length_m=args.max_edge_length,
            metric_crs=config.metric_crs,
        )
    return download_osm(place=args.osm_place, bbox=args.osm_bbox, profile=profile, cache_folder=args.osm_cache)


def _read_facilities(args: argparse.Namespace) -> gpd.GeoDataFrame:
    fmt = args.facilities_format
    if fmt == "auto":
        head = b""
        if args.facilities.is_file():
            with args.facilities.open("rb") as fh:
                head = fh.read(64)
        fmt = "finess" if head.lower().startswith((b"finess;", b"structureet;")) else "points"
    if fmt == "finess":
        departments = args.finess_departments.split(",") if args.finess_departments else None
        return read_finess(args.facilities, categories=args.finess_categories.split(","), departments=departments)
    keep = None if args.keep_status == "all" else tuple(s.strip() for s in args.keep_status.split(","))
    return read_facilities(
        args.facilities,
        layer=args.facilities_layer,
        id_column=args.facility_id_column,
        name_column=args.facility_name_column,
        type_column=args.facility_type_column,
        x_column=args.x_column,
        y_column=args.y_column,
        crs=args.facilities_crs,
        keep_status=keep,
    )


def _read_units(
    args: argparse.Namespace, config: AnalysisConfig, departments: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    fmt = args.population_format
    if fmt == "communes":
        communes = read_communes(
            args.population,
            polygons=args.commune_polygons,
            polygons_layer=args.commune_polygons_layer,
            town_halls=args.town_halls,
            town_halls_layer=args.town_halls_layer,
            code_column=args.unit_id_column,
            population_column=args.population_column or "population",
            **({"name_column": args.unit_name_column} if args.unit_name_column else {}),
        )
        units = population_from_communes(communes, placement=args.placement, metric_crs=config.metric_crs)
    else:
        if fmt == "filosofi":
            units = read_filosofi(args.population, population_column=args.population_column or "ind")
        else:
            units = read_population_layer(
                args.population,
                population_column=args.population_column or "population",
                id_column=args.unit_id_column,
                name_column=args.unit_name_column,
                layer=args.population_layer,
                metric_crs=config.metric_crs,
            )
        if args.communes is not None and args.commune_polygons is not None:
            communes = read_communes(
                args.communes, polygons=args.commune_polygons, polygons_layer=args.commune_polygons_layer
            )
            units = attach_communes(units, communes)
            names = dict(zip(communes["code_insee"], communes["name"], strict=True))
            units["commune_name"] = units["commune"].map(names)
    if "commune_name" not in units:
        units["commune_name"] = units["name"]
    if departments is not None:
        names = dict(zip(departments["department"], departments["name"], strict=True))
        units["department_name"] = units["department"].map(names)
    return units


def _regional(args: argparse.Namespace) -> bool:
    if args.command == "demo":
        return True
    if args.command != "access":
        return False
    given = [args.roads, args.osm_place, args.osm_bbox, args.facilities, args.population]
    if not any(v is not None for v in given):
        return True
    if args.facilities is None or args.population is None:
        raise CoverageError("give --facilities and --population with the roads, or none of them for the regional data")
    return False


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    regional = _regional(args)
    if args.command == "access" and args.out is None:
        if not regional:
            raise CoverageError("give the output folder with --out")
        args.out = DEFAULT_ACCESS_OUT
    check_output_dir(args.out)  # before any reading: a refused folder should not cost a full run
    config = _config(args)
    profile = _profile(args)
    access_setup = _access_setup(args, regional) if args.command == "access" else None
    if regional:
        from coverage.io.regional import load_regional_inputs

        logger.info("reading the regional data")
        inputs = load_regional_inputs(
            args.data_dir,
            profile=profile,
            keep_status=("open", "planned", "under_construction") if args.all_statuses else ("open",),
            metric_crs=config.metric_crs,
        )
        graph, facilities, units = inputs.graph, inputs.facilities, inputs.units
        departments = inputs.departments
        sources = {k: str(v) for k, v in inputs.paths.items()}
    else:
        logger.info("reading the road network")
        graph = _read_graph(args, profile, config)
        logger.info("reading facilities and population")
        facilities = _read_facilities(args)
        departments = read_departments(args.departments_file) if args.departments_file else None
        units = _read_units(args, config, departments)
        sources = {
            "roads": str(args.roads or args.osm_place or args.osm_bbox),
            "facilities": str(args.facilities),
            "population": str(args.population),
        }
    logger.info("analysing")
    result = analyse(graph, facilities, units, config, progress=not args.quiet)
    plan = None
    if args.command == "optimise" or (args.command == "demo" and not args.no_siting):
        logger.info("choosing new sites")
        plan = _plan(args, result)
    study = None
    if access_setup is not None:
        from coverage.access_study import study_access

        logger.info("accessibility per inhabitant")
        settings, scenario = access_setup
        study = study_access(
            result,
            settings,
            _resolve_additions(scenario, result),
            ages=None if settings.age_table is None or not settings.age_weights else read_age_table(settings.age_table),
            facilities_source=f"facilities file {sources['facilities']}",
            workers=args.workers,
            progress=not args.quiet,
        )
    logger.info("writing outputs")
    write_analysis(
        result,
        args.out,
        run_info={
            "command": args.command_line,
            "inputs": sources,
            "speed_profile": profile.as_dict(),
            "version": __version__,
            **({"siting_options": _siting_options(args)} if plan is not None else {}),
        },
        map=not args.no_map,
        plan=plan,
        report=not args.no_report,
        departments=departments,
        access=study,
    )
    if not args.quiet:
        print_summary(result, args.out, time.perf_counter() - start, plan=plan, access=study)
    return 0


def _access_setup(args: argparse.Namespace, regional: bool) -> tuple[AccessSettings, Scenario]:
    """Settings and scenario: the scenario file, then the command-line overrides.

    Additions from ``--add`` keep their site id as given; :func:`_resolve_additions`
    tells facilities from communes once the facilities are read.
    """
    from dataclasses import replace

    from coverage.accessibility import parse_bands
    from coverage.scenarios import with_overrides

    settings, scenario = load_scenario(args.scenario) if args.scenario else (AccessSettings(), Scenario(name=""))
    settings = with_overrides(
        settings,
        measure=args.measure,
        decay=parse_bands(args.bands) if args.bands else args.decay,
        priority_line=args.apl_threshold,
        supply_column=args.supply_column,
        default_supply=args.default_supply,
        consultations_per_fte=args.consultations_per_fte,
    )
    additions = scenario.additions + tuple(Addition(supply=n, facility=site) for site, n in args.add)
    pool = scenario.pool
    if args.pool is not None or (pool is None and regional and not args.scenario and not args.add):
        base = pool or Pool(supply=DEFAULT_POOL, team_size=DEFAULT_TEAM_SIZE if regional else 1.0)
        pool = replace(base, supply=args.pool or base.supply)
    if pool is not None:
        pool = replace(
            pool,
            team_size=args.team_size or pool.team_size,
            candidates=args.pool_candidates or pool.candidates,
            max_per_site=args.max_per_site or pool.max_per_site,
            min_population=pool.min_population if args.pool_min_population is None else args.pool_min_population,
        )
    name = scenario.name
    if not name:
        parts = [f"+{a.supply:g} at {a.facility}" for a in additions]
        if pool is not None:
            parts.append(f"pool of {pool.supply:g} in teams of {pool.team_size:g}")
        name = "; ".join(parts) or "baseline"
    return settings, Scenario(name=name, additions=additions, pool=pool)


def _resolve_additions(scenario: Scenario, result: GapAnalysis) -> Scenario:
    """``--add SITE:N``: SITE is a facility id if one has it, else a commune (unit) id."""
    from dataclasses import replace

    facilities = set(result.facilities["facility_id"].astype(str))
    fixed = tuple(
        replace(a, facility=None, commune=a.facility) if a.facility is not None and a.facility not in facilities else a
        for a in scenario.additions
    )
    return replace(scenario, additions=fixed)


def _siting_options(args: argparse.Namespace) -> dict[str, object]:
    names = (
        "threshold",
        "sites",
        "target_share",
        "target_structures",
        "solver",
        "candidates",
        "candidate_spacing",
        "exclude_facility_communes",
        "exclude_codes",
        "time_limit",
        "curve_max",
    )
    return {name: getattr(args, name) for name in names}


def _candidates(args: argparse.Namespace, result: GapAnalysis) -> gpd.GeoDataFrame:
    if args.candidates == "communes":
        candidates = candidates_from_units(result.units)
    elif args.candidates == "network":
        candidates = candidates_from_network(
            result.network, result.node_minutes, args.threshold, spacing_m=args.candidate_spacing, units=result.units
        )
    else:
        points = read_facilities(
            Path(args.candidates),
            layer=args.candidates_layer,
            id_column=args.candidate_id_column,
            name_column=args.candidate_name_column,
            type_column=None,
            status_column=None,
            keep_status=None,
        )
        candidates = candidates_from_points(points.rename(columns={"facility_id": "candidate_id"}), result.units)
    excluded = {c.strip() for c in args.exclude_codes.split(",") if c.strip()}
    if args.exclude_facility_communes:
        excluded |= communes_with_facility(result.facilities, result.units)
    return exclude_candidates(candidates, communes=excluded, ids=excluded)


def _plan(args: argparse.Namespace, result: GapAnalysis) -> SitingPlan:
    k, share = args.sites, args.target_share
    target = args.target_structures
    if args.command == "demo" and k is None and share is None and target is None:
        target = DEFAULT_TARGET_STRUCTURES
    if target is not None:
        existing = int((~result.facilities["beyond_max_snap"]).sum())
        k = max(0, target - existing)
        logger.info("%d structures wanted, %d exist on the network: %d new sites", target, existing, k)
    if k is None and share is None and args.solver != "lscp":
        raise CoverageError("say how many new sites: --sites, --target-share or --target-structures (or --solver lscp)")
    return plan_sites(
        result,
        _candidates(args, result),
        threshold_min=args.threshold,
        k=k,
        target_share=share,
        solver=args.solver,
        time_limit_s=args.time_limit,
        curve_k_max=args.curve_max,
        exact_curve=not args.no_exact_curve,
        workers=args.workers,
        progress=not args.quiet,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for bad input).

    Logging to stderr is set up for the run and the ``coverage`` logger is restored
    afterwards, so that calling this from Python leaves the caller's logging alone.
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
        return _run(args)
    except CoverageError as exc:
        logger.error("%s", exc)
        return 2
    finally:
        root.handlers[:], root.level, root.propagate = saved
