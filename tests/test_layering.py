"""The import contract of neuromap (docs/architecture.md, "Layering"), read from the sources' AST.

* No import cycle among neuromap's modules, counting top-level and function-local imports.
* Layers, bottom to top: the base (IR, errors, validation, file helpers, hardware profiles, data
  sets) < edge geometry < the stages {netx, mapper, sim, models, interop, metrics} < cost < report
  < the CLIs. A module imports only from its own layer or below.
* Packages of the stage layer import each other only through the edges listed in STAGE_EDGES.
* At most MAX_LOCAL function-local imports of neuromap modules, each with a comment (on its line
  or the line above) giving its reason: a heavy optional dependency (Lava, torch in a CLI).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "neuromap"

BASE = {"neuromap", "neuromap.errors", "neuromap.graph", "neuromap.h5io", "neuromap.validate",
        "neuromap.outputs", "neuromap.provenance", "neuromap.passes", "neuromap.hw", "neuromap.data",
        "neuromap.distributed"}
LAYERS = [  # (name, module prefixes), bottom first
    ("base", BASE),
    ("geometry", {"neuromap.geometry"}),
    ("stages", {"neuromap.netx", "neuromap.mapper", "neuromap.sim", "neuromap.models", "neuromap.interop",
                "neuromap.metrics"}),
    ("cost", {"neuromap.cost"}),
    ("report", {"neuromap.report"}),
    ("cli", {"neuromap.map", "neuromap.deploy", "neuromap.train", "neuromap.bench", "neuromap.prune",
             "neuromap.calibrate", "neuromap.export", "neuromap.review", "neuromap.twin"}),
]
#: the only imports between different packages of the stage layer, with their reason
STAGE_EDGES = {
    # the SLAYER-to-IR lowering reads zoo blocks and the loader's NetX translation, and checks depths
    ("neuromap.netx.lower", "neuromap.models.blocks"),
    ("neuromap.netx.lower", "neuromap.sim.activity"),
    # the normalisation starts each layer's statistics at its Lava pipeline depth
    ("neuromap.models.norm", "neuromap.netx.lower"),
    ("neuromap.models.norm", "neuromap.sim.activity"),
    # one reader for every model file format
    ("neuromap.interop.model_file", "neuromap.netx.load"),
    # the NIR importer's scales keep exactly what the engines' weight encoding keeps
    ("neuromap.interop.nir.scale", "neuromap.sim.weights"),
}
MAX_LOCAL = 10
#: modules whose function-local imports are not counted yet (none)
PENDING: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _targets(module: str, path: Path, node: ast.AST) -> list[str]:
    """The neuromap modules an import statement loads (a name imported from a package counts as
    its submodule when it is one)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            if path.name != "__init__.py":
                base = base[:-1]
            base = base[:len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        names = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in MODULES else mod for a in node.names]
    out = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name.startswith("neuromap") and name != module:
            out.append(name)
    return out


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, int, str, bool]]]:
    """(module -> imported modules, [(module, line, target, commented)] for function-local ones)."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    local: list[tuple[str, int, str, bool]] = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    targets = _targets(module, path, child)
                    edges[module].update(targets)
                    if in_function and targets:
                        here, above = lines[child.lineno - 1], lines[child.lineno - 2].strip()
                        local.append((module, child.lineno, targets[0], "#" in here or above.startswith("#")))
                visit(child, inner)

        visit(tree, False)
    return edges, local


EDGES, LOCAL = _imports()


def _layer(module: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or (p != "neuromap" and module.startswith(p + ".")) for p in prefixes):
            return i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in tests/test_layering.py")


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(EDGES[m]):
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m)


def test_imports_flow_down_the_layers() -> None:
    bad = [f"{m} ({LAYERS[_layer(m)][0]}) imports {t} ({LAYERS[_layer(t)][0]})"
           for m, targets in EDGES.items() for t in targets if _layer(t) > _layer(m)]
    assert bad == []


def test_stage_packages_meet_only_through_listed_edges() -> None:
    stages = next(i for i, (name, _) in enumerate(LAYERS) if name == "stages")
    found = {(m, t) for m, targets in EDGES.items() for t in targets
             if _layer(m) == _layer(t) == stages and _package(m) != _package(t)}
    assert found - STAGE_EDGES == set(), "a new import between stage packages: list it with its reason"
    assert STAGE_EDGES - found == set(), "a listed edge is gone: remove it from STAGE_EDGES"


def test_function_local_imports_are_few_and_explained() -> None:
    counted = [(m, line, t, c) for m, line, t, c in LOCAL if m not in PENDING]
    assert len(counted) <= MAX_LOCAL, "\n".join(f"{m}:{line} {t}" for m, line, t, _ in counted)
    assert [f"{m}:{line} imports {t} without a comment giving the reason"
            for m, line, t, c in counted if not c] == []


def test_the_contract_sees_known_imports() -> None:
    # the reader itself: a relative, a package and a function-local import are all found, and the
    # layers are told apart
    assert [_layer(m) for m in ("neuromap.graph", "neuromap.geometry", "neuromap.mapper.api", "neuromap.cost.model",
                                "neuromap.report.writer", "neuromap.deploy")] == [0, 1, 2, 3, 4, 5]
    assert "neuromap.geometry" in EDGES["neuromap.mapper.units"]
    assert "neuromap.mapper.api" in EDGES["neuromap.mapper"]
    assert any(m == "neuromap.sim.lava" and t == "neuromap.sim.lava_procs" for m, _, t, _ in LOCAL)
