"""The layout rules of docs/design.md, checked on the source: no import circles between
packages, arrows only point down the layer list, ``farm/`` used by the CLI and the public
API only, modules under 400 lines. Imports inside functions and under TYPE_CHECKING count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "edgekit"

#: top to bottom; a package may import only packages below it (docs/design.md, "Layout")
LAYERS: list[set[str]] = [
    {"cli"},
    {"api"},
    {"pipeline"},
    {"recipes"},
    {"report"},
    {"predict"},
    {"farm"},
    {"evaluate"},
    {"convert"},
    {"devices"},
    {"edgetpu"},
    {"store"},
    {"tflite"},
    {"artifact", "measurement", "latency", "jsonio", "progress", "tomlvalues", "callable_package", "quality",
     "__init__", "device_profiles", "android_bench"},
    {"stats"},
    {"errors"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
#: the layer of the core types and helpers, whose modules may use each other (acyclic)
CORE = RANK["measurement"]
#: the one file allowed to be long: it runs on devices and must stay one file
LONG_OK = {ROOT.parent / "android_bench" / "edgekit_runner.py"}


def _unit(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    """Every ``edgekit.X`` a module imports (X = its top-level package or module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = ["edgekit", *path.relative_to(ROOT).parts[:-1]]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
            elif node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            parts = n.split(".")
            if parts[0] == "edgekit" and len(parts) > 1:
                found.add(parts[1])
    return found


def _graph() -> dict[str, set[tuple[str, str]]]:
    edges: dict[str, set[tuple[str, str]]] = {}
    for path in ROOT.rglob("*.py"):
        unit = _unit(path)
        for target in _imports(path):
            if target != unit and ((ROOT / target).is_dir() or (ROOT / f"{target}.py").is_file()):
                edges.setdefault(unit, set()).add((target, str(path.relative_to(ROOT))))
    return edges


def test_every_package_has_a_layer() -> None:
    units = {_unit(p) for p in ROOT.rglob("*.py")}
    assert not units - set(RANK), f"add these to LAYERS (and docs/design.md): {sorted(units - set(RANK))}"


def test_arrows_point_down_only() -> None:
    """Within the core layer (the core types and helpers) modules may use each other: the
    circle test below keeps them acyclic."""
    wrong = sorted(f"{where} imports edgekit.{target} (drawn above {unit})"
                   for unit, targets in _graph().items() for target, where in targets
                   if unit != "__init__" and (RANK[target] < RANK[unit]
                                              or RANK[target] == RANK[unit] != CORE))
    assert not wrong, "\n".join(wrong)


def test_farm_is_used_by_the_cli_and_the_public_api_only() -> None:
    users = sorted(f"{where}" for unit, targets in _graph().items() for target, where in targets
                   if target == "farm" and unit not in ("cli", "api", "__init__"))
    assert not users, users


def test_no_import_circles_between_packages() -> None:
    edges = {u: {t for t, _ in ts} for u, ts in _graph().items() if u != "__init__"}
    seen: dict[str, int] = {}

    def visit(u: str, stack: list[str]) -> None:
        seen[u] = 1
        for v in edges.get(u, ()):
            if seen.get(v) == 1:
                pytest.fail("import circle: " + " → ".join(stack[stack.index(v):] + [u, v]) if v in stack
                            else f"import circle through {u} → {v}")
            if v not in seen:
                visit(v, stack + [u])
        seen[u] = 2

    for u in list(edges):
        if u not in seen:
            visit(u, [])


def test_modules_stay_small() -> None:
    files = [*ROOT.rglob("*.py"), *(ROOT.parent / "android_bench").glob("*.py")]
    long = sorted(f"{p.relative_to(ROOT.parent)}: {n} lines" for p in files
                  if p not in LONG_OK and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400)
    assert not long, long
