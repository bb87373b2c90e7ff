"""`balancebot init`: a commented starter configuration that runs offline as written.

One account, the console notifier and the rules most people want; everything else is in
`config.example.toml` and docs/configuration.md."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

TEMPLATE = """\
# balancebot configuration, written by `balancebot init`.
# Check it:            balancebot validate -c {output}
# One look right now:  balancebot check -c {output}
# Run the daemon:      balancebot run -c {output}
# Every option: docs/configuration.md; more examples: config.example.toml.

[[accounts]]
name = "{account}"
# The key is read from the environment, never written here: export DEEPSEEK_API_KEY=sk-...
# (or api_key_file = "/run/secrets/deepseek" to read it from a file).
api_key = "${{DEEPSEEK_API_KEY}}"
check_interval = "5m"

[[rules]]
name = "low-balance"
type = "threshold"                     # total balance below a limit
hysteresis = "{hysteresis}"{hysteresis_pad}# resolve only once it is this far above again
[rules.thresholds.{currency}]
warning_below = "{warning}"
critical_below = "{critical}"

[[rules]]
name = "unavailable"
type = "unavailable"                   # the account cannot make API calls: critical

[[rules]]
name = "check-failed"
type = "check_failed"                  # warning after 3 failed checks in a row
after_failures = 3

# Alerts are printed on standard output. To send them to Telegram or Slack, add a
# [[notifiers]] block (see config.example.toml) and test it with `balancebot notify-test`.
[[notifiers]]
name = "console"
type = "console"

[store]
path = "balancebot.db"                 # SQLite, relative to this file
"""


@dataclass(frozen=True)
class Answers:
    account: str = "prod"
    currency: str = "CNY"
    warning_below: Decimal = Decimal("50.00")
    critical_below: Decimal | None = None  # None: a fifth of the warning limit

    def render(self, output: Path) -> str:
        critical = self.critical_below
        if critical is None:
            critical = (self.warning_below / 5).quantize(Decimal("0.01"))
        hysteresis = (self.warning_below / 10).quantize(Decimal("0.01"))
        return TEMPLATE.format(
            output=output,
            account=self.account,
            currency=self.currency,
            warning=f"{self.warning_below:.2f}",
            critical=f"{critical:.2f}",
            hysteresis=f"{hysteresis:.2f}",
            hysteresis_pad=" " * max(1, 24 - len(f"{hysteresis:.2f}")),
        )


def amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount like 50 or 12.50") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{text!r} is not a positive amount")
    return value


def account_name(text: str) -> str:
    if not re.fullmatch(r"\S{1,64}", text.strip()):
        raise ValueError("a name is 1 to 64 characters without spaces")
    return text.strip()


def currency(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", text.strip()):
        raise ValueError(f"{text!r} is not a three-letter currency code like CNY or USD")
    return text.strip().upper()


def ask(answers: Answers, prompt: Callable[[str], str]) -> Answers:
    """A few questions on a terminal; Enter keeps the default shown in brackets."""

    def question(text: str, default: str, parse: Callable[[str], object]) -> object:
        while True:
            reply = prompt(f"{text} [{default}]: ").strip() or default
            try:
                return parse(reply)
            except ValueError as exc:
                print(f"  {exc}")

    name = question("Account name (used in alerts)", answers.account, account_name)
    code = question("Currency of your balance", answers.currency, currency)
    warning = question("Warn when the balance falls below", str(answers.warning_below), amount)
    assert isinstance(name, str) and isinstance(code, str) and isinstance(warning, Decimal)
    return Answers(name, code, warning, answers.critical_below)


def write_starter(answers: Answers, output: Path, force: bool) -> None:
    """Validate what would be written, then write it; never overwrite without `force`."""
    import tomllib

    from ..config import parse_config

    text = answers.render(output)
    env = {**os.environ, "DEEPSEEK_API_KEY": os.environ.get("DEEPSEEK_API_KEY") or "sk-unset"}
    parse_config(tomllib.loads(text), output.parent.resolve(), env, notifiers=None)
    if output.exists() and not force:
        raise FileExistsError(f"{output} exists; pass --force to overwrite it")
    with open(output, "w" if force else "x", encoding="utf-8") as out:
        out.write(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--non-interactive", action="store_true", help="ask nothing; use the flags and defaults"
    )
    parser.add_argument("--account-name", default="prod", help="default: prod")
    parser.add_argument("--currency", default="CNY", help="the balance's currency (default: CNY)")
    parser.add_argument("--warning-below", default="50.00", help="default: 50.00")
    parser.add_argument(
        "--critical-below", default=None, help="default: a fifth of --warning-below"
    )
    parser.add_argument(
        "--output", default="balancebot.toml", help="default: ./balancebot.toml, found without -c"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run_init(args: argparse.Namespace) -> None:
    """`balancebot init`; a ConfigError, ValueError or OSError is the user's to fix."""
    answers = Answers(
        account_name(args.account_name),
        currency(args.currency),
        amount(args.warning_below),
        amount(args.critical_below) if args.critical_below else None,
    )
    if not args.non_interactive and sys.stdin.isatty():
        print("A starter configuration: one account, alerts printed on the console.")
        answers = ask(answers, input)
    output = Path(args.output)
    write_starter(answers, output, args.force)
    print(f"wrote {output}")
    print("next: export DEEPSEEK_API_KEY=sk-... and run `balancebot check`", end="")
    print("" if output == Path("balancebot.toml") else f" -c {output}")
