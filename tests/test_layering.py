"""The three floors, checked on the source: no import cycles between modules; the world core imports neither the
minds nor the app/viewer; the minds import from ``town`` only the world's contracts; the app and viewer use only
``agents.__all__``. Every ``import`` counts, including those inside functions."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

import agents

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("town", "agents")
#: ``town bench`` times the engine over scripted answers and the gateway against the loopback server: the only app
#: file that may import the test doubles (``agents.testing``); no run, eval or viewer path goes through it.
BENCH_HARNESS = {"town/app/bench.py"}


@dataclass(frozen=True)
class Imp:
    src: str  # importing module
    file: str
    line: int
    target: str  # imported module (resolved, absolute)
    names: tuple[str, ...]  # names taken by ``from target import names`` (empty for ``import target``)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(mod: str, path: Path, modules: dict[str, Path]) -> list[Imp]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    rel = str(path.relative_to(ROOT))
    found: list[Imp] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Imp(mod, rel, node.lineno, a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:
                # ``from pkg import sub`` imports the submodule pkg.sub when there is one
                sub = f"{base}.{a.name}"
                if sub in modules:
                    found.append(Imp(mod, rel, node.lineno, sub, ()))
                else:
                    found.append(Imp(mod, rel, node.lineno, base, (a.name,)))
    return [i for i in found if i.target.split(".")[0] in PACKAGES]


def project_imports() -> list[Imp]:
    modules = all_modules()
    return [i for mod, path in modules.items() for i in imports_of(mod, path, modules)]


def under(mod: str, pkg: str) -> bool:
    return mod == pkg or mod.startswith(pkg + ".")


def violation(i: Imp) -> str | None:
    """The rule ``i`` breaks, or None."""
    if under(i.src, "town.world"):
        for banned in ("agents", "town.app", "town.viewer"):
            if under(i.target, banned):
                return "the world core imports neither agents, town.app nor town.viewer"
    if under(i.src, "agents") and under(i.target, "town") and not under(i.target, "town.world.protocol"):
        return "agents imports from town only town.world.protocol"
    if under(i.src, "town.app") or under(i.src, "town.viewer"):
        if i.file in BENCH_HARNESS and under(i.target, "agents.testing"):
            return None
        if under(i.target, "agents"):
            if i.target != "agents":
                return "the app and viewer import only agents' public API, never agents.<submodule>"
            missing = [n for n in i.names if n not in agents.__all__]
            if missing:
                return f"{', '.join(missing)} not in agents.__all__"
    if under(i.src, "town.viewer") and under(i.target, "town.app"):
        return "the viewer reads the world and its events, not the app layer"
    return None


def describe(i: Imp) -> str:
    what = f"{i.target}.{i.names[0]}" if i.names else i.target
    return f"{i.file}:{i.line} imports {what}"


def test_no_layering_violations() -> None:
    bad = [f"{describe(i)} ({rule})" for i in project_imports() if (rule := violation(i))]
    print("\n".join(bad))
    assert not bad, "\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    graph = nx.DiGraph()
    where: dict[tuple[str, str], Imp] = {}
    modules = all_modules()
    for i in project_imports():
        target = i.target if i.target in modules else i.target.rpartition(".")[0]
        if target in modules and target != i.src:
            # a package's __init__ importing its own submodules is how a package re-exports; not a loop edge
            if under(target, i.src) and modules[i.src].name == "__init__.py":
                continue
            graph.add_edge(i.src, target)
            where.setdefault((i.src, target), i)
    cycles = []
    for comp in nx.strongly_connected_components(graph):
        if len(comp) > 1:
            cyc = nx.find_cycle(graph.subgraph(comp))
            cycles.append(" -> ".join(f"{describe(where[e])}" for e in cyc) + " (import cycle)")
    print("\n".join(cycles))
    assert not cycles, "\n" + "\n".join(cycles)


def test_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The checker must see an import inside a function and resolve a relative one."""
    pkg = tmp_path / "agents"
    pkg.mkdir()
    src = pkg / "x.py"
    src.write_text("def f():\n    from town.app import session\n    from .y import z\n")
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        found = imports_of("agents.x", src, {"agents.x": src, "agents.y": pkg / "y.py"})
    finally:
        ROOT = old
    assert [(i.line, i.target, i.names) for i in found] == [(2, "town.app", ("session",)), (3, "agents.y", ("z",))]
    assert violation(found[0]) == "agents imports from town only town.world.protocol"


def test_public_api_has_no_test_doubles() -> None:
    """Every name in ``agents.__all__`` exists, and none comes from the test doubles in ``agents.testing``."""
    import agents.testing

    for name in agents.__all__:
        obj = getattr(agents, name)
        assert getattr(obj, "__module__", "").split(".")[:2] != ["agents", "testing"], name
    assert not set(agents.__all__) & set(agents.testing.__all__)
