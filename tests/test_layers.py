"""The import rules: layers import downwards only, no module cycle, no module over 400 lines.

Every `import` node counts, top-level or nested in a function or under `TYPE_CHECKING`: an import
inside a function still ties two modules together, it only hides the tie until the call.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The layers, lowest first: a package may import its own layer and those before it, never one after.
#: `coding` sits beside `validation` and may import it, not the reverse. `benchmarks` sits on top and is
#: imported by nothing; it is not installed.
LAYERS: tuple[str, ...] = ("medcode", "codesets", "nlp", "validation", "coding", "claims", "training", "serving",
                           "benchmarks")
MAX_LINES = 400


def modules(root: Path, packages: tuple[str, ...] = LAYERS) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `packages` under `root`."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The dotted names an import node reaches: `from a import b` reaches `a.b` (a module or a name in `a`)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per further dot
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, base] if base else package)
    yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path, packages: tuple[str, ...] = LAYERS) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports anywhere in its body (nearest existing module)."""
    mods = modules(root, packages)
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _imported(name, path, node):
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def upward_imports(graph: dict[str, set[str]], layers: tuple[str, ...] = LAYERS) -> list[str]:
    """`a -> b` for each import of a module from a later layer than the importer's."""
    rank = {package: i for i, package in enumerate(layers)}
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                  if rank[b.split(".")[0]] > rank[a.split(".")[0]])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT)


def test_layers_import_downwards_only(graph: dict[str, set[str]]):
    assert upward_imports(graph) == []


def test_no_module_imports_itself_back_through_others(graph: dict[str, set[str]]):
    assert cycles(graph) == []


def test_nothing_imports_the_benchmarks_and_they_are_not_installed(graph: dict[str, set[str]]):
    assert [f"{a} -> {b}" for a, targets in graph.items() for b in targets
            if b.startswith("benchmarks") and not a.startswith("benchmarks")] == []
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    installed = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert installed == set(LAYERS) - {"benchmarks"}


def test_no_module_over_400_lines():
    long = {str(path.relative_to(ROOT)): n for path in modules(ROOT).values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_rules_catch_an_upward_import_and_a_cycle_hidden_in_a_function(tmp_path: Path):
    root = _tree(tmp_path, {
        "medcode/__init__.py": "",
        "medcode/types.py": "def late():\n    from codesets.lexicon import words\n",
        "codesets/__init__.py": "",
        "codesets/lexicon.py": "from medcode.types import late\n",
        "codesets/usage.py": "from . import lexicon\n",
        "nlp/__init__.py": "",
        "nlp/a.py": "import typing\nif typing.TYPE_CHECKING:\n    from nlp.b import B\n",
        "nlp/b.py": "from .a import A\nimport numpy\n",
    })
    graph = import_graph(root, ("medcode", "codesets", "nlp"))
    assert graph["codesets.usage"] == {"codesets.lexicon"}  # relative, and numpy is not ours
    assert upward_imports(graph, ("medcode", "codesets", "nlp")) == ["medcode.types -> codesets.lexicon"]
    assert cycles(graph) == [["codesets.lexicon", "medcode.types"], ["nlp.a", "nlp.b"]]
