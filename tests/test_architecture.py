"""The architecture stays true: one-way imports between floors, at most one import cycle, small
functions and modules, a CLI without SQL, and docs/architecture.md naming every folder.

The floors and who may import whom are encoded once, in ``FLOORS`` and ``SAME_FLOOR`` below;
docs/architecture.md shows the same table and is checked against it.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "schoolmode"
DOC = ROOT / "docs" / "architecture.md"

FLOORS: dict[str, tuple[str, ...]] = {
    "faces": ("cli", "api", "web"),
    "application": ("app",),
    "domain": ("sim", "synth", "operations", "backtest", "decisions", "cases", "access"),
    "data": ("metrics", "importers", "fetch"),
    "core": ("engine", "store"),
    "ground": (
        "policy",
        "standard",
        "settings",
        "pathogen",
        "draws",
        "parallel",
        "reports",
        "disclosure",
        "i18n",
    ),
}
"""Top to bottom. A module may import its own package and any package on a lower floor, and
on its own floor only what ``SAME_FLOOR`` lists."""

SAME_FLOOR: dict[str, frozenset[str]] = {
    "sim": frozenset({"synth", "operations"}),
    "synth": frozenset({"operations"}),
    "cases": frozenset({"operations"}),
    "web": frozenset({"api"}),  # pages mounted in the API's application, its security
    "fetch": frozenset({"importers"}),  # the shipped header and source_file
    "parallel": frozenset({"policy"}),  # SchoolmodeError
}


MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 800


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (or package)
    lazy: bool  # inside a function
    typing_only: bool  # under ``if TYPE_CHECKING:``
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


MODULES = {module_name(p) for p in source_files()}


def _resolve(module: str, names: list[str]) -> list[str]:
    """``from a.b import c`` is an import of ``a.b.c`` when that is a module, else of ``a.b``."""
    out = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
    return out if len(out) == len(names) else [*out, module]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> Iterator[Import]:
    source = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(node: ast.AST, lazy: bool, typing_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "schoolmode":
                        yield Import(source, alias.name, lazy, typing_only, child.lineno)
            elif isinstance(child, ast.ImportFrom):
                if child.level == 0 and child.module and child.module.split(".")[0] == "schoolmode":
                    for target in _resolve(child.module, [a.name for a in child.names]):
                        yield Import(source, target, lazy, typing_only, child.lineno)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from visit(child, True, typing_only)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                yield from visit(child, lazy, True)
            else:
                yield from visit(child, lazy, typing_only)

    yield from visit(tree, False, False)


def all_imports() -> list[Import]:
    return [imp for path in source_files() for imp in imports_of(path)]


def package_of(module: str) -> str:
    """``schoolmode.sim.loop`` -> ``sim``; ``schoolmode.draws`` -> ``draws``; the root -> ground."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "policy"


def floor_of(package: str) -> int:
    for index, (_, packages) in enumerate(FLOORS.items()):
        if package in packages:
            return index
    raise AssertionError(f"package {package!r} is on no floor: add it to FLOORS and the doc")


def may_import(source: str, target: str) -> bool:
    if target == "schoolmode":  # the root: constants only (its version, the default store)
        return True
    a, b = package_of(source), package_of(target)
    if a == b:
        return True
    fa, fb = floor_of(a), floor_of(b)
    if fb > fa:  # a lower floor (FLOORS is listed top to bottom)
        return True
    return fa == fb and b in SAME_FLOOR.get(a, frozenset())


# ---------------------------------------------------------------------- imports


def test_every_package_is_on_a_floor() -> None:
    for module in MODULES:
        floor_of(package_of(module))


def test_imports_go_down_the_floors() -> None:
    wrong = sorted(
        f"{imp.source} -> {imp.target} (line {imp.line})"
        for imp in all_imports()
        if not may_import(imp.source, imp.target)
    )
    assert not wrong, "imports against the floors of docs/architecture.md:\n" + "\n".join(wrong)


