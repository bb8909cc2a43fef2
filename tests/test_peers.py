"""The peers' own instance: spopt's San Francisco test data (16 candidate stores, 205 census
tracts, network distances in metres), shipped inside the spopt package.

Expected values are spopt's: the figures its own tests assert (MCLP at 5,000 m with four
sites leaves 21 tracts uncovered, 89.756 % of them covered; the p-median of four sites has
a mean distance of 2,982.1268579890657 m), and its models solved by CBC in this run for
what its tests do not state (the covered population, the LSCP count, required sites).
Costs are metres here, not minutes: the engine does not care about the unit.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coverage.matrix import CoverageMatrix
from coverage.siting import lscp, mclp_exact, p_median

spopt = pytest.importorskip("spopt")
pulp = pytest.importorskip("pulp")

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

DATA = os.path.join(os.path.dirname(spopt.__file__), "tests", "test_locate", "data")
DISTANCES = os.path.join(DATA, "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
DEMAND = os.path.join(DATA, "SF_demand_205_centroid_uniform_weight.csv")


@pytest.fixture(scope="module")
def sf() -> tuple[np.ndarray, np.ndarray, CoverageMatrix]:
    if not (os.path.exists(DISTANCES) and os.path.exists(DEMAND)):
        pytest.skip("spopt's test data are not installed")
    # as spopt's tests build it: tracts (sorted by name) x stores (sorted by name)
    table = pd.read_csv(DISTANCES).pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(DEMAND).sort_values("NAME")
    assert list(table.index.astype(str)) == list(demand["NAME"].astype(str))
    cost = table.to_numpy()
    weights = demand["POP2000"].to_numpy(dtype=float)
    # rows shuffled in our matrix: the answers must not depend on the order of the sites
    order = np.random.default_rng(5).permutation(cost.shape[1])
    matrix = CoverageMatrix(
        site_ids=np.asarray(table.columns[order], dtype=object),
        unit_ids=np.asarray(table.index.astype(str), dtype=object),
        minutes=sp.csr_array(cost.T[order]),
        max_minutes=float(cost.max()) + 1.0,
    )
    return cost, weights, matrix


def cbc() -> object:
    return pulp.PULP_CBC_CMD(msg=False)


def test_mclp_agrees_with_spopt(sf: tuple[np.ndarray, np.ndarray, CoverageMatrix]) -> None:
    from spopt.locate import MCLP

    cost, weights, matrix = sf
    ours = mclp_exact(matrix, weights, 5000.0, 4)
    theirs = MCLP.from_cost_matrix(cost, weights, 5000.0, 4).solve(cbc())
    assert ours.status == "optimal" and ours.gap == 0
    assert ours.population_covered_after == pytest.approx(pulp.value(theirs.problem.objective))
    covered = matrix.covers(5000.0)[matrix.rows(list(ours.sites))].toarray().any(axis=0)
    assert int((~covered).sum()) == 21  # spopt's test: 21 tracts uncovered
    assert 100 * covered.mean() == pytest.approx(89.75609756097561)


def test_lscp_agrees_with_spopt(sf: tuple[np.ndarray, np.ndarray, CoverageMatrix]) -> None:
    from spopt.locate import LSCP

    cost, weights, matrix = sf
    ours = lscp(matrix, weights, 5000.0)
    theirs = LSCP.from_cost_matrix(cost, 5000.0).solve(cbc())
    assert ours.status == "optimal" and ours.uncoverable == ()
    assert len(ours.sites) == round(pulp.value(theirs.problem.objective))
    assert matrix.covers(5000.0)[matrix.rows(list(ours.sites))].toarray().any(axis=0).all()


def test_lscp_with_required_sites_agrees_with_spopt(sf: tuple[np.ndarray, np.ndarray, CoverageMatrix]) -> None:
    from spopt.locate import LSCP

    cost, weights, matrix = sf
    names = sorted(matrix.site_ids)  # spopt's column order
    required = ["Store_1", "Store_6"]
    predefined = np.isin(np.asarray(names), required)
    ours = lscp(matrix, weights, 5000.0, required=required)
    theirs = LSCP.from_cost_matrix(cost, 5000.0, predefined_facilities_arr=predefined).solve(cbc())
    # spopt counts the required sites among the open ones; we count new sites only
    assert len(ours.sites) + len(required) == round(pulp.value(theirs.problem.objective))
    assert ours.status == "optimal" and not set(ours.sites) & set(required)


def test_p_median_agrees_with_spopt(sf: tuple[np.ndarray, np.ndarray, CoverageMatrix]) -> None:
    cost, weights, matrix = sf
    # no facility today: every tract "today" at a distance beyond every store
    ours = p_median(matrix, weights, np.full(len(weights), 1e7), 4)
    assert ours.status == "optimal" and ours.gap == 0
    assert ours.objective_value == pytest.approx(2982.1268579890657, rel=1e-12)  # spopt's test
    served = cost[:, np.searchsorted(sorted(matrix.site_ids), sorted(ours.sites))].min(axis=1)
    assert ours.objective_value == pytest.approx(float((weights * served).sum() / weights.sum()))
