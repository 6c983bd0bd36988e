"""Module-level imports form a DAG, and the training step sits below the models it trains."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import nnguru

PACKAGE = Path(nnguru.__file__).parent


def _imports(module_level_only: bool) -> dict[str, set[str]]:
    """``{module: nnguru modules it imports}``, read from the source (TYPE_CHECKING blocks skipped)."""
    names = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        found: set[str] = set()
        pending = list(ast.parse(path.read_text()).body)
        while pending:
            node = pending.pop()
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                continue
            if module_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                # ``from pkg import sub`` needs the module pkg.sub; ``from pkg import name``, pkg itself
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in names else node.module
                          for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            pending.extend(ast.iter_child_nodes(node))
        graph[name] = {t for t in found if t in names and t != name}
    return graph


def test_module_level_imports_form_a_dag():
    graphlib.TopologicalSorter(_imports(module_level_only=True)).prepare()  # raises CycleError on a cycle


def test_the_training_step_never_imports_the_models_or_bundle():
    graph = _imports(module_level_only=False)
    above = {"nnguru.nn.model", "nnguru.nn.sequential", "nnguru.bundle"}
    for low in ("nnguru.nn.fast_dense", "nnguru.training.step", "nnguru.training.loop", "nnguru.guru.lr_finder"):
        assert not graph[low] & above, (low, graph[low] & above)


def test_models_and_bundles_import_each_other_in_one_direction_even_inside_functions():
    """The cycle nn/model <-> bundle <-> nn/sequential <-> nn/fast_dense is gone at every level:
    saving sits in nn/ below the models, loading (which builds Sequentials) above them."""
    graph = _imports(module_level_only=False)
    part = {"nnguru.nn.model", "nnguru.nn.sequential", "nnguru.nn.fast_dense", "nnguru.nn.saving", "nnguru.bundle"}
    graphlib.TopologicalSorter({m: graph[m] & part for m in part}).prepare()
    assert "nnguru.bundle" not in graph["nnguru.nn.model"]
