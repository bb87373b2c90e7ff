"""The `balancebot` command. Imports stay inside commands, so `check` loads only what it uses."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from .config import Config

EXIT_CONFIG_ERROR = 2

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Path to the TOML configuration.",
)


def _configure_logging(level: str) -> None:
    from .logs import configure

    configure(level, click.get_current_context().find_root().params.get("log_format", "text"))


def _load(config_path: str, with_notifiers: bool = True) -> Config:
    """Load or exit 2; secrets are masked in every log line from here on."""
    from .config import load_config
    from .errors import ConfigError
    from .plugins import config_secrets
    from .redact import install

    try:
        config = load_config(config_path, with_notifiers=with_notifiers)
    except ConfigError as exc:
        _fail_config(exc)
    install(config_secrets(config, with_notifiers))
    from .i18n import activate

    activate(config.language)
    return config


def _fail_config(exc: Exception) -> NoReturn:
    click.echo(f"balancebot: {exc}", err=True)
    sys.exit(EXIT_CONFIG_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    default="info",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    show_default=True,
)
@click.option(
    "--log-format",
    default="text",
    type=click.Choice(["text", "json"]),
    show_default=True,
    help="json: one object per line, for log shippers.",
)
@click.version_option(package_name="balancebot")
@click.pass_context
def main(ctx: click.Context, log_level: str, log_format: str) -> None:
    """Watch DeepSeek API balances and warn your team before they run out."""
    ctx.obj = log_level


@main.command()
@config_option
def validate(config_path: str) -> None:
    """Check a configuration without touching the network."""
    config = _load(config_path)
    click.echo(
        f"{config_path}: OK — {len(config.accounts)} account(s), {len(config.rules)} rule(s), "
        f"notifiers: {', '.join(n.name for n in config.notifiers)}"
    )


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def check(log_level: str, config_path: str, as_json: bool) -> None:
    """Check every account once; exit 0 OK, 1 warning, 2 critical, 3 unknown."""
    _configure_logging("error" if log_level == "info" else log_level)
    config = _load(config_path, with_notifiers=False)  # keeps Slack/Telegram unimported
    from . import oneshot

    reports = asyncio.run(oneshot.check_all(config))
    if as_json:
        click.echo(json.dumps(oneshot.as_json(reports), indent=2))
    else:
        click.echo(oneshot.as_table(reports))
    sys.exit(int(oneshot.overall(reports)))


@main.command()
@config_option
@click.pass_obj
def run(log_level: str, config_path: str) -> None:
    """Run the daemon: scheduled checks, alerts and deliveries until SIGINT/SIGTERM."""
    _configure_logging(log_level)
    config = _load(config_path)
    from .daemon import Daemon
    from .errors import BalanceBotError

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Daemon.open(config) as daemon:
            await daemon.serve(stop)

    try:
        asyncio.run(serve())
    except BalanceBotError as exc:
        click.echo(f"balancebot: {exc}", err=True)
        sys.exit(1)


@main.command("notify-test")
@config_option
@click.option(
    "--notifier", "only", multiple=True, help="Only this notifier (repeatable). Default: all."
)
@click.pass_obj
def notify_test(log_level: str, config_path: str, only: tuple[str, ...]) -> None:
    """Send a test message through each notifier, to check tokens and channel ids."""
    _configure_logging("warning" if log_level == "info" else log_level)
    config = _load(config_path)
    unknown = sorted(set(only) - {n.name for n in config.notifiers})
    if unknown:
        _fail_config(Exception(f"no notifier named {', '.join(map(repr, unknown))}"))
    from .notifytest import send_test_messages

    outcomes = asyncio.run(send_test_messages(config, only))
    for outcome in outcomes:
        click.echo(outcome.line())
    sys.exit(0 if all(o.error is None for o in outcomes) else 1)


@main.command()
@config_option
@click.option("--account", help="Default: the first account in the config.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650))
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, writable=True),
    help="Write a PNG chart here (needs the charts extra) instead of printing a table.",
)
@click.pass_obj
def history(
    log_level: str, config_path: str, account: str | None, days: int, plot: str | None
) -> None:
    """Balance history from the store: a table (one row per hour), or a chart."""
    _configure_logging("warning" if log_level == "info" else log_level)
    config = _load(config_path)
    name = account or config.accounts[0].name
    if name not in {a.name for a in config.accounts}:
        _fail_config(Exception(f"no account named {name!r}"))
    from .history import history_png, history_table

    if plot is None:
        click.echo(asyncio.run(history_table(config, name, days)))
        return
    from .charts import ChartsUnavailable

    try:
        image = asyncio.run(history_png(config, name, days))
    except ChartsUnavailable as exc:
        click.echo(f"balancebot: {exc}", err=True)
        sys.exit(1)
    with open(plot, "wb") as out:
        out.write(image)
    click.echo(f"wrote {plot} ({len(image) // 1024} KiB)")


@main.command()
@click.option("--time-limit", default=60.0, show_default=True, help="Seconds before giving up.")
@click.pass_obj
def demo(log_level: str, time_limit: float) -> None:
    """Watch a simulated account drain, alert, escalate and recover. No credentials needed."""
    _configure_logging("warning" if log_level == "info" else log_level)
    from .demo import run_demo

    shown = asyncio.run(run_demo(time_limit))
    sys.exit(0 if shown else 1)
