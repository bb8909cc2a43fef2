"""The command line's arguments: ``analyse``, ``optimise``, ``access``, ``demo`` and ``data``.

Argument types check numbers and pairs as they are parsed, so that a bad value ends the
run with one line before anything is read.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from coverage._version import __version__
from coverage.accessibility import ContinuousDecay
from coverage.capacity import DEFAULT_PATIENTS_PER_GP
from coverage.cli.compare import add_compare_parser
from coverage.cli.options import add_cluster_options, add_territory_options
from coverage.errors import InputDataError
from coverage.io.facilities import FACILITY_FORMATS, FINESS_CATEGORIES
from coverage.io.official import SOURCES_URL_ENV
from coverage.io.population import POPULATION_FORMATS
from coverage.io.regional import DEFAULT_ROAD_BUFFER_M, POPULATION_UNITS
from coverage.io.settings import DATA_DIR_ENV
from coverage.planning import DEFAULT_TIME_LIMIT_S, SOLVERS
from coverage.scenarios import MEASURES, POOL_CANDIDATES

__all__ = ["build_parser"]

DEFAULT_DEMO_OUT = Path("outputs") / "centre-val-de-loire"
DEFAULT_ACCESS_OUT = Path("outputs") / "centre-val-de-loire-access"
#: The Region's plan: 300 salaried GPs in the most under-served zones (default scenario
#: of ``access`` on the regional data, in teams of DEFAULT_TEAM_SIZE).
DEFAULT_POOL = 300
DEFAULT_TEAM_SIZE = 3
#: ... hired over 8 years to 2028 (the regional default's schedule: the pool spread evenly).
DEFAULT_POOL_SCHEDULE = "2021-2028"
#: The Region's aim: 125 MSP or grouped structures for a complete mesh of the territory,
#: by 2025: the demo opens its new sites over DEMO_PHASING (spread evenly).
DEFAULT_TARGET_STRUCTURES = 125
DEMO_PHASING = "2023-2025"
#: The demo's time limit of each exact point of the coverage curve, in seconds: the
#: scenario's own answer is proven under --time-limit; the curve's points show their gaps.
DEMO_CURVE_TIME_LIMIT_S = 0.2
#: What happens to an existing output folder (see coverage.outputs.folder).
OUT_RULE = "a previous run's folder is replaced; one holding other files is refused"
#: DREES counts a GP farther than 20 minutes as inaccessible.
DEFAULT_SITING_THRESHOLD = 20.0
#: Where ``analyse`` and ``demo`` take their inputs: the files given (the data folder for
#: the demo), or the cache of official sources (``couverture data fetch``).
SOURCE_CHOICES = ("shipped", "official")


def _finite(text: str) -> float:
    """A finite number: ``inf`` and ``nan``, which ``float`` accepts, are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _floats(text: str) -> tuple[float, ...]:
    return tuple(_finite(t) for t in text.split(",") if t.strip())


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
        "--access-speed", type=_finite, help="km/h of the straight leg between a point and the network (default 30)"
    )
    g.add_argument(
        "--max-snap", type=_finite, help="metres beyond which a point is not joined to the network (default 5000)"
    )
    g.add_argument("--metric-crs", help="CRS for distances (default EPSG:2154, Lambert-93)")
    g.add_argument("--isochrone-buffer", type=_finite, help="half-width in metres of isochrone bands (default 500)")
    g.add_argument("--no-isochrones", action="store_true", help="skip isochrone polygons")
    g.add_argument("--speeds", type=Path, help="TOML speed profile overriding the built-in French one")
    g.add_argument(
        "--default-speed", type=_finite, help="km/h for road classes the profile does not know (default: error)"
    )
    g.add_argument(
        "--areas",
        type=Path,
        help="the planner's own polygons (a CPTS, a contrat local de santé, a bassin de vie): one more level "
        "of every area table, the 'zone' level",
    )
    g.add_argument("--areas-layer", help="layer of a multi-layer --areas file")
    g.add_argument("--areas-code-column", default="code", help="code column of --areas (default code)")
    g.add_argument("--areas-name-column", default="nom", help="name column of --areas (default nom)")
    g.add_argument("--areas-label", help="what the --areas polygons are called, e.g. CPTS (default zone)")
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
    # the inputs are required unless they come from the cache of official sources (--source official)
    _add_input_options(a, required=False)
    a.add_argument("--out", type=Path, required=True, help=f"output folder ({OUT_RULE})")
    add_territory_options(a, data_dir=True)
    _add_source_options(a)
    _add_analysis_options(a)

    o = sub.add_parser(
        "optimise",
        help="gap analysis, then the best new sites",
        description="Gap analysis of any territory, then candidate scores and an optimal set of new sites "
        "with every existing facility kept.",
    )
    _add_input_options(o, required=False)
    o.add_argument("--out", type=Path, required=True, help=f"output folder ({OUT_RULE})")
    add_territory_options(o, data_dir=True)
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
    _add_population_units(x)
    _add_input_options(x, required=False)
    x.add_argument(
        "--out", type=Path, help=f"output folder (default {DEFAULT_ACCESS_OUT} on the regional data; {OUT_RULE})"
    )
    add_territory_options(x, data_dir=False)
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
    d.add_argument(
        "--out", type=Path, default=DEFAULT_DEMO_OUT, help=f"output folder (default {DEFAULT_DEMO_OUT}; {OUT_RULE})"
    )
    d.add_argument("--all-statuses", action="store_true", help="keep planned and under-construction facilities too")
    d.add_argument("--no-siting", action="store_true", help="gap analysis only, no siting scenario")
    _add_population_units(d)
    _add_source_options(d)
    _add_analysis_options(d)
    _add_siting_options(d, default_exclude=True)

    _add_data_command(sub)
    add_compare_parser(sub)
    return parser


