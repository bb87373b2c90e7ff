"""Running as a service: the Dockerfile, compose.yaml, its config and the systemd unit agree
with each other and with balancebot, and build/verify where the tools are on the machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "contrib" / "systemd" / "balancebot.service"
UNIT_CONFIG = ROOT / "contrib" / "systemd" / "config.toml"
CONTAINER_CONFIG = ROOT / "contrib" / "docker" / "config.toml"
BALANCEBOT = Path(sys.executable).with_name("balancebot")


def dockerfile() -> dict[str, list[str]]:
    """The final stage's instructions, keyed by name (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    final = text.split("\nFROM ")[-1]
    found: dict[str, list[str]] = {}
    for line in final.splitlines()[1:]:
        if line.strip() and not line.startswith("#"):
            name, _, rest = line.partition(" ")
            found.setdefault(name, []).append(rest.strip())
    return found


def test_the_image_runs_unprivileged_with_health_check_volume_and_command() -> None:
    image = dockerfile()
    assert image["USER"] == ["balancebot"]
    assert "useradd --system --uid 10001" in image["RUN"][0]
    assert image["VOLUME"] == ['["/var/lib/balancebot"]']
    assert image["ENTRYPOINT"] == ['["balancebot"]']
    assert image["CMD"] == ['["run", "-c", "/etc/balancebot/config.toml"]']
    [health] = image["HEALTHCHECK"]
    port = image["EXPOSE"][0]
    assert f"http://127.0.0.1:{port}/healthz" in health
    # the container's config serves it on that port, on every interface
    config = tomllib.loads(CONTAINER_CONFIG.read_text())
    assert config["http"] == {"enabled": True, "listen": f"0.0.0.0:{port}"}


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(line.split()[1:-1])
    allowed = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert copied == allowed == {"pyproject.toml", "README.md", "LICENSE", "balancebot"}
    assert all((ROOT / name).exists() for name in copied)


def test_compose_wires_balancebot_to_postgres_with_config_and_state() -> None:
    yaml: Any = pytest.importorskip("yaml", reason="PyYAML parses compose.yaml")
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    bot, db = compose["services"]["balancebot"], compose["services"]["postgres"]
    assert bot["build"] == "."
    assert bot["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "pg_isready" in db["healthcheck"]["test"]
    source, target, mode = bot["volumes"][0].split(":")
    assert (ROOT / source).resolve() == CONTAINER_CONFIG
    assert (target, mode) == ("/etc/balancebot/config.toml", "ro")
    assert bot["volumes"][1] == "state:/var/lib/balancebot"
    assert set(compose["volumes"]) == {"state", "postgres"}
    # every ${VAR} the container's config reads is set for the container
    wanted = set(re.findall(r"\$\{(\w+)\}", CONTAINER_CONFIG.read_text()))
    assert wanted == set(bot["environment"]) == {"DEEPSEEK_API_KEY", "POSTGRES_PASSWORD"}
    assert db["environment"]["POSTGRES_PASSWORD"] == bot["environment"]["POSTGRES_PASSWORD"]


def test_the_container_config_is_valid() -> None:
    result = subprocess.run(
        [str(BALANCEBOT), "validate", "-c", str(CONTAINER_CONFIG)],
        env={**os.environ, "DEEPSEEK_API_KEY": "sk-x", "POSTGRES_PASSWORD": "pw"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def docker_daemon() -> str | None:
    """Why the image cannot be built here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        return f"the docker daemon is not running: {info.stderr.strip().splitlines()[-1:]}"
    return None


def test_the_image_builds_and_runs_as_a_non_root_user() -> None:
    problem = docker_daemon()
    if problem:
        pytest.skip(problem)
    tag = "balancebot-test:latest"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1200)
    run = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "sh", tag, "-c", "id -u && balancebot --version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    uid, version = run.stdout.split("\n", 1)
    assert uid == "10001" and version.startswith("balancebot, version ")


def test_the_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    unit = UNIT.read_text()
    for setting in (
        "DynamicUser=yes",
        "StateDirectory=balancebot",
        "ConfigurationDirectory=balancebot",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "ExecStart=/usr/local/bin/balancebot run -c /etc/balancebot/config.toml",
        # the dynamic user is neither owner nor group of /etc/balancebot: it must be readable
        "ConfigurationDirectoryMode=0755",
        "LoadCredential=balancebot-deepseek-api-key:/etc/credstore/balancebot-deepseek-api-key",
    ):
        assert f"\n{setting}\n" in unit, setting
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at this environment's command
    copy = tmp_path / "balancebot.service"
    copy.write_text(unit.replace("/usr/local/bin/balancebot", str(BALANCEBOT)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_readme_quick_start_is_two_commands_and_ci_runs_the_second_exactly() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Try it: two commands", 1)[1].split("```sh\n", 1)[1]
    install_and_demo, tests = quick.split("\n```", 1)[0].splitlines()
    assert install_and_demo == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/balancebot demo"
    )
    assert tests == ".venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == tests
    assert not any(line.startswith(("source ", ". ")) for line in ci)  # no activated venv


def test_replicas_compose_runs_two_replicas_on_postgres() -> None:
    yaml: Any = pytest.importorskip("yaml", reason="PyYAML parses compose.yaml")
    compose = yaml.safe_load((ROOT / "contrib" / "replicas" / "compose.yaml").read_text())
    bot = compose["services"]["balancebot"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "ports" not in bot  # two replicas cannot share one host port
    config = (ROOT / "contrib" / "docker" / "config.toml").read_text()
    assert 'url = "postgresql://' in config  # replicas need the shared store


def test_the_package_says_it_watches_llm_api_balances_not_deepseek_alone() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["description"].startswith("Watches LLM API account balances ")
    providers = project["entry-points"]["balancebot.providers"]
    assert len(providers) > 1  # more than DeepSeek, as the description says


def test_the_units_config_reads_its_secrets_from_the_credentials_systemd_hands_over(
    tmp_path: Path,
) -> None:
    """What the service sees: a readable config holding no secret, and each secret in
    $CREDENTIALS_DIRECTORY (a 0400 file per LoadCredential=), read through `*_file`."""
    unit, text = UNIT.read_text(), UNIT_CONFIG.read_text()
    loaded = dict(re.findall(r"^LoadCredential=([\w.-]+):(\S+)$", unit, re.MULTILINE))
    read = re.findall(
        r'^\w+_file = "\$\{CREDENTIALS_DIRECTORY:-/etc/credstore\}/([\w.-]+)"', text, re.MULTILINE
    )
    assert read and set(read) == set(loaded)
    assert all(path == f"/etc/credstore/{name}" for name, path in loaded.items())
    assert "api_key =" not in text and "token =" not in text  # no secret in the file
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o500)
    for name in loaded:
        secret = credentials / name
        secret.write_text("sk-from-a-credential-0123\n")
        secret.chmod(0o400)
    config = tmp_path / "config.toml"
    state = tmp_path / "state"
    state.mkdir()
    config.write_text(text.replace("/var/lib/balancebot/", f"{state}/"))
    config.chmod(0o644)
    result = subprocess.run(
        [str(BALANCEBOT), "validate", "-c", str(config)],
        env={**os.environ, "CREDENTIALS_DIRECTORY": str(credentials)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    from balancebot.configure import load_config

    loaded_config = load_config(config, env={"CREDENTIALS_DIRECTORY": str(credentials)})
    key = loaded_config.accounts[0].api_key.get_secret_value()
    assert key == "sk-from-a-credential-0123"
