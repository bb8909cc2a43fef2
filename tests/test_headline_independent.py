"""The regional headline figures, recomputed from the raw data files by another path.

What a planner quotes from a run on the Centre-Val de Loire data is the share of each
department's population within 10, 20 and 30 minutes of a facility, and the E2SFCA
accessibility of each commune with its priority class.  This module recomputes both
from the files of the data folder with none of the package's readers, graph builder,
snapping or searches:

* roads: the Travel Mapping ``routes`` layer read with pyogrio; each line's consecutive
  vertices joined, vertices with identical coordinates merged, segments longer than
  500 m cut into equal pieces, speeds from the profile file by the shell patterns it
  documents; the largest strongly connected component kept (SciPy ``csgraph``);
* points: facilities (status ``open``) from their lon/lat, communes at their town hall
  (or inside their polygon when they have none, or when it lies more than 1 km outside
  the polygon: a geocoding error of the source), each joined to its nearest node by
  a k-d tree of our own, with a straight access leg at 30 km/h, up to 5 km;
* times: one full Dijkstra per facility node on the reversed matrix, then door-to-door
  minutes for every (commune, facility) pair;
* figures: shares by department from the COG table's own ``departement`` and
  ``population`` columns; the E2SFCA with bands 1 / 2/3 / 1/3 at 10 / 15 / 20 minutes,
  supply = ``n_gp`` (empty cells: the median of the stated ones), demand = population,
  5,400 consultations a year per GP, priority below 2.5.

Where a point has several nearest nodes at the same distance, each is an option (see
the tolerances below).  The parameters (speeds, 500 m, 30 km/h, 5 km, 1 km, bands) are
the documented defaults of the model; only the arithmetic is redone here.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import statistics
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import scipy.sparse as sp
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

import coverage as cov
from coverage.access_study import AccessStudy, study_access
from coverage.analysis import GapAnalysis, prepare_network
from coverage.io.regional import RegionalInputs, load_regional_inputs
from coverage.network import RoutingNetwork

pytestmark = pytest.mark.regional

ROADS = "roads/travelmapping_fra_cvl_routes.gpkg"
FACILITIES = ("facilities/cvl_primary_care_facilities_compiled.csv", "facilities/cvl_facilities_additions_turn2.csv")
COG = "admin/cvl_communes_cog2026_decoupage_administratif.csv"
POLYGONS = "admin/cvl_communes_polygons_datafrance.gpkg"
PROFILE = Path(cov.__file__).parent / "profiles" / "france.toml"

MAX_EDGE_M = 500.0
ACCESS_KPH = 30.0
MAX_SNAP_M = 5000.0
TOWN_HALL_TOLERANCE_M = 1000.0
TIES = 4  # nearest nodes looked at for ties
TIE_M = 1e-6  # nodes this much farther than the nearest are tied with it
THRESHOLDS = (10.0, 20.0, 30.0)
PER_FTE = 5400.0
PRIORITY_LINE = 2.5

# Tolerances.  Both paths add the same float64 edge times (length / speed, the same
# pyproj projection) along shortest paths, only in a different order and with other
# data structures: the minutes may differ by rounding, ~1e-12 of a value below 200
# minutes.  1e-6 min (60 µs) leaves six orders of magnitude for that and is far below
# anything a planner reads (a tenth of a minute).  The shares are sums of whole
# populations over the same communes, so they must agree exactly, provided that no
# commune lies within 1e-6 min of a threshold (checked, so that rounding cannot move one
# across it).  The E2SFCA is a ratio of such sums: relative 1e-9.
# Ties: a point whose nearest node is one of several at exactly the same distance (nodes
# of overlapping routes at identical coordinates) may join any of them.  Every tied node
# is kept as an option, and the package's figures must be those of one option; a
# separate test asks that the option not matter.
MINUTES_ABS = 1e-6
ACCESS_REL = 1e-9


# ------------------------------------------------------------------ the package's own run


@dataclass(frozen=True, eq=False)
class RegionalRun:
    inputs: RegionalInputs
    network: RoutingNetwork
    analysis: GapAnalysis
    study: AccessStudy


@cache
def regional_run(data_dir: Path) -> RegionalRun:
    """The regional gap analysis and accessibility study, as the demo computes them
    (no isochrones), once per test session; the invariance tests reuse it."""
    inputs = load_regional_inputs(data_dir)
    config = cov.AnalysisConfig(isochrones=False)
    network = prepare_network(inputs.graph, metric_crs=config.metric_crs)
    analysis = cov.analyse(network, inputs.facilities, inputs.units, config)
    return RegionalRun(inputs, network, analysis, study_access(analysis, workers=1))


# ------------------------------------------------------------------ the independent path


@dataclass(frozen=True)
class Independent:
    communes: pd.DataFrame  # code, department, population, minutes (and minutes_hi, see below)
    pair_minutes: np.ndarray  # communes x open facilities (NaN: unreachable)
    pair_minutes_hi: np.ndarray  # the same with the least favourable of tied nearest nodes
    supply: np.ndarray  # per open facility


def speed_of_system(systems: pd.Series, profile: dict) -> dict[str, float | None]:
    """km/h of each Travel Mapping system by the profile's patterns (first match wins,
    ``exclude``: not routed)."""
    speeds: dict[str, float | None] = {}
    for system in systems.unique():
        cls = next(c for p, c in profile["classes"].items() if fnmatch.fnmatchcase(system, p))
        speeds[system] = None if cls == "exclude" else float(profile["speeds_kph"][cls])
    return speeds


def road_matrix(data_dir: Path) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Travel-time matrix (seconds, fastest of parallel edges) of the largest strongly
    connected component, and the Lambert-93 coordinates of its nodes."""
    roads = pyogrio.read_dataframe(data_dir / ROADS, layer="routes", columns=["system"])
    speeds = speed_of_system(roads["system"], tomllib.loads(PROFILE.read_text("utf-8")))
    assert roads.crs.to_epsg() == 4326
    node_of: dict[tuple[float, float], int] = {}
    lonlat: list[tuple[float, float]] = []
    segments: list[tuple[int, int, float]] = []  # (u, v, kph)
    for system, line in zip(roads["system"], roads.geometry, strict=True):
        kph = speeds[system]
        if kph is None:
            continue
        ids = []
        for xy in line.coords:
            key = (float(xy[0]), float(xy[1]))
            if key not in node_of:
                node_of[key] = len(lonlat)
                lonlat.append(key)
            ids.append(node_of[key])
        segments += [(a, b, kph) for a, b in itertools.pairwise(ids) if a != b]
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    lon = np.array([p[0] for p in lonlat])
    lat = np.array([p[1] for p in lonlat])
    x, y = to_l93.transform(lon, lat)
    extra_lon: list[float] = []
    extra_lat: list[float] = []
    split_of: dict[tuple[int, int, int, int], int] = {}
    us: list[int] = []
    vs: list[int] = []
    secs: list[float] = []
    for a, b, kph in segments:
        length = math.hypot(x[b] - x[a], y[b] - y[a])
        k = max(1, math.ceil(length / MAX_EDGE_M))
        # new nodes evenly spaced between the two vertices (lon/lat), counted from the
        # vertex with the smaller (lon, lat), shared by every route over the segment in
        # either direction (routes that merely cross do not meet)
        lo, hi = (a, b) if lonlat[a] <= lonlat[b] else (b, a)
        inner = []
        for j in range(1, k):
            if (lo, hi, k, j) not in split_of:  # one node per split point of a segment
                split_of[lo, hi, k, j] = len(lonlat) + len(extra_lon)
                extra_lon.append(lon[lo] + j / k * (lon[hi] - lon[lo]))
                extra_lat.append(lat[lo] + j / k * (lat[hi] - lat[lo]))
            inner.append(split_of[lo, hi, k, j])
        chain = [a, *(inner if lo == a else inner[::-1]), b]
        piece = length / k / (kph / 3.6)
        for p, q in itertools.pairwise(chain):
            us += [p, q]
            vs += [q, p]
            secs += [piece, piece]
    ex, ey = to_l93.transform(np.array(extra_lon), np.array(extra_lat))
    xs, ys = np.concatenate([x, ex]), np.concatenate([y, ey])
    n = len(xs)
    edges = pd.DataFrame({"u": us, "v": vs, "t": secs}).groupby(["u", "v"], sort=True)["t"].min().reset_index()
    matrix = sp.csr_array((edges["t"].to_numpy(), (edges["u"].to_numpy(), edges["v"].to_numpy())), shape=(n, n))
    _, label = connected_components(matrix, directed=True, connection="strong")
    keep = np.flatnonzero(label == np.bincount(label).argmax())
    return matrix[keep][:, keep].tocsr(), xs[keep], ys[keep]