def _add_population_units(p: argparse.ArgumentParser) -> None:
    demo = p.prog.endswith("demo")
    p.add_argument(
        "--population-units",
        choices=POPULATION_UNITS,
        help="regional data: people at commune town halls, or on the 1 km census grid with ages (default: "
        + ("grid; communes with --source official)" if demo else "communes)"),
    )
    p.add_argument(
        "--road-buffer",
        type=float,
        metavar="METRES",
        help="regional data: also route on the roads of France within this many metres of the region (from "
        "the national Travel Mapping file), so that a road leaving the region and coming back is used; 0: the "
        "region's own roads (default: " + (f"{DEFAULT_ROAD_BUFFER_M:.0f}; 0 with --source official)" if demo else "0)"),
    )
    if p.prog.endswith("access"):
        p.add_argument(
            "--no-outside-demand",
            action="store_true",
            help="with --population-units grid and --road-buffer: leave out the people around the region (by "
            "default their demand competes for the region's doctors; doctors outside the region are not known)",
        )


def _add_source_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("official sources (couverture data)")
    g.add_argument(
        "--source",
        choices=SOURCE_CHOICES,
        default="shipped",
        help="'official': roads, facilities and population from the cache of official sources (OpenStreetMap, "
        "FINESS, Filosofi, contours, legal populations; see `couverture data list`) instead of "
        + ("the data folder" if p.prog.endswith("demo") else "--roads/--facilities/--population")
        + " (default shipped)",
    )
    g.add_argument("--cache", type=Path, help="cache folder of the official sources (default: the user's cache)")


def _add_data_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    data = sub.add_parser(
        "data",
        help="list the official sources and fetch them into a cache folder",
        description="The official sources a planner uses (FINESS, INSEE Filosofi 200 m, commune and department "
        "contours, INSEE legal populations, the OpenStreetMap extract of the region, DREES's APL): `list` says "
        "what the cache holds, `fetch` downloads them (progress bar, resumption, checksums where the publisher "
        "gives one). `analyse`/`demo --source official` then run on the cache.",
    )
    commands = data.add_subparsers(dest="data_command", required=True)
    listing = commands.add_parser("list", help="table of the sources and what the cache holds")
    fetch = commands.add_parser("fetch", help="download sources into the cache")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="sources to fetch (see `couverture data list`)")
    fetch.add_argument("--all", action="store_true", help="fetch every source")
    fetch.add_argument(
        "--base-url",
        help=f"fetch every source from BASE_URL/<its file name> instead of its publisher (default ${SOURCES_URL_ENV})",
    )
    for p in (listing, fetch):
        p.add_argument("--cache", type=Path, help="cache folder (default: the user's cache, ~/.cache/couverture)")
        p.add_argument("-v", "--verbose", action="store_true", help="log every step")
        p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


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
        type=_finite,
        default=500.0,
        help="split line-layer segments longer than this, metres (default 500)",
    )
    r.add_argument("--osm-cache", type=Path, default=Path("cache/osmnx"), help="cache folder of OSM downloads")

    f = a.add_argument_group("facilities")
    f.add_argument(
        "--facilities",
        type=Path,
        nargs="+",
        required=required,
        help="FINESS extraction, point layer or CSV; several files are read with the same options and put together",
    )
    f.add_argument("--facilities-format", choices=list(FACILITY_FORMATS), default="auto")
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
    pop.add_argument("--population-format", choices=list(POPULATION_FORMATS), default="communes")
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
        a.add_argument("--out", type=Path, required=True, help=f"output folder ({OUT_RULE})")


