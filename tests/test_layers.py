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
import inspect
import warnings
from pathlib import Path

import pytest
from conftest import facilities_at, make_graph, units_at

import coverage
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
    "mkdir",
    "unlink",
    "rmtree",
    "getenv",
    "putenv",
    "cwd",
    "files",  # importlib.resources.files
}
FILE_NAMES = {"open", "__file__", "environ", "tomllib", "shutil", "tempfile"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
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
        for nxt in GRAPH[node]:
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
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FILE_METHODS | FILE_NAMES:
            hits.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FILE_NAMES:
            hits.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            hits += [f"line {node.lineno}: import {n}" for n in names if n and n.split(".")[0] in FILE_NAMES]
    return hits


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) in ("engine", "face")))
def test_no_file_or_environment_outside_io_and_outputs(module: str) -> None:
    assert not file_access(module), f"{module} touches files or the environment: {file_access(module)}"


def test_the_file_check_sees_reads_writes_and_the_environment() -> None:
    # the check itself must be able to fail: the readers and writers it exempts are caught by it
    assert file_access("coverage.io.settings")  # tomllib, environ, read_text
    assert file_access("coverage.outputs.files")  # to_csv, shutil, tempfile
    assert any("environ" in hit for hit in file_access("coverage.io.settings"))


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


def test_old_names_still_work_with_a_deprecation_warning() -> None:
    from coverage.siting import mclp_exact

    with pytest.warns(DeprecationWarning, match=r"coverage\.siting\.mclp_exact"):
        assert coverage.mclp_exact is mclp_exact  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert coverage.analyse is not None  # a face name warns nothing
    with pytest.raises(AttributeError):
        coverage.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_the_old_map_module_still_imports_with_a_deprecation_warning() -> None:
    import importlib
    import sys

    sys.modules.pop("coverage.maps", None)
    with pytest.warns(DeprecationWarning, match="coverage.outputs.webmap"):
        old = importlib.import_module("coverage.maps")
    assert old.gap_map is coverage.gap_map


def test_no_module_is_over_about_500_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text("utf-8").splitlines())) > 560}
    assert not long, f"modules over about 500 lines: {long}"
