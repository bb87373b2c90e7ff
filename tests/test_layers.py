"""The import rules of docs/architecture.md, checked on every run: no import circles, no import
from a lower layer to a higher one, and integrations or providers never import each other.

Imports under `if TYPE_CHECKING:` are ignored (they never run); every other import counts,
including the lazy ones inside functions, since they close circles all the same."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "balancebot"

# Lower numbers are lower layers; a module may import its own layer or lower ones only.
LAYERS: list[tuple[int, tuple[str, ...]]] = [
    (0, ("models", "labels", "errors", "clock", "i18n", "deadline", "printable")),
    (1, ("plugins", "redact", "logs", "retry", "config", "health", "quiet")),
    (2, ("rules", "alerts", "spend", "trends", "recent", "render", "charts")),
    (3, ("notifiers", "providers", "frontends", "store", "httpserver", "commands")),
    (3, ("status",)),
    (3, ("metrics", "tls", "httpcap")),
    (3, ("silences", "held", "unrecorded", "notify")),
    (3, ("memory",)),
    (4, ("checks", "delivery", "delivery_lanes", "scheduler", "sweep", "leader", "digest", "ops")),
    (4, ("heartbeat",)),
    (5, ("integrations",)),
    (6, ("daemon", "cli", "testing", "__main__", "__init__")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for level, names in LAYERS:
        if top in names:
            return level
    raise AssertionError(f"{module}: not placed in any layer of tests/test_layers.py")


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path) -> set[str]:
    """The balancebot modules `path` imports at run time (resolved to absolute names)."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("balancebot")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("balancebot"):
                continue
            for alias in node.names:  # `from . import x` names a module when x is one
                sub = f"{target}.{alias.name}"
                found.add(sub if _exists(sub) else target)
    found.discard(me)
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_has_a_layer() -> None:
    for module in graph():
        layer_of(module)


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in graph().items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def _family(module: str) -> str | None:
    """`integrations.telegram` / `providers.deepseek`: a plugin's own folder, if any."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[1] in ("integrations", "providers"):
        package_file = PACKAGE.joinpath(*parts[1:3])
        if package_file.is_dir():
            return ".".join(parts[:3])
    return None


def test_plugins_never_import_each_other() -> None:
    crossings = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if _family(module) and _family(target) and _family(module) != _family(target)
    ]
    assert crossings == []


def test_no_import_circles() -> None:
    edges = graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            # a package's __init__ is imported by its submodules implicitly; only
            # explicit edges count here
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target in edges and state.get(target) is None:
                visit(target)
        path.pop()
        state[node] = 2

    for module in sorted(edges):
        if state.get(module) is None:
            visit(module)
    assert circles == []
