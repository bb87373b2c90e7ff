"""The package as a user gets it: `python -m build` makes a wheel and an sdist that
`twine check` accepts, the wheel holds the files balancebot reads at run time (message
catalogs, migrations, py.typed, the licence), and `pipx install` of that wheel gives a
`balancebot` that reports its version and runs the demo, in an environment of its own with
no checkout beside it."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # a build takes a minute: two isolated environments
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NEEDED_IN_THE_WHEEL = (  # read at run time through importlib.resources or Alembic
    "balancebot/py.typed",
    "balancebot/locale/balancebot.pot",
    "balancebot/locale/zh/LC_MESSAGES/balancebot.mo",
    "balancebot/store/migrations/script.py.mako",
    "balancebot/store/migrations/env.py",
    "balancebot/testing/deepseek.py",  # the demo's simulated API
)


def needs(module: str) -> None:
    """Fail under CI (`.ci/run` installs the dev extra), skip elsewhere."""
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed: pip install -e '.[dev]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def run(
    *command: str | Path,
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: int | None = None,
) -> str:
    result = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        stdin=stdin,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel and an sdist built from a copy of the checkout (the build writes egg-info
    next to the sources; the checkout stays as it is)."""
    needs("build")
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "site", "*.egg-info", "__pycache__", "artifacts"
    )
    shutil.copytree(ROOT, source, ignore=ignore, dirs_exist_ok=True)
    run(sys.executable, "-m", "build", "--outdir", out, source, timeout=600)
    return out


def test_build_makes_a_wheel_and_an_sdist_that_twine_accepts(dist: Path) -> None:
    needs("twine")
    version = PROJECT["version"]
    assert sorted(p.name for p in dist.iterdir()) == [
        f"balancebot-{version}-py3-none-any.whl",
        f"balancebot-{version}.tar.gz",
    ]
    checked = run(sys.executable, "-m", "twine", "check", "--strict", *dist.iterdir(), timeout=120)
    assert checked.count("PASSED") == 2, checked


def test_the_wheel_holds_what_balancebot_reads_at_run_time(dist: Path) -> None:
    wheel = next(dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"balancebot-{PROJECT['version']}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert not [name for name in NEEDED_IN_THE_WHEEL if name not in names]
    sources = {  # every file of the package, data included: a new one must be shipped too
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "balancebot").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert sorted(sources - names) == []
    assert any(re.fullmatch(r"balancebot/store/migrations/versions/\w+\.py", n) for n in names)
    assert f"{info}/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "bench/", "tools/"))]
    assert "License-Expression: MIT" in metadata
    assert "Description-Content-Type: text/markdown" in metadata
    for group in ("balancebot.providers", "balancebot.notifiers", "balancebot.frontends"):
        section = entry_points.split(f"[{group}]\n", 1)[1].split("\n\n", 1)[0]
        assert sorted(line.split(" = ")[0] for line in section.splitlines()) == sorted(
            PROJECT["entry-points"][group]
        )


def test_the_sdist_can_rebuild_and_test_the_project(dist: Path) -> None:
    """The sdist is the source release: tests, docs and examples travel with the code."""
    with tarfile.open(next(dist.glob("*.tar.gz"))) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for wanted in ("tests/conftest.py", "docs/index.md", "mkdocs.yml", "config.example.toml"):
        assert wanted in names
    assert "CHANGELOG.md" in names and "contrib/systemd/balancebot.service" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(".venv")]


def test_pipx_installs_the_wheel_and_it_runs_the_demo(dist: Path, tmp_path: Path) -> None:
    needs("pipx")
    env = {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
        "PYTHONPATH": "",
    }
    wheel = next(dist.glob("*.whl"))
    run(sys.executable, "-m", "pipx", "install", "--python", sys.executable, wheel,
        "--pip-args=--no-compile",  # compiling every dependency is time, not what is tested
        timeout=900, env=env)  # fmt: skip
    balancebot = tmp_path / "bin" / "balancebot"
    outside = tmp_path / "elsewhere"  # no checkout to import from by accident
    outside.mkdir()
    version = run(balancebot, "--version", timeout=60, cwd=outside, env=env)
    assert version == f"balancebot, version {PROJECT['version']}\n"
    demo = run(
        balancebot, "demo", "--time-limit", "90", timeout=150, cwd=outside, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert "CRITICAL (escalated): demo DeepSeek balance" in demo, demo
    assert "Demo finished: the alert fired, escalated and resolved." in demo, demo
