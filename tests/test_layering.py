"""The package's floors: data flows one way, data -> text -> embeddings -> layers -> models -> training ->
inference -> cli, with errors, atomic writes, progress, backend, precision, config, resources, the
run-folder format and the Ray session below them all. A module never imports a module of a higher floor,
even inside a function; the imports have no cycle; modules and functions stay short.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "lexiclass"
FLOORS = ["base", "data", "text", "embeddings", "layers", "models", "training", "inference", "cli", "api"]
BASE = {"resources", "errors", "atomic", "progress", "backend", "precision", "config", "run_dir", "ray_session"}


def floor(module: str) -> str:
    """The floor of ``lexiclass.a.b``: its sub-package, ``base`` for the shared modules, ``api`` for the package."""
    parts = module.split(".")
    if len(parts) == 1:
        return "api"  # lexiclass/__init__.py: the public facade over every floor
    return "base" if parts[1] in BASE else parts[1]


def imports(path: Path) -> set[str]:
    """Every ``lexiclass...`` module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from lexiclass import run_dir` imports the module lexiclass.run_dir; `__version__` is not a module
            found |= {node.module} if node.module != "lexiclass" else {
                f"lexiclass.{a.name}" for a in node.names
                if (SRC / f"{a.name}.py").exists() or (SRC / a.name).is_dir()}
    return {name for name in found if name.startswith("lexiclass.")}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_module_is_on_a_known_floor():
    for path in SRC.rglob("*.py"):
        assert floor(module_name(path)) in FLOORS, f"{path}: put it in a floor of {FLOORS}"


def test_no_module_imports_a_higher_floor():
    breaks = set()
    for path in sorted(SRC.rglob("*.py")):
        me = module_name(path)
        for target in imports(path):
            if FLOORS.index(floor(target)) > FLOORS.index(floor(me)):
                # the imported module's floor package, e.g. lexiclass.inference.predictor
                breaks.add((me, ".".join(target.split(".")[:3]) if floor(target) != "layers" else "lexiclass.layers"))
    assert not breaks, f"imports of a higher floor: {sorted(breaks)}"


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from lexiclass.inference.predictor import Predictor\n"
                      "from lexiclass import run_dir as rd\n")
    assert imports(module) == {"lexiclass.inference.predictor", "lexiclass.run_dir"}
    assert floor("lexiclass.run_dir") == "base" and floor("lexiclass.inference.predictor") == "inference"


MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def test_modules_and_functions_stay_short():
    """Short files read top to bottom; a function that outgrows a screen is split by concept."""
    long = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(SRC)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, f"over {MAX_MODULE_LINES} lines per module or {MAX_FUNCTION_LINES} per function: {long}"


def test_the_import_graph_has_no_cycle():
    """Module A imports B (at the top or in a function) and B imports A: neither can be read alone."""
    modules = {module_name(path): path for path in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for target in imports(path) - {name}:
            while target not in modules and "." in target:  # `from lexiclass.x import name` names a module x
                target = target.rsplit(".", 1)[0]
            if target in modules and target != "lexiclass":  # the public facade re-exports every floor
                targets.add(target)
        graph[name] = targets
    state, cycles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state and node != "lexiclass":
            visit(node, [node])
    assert not cycles, f"import cycles: {cycles}"