def test_no_lazy_import_of_the_project_in_library_code() -> None:
    """Function-level imports hide cycles; only the faces (cli/) and app/ may defer imports (for
    start-up time). Optional heavy third-party imports (dask, matplotlib) are not checked."""
    lazy = sorted(
        f"{imp.source} -> {imp.target} (line {imp.line})"
        for imp in all_imports()
        if imp.lazy and package_of(imp.source) not in ("cli", "app") and imp.source != imp.target
    )
    assert not lazy, "function-level imports in library code:\n" + "\n".join(lazy)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                out.append(component)
    return out


def test_at_most_one_import_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module in MODULES:
        graph[module]
    for imp in all_imports():
        if not imp.typing_only and imp.target in MODULES and imp.target != imp.source:
            # a package's __init__ importing its own modules is not a cycle of ideas
            if imp.source == imp.target.rsplit(".", 1)[0]:
                continue
            graph[imp.source].add(imp.target)
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert len(cycles) <= 1, f"{len(cycles)} import cycles: {cycles}"


# ---------------------------------------------------------------------- sizes


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_no_function_over_100_lines_and_no_module_over_800() -> None:
    long: list[str] = []
    for path in source_files():
        rel = _relative(path)
        if rel.startswith("store/migrations/"):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES:
            long.append(f"{rel}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                key = f"{rel}:{node.name}"
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{key}: {size} lines")
    assert not long, "split these:\n" + "\n".join(sorted(long))


# ---------------------------------------------------------------------- the CLI


def test_cli_holds_no_sql() -> None:
    """Commands call use cases (app/); the store is theirs."""
    found: list[str] = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        rel = _relative(path)
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                )
                if any(n.split(".")[0] == "sqlalchemy" for n in names):
                    found.append(f"{rel}:{node.lineno}: imports sqlalchemy")
                if any(n == "schoolmode.store.tables" for n in names):
                    found.append(f"{rel}:{node.lineno}: imports store.tables")
        if "make_engine" in text:
            found.append(f"{rel}: make_engine")
        if "store.tables" in text:
            found.append(f"{rel}: store.tables")
    assert not found, "SQL in the CLI:\n" + "\n".join(sorted(set(found)))


# ---------------------------------------------------------------------- the doc


def _doc_floors() -> dict[str, tuple[str, ...]]:
    """The floors block of docs/architecture.md: ``floor  pkg/ module.py ...`` lines between
    ``<!-- floors -->`` and ``<!-- /floors -->``."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- floors -->", 1)[1].split("<!-- /floors -->", 1)[0]
    out: dict[str, tuple[str, ...]] = {}
    for line in block.strip().strip("`").strip().splitlines():
        floor, *names = line.split()
        out[floor] = tuple(n.removesuffix("/").removesuffix(".py") for n in names)
    return out


def _existing() -> set[str]:
    folders = {
        p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    }
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return folders | modules


def test_doc_floors_match_the_encoded_table() -> None:
    existing = _existing()
    expected = {
        floor: tuple(p for p in packages if p in existing) for floor, packages in FLOORS.items()
    }
    assert _doc_floors() == expected


def test_doc_describes_every_folder_and_top_level_module() -> None:
    """One ``### `name/` `` (folder) or ``### `name.py` `` (module) heading for each, and none
    for something that does not exist."""
    text = DOC.read_text(encoding="utf-8")
    headed = {
        m.group(1).removesuffix("/").removesuffix(".py")
        for m in re.finditer(r"^### `([a-z][a-z0-9_]*(?:/|\.py))`", text, flags=re.M)
    }
    existing = _existing()
    assert headed <= existing, f"no such folder: {headed - existing}"
    assert existing <= headed, f"not described in docs/architecture.md: {existing - headed}"


def test_the_root_package_imports_nothing() -> None:
    """Anyone may import the root (``may_import``) because it holds constants only."""
    root = PACKAGE / "__init__.py"
    assert not any(
        isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(ast.parse(root.read_text()))
    )
