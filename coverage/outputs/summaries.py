"""Summaries of a run: the one-screen terminal summary and the record kept in run.json."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coverage.outputs.folder import TOOL

if TYPE_CHECKING:
    from coverage.access_study import AccessStudy
    from coverage.analysis import GapAnalysis
    from coverage.phasing import PhasedSites
    from coverage.planning import SitingPlan
    from coverage.siting import BudgetResult, SitingResult

__all__ = ["fewest_sites_sentence", "plan_summary", "print_access", "print_summary", "record_json", "run_record"]


def run_record(
    result: GapAnalysis,
    *,
    plan: SitingPlan | None = None,
    access: AccessStudy | None = None,
    run_info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What run.json holds: the settings, timings and key figures of a run, then ``run_info``."""
    return {
        "tool": TOOL,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": result.config.as_dict(),
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "network": {"nodes": result.network.n_nodes, "edges": int(result.network.matrix.nnz)},
        "summary": result.summary.to_dict(orient="records"),
        **({"siting": plan_summary(plan)} if plan is not None else {}),
        **(
            {
                "accessibility": {
                    "settings": access.settings.as_dict(),
                    "scenario": access.scenario.as_dict(),
                    "summary": access.summary(),
                }
            }
            if access is not None
            else {}
        ),
        **dict(run_info or {}),
    }


