"""The import rules of docs/architecture.md, checked on every run: no import circles, no import
from a lower layer to a higher one, and integrations or providers never import each other.

Every import counts: the lazy ones inside functions, since they close circles all the same,
and the type-only ones under `if TYPE_CHECKING:`, since a module that names another's types
depends on its design as much as one that calls it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "balancebot"

# Lower numbers are lower layers; a module may import its own layer or lower ones only.
LAYERS: list[tuple[int, tuple[str, ...]]] = [
    (0, ("models", "labels", "errors", "clock", "i18n", "deadline", "printable", "plugins")),
    (0, ("crew",)),
    (0, ("facts",)),
    (1, ("redact", "logs", "retry", "config", "health", "quiet")),
    (2, ("rules", "alerts", "spend", "trends", "recent", "render", "charts")),
    (2, ("phrases",)),
    (3, ("notifiers", "providers", "frontends", "store", "httpserver", "commands")),
    (3, ("status",)),
    (3, ("metrics", "tls", "httpcap")),
    (3, ("silences", "quiet_summary", "unrecorded", "notify")),
    (3, ("memory", "self_alerts")),
    (4, ("checks", "delivery", "delivery_lanes", "scheduler", "sweep", "leader", "digest")),
    (4, ("ops_http",)),
    (4, ("heartbeat", "configure")),
    (4, ("checkguard", "record")),
    (4, ("delivery_groups",)),
    (5, ("integrations", "mcp")),
    (6, ("daemon", "reload", "process", "cli", "testing", "__main__", "__init__")),
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


def imports_of(path: Path) -> set[str]:
    """The balancebot modules `path` imports, at run time or for types only (resolved to
    absolute names)."""
    return imports_in(path.read_text(), module_name(path), path.name == "__init__.py")


def imports_in(text: str, me: str, is_package: bool) -> set[str]:
    tree = ast.parse(text)
    package = me if is_package else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
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


PURE = ("rules", "trends", "spend", "alerts", "recent", "facts")
"""What decides, from data to data: it never reaches the language catalogs, directly or
through anything it imports. Words are made in rendering (`render`, `phrases`)."""


def test_the_rules_never_reach_the_catalogs() -> None:
    edges = graph()
    reached: set[str] = set()
    todo = [f"balancebot.{name}" for name in PURE]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo += edges.get(module, ())
    assert "balancebot.i18n" not in reached, sorted(reached)


MOST_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    """A module a person can hold in their head; past that, it is two things."""
    long = {
        module_name(p): n
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MOST_LINES
    }
    assert long == {}


def test_the_core_imports_no_plugin() -> None:
    """balancebot finds its own providers, notifiers and front-ends (DeepSeek, Telegram,
    Slack) through their entry points, as it finds a third-party package's: no module
    outside a plugin's folder imports one. The fakes in `testing/` may sign requests with
    a cloud provider's own signer, so that they check what the real service checks."""
    reached = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if _family(target) and not _family(module) and not module.startswith("balancebot.testing.")
    ]
    assert reached == []


def test_plugins_never_import_each_other() -> None:
    crossings = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if _family(module) and _family(target) and _family(module) != _family(target)
    ]
    assert crossings == []


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each circle of the graph as the modules it joins (Tarjan's strongly connected
    components of more than one module, or a module importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        # a package's __init__ is imported by its submodules implicitly; only explicit
        # edges count here
        for target in sorted(edges.get(node, ())):
            if target not in edges:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(found)


def test_circles_are_found() -> None:
    """The finder itself: a circle closed by any edge is found, a diamond is none."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) == []
    assert circles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}) == [["a", "b"], ["c", "d"]]


def test_type_only_imports_count() -> None:
    """An import under `if TYPE_CHECKING:` is an edge like any other."""
    text = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .daemon import Daemon\n"
    assert imports_in(text, "balancebot.models", is_package=False) == {"balancebot.daemon"}


def test_no_import_circles() -> None:
    assert circles(graph()) == []
