"""The package's three layers, read from its source with ``ast`` (no third-party tool).

- ``coverage.io`` reads; ``coverage.outputs`` writes; every other module of the package
  but the face (``coverage``, ``coverage.__main__``, ``coverage.cli``) is the engine.
- The engine imports neither ``io`` nor ``outputs`` (nor the face); ``io`` and
  ``outputs`` never import each other; no module imports the face but the face.
- No import cycle, counting every import (inside functions and ``TYPE_CHECKING`` too).
- Outside ``io`` and ``outputs`` (the CLI included) no module reads or writes a file or
  touches the environment.
- ``write_analysis(..., map=True)`` draws the map itself.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import facilities_at, make_graph, units_at

import coverage
from coverage.network import compile_network
from coverage.outputs.write import write_analysis

PACKAGE = Path(coverage.__file__).resolve().parent
FACE = ("coverage", "coverage.__main__", "coverage.cli")
#: Old module paths kept for one release, each a re-export that warns: part of the face.
DEPRECATED = ("coverage.maps",)

# Calls and names that read or write files or the environment.  A method name alone is
# enough: the engine has no business calling any of them, whatever the object.
FILE_METHODS = {
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "open",
    "read_csv",
    "read_excel",
    "read_file",
    "read_dataframe",
    "read_parquet",
    "read_graphml",
    "load_graphml",
    "save_graphml",
    "to_csv",
    "to_file",
    "to_excel",
    "to_parquet",
    "savefig",
    "load",  # json.load, np.load, pickle.load
    "mkdir",
    "unlink",
    "rmtree",
    "exists",
    "is_file",
    "is_dir",
    "iterdir",
    "glob",
    "rglob",
    "listdir",
    "getenv",
    "putenv",
    "getcwd",
    "cwd",
    "files",  # importlib.resources.files
}
FILE_NAMES = {"open", "__file__", "environ", "tomllib", "shutil", "tempfile", "pickle"}
# Modules whose very import in the engine means files or the environment.
FILE_MODULES = {"tomllib", "shutil", "tempfile", "pickle", "pyogrio", "fiona", "glob"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    if module not in MODULES:
        return "unknown"  # an import by a computed name: nobody may say where it leads
    if module in FACE or module in DEPRECATED or module.startswith("coverage.cli."):
        return "face"
    if module == "coverage.io" or module.startswith("coverage.io."):
        return "io"
    if module == "coverage.outputs" or module.startswith("coverage.outputs."):
        return "outputs"
    return "engine"


def imports_of(module: str) -> set[str]:
    """Modules of the package that ``module`` imports, wherever the import statement is."""
    path = MODULES[module]
    tree = ast.parse(path.read_text("utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
        ):
            # an import by name: a literal is followed; anything else is reported
            literal = node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            names = [node.args[0].value] if literal else [f"coverage.<computed import at line {node.lineno}>"]  # type: ignore[attr-defined]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            # "from coverage.outputs import figures" imports the module coverage.outputs.figures
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("coverage.<computed"):
                found.add(name)
                continue
            while name and name not in MODULES:  # "import coverage.io.roads" names a module; attributes do not
                name = name.rpartition(".")[0]
            if name.startswith("coverage") and name != module:
                found.add(name)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_the_package_has_the_three_layers() -> None:
    layers = {layer(m) for m in MODULES}
    assert layers == {"face", "io", "engine", "outputs"}
    # the steps of the flow, each in a module named after it
    for step in ("network", "snapping", "traveltime", "stats", "isochrones", "matrix", "siting", "accessibility"):
        assert f"coverage.{step}" in MODULES and layer(f"coverage.{step}") == "engine", step
    for reader in ("roads", "facilities", "population", "admin", "settings"):
        assert f"coverage.io.{reader}" in MODULES, reader
    for writer in ("files", "summaries", "report", "figures", "webmap", "style"):
        assert f"coverage.outputs.{writer}" in MODULES, writer


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) != "face"))
def test_layer_imports_only_what_it_may(module: str) -> None:
    allowed = {
        "engine": {"engine"},
        "io": {"engine", "io"},
        "outputs": {"engine", "outputs"},
    }[layer(module)]
    wrong = sorted(m for m in GRAPH[module] if layer(m) not in allowed)
    assert not wrong, f"{module} ({layer(module)}) imports {wrong}"


def test_no_import_cycle() -> None:
    # Tarjan's strongly connected components; a component of more than one module is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node] & GRAPH.keys():
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def file_access(module: str) -> list[str]:
    """Where ``module`` reads or writes a file or the environment, line by line."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FILE_METHODS | FILE_NAMES:
            hits.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FILE_NAMES:
            hits.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FILE_METHODS:
            hits.append(f"line {node.lineno}: {node.func.id}()")  # a function imported by name
        elif isinstance(node, ast.Import):
            hits += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in FILE_MODULES]
        elif isinstance(node, ast.ImportFrom):
            source = (node.module or "").split(".")[0]
            if source in FILE_MODULES:
                hits.append(f"line {node.lineno}: from {node.module} import")
            hits += [
                f"line {node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if a.name in FILE_METHODS | FILE_NAMES
                # a third-party reader or writer; calling the package's own io layer is the point of the CLI
                or (a.name.startswith(("read_", "to_")) and source != "coverage")
            ]
    return hits


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) in ("engine", "face")))
def test_no_file_or_environment_outside_io_and_outputs(module: str) -> None:
    assert not file_access(module), f"{module} touches files or the environment: {file_access(module)}"


