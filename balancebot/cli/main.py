"""The `balancebot` command: its arguments. What each command does is in handlers.py, and
imports stay inside the handlers, so `check` loads only what it uses.

argparse rather than a CLI library: `check` is a process that cron or a monitoring system
starts every minute, and importing click was a tenth of its whole run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .handlers import (
    alerts,
    check,
    completion,
    db,
    demo,
    hash_password,
    history,
    init,
    mcp,
    notify_test,
    providers,
    run,
    silences,
    validate,
)

LOG_LEVELS = ("debug", "info", "warning", "error")
CHECK_FORMATS = ("text", "json", "nagios")


def _add_operate_commands(
    command: Callable[..., Any], with_config: Callable[[Any], argparse.ArgumentParser]
) -> None:
    with_config(command(alerts)).add_argument(
        "--json", dest="as_json", action="store_true", help="machine-readable output"
    )
    actions = command(silences).add_subparsers(
        dest="action", metavar="ACTION", title="actions", required=True
    )
    listing = with_config(actions.add_parser("list", help="active silences"))
    listing.add_argument("--json", dest="as_json", action="store_true")
    adding = with_config(actions.add_parser("add", help="mute for DURATION (1m to 30d)"))
    adding.add_argument("duration", metavar="DURATION", help="like 30m, 2h or 1d12h")
    adding.add_argument("--account", help="only this account (default: every account)")
    adding.add_argument("--rule", help="only this rule (default: every rule)")
    adding.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="MATCHER",
        help='only alerts whose labels match, like team="search" or severity!=critical '
        "(=, !=, =~, !~; repeat it: all must hold)",
    )
    adding.add_argument(
        "--comment", default="", help="why, shown in the list (one line, at most 500 characters)"
    )
    expiring = with_config(actions.add_parser("expire", help="end a silence now"))
    expiring.add_argument("id", metavar="ID", type=int, help="from `silences list`")


class _Version(argparse.Action):
    """Reads the installed version only when asked (package metadata is slow to import)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import version

        print(f"balancebot, version {version('balancebot')}")
        parser.exit()


def _days(text: str) -> int:
    days = int(text)
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"{days} is not in the range 1 to 3650")
    return days


def _unknown_on_usage_errors(parser: argparse.ArgumentParser) -> None:
    """`check`'s command-line errors exit 3, UNKNOWN, as the monitoring-plugin guidelines
    want (argparse's 2 would read as CRITICAL); `main` uses it for unknown options too."""

    def error(message: str) -> NoReturn:
        parser.print_usage(sys.stderr)
        parser.exit(3, f"{parser.prog}: error: {message}\n")

    parser.error = error  # type: ignore[method-assign]
    parser.set_defaults(usage_error=error)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 86400 seconds")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="balancebot",
        description="Watch LLM API balances and warn your team before they run out.",
    )
    parser.add_argument("--log-level", default="info", type=str.lower, choices=LOG_LEVELS)
    parser.add_argument(
        "--log-format",
        default="text",
        choices=("text", "json"),
        help="json: one object per line, for log shippers (default: text)",
    )
    parser.add_argument("--version", nargs=0, action=_Version, help="show the version and exit")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def command(handler: Callable[[argparse.Namespace], None], name: str = "") -> Any:
        doc = (handler.__doc__ or "").strip()
        sub = commands.add_parser(name or handler.__name__, help=doc, description=doc)
        sub.set_defaults(handler=handler)
        return sub

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "-c",
            "--config",
            dest="config_path",
            metavar="FILE",
            help="the TOML configuration (default: $BALANCEBOT_CONFIG, ./balancebot.toml, "
            "$XDG_CONFIG_HOME/balancebot/config.toml, /etc/balancebot/config.toml)",
        )
        return sub

    with_config(command(validate))
    checking = with_config(command(check))
    _unknown_on_usage_errors(checking)
    checking.add_argument(
        "--format",
        choices=CHECK_FORMATS,
        default="text",
        help="text (a table), json, or nagios (status line and performance data)",
    )
    checking.add_argument(
        "--json", dest="format", action="store_const", const="json", help="= --format json"
    )
    checking.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="for the whole run, retries and start-up included; an account not answered by "
        "then is UNKNOWN (default: the longest account `timeout`)",
    )
    checking.add_argument(
        "--outlook",
        action="store_true",
        help="also runway and today's spend per currency, from the history the daemon keeps "
        "in the store (read only; slower to start)",
    )
    with_config(command(run))
    with_config(command(notify_test, "notify-test")).add_argument(
        "--notifier",
        dest="only",
        action="append",
        default=[],
        help="only this notifier (repeatable; default: all)",
    )
    past = with_config(command(history))
    past.add_argument("--account", help="default: the first account in the config")
    past.add_argument("--days", default=30, type=_days, help="1 to 3650 (default: 30)")
    past.add_argument(
        "--plot",
        metavar="FILE",
        help="write a chart here instead of a table: .png, .svg or .pdf, as the suffix "
        "says (needs the charts extra)",
    )
    _add_operate_commands(command, with_config)
    with_config(command(mcp))
    command(providers)
    command(hash_password, "hash-password")
    with_config(command(db)).add_argument("action", choices=("status", "upgrade"))
    from .init import add_arguments  # stdlib only at import: keeps start-up fast

    add_arguments(command(init))
    shells = command(completion)
    shells.add_argument("shell", choices=("bash", "zsh", "fish"))
    shells.set_defaults(parser=parser)  # the script is made from the parser itself
    command(demo).add_argument(
        "--time-limit", default=60.0, type=float, help="seconds before giving up (default: 60)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """The command line; `argv` None: this process's own, so a command may end the process
    at once when done (`check` does), where a caller passing `argv` gets `SystemExit`."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # what parse_args says, by the command's own rules
        getattr(args, "usage_error", parser.error)(f"unrecognized arguments: {' '.join(unknown)}")
    args.whole_process = argv is None
    if "httpx" not in sys.modules:
        # httpx imports its own command-line client (click, rich, pygments: ~9 ms, ~3 MiB
        # an idle daemon would keep) whenever click is installed; balancebot never runs it
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
    from ..errors import StoreError

    try:
        args.handler(args)
    except StoreError as exc:  # one line naming the cause, from every command
        print(f"balancebot: {exc}", file=sys.stderr)
        sys.exit(1)
