"""Imports flow one way: cli -> pipelines -> stages. The acoustic models (asr.hmm, asr.nn) know no
search, the search knows no scoring, and no stage reaches up into the pipelines. Checked on the
source (every import statement, function-level ones included), directly and through other modules."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import asr

ROOT = Path(asr.__file__).parent

# package -> packages it must not reach, directly or through any chain of asr imports
FORBIDDEN = {
    "asr.hmm": ("asr.pipelines", "asr.search", "asr.cli", "asr.transcribe", "asr.report"),
    "asr.nn": ("asr.pipelines", "asr.search", "asr.cli", "asr.transcribe", "asr.report"),
    "asr.search": ("asr.pipelines", "asr.scoring", "asr.cli", "asr.transcribe", "asr.report"),
    "asr.lm": ("asr.pipelines", "asr.cli", "asr.transcribe", "asr.report"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The asr modules a source file imports (absolute names; `from asr.x import y` counts asr.x
    and, when it is a module, asr.x.y)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("asr"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("asr") and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = {t for t in imports_of(path) if t in modules}
        # importing asr.a.b runs asr/a/__init__.py first
        targets |= {".".join(t.split(".")[:i]) for t in set(targets) for i in range(2, t.count(".") + 1)}
        edges[name] = targets & set(modules)
    return edges


def reachable(edges: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Every module reachable from `start`, with one import chain leading to it."""
    chains = {start: [start]}
    todo = [start]
    while todo:
        current = todo.pop()
        for target in sorted(edges.get(current, ())):
            if target not in chains:
                chains[target] = chains[current] + [target]
                todo.append(target)
    return chains


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_stages_do_not_import_upwards(package):
    edges = graph()
    problems = []
    for module in sorted(m for m in edges if in_package(m, package)):
        for target, chain in reachable(edges, module).items():
            if any(in_package(target, banned) for banned in FORBIDDEN[package]):
                problems.append(" -> ".join(chain))
    assert not problems, "\n".join(problems[:10])


def test_the_checker_sees_function_level_and_transitive_imports(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from asr.search.options import SearchOptions\n    import asr.scoring\n")
    assert {"asr.search.options", "asr.scoring"} <= imports_of(src)
    edges = {"asr.nn.a": {"asr.features"}, "asr.features": {"asr.search"}, "asr.search": set()}
    assert reachable(edges, "asr.nn.a")["asr.search"] == ["asr.nn.a", "asr.features", "asr.search"]
