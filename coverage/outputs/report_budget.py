"""The budget in the report: coverage against the budget, and the sites a budget buys.

:func:`budget_figure` draws the people covered against the budget (in M€), greedy and
exact, the proven optima marked apart from the answers whose gap is still open;
:func:`budget_section` is the report's section (the certificate, the sites chosen with
their cost, the curve's values), every text escaped by :mod:`coverage.outputs.html_blocks`.
Site ids and names come from the candidate file: they are escaped in HTML and never
reach the figure, whose labels are fixed text (no mathtext).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from coverage.outputs.figure_canvas import GRID, MUTED_INK, new_figure
from coverage.outputs.figure_charts import GREEDY_LINE
from coverage.outputs.html_blocks import escape, figure, key_value_table, numeric, table
from coverage.outputs.report_scenarios import curve_cells
from coverage.outputs.style import OKABE_ITO, fr_int, fr_minutes, fr_number, fr_pct

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from coverage.siting.budget import BudgetResult

__all__ = ["budget_figure", "budget_section"]

_EXACT_COLOUR = OKABE_ITO[0]
#: The heuristic answers of :func:`coverage.siting.budget.mclp_budget_greedy`, in the report's words.
_HEURISTICS = {
    "gain per euro": "gain par euro (gain per euro)",
    "best single site": "meilleur site seul (best single site)",
}
#: The caption of the figure, in the section and as its alternative text.
_CAPTION = (
    "Population couverte selon le budget des nouveaux sites, solutions gloutonne et exacte ; points pleins : "
    "optimum prouvé, points creux : réalisable, borne prouvée au-dessus. (Population covered against the budget "
    "of new sites, greedy and exact; filled points: proven optimal, hollow points: feasible, proven bound above.)"
)


def _euros(value: float) -> str:
    """``1 500 000 €``."""
    return f"{fr_int(value)}\u202f€"


def _millions(value: float) -> str:
    """``1,50 M€``."""
    return f"{fr_number(value / 1e6, 2)}\u202fM€"


def _population_total(curve: pd.DataFrame) -> float:
    """Everyone, read back from the curve's covered people and shares (NaN if unknown)."""
    if "share_greedy" not in curve:
        return math.nan
    share = curve["share_greedy"].to_numpy(dtype=float)
    known = np.flatnonzero(share > 0)
    return float(curve["population_covered_greedy"].iloc[known[0]] / share[known[0]]) if len(known) else math.nan


