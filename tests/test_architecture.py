"""The package structure docs/architecture.md describes: no import cycles, every package shipped,
no pointer to a document outside the repository."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def _modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is_package)}`` for every module of ``package`` under ``root``."""
    out = {}
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level(body: list[ast.stmt]):
    """Statements that run when the module is imported: not function bodies, not ``if TYPE_CHECKING``."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level(block)
        elif isinstance(node, (ast.ClassDef, ast.With)):
            yield from _module_level(node.body)
        else:
            yield node


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports at module level (``from p import sub`` counts
    as importing ``p.sub`` when that is a module)."""
    modules = _modules(root, package)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        deps = set()
        for node in _module_level(ast.parse(path.read_text(), str(path)).body):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        deps.add(sub)
                    elif target in modules:
                        deps.add(target)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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


def test_no_module_level_import_cycles():
    graph = import_graph(REPO, "edgemon")
    assert len(graph) > 100 and "edgemon.cli" in graph and "edgemon.feeds.replay" in graph
    found = cycles(graph)
    assert not found, "module-level import cycles: " + "; ".join(
        " <-> ".join(c) + " (" + ", ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) + ")" for c in found)


def test_cycle_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("import pkg.c\n")
    (pkg / "c.py").write_text("from . import a\n\ndef later():\n    import pkg.d\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.c"] == {"pkg.a"} and graph["pkg.d"] == set()
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_every_package_ships_in_a_wheel():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    present = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "edgemon").rglob("__init__.py")}
    assert present - listed == set(), "packages missing from pyproject.toml [tool.setuptools] packages"
    assert listed - present == {"edgemon._runners"}


# A pointer to a document outside the repository: the old design document, the ../shared folder a
# checkout may sit beside (tests may read reference data from there; nothing else may), or the
# reference notes kept there (cite their public sources instead, or move the facts into docs/).
_OUTSIDE = re.compile(r"DESIGN\.md|\.\./shared|/work/shared|shared/|reference/"
                      r"|\b(?:jetson|peers|studies|emulator-facts)\.md\b")


def test_the_pointer_check_finds_each_kind():
    for line in ("see DESIGN.md", "(reference/jetson.md 2.3)", "(jetson.md §1.3)", "peers.md 4.1",
                 "shared/reference/studies.md", "../shared/x", "facts in emulator-facts.md"):
        assert _OUTSIDE.search(line), line
    for line in ("docs/architecture.md", "https://github.com/rbonghi/jetson_stats/blob/master/jtop/core/gpu.py",
                 "a shared_memory segment", "see docs/metrics.md"):
        assert not _OUTSIDE.search(line), line


def test_no_pointer_to_a_document_outside_the_repository():
    files = [REPO / "README.md", REPO / "pyproject.toml"]
    for folder in ("edgemon", "runners", "docs", "benchmarks", "profiles", "tests", "scripts"):
        files += [p for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".md", ".toml", ".txt", ".json")
                  and p != Path(__file__).resolve() and "__snapshots__" not in p.parts]
    offenders = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if _OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_architecture_doc_names_every_package():
    text = (REPO / "docs" / "architecture.md").read_text()
    packages = sorted({p.parent.relative_to(REPO / "edgemon").as_posix() for p in (REPO / "edgemon").glob("*/__init__.py")})
    missing = [p for p in packages if f"| `{p}/` |" not in text]
    assert not missing, f"docs/architecture.md 'Packages' lacks a row for {missing}"
