"""The command line's scenario and siting choices: the options of ``access`` and ``optimise``/``demo``
turned into the settings, scenario, siting options and candidates of the library."""

from __future__ import annotations

import argparse

import geopandas as gpd

from coverage.analysis import GapAnalysis
from coverage.candidates import (
    candidates_from_network,
    candidates_from_points,
    candidates_from_units,
    communes_with_facility,
    exclude_candidates,
)
from coverage.cli.parser import (
    DEFAULT_POOL,
    DEFAULT_POOL_SCHEDULE,
    DEFAULT_SITING_THRESHOLD,
    DEFAULT_TARGET_STRUCTURES,
    DEFAULT_TEAM_SIZE,
)
from coverage.errors import CoverageError, InputFileNotFoundError
from coverage.io.facilities import read_candidates
from coverage.io.settings import load_scenario
from coverage.planning import SitingOptions
from coverage.scenarios import AccessSettings, Addition, Pool, Scenario, scenario_name
from coverage.siting.budget import candidate_costs


def _access_setup(args: argparse.Namespace, regional: bool) -> tuple[AccessSettings, Scenario]:
    """Settings and scenario: the scenario file, then the command-line overrides.

    Additions from ``--add`` keep their site id as given;
    :func:`coverage.scenarios.resolve_sites` tells facilities from communes once the
    facilities are read.
    """
    from dataclasses import replace

    from coverage.accessibility import parse_bands
    from coverage.scenarios import with_overrides

    settings, scenario = load_scenario(args.scenario) if args.scenario else (AccessSettings(), Scenario(name=""))
    settings = with_overrides(
        settings,
        measure=args.measure,
        decay=parse_bands(args.bands) if args.bands else args.decay,
        priority_line=args.priority_line,
        supply_column=args.supply_column,
        default_supply=args.default_supply,
        consultations_per_fte=args.consultations_per_fte,
        capacity_minutes=args.capacity_minutes,
        patients_per_gp=args.patients_per_gp,
    )
    if args.no_capacity:
        settings = replace(settings, capacity_minutes=None)
    elif settings.capacity_minutes is None:
        settings = replace(settings, capacity_minutes=DEFAULT_SITING_THRESHOLD)
    additions = scenario.additions + tuple(Addition(supply=n, facility=site) for site, n in args.add)
    pool = scenario.pool
    if args.pool is not None or (pool is None and regional and not args.scenario and not args.add):
        base = pool or Pool(
            supply=DEFAULT_POOL,
            team_size=DEFAULT_TEAM_SIZE if regional else 1.0,
            schedule=DEFAULT_POOL_SCHEDULE if regional and args.pool is None else None,
        )
        pool = replace(base, supply=args.pool or base.supply)
    if pool is not None:
        pool = replace(
            pool,
            team_size=args.team_size or pool.team_size,
            candidates=args.pool_candidates or pool.candidates,
            max_per_site=args.max_per_site or pool.max_per_site,
            min_population=pool.min_population if args.pool_min_population is None else args.pool_min_population,
        )
        if args.pool_schedule is not None:
            pool = replace(pool, schedule=None if args.pool_schedule.lower() == "none" else args.pool_schedule)
    elif args.pool_schedule is not None and args.pool_schedule.lower() != "none":
        raise CoverageError("--pool-schedule phases a pool: give one with --pool (or [scenario.pool])")
    name = scenario.name or scenario_name(additions, pool)
    return settings, Scenario(name=name, additions=additions, pool=pool)


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
        "curve_time_limit",
        "phasing",
        "budget",
        "site_cost",
        "cost_column",
        "kind_costs",
    )
    return {name: getattr(args, name) for name in names}


