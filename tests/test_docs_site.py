"""The README and the documentation site under docs/: the site builds with `mkdocs build
--strict` (every page in the nav, every link and anchor between pages resolved), every
relative link in README.md and docs/ leads to a file and heading that exist, and the
README's configuration is one balancebot accepts."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from balancebot.configure import parse_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*$", re.MULTILINE)


def prose(path: Path) -> str:
    """The file without its fenced code blocks (whose brackets are code, not links)."""
    return FENCE.sub("", path.read_text())


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes, and the site too (mkdocs.yml's slugify)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(path)):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for target in LINK.findall(prose(path)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        where = f"{path.relative_to(root)}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}: no such heading in {resolved.name}")
    return problems


def test_every_relative_link_in_the_readme_and_the_docs_resolves() -> None:
    problems = [problem for path in [README, *PAGES] for problem in broken_links(path)]
    assert not problems, "\n".join(problems)


def test_the_link_check_sees_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## Its `part`: two\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#its-part-two) [ok](#here) [gone](missing.md) [bad](other.md#nope)\n"
        "```\n[in code](missing-too.md)\n```\n# Here\n"
    )
    assert [p.split(": ", 1)[1] for p in broken_links(page, tmp_path)] == [
        "missing.md: no such file",
        "other.md#nope: no such heading in other.md",
    ]


def test_every_page_is_in_the_sites_nav_and_every_nav_entry_is_a_page() -> None:
    """Also checked by the strict build; this one runs without mkdocs installed, so a new
    page left out of mkdocs.yml fails in every environment, not only in CI."""
    nav = re.findall(
        r"^\s*- (?:[^\n]*: )?([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M
    )
    pages = [page.relative_to(ROOT / "docs").as_posix() for page in PAGES]
    assert sorted(nav) == sorted(pages)


def test_the_readme_is_a_five_minute_read() -> None:
    """What it is, two commands, a minimal configuration, where to go next: the rest lives
    in docs/, so the README stays short enough to read before trying."""
    lines = README.read_text().splitlines()
    assert len(lines) <= 300
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:2] == ["## Try it: two commands", "## A minimal configuration"]


def minimal_config(path: Path) -> str:
    text = path.read_text()
    section = text.split("\n## A minimal configuration\n", 1)[-1]
    section = section if path == README else text.split("\n## Your own configuration\n")[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def test_the_readmes_minimal_configuration_is_valid_and_the_guide_shows_the_same() -> None:
    text = minimal_config(README)
    assert text == minimal_config(ROOT / "docs" / "getting-started.md")
    env = {"DEEPSEEK_API_KEY": "sk-1", "TELEGRAM_BOT_TOKEN": "1:abc"}
    config = parse_config(tomllib.loads(text), ROOT, env=env)
    assert [account.provider for account in config.accounts] == ["deepseek"]
    assert [notifier.type for notifier in config.notifiers] == ["telegram"]
    # without these two, a revoked key or a refused account would never be said
    assert [rule.type for rule in config.rules] == ["threshold", "unavailable", "check_failed"]


def test_the_development_page_names_every_extra() -> None:
    text = (ROOT / "docs" / "development.md").read_text().split("## The extras", 1)[1]
    named = re.findall(r"^\| `(\w+)` \|", text.split("\n## ", 1)[0], re.MULTILINE)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(named) == sorted(project["optional-dependencies"])


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a page missing from the nav, a link to a page or an anchor
    that does not exist, fail the build (mkdocs.yml's `validation`)."""
    if importlib.util.find_spec("mkdocs") is None:
        message = "mkdocs is not installed: pip install -e '.[docs]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", site],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    built = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    for page in PAGES:
        name = page.relative_to(ROOT / "docs").with_suffix("").as_posix()
        assert ("index.html" if name == "index" else f"{name}/index.html") in built
