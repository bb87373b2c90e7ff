"""`balancebot init`: a commented starter configuration that validates as written.

One account of any installed provider, one notifier (console, Telegram, Slack or a webhook,
its secrets read from the environment) and the rules most people want; everything else is
in `config.example.toml` and docs/configuration.md."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from .init_choices import (
    CURRENCY_OPTIONS,
    account_name,
    amount,
    chat,
    currency,
    key_variable,
    needs,
    option_value,
    provider_name,
    provider_options,
    secret_variables,
    secrets_of,
    url,
    usual,
)

T = TypeVar("T")

TEMPLATE = """\
# balancebot configuration, written by `balancebot init`.
# Check it:            balancebot validate -c {output}
# One look right now:  balancebot check -c {output}
# Run the daemon:      balancebot run -c {output}
# Every option: docs/configuration.md; more examples: config.example.toml.

[[accounts]]
name = "{account}"
provider = "{provider}"{provider_pad}# {display_name}; all installed: `balancebot providers`
# The key is read from the environment, never written here: export {key_env}=...
# (or api_key_file = "/path/to/file" to read it from a file).
api_key = "${{{key_env}}}"
{account_extra}check_interval = "5m"

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

{notifier}
[store]
path = "balancebot.db"                 # SQLite, relative to this file
"""

NOTIFIERS = {
    "console": """\
# Alerts are printed on standard output. To send them to Telegram or Slack, add a
# [[notifiers]] block (see config.example.toml) and test it with `balancebot notify-test`.
[[notifiers]]
name = "console"
type = "console"
""",
    "telegram": """\
# Try it: balancebot notify-test -c {output}
[[notifiers]]
name = "telegram"
type = "telegram"
bot_token = "${{TELEGRAM_BOT_TOKEN}}"     # from @BotFather
chat_ids = [{target}]                   # a user, a group (negative) or "@channelname"
""",
    "slack": """\
# Try it: balancebot notify-test -c {output}
[[notifiers]]
name = "slack"
type = "slack"
webhook_url = "${{SLACK_WEBHOOK_URL}}"    # an incoming webhook of your Slack app
""",
    "webhook": """\
