"""The covering model shared by the exact siting solvers, and its reductions.

Units reached by the same candidates are merged into one group (a column of the
model); a candidate whose groups another candidate reaches too is dominated (never
needed); after candidates are removed, the groups are merged again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from coverage.siting.result import _Problem


def _column_groups(cover: sp.csr_array, units: np.ndarray) -> tuple[sp.csc_array, np.ndarray]:
    """Units with the same set of covering candidates merged into one column.

    Returns the CSC ``candidates x groups`` and the group of each unit in ``units``,
    groups numbered in the order of their first unit.  Columns are grouped by a hash of
    their rows, then every column is compared with its group's first, row by row: a
    collision (never seen; 2**-64) falls back to comparing the rows themselves.
    """
    sub = sp.csc_array(cover[:, units])
    sub.sort_indices()
    if len(units) == 0:
        return sub, np.empty(0, dtype=np.int64)
    size = np.diff(sub.indptr)
    # a random 64-bit number per row; a column's key is their sum (wrapping) and its size
    salt = np.random.default_rng(0).integers(0, 2**63, sub.shape[0], dtype=np.int64, endpoint=False)
    hashed = np.zeros(len(size), dtype=np.int64)
    filled = size > 0
    if filled.any():
        hashed[filled] = np.add.reduceat(salt[sub.indices], sub.indptr[:-1][filled])
    _, first, inverse = np.unique(np.column_stack([hashed, size]), axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    group = rank[inverse.ravel()]
    head = np.sort(first)[group]  # the first column of each column's group
    offset = np.arange(sub.nnz) - np.repeat(sub.indptr[:-1], size)
    if not np.array_equal(sub.indices, sub.indices[np.repeat(sub.indptr[head], size) + offset]):
        keys: dict[bytes, int] = {}
        for c in range(len(units)):
            group[c] = keys.setdefault(sub.indices[sub.indptr[c] : sub.indptr[c + 1]].tobytes(), len(keys))
    firsts = np.unique(group, return_index=True)[1]
    return sp.csc_array(sub[:, firsts]), group


@dataclass(frozen=True)
class _CoverageModel:
    """The covering part shared by the MCLP and the fewest-sites models: binary x per
    useful candidate, y per group of units in [0, 1], and the rows ``y_g <= sum_j a_gj x_j``."""

    useful: np.ndarray  # candidate rows that reach some open unit
    a_xy: sp.csc_array  # unit groups x useful candidates
    group_weight: np.ndarray  # population of each group

    @property
    def n_x(self) -> int:
        return len(self.useful)

    @property
    def n_y(self) -> int:
        return self.a_xy.shape[0]

    def rows(self, last_x: sp.csr_array, last_y: sp.csr_array) -> sp.csc_array:
        """The link rows, then one more row with these coefficients on x and on y."""
        return sp.vstack(
            [sp.hstack([-self.a_xy, sp.identity(self.n_y, format="csr")]), sp.hstack([last_x, last_y])]
        ).tocsc()

    def start(self, chosen: Sequence[int]) -> np.ndarray:
        """A complete start: the chosen sites, and the groups they cover."""
        x = np.isin(self.useful, chosen).astype(float)
        return np.concatenate([x, np.minimum(1.0, self.a_xy @ x)])


def _reduced_model(model: _CoverageModel, keep: np.ndarray) -> _CoverageModel:
    """The model on the candidates ``keep`` (column positions) only: the groups that none
    of them reaches are dropped (their y can only be 0) and the groups they reach alike
    are merged again, weights summed.  Same optimum, same bound: merged groups have the
    same row, so in an optimum their y are equal."""
    a = sp.csc_array(model.a_xy[:, keep])
    reached = np.flatnonzero(np.diff(sp.csr_array(a).indptr) > 0)
    groups, group_of = _column_groups(sp.csr_array(a.T), reached)
    return _CoverageModel(
        useful=model.useful[keep],
        a_xy=sp.csc_array(groups.T),
        group_weight=np.bincount(group_of, weights=model.group_weight[reached]),
    )


def _coverage_model(problem: _Problem, open_units: np.ndarray) -> _CoverageModel:
    groups, group_of = _column_groups(problem.cover, open_units)
    useful = np.flatnonzero(np.diff(sp.csr_array(groups).indptr) > 0)
    return _CoverageModel(
        useful=useful,
        a_xy=sp.csc_array(groups[useful].astype(float)).T,
        group_weight=np.bincount(group_of, weights=problem.weights[open_units]),
    )


#: Above this many candidates the dominance test (a candidates x candidates product) is skipped.
DOMINANCE_MAX_CANDIDATES = 5000


def _dominated(a: sp.csc_array, keep: np.ndarray) -> np.ndarray:
    """Candidates (columns of ``a``, groups x candidates) whose groups are all reached by
    another candidate: never needed, in covering as in counting sites, since the other can
    take their place.  Of equal columns the first is kept; the ``keep`` ones never count
    as dominated (the sites of the best answer known)."""
    n = a.shape[1]
    if n > DOMINANCE_MAX_CANDIDATES or n < 2:
        return np.zeros(n, dtype=bool)
    b = sp.csc_array(a, dtype=np.int32)
    size = np.diff(b.indptr)
    overlap = sp.csr_array(b.T @ b)  # overlap[j, d]: groups j and d both reach
    row = np.repeat(np.arange(n), np.diff(overlap.indptr))
    d = overlap.indices
    inside = (overlap.data == size[row]) & (d != row) & (size[row] > 0)  # j's groups all within d's
    equal = size[d] == size[row]
    by = inside & (~equal | (d < row))  # a strict superset, or an equal column listed first
    dominated = np.zeros(n, dtype=bool)
    dominated[row[by]] = True
    dominated[size == 0] = True
    return dominated & ~keep
