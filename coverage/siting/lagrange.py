"""A bound for the maximal covering problem in seconds: Lagrangian relaxation of the coverage rows.

The MCLP on groups of units (weights ``w_g``, coverage ``a_gj``, at most ``k`` sites)
relaxed with multipliers ``0 <= lambda_g <= w_g`` on its rows ``y_g <= sum_j a_gj x_j``:

    L(lambda) = sum_g (w_g - lambda_g) + (sum of the k largest c_j),   c_j = sum_g a_gj lambda_g

is an upper bound on the number of people any k sites cover, whatever ``lambda`` (Galvão
and ReVelle's relaxation); the best over ``lambda`` equals the LP relaxation's bound.
:func:`_lagrangian_bound` minimises it by subgradient steps (each a pass over the coverage
matrix), so that a time-limited solve always has a meaningful gap, and reads from the last
costs ``c`` which candidates cannot be in, or must be in, any answer better than the best
known one (*Lagrangian fixing*): forcing candidate ``j`` in gives the bound
``L - c_(k) + c_j``, leaving a chosen ``j`` out gives ``L - c_j + c_(k+1)``.  The relaxed
answers (the k candidates of highest ``c_j`` at each step) that cover most are kept as
starts for the exchanges of :mod:`coverage.siting.local`: on a 2,000 x 20,000 network
instance they led to the optimum where the greedy start stopped 0.5 % below it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__: list[str] = []

#: Steps over which the bound must still improve for the subgradient steps to go on.
STALL_WINDOW = 100
#: Relaxed answers kept as starts for the exchanges (the best covering, distinct).
STARTS = 8


@dataclass(frozen=True)
class _Lagrangian:
    """The best Lagrangian bound found, and what it says about each candidate."""

    bound: float  # an upper bound on the coverage of any k sites (of the model's groups)
    costs: np.ndarray  # c_j at the multipliers of that bound
    raw: float  # L at those multipliers, before rounding (the fixing bounds derive from it)
    whole: bool  # whole-number weights: bounds may be rounded down (while ``slack`` < 1/2)
    best_sites: np.ndarray  # the k candidates of highest c_j whose coverage was the highest seen
    best_value: float  # their coverage
    iterations: int
    starts: tuple[np.ndarray, ...] = ()  # the distinct relaxed answers that covered most, best first
    slack: float = 0.0  # the most ``raw`` (and the fixing bounds) may be below their exact value

    def fixing(self, k: int, incumbent: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Candidates out of, and in, every answer that covers more than ``incumbent``.

        Returns ``(out, forced, bound_of_the_rest)``: boolean masks over candidates, and
        the best bound of the answers the masks exclude (below ``incumbent``), so that the
        bound of the whole problem is the larger of it and the reduced model's bound.
        """
        c = self.costs
        n = len(c)
        if k <= 0 or k >= n:
            return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), -np.inf
        order = np.argsort(-c, kind="stable")
        top = np.zeros(n, dtype=bool)
        top[order[:k]] = True
        kth, next_ = c[order[k - 1]], c[order[k]]
        with_j = self.raw - kth + c  # best answer that includes j (j outside the top k)
        without_j = self.raw - c + next_  # best answer that leaves j out (j in the top k)
        with_j, without_j = _round_down(with_j, self.whole, self.slack), _round_down(without_j, self.whole, self.slack)
        out = ~top & (with_j < incumbent)
        forced = top & (without_j < incumbent)
        excluded = np.concatenate([with_j[out], without_j[forced]])
        return out, forced, float(excluded.max()) if len(excluded) else -np.inf


#: The rounding error of ``L`` in floats is taken to be at most this fraction of the sum of
#: the magnitudes it is made of (total weight, multipliers, costs of the chosen candidates).
ROUNDING = 1e-10


def _round_down(bounds: Any, whole: bool, slack: float) -> Any:
    """Whole-number weights and a slack below half a person: a bound below a whole number
    by less than the slack becomes that number, any other is rounded down (a coverage is
    then whole).  Otherwise the bounds as computed."""
    return np.floor(bounds + slack) if whole and slack < 0.5 else bounds


def _top_k(c: np.ndarray, k: int) -> np.ndarray:
    return np.argpartition(-c, k - 1)[:k] if k < len(c) else np.arange(len(c))