def budget_figure(curve: pd.DataFrame, *, threshold_min: float | None = None) -> Figure:
    """People covered against the budget, from :func:`~coverage.siting.budget.budget_curve`.

    The greedy answer as found (dashed, hollow squares) and the exact one (solid): filled
    circles where it is proven optimal, hollow circles where it is only feasible, with a
    dash at the proven bound above them.  The right axis gives the share of the population
    when the curve has the shares.  ``threshold_min`` goes in the axis label and title.
    """
    from matplotlib.ticker import FuncFormatter

    fig = new_figure((8.5, 5.2))
    ax = fig.add_subplot()
    x = curve["budget_eur"].to_numpy(dtype=float) / 1e6
    if "population_covered_exact" in curve:
        value = curve["population_covered_exact"].to_numpy(dtype=float)
        proven = (curve["status_exact"] == "optimal").to_numpy()
        ax.plot(x, value, color=_EXACT_COLOUR, linewidth=2, label="Exacte (exact)", gid="exact", zorder=3)
        marks: dict[str, Any] = {"markersize": 7, "linestyle": "none", "zorder": 5}
        ax.plot(
            x[proven],
            value[proven],
            "o",
            color=_EXACT_COLOUR,
            label="Optimum prouvé (proven optimal)",
            gid="proven",
            **marks,
        )
        if (~proven).any():
            ax.plot(
                x[~proven],
                value[~proven],
                "o",
                color=_EXACT_COLOUR,
                markerfacecolor="white",
                label="Réalisable, non prouvé (feasible)",
                gid="feasible",
                **marks,
            )
            bound = curve["bound_exact"].to_numpy(dtype=float)[~proven]
            ax.plot(
                x[~proven],
                bound,
                "_",
                color=_EXACT_COLOUR,
                markersize=12,
                mew=2,
                label="Borne prouvée (proven bound)",
                gid="bound",
                linestyle="none",
            )
            ax.vlines(x[~proven], value[~proven], bound, color=_EXACT_COLOUR, linewidth=0.8, linestyle=":")
    ax.plot(x, curve["population_covered_greedy"].to_numpy(dtype=float), **GREEDY_LINE)
    ax.lines[-1].set_label("Gloutonne, par euro (greedy, per euro)")
    total = _population_total(curve)
    if math.isfinite(total) and total > 0:
        ax.axhline(total, color=MUTED_INK, linestyle=":", linewidth=1, gid="total")

        def to_share(people: ArrayLike) -> ArrayLike:
            return 100.0 * np.asarray(people, dtype=float) / total

        def to_people(share: ArrayLike) -> ArrayLike:
            return np.asarray(share, dtype=float) * total / 100.0

        ax.secondary_yaxis("right", functions=(to_share, to_people)).set_ylabel("Part de la population (share, %)")
    t = "" if threshold_min is None else f" à {fr_minutes(threshold_min)} min"
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fr_number(v, 1)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fr_int(v)))
    ax.set_xlabel("Budget des nouveaux sites, M€ (budget of new sites, M€)")
    ax.set_ylabel(f"Population couverte{t} (population covered)")
    ax.set_title(f"Couverture selon le budget{t} (coverage against budget)")
    ax.grid(True, color=GRID, linewidth=0.6)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _figure_block(figure_uri: bytes | str) -> str:
    """The figure from PNG bytes (embedded), or from a ``data:image/png;base64`` URI or a
    relative file name; any other URI (``javascript:``, ``http:``) is left out."""
    if isinstance(figure_uri, bytes):
        return figure(figure_uri, "Couverture selon le budget (coverage against budget)", _CAPTION)
    prefix = "data:image/png;base64,"
    if figure_uri.startswith(prefix):
        return figure(base64.b64decode(figure_uri[len(prefix) :], validate=True), "Budget", _CAPTION)
    if ":" in figure_uri or figure_uri.startswith(("/", "\\")):
        return ""
    return f'<figure><img alt="Budget" src="{escape(figure_uri)}"><figcaption>{escape(_CAPTION)}</figcaption></figure>'


def _sites(result: BudgetResult, names: Mapping[str, object] | pd.Series | None) -> str:
    """The sites chosen, in order, with their cost and what each adds."""
    s = result.selection
    if not s.sites:
        return (
            '<p class="note">Aucun site dans le budget n’ajoute de population couverte. '
            "(No site within the budget adds anyone.)</p>"
        )
    named = {} if names is None else {str(k): v for k, v in dict(names).items()}
    headers: list[object] = [numeric("Rang (rank)"), "Identifiant (id)"]
    headers += ["Nom (name)"] if names is not None else []
    headers += [
        numeric("Coût (cost)"),
        numeric("Coût cumulé (cumulative cost)"),
        numeric("Gain marginal (marginal gain) (hab.)"),
        numeric("Population couverte cumulée (cumulative)"),
    ]
    rows = []
    spent, covered = 0.0, s.population_covered_before
    for rank, (site, cost, gain) in enumerate(zip(s.sites, result.site_costs, s.marginal, strict=True), start=1):
        spent, covered = spent + cost, covered + gain
        row: list[object] = [numeric(str(rank)), site]
        row += [named.get(site, "")] if names is not None else []
        row += [numeric(_euros(cost)), numeric(_euros(spent)), numeric(fr_int(gain)), numeric(fr_int(covered))]
        rows.append(row)
    return table(headers, rows)