def _candidate_points(args: argparse.Namespace) -> gpd.GeoDataFrame | None:
    """The planner's own candidate file (``--candidates FILE``), or None for communes and network nodes."""
    if args.candidates in ("communes", "network"):
        return None
    try:
        points = read_candidates(
            args.candidates,
            layer=args.candidates_layer,
            id_column=args.candidate_id_column,
            name_column=args.candidate_name_column,
        )
    except InputFileNotFoundError:
        raise InputFileNotFoundError(
            f"--candidates {args.candidates!r}: neither a keyword (communes, network) nor an existing file"
        ) from None
    if args.cost_column is not None or args.kind_costs is not None:
        # the costs checked now, before the long computation
        costs = candidate_costs(
            points, cost_column=args.cost_column, kind_costs=_kind_costs(args.kind_costs), kind_column=args.kind_column
        )
        points["cost_eur"] = costs.reindex(points["candidate_id"].astype(str)).to_numpy()
    return points


def _kind_costs(text: str | None) -> dict[str, float] | None:
    """``"new:1500000,extension:400000"`` -> ``{"new": 1500000.0, "extension": 400000.0}``."""
    if text is None:
        return None
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, value = part.rpartition(":")
        try:
            out[kind.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not kind.strip():
            raise CoverageError(f"--kind-costs: cannot read {part!r}; expected KIND:EUROS,KIND:EUROS,...")
    return out


def _candidates(
    args: argparse.Namespace, result: GapAnalysis, points: gpd.GeoDataFrame | None, town_halls: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    if points is not None:
        candidates = candidates_from_points(points, result.units)
        if "cost_eur" in points:
            cost = dict(zip(points["candidate_id"].astype(str), points["cost_eur"], strict=True))
            candidates["cost_eur"] = candidates["candidate_id"].astype(str).map(cost).to_numpy(dtype=float)
    elif args.candidates == "communes":
        candidates = candidates_from_units(result.units if town_halls is None else town_halls)
    else:
        candidates = candidates_from_network(
            result.network, result.node_minutes, args.threshold, spacing_m=args.candidate_spacing, units=result.units
        )
    asked = {c.strip() for c in args.exclude_codes.split(",") if c.strip()}
    known = set(result.units["unit_id"].astype(str))
    if "commune" in result.units:
        known |= set(result.units["commune"].dropna().astype(str))
    excluded = exclude_candidates(candidates, communes=asked, ids=asked, known=known, what="--exclude-codes")
    if args.exclude_facility_communes:
        hosting = communes_with_facility(result.facilities, result.units)
        excluded = exclude_candidates(excluded, communes=hosting, known=hosting)
    return excluded


def _check_costs(args: argparse.Namespace) -> None:
    """The budget's options make sense together (before any reading)."""
    from_file = args.cost_column is not None or args.kind_costs is not None
    if from_file and args.candidates in ("communes", "network"):
        raise CoverageError("--cost-column and --kind-costs read a candidate file: give it with --candidates FILE")
    if args.budget is None and (from_file or args.site_cost is not None):
        raise CoverageError("--site-cost, --cost-column and --kind-costs price the candidates for --budget: give it")
    if args.budget is not None and not from_file and args.site_cost is None:
        raise CoverageError(
            "--budget needs the candidates' costs: --site-cost EUR, or a candidate file with --cost-column or "
            "--kind-costs"
        )


def _siting(args: argparse.Namespace) -> SitingOptions:
    """The siting options of the command line, checked before any reading."""
    k, share, target = args.sites, args.target_share, args.target_structures
    if args.command == "demo" and k is None and share is None and target is None:
        target = DEFAULT_TARGET_STRUCTURES
    if k is None and share is None and target is None and args.solver != "lscp":
        raise CoverageError("say how many new sites: --sites, --target-share or --target-structures (or --solver lscp)")
    _check_costs(args)
    return SitingOptions(
        threshold_min=args.threshold,
        k=k,
        target_share=share,
        target_structures=target,
        solver=args.solver,
        time_limit_s=args.time_limit,
        curve_k_max=args.curve_max,
        curve_time_limit_s=args.curve_time_limit,
        exact_curve=not args.no_exact_curve,
        schedule=None if args.phasing is None or args.phasing.lower() == "none" else args.phasing,
        budget=args.budget,
        site_cost=args.site_cost,
    )