def _lagrangian_bound(
    a: sp.csr_array,
    weights: np.ndarray,
    k: int,
    incumbent: float,
    *,
    max_seconds: float = 10.0,
    max_iterations: int = 2000,
) -> _Lagrangian:
    """Subgradient minimisation of ``L(lambda)`` for ``a`` (groups x candidates, 0/1).

    ``incumbent`` is the coverage of the best answer known (it sets the step length,
    Polyak's rule).  Stops when the bound meets it, when the step has shrunk to nothing,
    when the last ``STALL_WINDOW`` steps moved it by less than a relative 1e-5, or at
    either limit.  With whole-number weights the bound is rounded down (the coverage of
    any set of sites is then a whole number) after adding the most its rounding error in
    floats can be (``ROUNDING`` of the magnitudes it sums), and only while that is less
    than half a person; above, the bound is L as computed.
    """
    a = sp.csr_array(a, dtype=float)
    a_t = sp.csr_array(a.T)
    w = np.asarray(weights, dtype=float)
    total = float(w.sum())
    whole = bool(np.all(w == np.round(w))) and total < 2**52
    degree = np.diff(a.indptr)
    lam = w / np.maximum(degree, 1)
    deadline = time.perf_counter() + max_seconds
    best_bound, best_raw, best_costs, best_slack = np.inf, np.inf, a_t @ lam, 0.0
    best_sites, best_value = _top_k(best_costs, k), -np.inf
    theta, stall, iterations = 1.0, 0, 0
    tolerance = 1e-9 * max(1.0, total)
    history: list[float] = []  # best bound after each step
    pool: dict[bytes, float] = {}  # coverage of each distinct relaxed answer
    while iterations < max_iterations and time.perf_counter() < deadline:
        iterations += 1
        c = a_t @ lam
        sites = _top_k(c, k)
        lam_sum, top_sum = float(lam.sum()), float(c[sites].sum())
        raw = total - lam_sum + top_sum
        slack = ROUNDING * (total + lam_sum + top_sum)
        bound = _round_down(raw, whole, slack)
        # the chosen candidates' rows of a_t, counted: k rows, not a pass over the matrix
        count = np.bincount(
            np.concatenate([a_t.indices[a_t.indptr[j] : a_t.indptr[j + 1]] for j in sites]), minlength=a.shape[0]
        )
        value = float(w[count > 0].sum())
        pool[np.sort(sites).tobytes()] = value
        if value > best_value:
            best_sites, best_value = sites, value
        if bound < best_bound - tolerance or (bound <= best_bound and raw < best_raw):
            best_bound, best_raw, best_costs, best_slack, stall = bound, raw, c, slack, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        target = max(incumbent, best_value)
        history.append(best_bound)
        if best_bound <= target + tolerance or theta < 1e-5:
            break
        # converged: the bound moved by less than a relative 1e-5 in the last STALL_WINDOW steps
        if len(history) > STALL_WINDOW and history[-STALL_WINDOW - 1] - best_bound < 1e-5 * best_bound:
            break
        subgradient = count - (lam < w)  # dL/dlambda_g
        norm = float(subgradient @ subgradient)
        if norm == 0:
            break
        step = theta * (bound - target) / norm
        lam = np.clip(lam - step * subgradient, 0.0, w)
    return _Lagrangian(
        bound=float(best_bound),
        costs=np.asarray(best_costs),
        raw=float(best_raw),
        whole=whole,
        best_sites=np.sort(best_sites),
        best_value=best_value,
        iterations=iterations,
        starts=tuple(
            np.frombuffer(key, dtype=np.intp).copy()
            for key in sorted(pool, key=pool.__getitem__, reverse=True)[:STARTS]
        ),
        slack=best_slack,
    )


def _set_cover_bound(a: sp.csr_array, upper: float, *, max_seconds: float = 5.0, max_iterations: int = 1000) -> float:
    """A lower bound on the number of sites that cover every row of ``a`` (rows x
    candidates, 0/1; every row covered by some candidate): Lagrangian relaxation of the
    rows ``sum_j a_ij x_j >= 1`` with multipliers ``u_i >= 0``,

        L(u) = sum_i u_i + sum_j min(0, 1 - sum_i a_ij u_i),

    a bound whatever ``u`` (its best equals the LP relaxation's), rounded up since a count
    of sites is whole.  Subgradient steps from ``u_i = 1 / (number of candidates of row i)``,
    their length set by ``upper``, the size of a known cover; they stop when the bound
    meets it, when the step has shrunk to nothing, when the last ``STALL_WINDOW`` steps
    moved it by less than a relative 1e-5, or at either limit.
    """
    a = sp.csr_array(a, dtype=float)
    a_t = sp.csr_array(a.T)
    u = 1.0 / np.maximum(np.diff(a.indptr), 1)
    best, theta, stall, iterations = -np.inf, 1.0, 0, 0
    deadline = time.perf_counter() + max_seconds
    history: list[float] = []
    while iterations < max_iterations and time.perf_counter() < deadline:
        iterations += 1
        reduced = 1.0 - a_t @ u
        x = (reduced < 0).astype(float)
        value = float(u.sum() + np.minimum(reduced, 0.0).sum())
        if value > best + 1e-12:
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        history.append(best)
        stalled = len(history) > STALL_WINDOW and best - history[-STALL_WINDOW - 1] < 1e-5 * abs(best)
        if math.ceil(best - 1e-9) >= upper or theta < 1e-5 or stalled:
            break
        subgradient = 1.0 - a @ x  # dL/du_i
        norm = float(subgradient @ subgradient)
        if norm == 0:
            break
        u = np.maximum(0.0, u + theta * (upper - value) / norm * subgradient)
    return float(math.ceil(best - 1e-9)) if math.isfinite(best) else 0.0