def test_the_file_check_sees_reads_writes_and_the_environment() -> None:
    # the check itself must be able to fail: the readers and writers it exempts are caught by it
    assert any("environ" in hit for hit in file_access("coverage.io.settings"))
    assert any("tomllib" in hit for hit in file_access("coverage.io.settings"))
    assert any("to_csv" in hit for hit in file_access("coverage.outputs.files"))
    assert any("read_csv" in hit for hit in file_access("coverage.io._common"))


def test_the_rule_checks_catch_disguised_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # what a careless change to an engine module could look like: each line must be caught
    sneaky = {
        "from pandas import read_csv\nframe = read_csv('x.csv')\n": "read_csv",
        "from os import getenv\nvalue = getenv('X')\n": "getenv",
        "import os.path\nok = os.path.exists('x')\n": "exists",
        "import json\nwith open('x') as f:\n    data = json.load(f)\n": "open",
    }
    for source, expected in sneaky.items():
        fake = tmp_path / "sneaky.py"
        fake.write_text(source, "utf-8")
        monkeypatch.setitem(MODULES, "coverage.sneaky", fake)
        assert any(expected in hit for hit in file_access("coverage.sneaky")), source
    fake.write_text("import importlib\nroads = importlib.import_module('coverage.io.roads')\n", "utf-8")
    assert imports_of("coverage.sneaky") == {"coverage.io.roads"}
    fake.write_text("import importlib\nname = 'coverage.io'\nm = importlib.import_module(name)\n", "utf-8")
    assert all(layer(m) == "unknown" for m in imports_of("coverage.sneaky"))


def test_write_analysis_draws_the_map_itself(tmp_path: Path) -> None:
    assert "map_builder" not in inspect.signature(write_analysis).parameters
    graph = make_graph({"a": (0, 0), "b": (1000, 0)}, [("a", "b", 120.0)])
    result = coverage.analyse(
        graph,
        facilities_at({"F1": (0, 0)}),
        units_at({"u1": (0, 0), "u2": (1000, 0)}, [10.0, 20.0]),
        coverage.AnalysisConfig(thresholds_min=(5.0,), isochrones=False),
    )
    write_analysis(result, tmp_path / "with", map=True)
    page = (tmp_path / "with" / "map.html").read_text("utf-8")
    assert "L.map(" in page and "unpkg.com" not in page  # the offline page, drawn by the writer
    write_analysis(result, tmp_path / "without")
    assert not (tmp_path / "without" / "map.html").exists()


def test_the_face_is_small_and_in_the_order_of_the_flow() -> None:
    names = [n for n in coverage.__all__ if n != "__version__"]
    assert len(names) <= 30
    order = [names.index(n) for n in ("read_roads", "analyse", "plan_sites", "study_access", "write_analysis")]
    assert order == sorted(order)


@pytest.mark.parametrize("name", sorted(coverage._MOVED))
def test_old_names_still_work_with_a_deprecation_warning(name: str) -> None:
    module = importlib.import_module(coverage._MOVED[name])
    with pytest.warns(DeprecationWarning, match=rf"coverage\.{name} moved to {module.__name__}\.{name}"):
        old = getattr(coverage, name)
    assert old is getattr(module, name)


def test_the_old_isochrones_call_still_works_with_a_deprecation_warning() -> None:
    # coverage.isochrones was the function before; the name is now its module, which
    # forwards a call to the function for one release
    import coverage.isochrones as module

    assert isinstance(module, types.ModuleType)
    graph = make_graph({"a": (0, 0), "b": (1000, 0)}, [("a", "b", 60.0)])
    network = compile_network(graph)
    arguments = (network, network.indices_of(["a"]), np.zeros(1), ["F"], [2.0])
    expected = module.isochrones(*arguments, buffer_m=100.0)
    with pytest.warns(DeprecationWarning, match=r"coverage\.isochrones\.isochrones"):
        old = coverage.isochrones(*arguments, buffer_m=100.0)  # type: ignore[operator]
    assert len(expected) == 1 and expected.geometry.geom_equals(old.geometry).all()


def test_face_names_warn_nothing_and_unknown_names_fail() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in coverage.__all__:
            getattr(coverage, name)
    with pytest.raises(AttributeError):
        coverage.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_the_old_map_module_still_imports_with_a_deprecation_warning() -> None:
    import sys

    sys.modules.pop("coverage.maps", None)
    with pytest.warns(DeprecationWarning, match="coverage.outputs.webmap"):
        old = importlib.import_module("coverage.maps")
    assert old.gap_map is coverage.gap_map


def test_no_module_is_over_about_500_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text("utf-8").splitlines())) > 500}
    assert not long, f"modules over about 500 lines: {long}"