def _number(text: str, *, zero_ok: bool) -> float:
    value = _finite(text)
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
        "--priority-line",
        "--apl-threshold",
        dest="priority_line",
        type=_positive,
        help="priority line in the measure's unit (default 2.5 consultations); --apl-threshold is its old name",
    )
    g.add_argument("--supply-column", help="facility column with GPs or FTE (default n_gp)")
    g.add_argument(
        "--default-supply", type=_finite, help="supply of facilities with an empty cell (default: median, warned)"
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
    g.add_argument(
        "--capacity-minutes",
        type=_positive,
        help="patient lists: assign people to doctors with room within this many minutes "
        f"(default {DEFAULT_SITING_THRESHOLD:g}, or the scenario file's capacity_minutes)",
    )
    g.add_argument(
        "--patients-per-gp",
        type=_positive,
        help=f"patients one GP follows as médecin traitant (default {DEFAULT_PATIENTS_PER_GP:g}: "
        "Assurance maladie, mean of 2021)",
    )
    g.add_argument("--no-capacity", action="store_true", help="no patient-list (capacity) study")
    g.add_argument(
        "--pool-schedule",
        metavar="SCHEDULE",
        help="doctors of the pool hired each year, YEAR:N,YEAR:N,..., FIRST-LAST (the pool spread evenly) or "
        "FIRST+N (N a year), "
        f"to phase its teams (regional default {DEFAULT_POOL_SCHEDULE}; 'none': no phasing)",
    )
    add_cluster_options(g, "the isochrones")


def _add_siting_options(p: argparse.ArgumentParser, *, default_exclude: bool) -> None:
    g = p.add_argument_group("siting (new sites, existing facilities kept)")
    g.add_argument(
        "--threshold",
        type=_finite,
        default=DEFAULT_SITING_THRESHOLD,
        help=f"coverage threshold of the new sites, minutes (default {DEFAULT_SITING_THRESHOLD:g})",
    )
    n = g.add_mutually_exclusive_group()
    n.add_argument("--sites", type=int, help="number of new sites")
    n.add_argument("--target-share", type=_finite, help="share of the population to bring within the threshold (0-1)")
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
    g.add_argument("--candidate-spacing", type=_finite, default=2000.0, help="metres between network-node candidates")
    g.add_argument(
        "--exclude-facility-communes",
        action=argparse.BooleanOptionalAction,
        default=default_exclude,
        help="leave out candidates in communes that already host a facility",
    )
    g.add_argument("--exclude-codes", default="", help="commune codes (or candidate ids) to leave out, comma-separated")
    g.add_argument(
        "--time-limit",
        type=_finite,
        default=DEFAULT_TIME_LIMIT_S,
        help=f"seconds for each exact solve (default {DEFAULT_TIME_LIMIT_S:g})",
    )
    g.add_argument(
        "--curve-time-limit",
        type=_finite,
        default=DEMO_CURVE_TIME_LIMIT_S if p.prog.endswith("demo") else None,
        help="seconds for each exact solve of the coverage curve; a point not proven within it is shown "
        f"with its gap (default: --time-limit; demo default {DEMO_CURVE_TIME_LIMIT_S:g})",
    )
    demo = p.prog.endswith("demo")
    g.add_argument(
        "--phasing",
        metavar="SCHEDULE",
        default=DEMO_PHASING if demo else None,
        help="new sites opened each year, YEAR:N,YEAR:N,..., FIRST-LAST (the sites chosen spread evenly) or "
        "FIRST+N (N a year from FIRST), "
        "ordered to cover the most people summed over the years"
        + (f" (demo default {DEMO_PHASING}; 'none': no phasing)" if demo else ""),
    )
    g.add_argument(
        "--budget",
        type=_non_negative,
        metavar="EUR",
        help="also the most people covered by new sites whose costs fit in this budget (euros), with the "
        "coverage against budget; the costs: --cost-column or --kind-costs of a candidate file, or --site-cost",
    )
    g.add_argument("--site-cost", type=_non_negative, metavar="EUR", help="cost of every candidate, euros")
    g.add_argument("--cost-column", help="column of the candidate file with each candidate's cost in euros")
    g.add_argument(
        "--kind-costs",
        metavar="KIND:EUR,...",
        help="cost per kind of candidate, e.g. new:1500000,extension:400000,premises:150000 (kinds in --kind-column)",
    )
    g.add_argument("--kind-column", default="kind", help="column of the candidate file with its kind (default kind)")
    g.add_argument("--curve-max", type=int, help="largest number of new sites on the coverage curve")
    g.add_argument("--no-exact-curve", action="store_true", help="greedy values only on the coverage curve")
    add_cluster_options(g, "the isochrones and the curve's exact points")