# A signed JSON POST (schema and verification: docs/webhook.md).
# Try it: balancebot notify-test -c {output}
[[notifiers]]
name = "webhook"
type = "webhook"
urls = [{target}]
secret = "${{WEBHOOK_SECRET}}"            # 16+ characters: openssl rand -hex 32
""",
}
TARGET_QUESTIONS = {
    "telegram": "Telegram chat id (a number, or @channelname)",
    "webhook": "URL to POST alerts to",
}


@dataclass(frozen=True)
class Answers:
    account: str = "prod"
    currency: str = "CNY"
    warning_below: Decimal = Decimal("50.00")
    critical_below: Decimal | None = None  # None: a fifth of the warning limit
    provider: str = "deepseek"
    base_url: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    notifier: str = "console"
    target: str | None = None  # the Telegram chat or the webhook URL

    def render(self, output: Path) -> str:
        from ..providers.contract import provider_class

        critical = self.critical_below
        if critical is None:
            critical = (self.warning_below / 5).quantize(Decimal("0.01"))
        hysteresis = (self.warning_below / 10).quantize(Decimal("0.01"))
        target = self.target or ""
        if not re.fullmatch(r"-?\d+", target):  # a chat id is a number; the rest is text
            target = quoted(target)
        extra = f"base_url = {quoted(self.base_url)}\n" if self.base_url else ""
        options = [*self.options]
        options += [  # a secret option not given as a flag: from the environment
            (key, f"${{{key_variable(self.provider, key)}}}")
            for key in secrets_of(self.provider)
            if key not in dict(self.options)
        ]
        if options:
            pairs = ", ".join(f"{key} = {quoted(value)}" for key, value in options)
            extra += f"options = {{ {pairs} }}\n"
        return TEMPLATE.format(
            output=output,
            account=self.account,
            provider=self.provider,
            provider_pad=" " * max(1, 26 - len(self.provider)),
            display_name=provider_class(self.provider).display_name,
            key_env=key_variable(self.provider),
            account_extra=extra,
            currency=self.currency,
            warning=f"{self.warning_below:.2f}",
            critical=f"{critical:.2f}",
            hysteresis=f"{hysteresis:.2f}",
            hysteresis_pad=" " * max(1, 24 - len(f"{hysteresis:.2f}")),
            notifier=NOTIFIERS[self.notifier].format(output=output, target=target),
        )


def quoted(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text)


def notifier_name(text: str) -> str:
    name = text.strip().lower()
    if name not in NOTIFIERS:
        raise ValueError(f"{text!r} is not one of {', '.join(NOTIFIERS)}")
    return name


def ask(answers: Answers, prompt: Callable[[str], str]) -> Answers:
    """A few questions on a terminal; Enter keeps the default shown in brackets."""
    from ..plugins import PROVIDERS, available

    def question(text: str, default: str, parse: Callable[[str], T]) -> T:
        while True:
            reply = prompt(f"{text} [{default}]: " if default else f"{text}: ").strip() or default
            try:
                return parse(reply)
            except ValueError as exc:
                print(f"  {exc}")

    print(f"Installed providers: {', '.join(available(PROVIDERS))}")
    provider = question("Provider", answers.provider, provider_name)
    required, wants_url = needs(provider)
    base_url = question("Base URL of the site", answers.base_url or "", url) if wants_url else None
    given = dict(answers.options)
    options = tuple(
        (key, question(f"options.{key}", given.get(key, ""), option_value)) for key in required
    )
    if optional := provider_options(provider)[1]:
        more = question(
            f"More options, KEY=VALUE separated by spaces ({', '.join(optional)}; Enter: none)",
            "",
            lambda text: text,
        )
        options += option_pairs(more.split())
    name = question("Account name (used in alerts)", answers.account, account_name)
    default_currency = dict(options).get("currency", answers.currency or usual(provider))
    code = question("Currency of your balance", default_currency, currency)
    warning = question("Warn when the balance falls below", str(answers.warning_below), amount)
    notifier = question(f"Send alerts to ({', '.join(NOTIFIERS)})", answers.notifier, notifier_name)
    target = None
    if notifier in TARGET_QUESTIONS:
        parse = chat if notifier == "telegram" else url
        target = question(TARGET_QUESTIONS[notifier], answers.target or "", parse)
    return Answers(
        name,
        code,
        warning,
        answers.critical_below,
        provider,
        base_url,
        options,
        notifier,
        target,
    )


def complete(answers: Answers) -> Answers:
    """Without questions: what the flags leave out that the choices need, as an error."""
    if not answers.currency:
        answers = replace(answers, currency=usual(answers.provider))
    required, wants_url = needs(answers.provider)
    flags = {"base_url": "--base-url URL"} | {key: f"--option {key}=VALUE" for key in required}
    missing = [key for key in required if key not in dict(answers.options)]
    missing += ["base_url"] if wants_url and answers.base_url is None else []
    if missing:
        wanted = " ".join(flags[key] for key in missing)
        raise ValueError(f"provider {answers.provider} needs {wanted}")
    if answers.notifier in TARGET_QUESTIONS and answers.target is None:
        flag = "--telegram-chat ID" if answers.notifier == "telegram" else "--webhook-url URL"
        raise ValueError(f"notifier {answers.notifier} needs {flag}")
    given = {key for key, _ in answers.options}
    if "currency" in provider_options(answers.provider)[1] and not given & CURRENCY_OPTIONS:
        # the currency asked for is the provider's too (json needs one): without this,
        # every question was answered and then nothing written, "set exactly one of ..."
        return replace(answers, options=(*answers.options, ("currency", answers.currency)))
    return answers


def placeholder(variable: str) -> str:
    """A stand-in for a secret not set yet, that the format checks accept."""
    return "https://unset.invalid/" if variable.endswith("_URL") else "unset-0123456789abcdef"


def write_starter(answers: Answers, output: Path, force: bool) -> None:
    """Validate what would be written, then write it; never overwrite without `force`."""
    import tomllib

    from ..configure import parse_config

    text = answers.render(output)
    env = {v: os.environ.get(v) or placeholder(v) for v in secret_variables(text)}
    parse_config(tomllib.loads(text), output.parent.resolve(), {**os.environ, **env})
    refuse_overwrite(output, force)
    with open(output, "w" if force else "x", encoding="utf-8") as out:
        out.write(text)


def refuse_overwrite(output: Path, force: bool) -> None:
    if output.exists() and not force:
        raise FileExistsError(f"{output} exists; pass --force to overwrite it")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--non-interactive", action="store_true", help="ask nothing; use the flags and defaults"
    )
    parser.add_argument(
        "--provider", default="deepseek", help="an installed provider (default: deepseek)"
    )
    parser.add_argument("--base-url", default=None, help="the site, for providers without a host")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a provider option it requires (repeatable)",
    )
    parser.add_argument("--account-name", default="prod", help="default: prod")
    parser.add_argument(
        "--currency",
        help="the balance's currency (default: USD for the USD-only providers, else CNY)",
    )
    parser.add_argument("--warning-below", default="50.00", help="default: 50.00")
    parser.add_argument(
        "--critical-below", default=None, help="default: a fifth of --warning-below"
    )
    parser.add_argument(
        "--notifier",
        default="console",
        choices=list(NOTIFIERS),
        help="where alerts go (default: console)",
    )
    parser.add_argument("--telegram-chat", default=None, help="with --notifier telegram")
    parser.add_argument("--webhook-url", default=None, help="with --notifier webhook")
    parser.add_argument(
        "--output",
        default="balancebot.toml",
        metavar="FILE",
        help="default: ./balancebot.toml, found without -c",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def option_pairs(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    found = []
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--option {pair!r}: write KEY=VALUE")
        found.append((key.strip(), value.strip()))
    return tuple(found)


def run_init(args: argparse.Namespace) -> None:
    """`balancebot init`; a ConfigError, ValueError or OSError is the user's to fix."""
    output = Path(args.output)
    refuse_overwrite(output, args.force)  # before any question, not after them all
    answers = Answers(
        account_name(args.account_name),
        currency(args.currency) if args.currency else "",  # "": the provider's usual
        amount(args.warning_below),
        amount(args.critical_below) if args.critical_below else None,
        provider_name(args.provider),
        url(args.base_url) if args.base_url else None,
        option_pairs(args.option),
        args.notifier,
        chat(args.telegram_chat)
        if args.telegram_chat
        else url(args.webhook_url)
        if args.webhook_url
        else None,
    )
    if not args.non_interactive and sys.stdin.isatty():
        print("A starter configuration: one account and where its alerts go.")
        answers = ask(answers, input)
    write_starter(complete(answers), output, args.force)
    print(f"wrote {output}")
    command = "balancebot check" + ("" if output == Path("balancebot.toml") else f" -c {output}")
    secrets = " and ".join(secret_variables(output.read_text(encoding="utf-8")))
    print(f"next: set {secrets} in the environment and run `{command}`")