def _curve_values(curve: pd.DataFrame) -> str:
    """The curve as a table, folded: greedy and, when solved, exact values per budget."""
    if not len(curve):
        return ""
    exact = "population_covered_exact" in curve
    headers: list[object] = [numeric("Budget"), numeric("Gloutonne (greedy)"), numeric("Part (share)")]
    if exact:
        headers += [
            numeric("Exacte (exact)"),
            numeric("Part (share)"),
            numeric("Écart (gap)"),
            "Statut (status)",
            numeric("Dépensé (spent)"),
            numeric("Sites"),
        ]
    rows = []
    for _, r in curve.iterrows():
        row = [numeric(_millions(r["budget_eur"])), *curve_cells(r, exact)]
        if exact:
            row += [numeric(_millions(r["spent_exact"])), numeric(str(int(r["sites_exact"])))]
        rows.append(row)
    return (
        "<details><summary>Couverture selon le budget, valeurs (coverage against budget, values)</summary>"
        + table(headers, rows)
        + "</details>"
    )


def budget_section(
    result: BudgetResult,
    curve: pd.DataFrame | None,
    figure_uri: bytes | str | None,
    *,
    names: Mapping[str, object] | pd.Series | None = None,
) -> str:
    """The budget section of the report.

    Parameters
    ----------
    result
        The answer at the planner's budget (:func:`~coverage.siting.budget.mclp_budget`
        or :func:`~coverage.siting.budget.mclp_budget_greedy`).
    curve
        The :func:`~coverage.siting.budget.budget_curve` (None: no curve values).
    figure_uri
        The :func:`budget_figure` as PNG bytes (embedded), a ``data:image/png;base64``
        URI, or a file name relative to the report; None: no figure.
    names
        The candidates' names by id (a column of the candidate file), shown beside the ids.
    """
    s = result.selection
    t = fr_minutes(s.threshold_min) if s.threshold_min is not None else "–"
    facts: list[tuple[str, object]] = [
        ("Seuil (threshold)", f"{t} min"),
        ("Budget", _euros(result.budget)),
        ("Dépensé (spent)", _euros(result.spent)),
        ("Reste (left)", _euros(result.budget_left)),
        ("Solveur (solver)", s.solver),
        ("Statut (status)", s.status),
        ("Écart à l'optimum (gap)", "–" if s.gap is None else fr_pct(s.gap, 2)),
        ("Borne prouvée (proven bound)", "–" if s.bound is None else fr_int(s.bound)),
        ("Statut du solveur (solver's own status)", s.solver_status),
        ("Durée du solveur (solver seconds)", fr_number(s.seconds, 1)),
        ("Nouveaux sites (new sites)", str(len(s.sites))),
        ("Structures existantes conservées (existing facilities kept)", str(len(s.required))),
        (
            f"Population à moins de {t} min, avant → après (before → after)",
            f"{fr_int(s.population_covered_before)} → {fr_int(s.population_covered_after)} "
            f"({fr_pct(s.share_covered_before)} → {fr_pct(s.share_covered_after)})",
        ),
        (
            "Réponse gloutonne (greedy answer)",
            f"{fr_int(result.heuristic_covered)} : {_HEURISTICS.get(result.heuristic, result.heuristic)}",
        ),
    ]
    parts = [
        f'<section><h2>Budget <span class="en">(the most people within {escape(t)} min for a budget)</span></h2>',
        '<p class="note">Les nouveaux sites sont choisis pour couvrir le plus de personnes sans que la somme de '
        "leurs coûts dépasse le budget ; les structures existantes restent ouvertes sans coût. La réponse "
        "gloutonne prend les sites qui ajoutent le plus de personnes par euro, comparée au meilleur site seul "
        "qui tient dans le budget ; le modèle exact (HiGHS) n’est dit optimal que si la population recalculée "
        "atteint la borne prouvée. (New sites chosen to cover the most people with their costs summed within the "
        "budget, existing facilities kept at no cost; the greedy answer takes the most people per euro, against "
        "the best single site that fits.)</p>",
        key_value_table(facts),
        '<h3>Sites retenus <span class="en">(selected sites)</span></h3>',
        _sites(result, names),
    ]
    if figure_uri is not None:
        parts.append(_figure_block(figure_uri))
    if curve is not None:
        parts.append(_curve_values(curve))
    parts.append("</section>")
    return "\n".join(part for part in parts if part)