def snap(tree: cKDTree, points: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """The nearest nodes of each point, as options: ``(n, TIES)`` node indices, every
    column a node at the smallest distance (the nearest one repeated where there is no
    tie; -1 beyond 5 km), and the access leg in seconds (NaN beyond).

    Overlapping routes give nodes at identical coordinates that are not merged, so a
    point may have several nearest nodes; which one a k-d tree returns depends on the
    order of the nodes, so every one of them is kept as an option.
    """
    l93 = points.to_crs("EPSG:2154")
    distance, node = tree.query(np.column_stack([l93.x, l93.y]), k=TIES)
    tied = distance - distance[:, :1] <= TIE_M
    options = np.where(tied, node, node[:, :1])
    beyond = distance[:, 0] > MAX_SNAP_M
    options[beyond] = -1
    return options, np.where(beyond, np.nan, distance[:, 0] / (ACCESS_KPH / 3.6))


def commune_points(codes: pd.Series, halls: gpd.GeoDataFrame, polygons: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Each commune's town hall; where it has none, or where the point lies more than
    1 km outside the commune's polygon (a geocoding error), the polygon's centroid, or a
    point on its surface when the centroid falls outside it (Lambert-93 measures)."""
    hall = halls.set_index("code_insee").geometry.to_crs("EPSG:2154")
    poly = polygons.set_index("code_insee").geometry.to_crs("EPSG:2154")
    points = []
    for code in codes:
        shape = poly[code]
        inside = shape.centroid if shape.contains(shape.centroid) else shape.representative_point()
        point = hall.get(code)
        points.append(inside if point is None or shape.distance(point) > TOWN_HALL_TOLERANCE_M else point)
    return gpd.GeoSeries(points, crs="EPSG:2154")


@cache
def independent(data_dir: Path) -> Independent:
    matrix, xs, ys = road_matrix(data_dir)
    tree = cKDTree(np.column_stack([xs, ys]))

    raw = pd.concat([pd.read_csv(data_dir / name, dtype=str) for name in FACILITIES], ignore_index=True)
    raw = raw[raw["status"] == "open"].reset_index(drop=True)
    fac_points = gpd.GeoSeries(gpd.points_from_xy(raw["lon"].astype(float), raw["lat"].astype(float)), crs=4326)
    fac_node, fac_access = snap(tree, fac_points)
    stated = pd.to_numeric(raw["n_gp"], errors="coerce")
    supply = stated.fillna(statistics.median(stated.dropna())).to_numpy(dtype=float)

    cog = pd.read_csv(data_dir / COG, dtype=str)
    cog = cog[cog["type"] == "commune-actuelle"].reset_index(drop=True)
    halls = pyogrio.read_dataframe(data_dir / POLYGONS, layer="mairies", columns=["code_insee"])
    polygons = pyogrio.read_dataframe(data_dir / POLYGONS, layer="communes", columns=["code_insee"])
    unit_node, unit_access = snap(tree, commune_points(cog["code_insee"], halls, polygons))

    # one full search per facility node on the reversed matrix: time from every node to it
    sources = np.unique(fac_node[fac_node >= 0])
    to_node = dijkstra(matrix.T.tocsr(), directed=True, indices=sources)
    row_of = {int(n): i for i, n in enumerate(sources)}
    # door-to-door minutes of every (commune, facility) pair, for every tied node of each
    lo = np.full((len(cog), len(raw)), np.inf)
    hi = np.full((len(cog), len(raw)), -np.inf)
    reached = np.flatnonzero(unit_node[:, 0] >= 0)
    for j in np.flatnonzero(fac_node[:, 0] >= 0):
        for f in set(fac_node[j].tolist()):
            for k in range(TIES):
                t = unit_access[reached] + to_node[row_of[f], unit_node[reached, k]] + fac_access[j]
                lo[reached, j] = np.minimum(lo[reached, j], t)
                hi[reached, j] = np.maximum(hi[reached, j], t)
    lo = np.where(np.isfinite(lo), lo / 60.0, np.nan)
    hi = np.where(np.isfinite(hi), hi / 60.0, np.nan)
    with np.errstate(all="ignore"):
        nearest_lo = np.where(np.isnan(lo).all(axis=1), np.nan, np.nanmin(lo, axis=1))
        nearest_hi = np.where(np.isnan(hi).all(axis=1), np.nan, np.nanmin(hi, axis=1))
    communes = pd.DataFrame(
        {
            "code": cog["code_insee"],
            "department": cog["departement"],
            "population": cog["population"].astype(float),
            "minutes": nearest_lo,
            "minutes_hi": nearest_hi,
        }
    )
    return Independent(communes=communes, pair_minutes=lo, pair_minutes_hi=hi, supply=supply)


def band_weights(minutes: np.ndarray) -> np.ndarray:
    """1 up to 10 min, 2/3 up to 15, 1/3 up to 20, 0 beyond or unreachable (NaN)."""
    return np.select([minutes <= 10, minutes <= 15, minutes <= 20], [1.0, 2 / 3, 1 / 3], 0.0)


def e2sfca(ind: Independent) -> np.ndarray:
    """Consultations a year per inhabitant, the plain two-step formula with the bands."""
    w = band_weights(ind.pair_minutes)
    demand = ind.communes["population"].to_numpy()
    weighted = w.T @ demand  # per facility
    ratio = np.divide(ind.supply, weighted, out=np.zeros_like(ind.supply), where=weighted > 0)
    return (w @ ratio) * PER_FTE


# ------------------------------------------------------------------ fixtures and tests


@pytest.fixture(scope="module")
def ours(data_dir: Path) -> Independent:
    return independent(data_dir)


@pytest.fixture(scope="module")
def theirs(data_dir: Path) -> RegionalRun:
    return regional_run(data_dir)


def test_independent_path_reads_the_files_as_the_readme_says(ours: Independent) -> None:
    """Totals of the data README, so that the independent path is itself checked."""
    readme = {"18": 298_660, "28": 433_129, "36": 216_069, "37": 619_362, "41": 328_543, "45": 691_268}
    assert len(ours.communes) == 1754
    assert ours.communes.groupby("department")["population"].sum().to_dict() == readme
    assert ours.pair_minutes.shape[1] == len(ours.supply)
    # every town hall is within 2.5 km of a route (README): every commune is reached
    assert ours.communes["minutes"].notna().all()
    assert ours.communes["minutes"].between(0, 120).all()


def test_minutes_per_commune(ours: Independent, theirs: RegionalRun) -> None:
    units = theirs.analysis.units.set_index("unit_id")["minutes_to_nearest"]
    expected = ours.communes.set_index("code")
    assert set(units.index) == set(expected.index)
    got = units.reindex(expected.index)
    # one of the tied nearest nodes (lo = hi where there is no tie)
    outside = (got < expected["minutes"] - MINUTES_ABS) | (got > expected["minutes_hi"] + MINUTES_ABS)
    table = pd.DataFrame({"package": got, "independent": expected["minutes"], "with_ties": expected["minutes_hi"]})
    assert not outside.any(), f"communes whose minutes differ:\n{table[outside].head(10)}"


def test_minutes_do_not_depend_on_which_of_two_co_located_nodes_is_nearest(ours: Independent) -> None:
    """Overlapping routes must not leave two nodes at identical coordinates: a town hall
    whose nearest node is such a pair would get different minutes by which it joins, so
    the figures would depend on the order of the road file's rows.  (The independent
    path merges them as the package does; ties left are between distinct places.)"""
    spread = ours.communes["minutes_hi"] - ours.communes["minutes"]
    tied = ours.communes.assign(spread=spread)[spread > MINUTES_ABS]
    assert tied.empty, f"minutes that depend on the node order of the road file:\n{tied}"


def test_share_within_10_20_30_minutes_by_department(ours: Independent, theirs: RegionalRun) -> None:
    for column in ("minutes", "minutes_hi"):
        minutes = ours.communes[column].to_numpy()
        near = np.abs(minutes[:, None] - np.array(THRESHOLDS)[None, :]) <= MINUTES_ABS
        assert not near.any(), "a commune lies on a threshold: the comparison below would depend on rounding"
    table = theirs.analysis.by_area
    departments = table[table["level"] == "department"].set_index(["area_id", "threshold_min"])
    population = ours.communes["population"]
    totals = population.groupby(ours.communes["department"]).sum()
    summary = theirs.analysis.summary.set_index("threshold_min")
    for t in THRESHOLDS:
        # covered whatever tied node is taken, and covered with the most favourable one
        surely = population.where(ours.communes["minutes_hi"] <= t, 0.0).groupby(ours.communes["department"]).sum()
        maybe = population.where(ours.communes["minutes"] <= t, 0.0).groupby(ours.communes["department"]).sum()
        for dep, total in totals.items():
            row = departments.loc[(dep, t)]
            assert row["population_total"] == total, (dep, t)
            assert surely[dep] <= row["population_covered"] <= maybe[dep], (dep, t, surely[dep], maybe[dep])
            assert row["population_covered"] == maybe[dep], (dep, t)  # the ties straddle no threshold here
            assert row["share_covered"] == pytest.approx(maybe[dep] / total, abs=1e-12), (dep, t)
        assert summary.loc[t, "population_covered"] == maybe.sum()


def test_e2sfca_per_commune_and_its_priority_class(ours: Independent, theirs: RegionalRun) -> None:
    # a pair whose minutes depend on a tied nearest node (see the test above) may change
    # band with it: the package's figures must be those of one of the choices
    changes = np.argwhere(band_weights(ours.pair_minutes) != band_weights(ours.pair_minutes_hi))
    assert len(changes) <= 6, f"{len(changes)} pairs change band with the tied node taken"
    units = theirs.study.units.set_index("unit_id")
    got = units["accessibility"].reindex(ours.communes["code"]).to_numpy()
    choices = []
    for taken in itertools.product([False, True], repeat=len(changes)):
        minutes = ours.pair_minutes.copy()
        for (i, j), hi in zip(changes, taken, strict=True):
            minutes[i, j] = ours.pair_minutes_hi[i, j] if hi else minutes[i, j]
        choices.append(e2sfca(replace(ours, pair_minutes=minutes)))
    matching = [c for c in choices if np.allclose(got, c, rtol=ACCESS_REL, atol=1e-12)]
    worst = min(np.max(np.abs(got - c)) for c in choices)
    assert matching, f"no choice of tied nodes gives the package's figures (largest difference {worst:.3g})"
    expected = pd.Series(matching[0], index=ours.communes["code"])
    # supply is shared out, never created: every facility reaches someone on this data
    demand = ours.communes["population"].to_numpy()
    assert (demand * expected.to_numpy()).sum() / PER_FTE == pytest.approx(ours.supply.sum(), rel=1e-9)
    # the classes: below 2.5 consultations a year is a priority zone
    assert (np.abs(expected.to_numpy() - PRIORITY_LINE) > 1e-6).all(), "a commune lies on the priority line"
    priority = np.where(expected.to_numpy() < PRIORITY_LINE, "priority", "above threshold")
    assert (units["class"].reindex(expected.index).to_numpy() == priority).all()
    classes = theirs.study.classes.set_index("class")
    assert classes.loc["priority", "population"] == demand[priority == "priority"].sum()
    # per department: demand-weighted means of the communes
    frame = pd.DataFrame({"d": demand, "da": demand * expected.to_numpy(), "dep": ours.communes["department"]})
    sums = frame.groupby("dep")[["d", "da"]].sum()
    by_area = theirs.study.by_area
    deps = by_area[by_area["level"] == "department"].set_index("area_id")
    assert deps["accessibility"].reindex(sums.index).to_numpy() == pytest.approx(
        (sums["da"] / sums["d"]).to_numpy(), rel=ACCESS_REL
    )
