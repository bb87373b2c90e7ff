"""`balancebot`'s public API: every name resolves, `import balancebot` stays cheap, and
the list is exactly the one docs/plugins.md documents."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import balancebot

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("httpx", "sqlalchemy", "telegram", "slack_sdk", "apscheduler", "aiohttp", "msgspec")


def test_every_public_name_resolves() -> None:
    assert balancebot.__all__ == sorted(set(balancebot.__all__))
    for name in balancebot.__all__:
        value = getattr(balancebot, name)
        assert getattr(value, "__name__", name) == name, name
    assert set(dir(balancebot)) >= set(balancebot.__all__)


def test_the_type_checking_block_names_the_same() -> None:
    """What mypy and IDEs see is what runs: the `TYPE_CHECKING` imports, the lazy table
    and `__all__` are one list."""
    tree = ast.parse((ROOT / "balancebot" / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If))
    typed = {
        alias.asname or alias.name
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == set(balancebot.__all__) == set(balancebot._WHERE)


def test_unknown_names_are_attribute_errors() -> None:
    try:
        balancebot.Providr  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "Providr" in str(exc)
    else:
        raise AssertionError("a misspelt name resolved")


def test_import_balancebot_is_cheap() -> None:
    """`balancebot check` starts fast: the package itself imports none of its parts, and
    a provider's names bring the engine's httpx but nothing of the daemon."""
    script = (
        "import sys, json; import balancebot; first = sorted(sys.modules);"
        "from balancebot import Provider, Notifier, Secret, BalanceSnapshot;"
        "print(json.dumps([first, sorted(sys.modules)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    bare, used = (
        {m.split(".")[0] for m in names} | {m for m in names if m.startswith("balancebot.")}
        for names in json.loads(done.stdout)
    )
    assert bare.isdisjoint(HEAVY), bare & set(HEAVY)
    assert not {m for m in bare if m.startswith("balancebot.")}
    assert used.isdisjoint({"sqlalchemy", "telegram", "slack_sdk", "apscheduler", "aiohttp"})


def test_docs_list_the_public_api() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    section = text.split("\n## The public API\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)`", section, re.MULTILINE))
    assert documented == set(balancebot.__all__)