def _strict(value: Any) -> Any:
    """``value`` with NumPy scalars as Python ones and NaN or infinite numbers as None."""
    if isinstance(value, Mapping):
        return {k if isinstance(k, str | int | bool) or k is None else str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    if isinstance(value, np.generic | np.ndarray):
        return _strict(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def record_json(record: Mapping[str, Any]) -> str:
    """``record`` as strict JSON (RFC 8259): a NaN or infinite number is written ``null``.

    Python's ``json`` would write ``NaN`` and ``Infinity``, which no strict parser reads.
    Values JSON has no type for (paths, dates) are written as their text.
    """
    return json.dumps(_strict(record), indent=2, ensure_ascii=False, allow_nan=False, default=str)


def plan_summary(plan: SitingPlan) -> dict[str, Any]:
    """Key figures of a siting plan, for run.json and the terminal summary."""
    s, g = plan.selection, plan.greedy
    return {
        "threshold_min": plan.threshold_min,
        "solver": s.solver,
        "status": s.status,
        "solver_status": s.solver_status,
        "new_sites": len(s.sites),
        "sites_requested": s.sites_requested,
        "sites_bound": s.sites_bound,
        "required_sites": len(s.required),
        "population_total": s.population_total,
        "population_covered_before": s.population_covered_before,
        "population_covered_after": s.population_covered_after,
        "objective_value": s.objective_value,
        "bound": s.bound,
        "gap": s.gap,
        "seconds": round(s.seconds, 3),
        "greedy_population_covered_after": g.population_covered_after,
        "uncoverable_units": list(s.uncoverable),
        "timings_s": {k: round(v, 3) for k, v in plan.timings.items()},
        **({"phasing": phasing_summary(plan.phasing)} if plan.phasing is not None else {}),
        **({"budget": budget_summary(plan.budget)} if plan.budget is not None else {}),
    }


def budget_summary(budget: BudgetResult) -> dict[str, Any]:
    """The budget's answer and certificate."""
    s = budget.selection
    return {
        "budget_eur": budget.budget,
        "spent_eur": budget.spent,
        "new_sites": len(s.sites),
        "population_covered_after": s.population_covered_after,
        "bound": s.bound,
        "gap": s.gap,
        "status": s.status,
        "solver_status": s.solver_status,
        "heuristic": budget.heuristic,
        "heuristic_population_covered": budget.heuristic_covered,
    }


def phasing_summary(phased: PhasedSites) -> dict[str, Any]:
    """The phasing's schedule, objective against the greedy order, and certificate."""
    return {
        "schedule": phased.schedule.as_dict(),
        "objective_person_years": phased.objective,
        "greedy_order_person_years": phased.greedy_objective,
        "bound": phased.bound,
        "gap": phased.gap,
        "status": phased.status,
        "solver_status": phased.solver_status,
    }


#: Printed for a share or a mean that is not defined (no population to divide by).
UNDEFINED = "—"


def _share(value: float | None, spec: str = ".1%") -> str:
    """A share or mean as text, :data:`UNDEFINED` when it is missing or not finite (zero population)."""
    if value is None or not math.isfinite(value):
        return UNDEFINED
    return format(value, spec)


def fewest_sites_sentence(s: SitingResult) -> str:
    """What the number of sites means, in one line: the proven minimum, or how far from it."""
    n, allowed = len(s.sites), s.sites_requested
    if allowed is None or n == 0:
        return ""
    if s.sites_bound is None:  # no second step: fewer sites only because the others add nobody
        if n < allowed:
            return f"  {n} of the {allowed} sites allowed are enough: more would cover nobody new\n"
        return ""
    proven = n <= s.sites_bound
    how = "proven minimum" if proven else f"at least {s.sites_bound:g} needed, gap {(n - s.sites_bound) / n:.1%}"
    if n < allowed:
        return f"  {n} new sites are enough ({how}); {allowed} were allowed\n"
    return (
        f"  at most {allowed} sites cover {s.population_covered_after:,.0f} inhabitants; "
        f"the fewest that do so: {n} ({how})\n"
    )


def print_summary(  # type: ignore[no-untyped-def]
    result: GapAnalysis,
    out: Path,
    seconds: float,
    stream=sys.stdout,
    *,
    plan: SitingPlan | None = None,
    access: AccessStudy | None = None,
) -> None:
    """The one-screen summary at the end of a run."""
    units, fac = result.units, result.facilities
    w = stream.write
    w("\n")
    w(
        f"Gap analysis: {len(units):,} population units, {units['population'].sum():,.0f} inhabitants; "
        f"{int((~fac['beyond_max_snap']).sum())} of {len(fac)} facilities on the network "
        f"({result.network.n_nodes:,} nodes)\n"
    )
    if len(fac) == 0:
        w("No facility was given: nobody is covered, and every site is chosen from scratch.\n")
    if not units["population"].sum() > 0:
        w(f"No population in the units: shares are not defined ({UNDEFINED}).\n")
    w(f"{'threshold':>10} {'covered':>12} {'uncovered':>12} {'unreachable':>12} {'share':>7}\n")
    for row in result.summary.itertuples():
        w(
            f"{row.threshold_min:>7g} min {row.population_covered:>12,.0f} {row.population_uncovered:>12,.0f} "
            f"{row.population_unreachable:>12,.0f} {_share(row.share_covered):>7}\n"
        )
    t_max = max(result.config.thresholds_min)
    by_dep = result.by_area[(result.by_area["level"] == "department") & (result.by_area["threshold_min"] == t_max)]
    if len(by_dep):
        w(f"\nBeyond {t_max:g} min by department:\n")
        for row in by_dep.itertuples():
            beyond = row.population_uncovered + row.population_unreachable
            w(
                f"  {row.area_id:>3} {str(row.area_name)[:24]:<24} {beyond:>10,.0f}"
                f"  ({_share(1 - row.share_covered)}), mean {_share(row.mean_minutes, '.1f')} min\n"
            )
    worst = result.by_area[(result.by_area["level"] == "epci") & (result.by_area["threshold_min"] == t_max)]
    # no EPCI level without an epci column (grid or layer units with no commune table): no list
    worst = worst.assign(out=(worst["population_uncovered"] + worst["population_unreachable"]).astype(float))
    worst = worst.nlargest(5, "out")
    if len(worst) and worst["out"].max() > 0:
        w(f"\nEPCI with most inhabitants beyond {t_max:g} min:\n")
        for row in worst.itertuples():
            w(f"  {str(row.area_name)[:40]:<40} {row.out:>10,.0f}\n")
    if plan is not None:
        s, g = plan.selection, plan.greedy
        gap = "" if s.gap is None else f", gap {s.gap:.2%}"
        median = s.solver.startswith("pmedian")
        # p-median counts people within the matrix's largest threshold, and gains in person-minutes
        within = plan.matrix.max_minutes if median else plan.threshold_min
        aim = "that lower the mean minutes most" if median else f"within {plan.threshold_min:g} min"
        w(
            f"\nNew sites {aim} ({s.solver}, {s.status}{gap}, {s.seconds:.1f} s): "
            f"{len(s.sites)} sites, {len(s.required)} existing kept\n"
        )
        if median:
            proven = "" if s.bound is None else f" (proven lower bound {s.bound:.2f})"
            w(f"  population-weighted mean minutes to the nearest site, with them: {s.objective_value:.2f}{proven}\n")
        w(
            f"  covered within {within:g} min {s.population_covered_before:,.0f} -> {s.population_covered_after:,.0f} "
            f"({_share(s.share_covered_before)} -> {_share(s.share_covered_after)}); "
            f"greedy MCLP within {plan.threshold_min:g} min: {g.population_covered_after:,.0f}\n"
        )
        unit = "person-minutes saved" if median else "people newly covered"
        for row in plan.selection_table.head(5).itertuples():
            w(f"  {row.rank:>3}. {str(row.name)[:30]:<30} {row.department!s:>3} +{row.marginal_gain:,.0f} {unit}\n")
        w(fewest_sites_sentence(s))
        if len(s.uncoverable):
            w(f"  {len(s.uncoverable)} units cannot be covered within {plan.threshold_min:g} min by any candidate\n")
        if plan.phasing is not None:
            p = plan.phasing
            years = ", ".join(f"{y} {c:,.0f}" for y, c in zip(p.by_year["year"], p.by_year["covered"], strict=True))
            w(f"  phased ({p.status} order of these sites, {p.objective:,.0f} person-years): covered by year {years}\n")
        if plan.budget is not None:
            b = plan.budget.selection
            gap = "" if b.gap is None or b.status == "optimal" else f", gap {100 * b.gap:.2f} %"
            w(
                f"  within the budget of {plan.budget.budget:,.0f} EUR ({b.status}{gap}): {len(b.sites)} sites for "
                f"{plan.budget.spent:,.0f} EUR, covered {b.population_covered_after:,.0f}\n"
            )
    if access is not None:
        print_access(access, w)
    w(f"\nOutputs in {out} ({seconds:.1f} s)\n")


def print_access(study: AccessStudy, w) -> None:  # type: ignore[no-untyped-def]
    summary = study.summary()
    s = study.settings
    w(
        f"\nAccessibility ({s.unit_label}; priority below {s.priority_line_value:g}), "
        f"scenario {study.scenario.name!r}:\n"
    )
    w(
        f"  supply {summary['supply_total_before']:,.0f} doctors + {summary['supply_added']:,.0f} added "
        f"at {summary['sites_receiving']} sites\n"
    )
    if summary["population_around_competing"]:
        w(
            f"  demand of {summary['population_around_competing']:,.0f} people around the territory counted "
            "on its doctors (their own doctors are not known)\n"
        )
    w(
        f"  mean {_share(summary['mean_accessibility_before'], '.2f')} -> "
        f"{_share(summary['mean_accessibility_after'], '.2f')}; "
        f"in priority zones {summary['population_priority_before']:,.0f} -> {summary['population_priority_after']:,.0f}"
        f" inhabitants\n"
    )
    if study.pool_phasing is not None:
        p = study.pool_phasing
        w(
            f"  the pool by year ({p.status}, {p.exchanges} exchanges): {p.objective:,.0f} person-years above the "
            f"line, {p.pool_objective:,.0f} in the pool's order\n"
        )
    if study.capacity is not None:
        c = study.capacity
        after = "" if c.after is None else f" -> {c.after.people_unmet:,.0f}"
        w(
            f"  without a doctor with room within {c.before.threshold_min:g} min ({c.before.patients_per_gp:g} "
            f"patients per GP, the listed doctors only): {c.before.people_unmet:,.0f}{after}\n"
        )
    by_dep = study.by_area[study.by_area["level"] == "department"]
    for row in by_dep.itertuples():
        w(
            f"  {row.area_id:>3} {str(row.area_name)[:24]:<24} {_share(row.accessibility, '.2f'):>6} -> "
            f"{_share(row.accessibility_scenario, '.2f'):>6}  priority {row.population_priority:>10,.0f} -> "
            f"{row.population_priority_scenario:>10,.0f}\n"
        )
