"""`balancebot init` as a newcomer meets it: it refuses an existing file before asking
anything, offers every installed provider and a notifier, and what it writes validates."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.cli import main as cli
from balancebot.cli.init import NOTIFIERS, Answers, ask, complete, write_starter
from balancebot.config import ThresholdLimits
from balancebot.configure import load_config
from balancebot.plugins import PROVIDERS, available

from .test_cli import balancebot

BALANCEBOT = Path(sys.executable).with_name("balancebot")
# what a provider requires, as a user would give it (json also needs its currency)
OPTIONS = {
    "json": ["url=https://balance.example.com/v1/me", "balance=data.balance", "currency=USD"],
    "xai": ["team_id=team-1"],
    "acme": ["org_id=org-12345678"],  # tests/plugin_example
}
TARGETS = {
    "telegram": ["--telegram-chat", "-1001234567890"],
    "webhook": ["--webhook-url", "https://hooks.example.com/bb"],
}


async def test_init_writes_a_starter_that_validates_and_is_found_without_c(
    tmp_path: Path,
) -> None:
    code, out, err = await balancebot("init", "--non-interactive", cwd=tmp_path)
    assert code == 0, out + err
    assert out.endswith(
        "next: set DEEPSEEK_API_KEY in the environment and run `balancebot check`\n"
    )
    written = (tmp_path / "balancebot.toml").read_text()
    assert 'api_key = "${DEEPSEEK_API_KEY}"' in written and "[[chat" not in written
    code, out, _ = await balancebot("validate", cwd=tmp_path, env={"DEEPSEEK_API_KEY": "sk-1"})
    assert (code, out) == (0, "balancebot.toml: OK — 1 account(s), 3 rule(s), notifiers: console\n")
    code, _, err = await balancebot("init", "--non-interactive", cwd=tmp_path)
    assert code == 2 and "balancebot.toml exists; pass --force" in err
    assert (tmp_path / "balancebot.toml").read_text() == written
    flags = ("--account-name", "main", "--currency", "usd", "--warning-below", "20")
    code, _, _ = await balancebot("init", "--non-interactive", "--force", *flags, cwd=tmp_path)
    config = load_config(tmp_path / "balancebot.toml", env={"DEEPSEEK_API_KEY": "sk-1"})
    assert config.accounts[0].name == "main"
    assert config.thresholds_for("main") == {
        "USD": ThresholdLimits(warning_below=Decimal("20.00"), critical_below=Decimal("4.00"))
    }
    code, _, err = await balancebot(
        "init",
        "--non-interactive",
        "--output",
        "x.toml",
        "--warning-below",
        "5",
        "--critical-below",
        "9",
        cwd=tmp_path,
    )
    assert code == 2 and "critical_below must not be above warning_below" in err
    assert not (tmp_path / "x.toml").exists()


async def test_the_hint_quotes_the_whole_command(tmp_path: Path) -> None:
    code, out, _ = await balancebot(
        "init", "--non-interactive", "--output", "ni.toml", cwd=tmp_path
    )
    assert code == 0
    assert out.splitlines()[-1] == (
        "next: set DEEPSEEK_API_KEY in the environment and run `balancebot check -c ni.toml`"
    )


def every_choice() -> list[tuple[str, str]]:
    """Each installed provider, the notifiers taken in turn, each notifier at least once."""
    providers = available(PROVIDERS)
    notifiers = list(NOTIFIERS)
    pairs = [(p, notifiers[i % len(notifiers)]) for i, p in enumerate(providers)]
    pairs += [(providers[0], n) for n in notifiers[len(providers) :]]
    return pairs


@pytest.mark.parametrize(("provider", "notifier"), every_choice())
def test_every_provider_and_notifier_init_offers_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str, notifier: str
) -> None:
    """Written by `init` in this process, checked by `validate` as a process."""
    flags = ["--provider", provider, "--notifier", notifier, *TARGETS.get(notifier, [])]
    flags += [arg for option in OPTIONS.get(provider, []) for arg in ("--option", option)]
    if provider in ("one-api", "new-api"):
        flags += ["--base-url", "https://relay.example.com"]
    cli.main(["init", "--non-interactive", "--output", str(tmp_path / "balancebot.toml"), *flags])
    said = capsys.readouterr().out
    secrets = said.split("next: set ", 1)[1].split(" in the environment")[0].split(" and ")
    env = {
        name: "https://hooks.slack.com/services/T0/B0/x"
        if name.endswith("_URL")
        else "sk-0123456789abcdef"
        for name in secrets
    }
    result = subprocess.run(
        [str(BALANCEBOT), "validate"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"notifiers: {notifier}\n")
    config = load_config(tmp_path / "balancebot.toml", env={**os.environ, **env})
    assert config.accounts[0].provider == provider


def test_a_provider_that_needs_more_says_which_flag(tmp_path: Path) -> None:
    init = subprocess.run(
        [
            str(BALANCEBOT),
            "init",
            "--non-interactive",
            "--provider",
            "one-api",
            "--notifier",
            "webhook",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (init.returncode, init.stderr) == (
        2,
        "balancebot: provider one-api needs --base-url URL\n",
    )


def test_init_asks_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    replies = iter(
        [
            "acme-x",
            "moonshot",
            "region=ai",
            "team a",
            "team-a",
            "eur",
            "abc",
            "12.5",
            "slak",
            "slack",
        ]
    )
    answers = ask(Answers(), lambda _: next(replies))
    assert answers == Answers(
        "team-a",
        "EUR",
        Decimal("12.5"),
        provider="moonshot",
        options=(("region", "ai"),),
        notifier="slack",
    )
    out = capsys.readouterr().out
    assert "'acme-x' is not an installed provider" in out and "without spaces" in out
    assert "'slak' is not one of console, telegram, slack, webhook" in out


async def terminal_init(cwd: Path, typed: bytes, *args: str) -> tuple[int, str, str]:
    master, slave = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "balancebot",
            "init",
            *args,
            cwd=cwd,
            stdin=slave,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        os.write(master, typed)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        os.close(slave)
        os.close(master)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_init_on_a_terminal_asks_and_writes_the_answers(tmp_path: Path) -> None:
    typed = b"deepseek\nteam-a\nusd\n20\ntelegram\n@balance_alerts\n"
    code, out, err = await terminal_init(tmp_path, typed)
    assert code == 0, out + err
    assert "Installed providers: " in out and "deepseek" in out
    assert "Account name (used in alerts) [prod]:" in out
    env = {"DEEPSEEK_API_KEY": "sk-1", "TELEGRAM_BOT_TOKEN": "1:x"}
    config = load_config(tmp_path / "balancebot.toml", env=env)
    assert config.accounts[0].name == "team-a"
    assert config.thresholds_for("team-a") == {
        "USD": ThresholdLimits(warning_below=Decimal("20.00"), critical_below=Decimal("4.00"))
    }
    assert [(n.name, n.type) for n in config.notifiers] == [("telegram", "telegram")]


async def test_an_existing_file_is_refused_before_any_question(tmp_path: Path) -> None:
    (tmp_path / "balancebot.toml").write_text("# mine\n")
    code, out, err = await terminal_init(tmp_path, b"")
    assert (code, out) == (2, "")
    assert err == "balancebot: balancebot.toml exists; pass --force to overwrite it\n"
    assert (tmp_path / "balancebot.toml").read_text() == "# mine\n"


@pytest.mark.parametrize("interactive", [False, True])
def test_the_currency_asked_for_is_the_json_providers_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], interactive: bool
) -> None:
    """json needs a currency option: the answer to "Currency of your balance" was not
    used for it, so every question was answered and then nothing was written ("set
    exactly one of currency and currency_path")."""
    output = tmp_path / "balancebot.toml"
    if interactive:  # what run_init does on a terminal
        typed = ["json", "https://balance.example.com/v1/me", "b", "", "", "eur", "", ""]
        replies = iter(typed)
        write_starter(complete(ask(Answers(), lambda _: next(replies))), output, False)
    else:
        args = ["init", "--non-interactive", "--output", str(output), "--provider", "json"]
        args += ["--option", "url=https://balance.example.com/v1/me", "--option", "balance=b"]
        cli.main([*args, "--currency", "EUR"])
        assert "wrote" in capsys.readouterr().out
    config = load_config(output, env={"JSON_API_KEY": "sk-0123456789abcdef"})
    assert config.accounts[0].options["currency"] == "EUR"
    assert "EUR" in config.rules[0].thresholds


def test_a_secret_option_is_read_from_the_environment_not_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cloud's access key id is a secret like its key: `init` writes a reference to an
    environment variable and names it, and never asks for the value (it asked before, and
    `--non-interactive` without `--option access_key_id=` wrote nothing)."""
    output = tmp_path / "balancebot.toml"
    cli.main(["init", "--non-interactive", "--provider", "aliyun", "--output", str(output)])
    assert "ALIYUN_ACCESS_KEY_ID" in capsys.readouterr().out
    assert 'access_key_id = "${ALIYUN_ACCESS_KEY_ID}"' in output.read_text()


def test_a_secret_option_given_as_a_flag_is_written_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--option secret_id=...` was written beside the `${TENCENTCLOUD_SECRET_ID}`
    reference, and the starter failed with "Duplicate inline table key 'secret_id'"."""
    output = tmp_path / "balancebot.toml"
    args = ["init", "--non-interactive", "--provider", "tencentcloud", "--output", str(output)]
    cli.main([*args, "--option", "secret_id=${MY_SECRET_ID}"])
    assert "wrote" in capsys.readouterr().out
    config = load_config(output, env={"TENCENTCLOUD_API_KEY": "k" * 16, "MY_SECRET_ID": "AKIDx"})
    assert config.accounts[0].options == {"secret_id": "AKIDx"}


@pytest.mark.parametrize("provider", ["venice", "fal", "xai"])
def test_the_currency_question_offers_usd_for_usd_only_providers(provider: str) -> None:
    """Venice, fal and xAI bill in USD only: offering CNY (as for the CNY-first providers)
    wrote a CNY threshold that `check` then reported as "no CNY balance in the answer"."""
    prompts: list[str] = []

    def reply(prompt: str) -> str:
        prompts.append(prompt)
        return "team-1" if "team_id" in prompt else ""

    answers = ask(Answers(currency="", provider=provider), reply)  # as run_init without it
    assert answers.currency == "USD", prompts


@pytest.mark.parametrize(
    ("provider", "code"), [("fal", "USD"), ("openrouter", "USD"), ("deepseek", "CNY")]
)
def test_without_currency_a_usd_only_provider_gets_usd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str, code: str
) -> None:
    """`--non-interactive` without `--currency` wrote a CNY threshold for fal or
    OpenRouter, which bill in USD only: `check` then said "no CNY balance"."""
    output = tmp_path / "balancebot.toml"
    cli.main(["init", "--non-interactive", "--provider", provider, "--output", str(output)])
    assert f"[rules.thresholds.{code}]" in output.read_text()


def test_the_offered_currency_follows_the_provider_chosen_on_the_terminal() -> None:
    """Without --currency the offer is the chosen provider's usual currency, whichever
    provider the flags named; with it, the flag's."""
    offers: list[str] = []

    def reply(prompt: str) -> str:
        if prompt.startswith("Provider"):
            return "deepseek"
        if prompt.startswith("Currency"):
            offers.append(prompt)
        return ""

    assert complete(ask(Answers(currency="", provider="fal"), reply)).currency == "CNY"
    assert complete(ask(Answers(currency="EUR", provider="fal"), reply)).currency == "EUR"
    assert offers == ["Currency of your balance [CNY]: ", "Currency of your balance [EUR]: "]
