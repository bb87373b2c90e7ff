"""What each `balancebot` command does once main.py has parsed its arguments: set up
logging, load the configuration, call the module that does the work (imported only then, so
`check` loads only what it uses), print, and exit with the command's code.

A handler's docstring is its `--help` line; its name is the command's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, NoReturn

# no `import asyncio` up here: `check` runs without an event loop, and each command that
# needs one imports it

if TYPE_CHECKING:
    from ..config import Config

EXIT_CONFIG_ERROR = 2
EXIT_UNKNOWN = 3  # what `check` says when it cannot give a verdict (monitoring-plugin rules)


def _configure_logging(args: argparse.Namespace, quiet_default: str | None = None) -> None:
    """`quiet_default`: the level a command uses when the user left `--log-level` at info."""
    from ..logs import configure

    level = quiet_default if quiet_default and args.log_level == "info" else args.log_level
    configure(level, args.log_format)


def _load(
    args: argparse.Namespace,
    notifiers: Collection[str] | None = None,
    fail: Callable[[Exception], NoReturn] | None = None,
    keys: bool = True,
) -> Config:
    """Load or `fail` (default: exit 2); secrets are masked in every log line from here on.

    `notifiers`: the ones the command builds (None: all); only their secrets are needed.
    `keys=False`: the accounts' keys are not needed either (the command checks nothing)."""
    import logging

    from ..config.locate import find_config
    from ..configure import config_secrets, load_config
    from ..errors import ConfigError
    from ..redact import install

    try:
        path, found_by = find_config(args.config_path)
        config = load_config(path, notifiers=notifiers, keys=keys)
    except ConfigError as exc:
        (fail or _fail_config)(exc)
    if found_by != "-c":
        logging.getLogger("balancebot").info("configuration: %s (%s)", path.resolve(), found_by)
    args.config_path = str(path)
    install(config_secrets(config))
    from ..i18n import activate

    activate(config.language)
    return config


def _fail_config(exc: Exception) -> NoReturn:
    print(f"balancebot: {exc}", file=sys.stderr)
    sys.exit(EXIT_CONFIG_ERROR)


def validate(args: argparse.Namespace) -> None:
    """Check a configuration without touching the network."""
    _configure_logging(args, quiet_default="warning")
    config = _load(args)
    missing = config.store.missing_directory()  # what `run` would find: no network needed
    if missing is not None:
        from ..errors import ConfigError

        _fail_config(ConfigError([missing]))
    print(
        f"{args.config_path}: OK — {len(config.accounts)} account(s), {len(config.rules)} "
        f"rule(s), notifiers: {', '.join(n.name for n in config.notifiers)}"
    )


def check(args: argparse.Namespace) -> None:
    """Check every account once; exit 0 OK, 1 warning, 2 critical, 3 unknown."""
    try:
        _check(args)
    except (Exception, KeyboardInterrupt) as exc:  # whatever it is: one line, UNKNOWN
        from ..redact import safe_message

        reason = " ".join(safe_message(f"{type(exc).__name__}: {exc}").split())
        _unknown(args, f"internal error: {reason}")


def _unknown(args: argparse.Namespace, reason: str) -> NoReturn:
    """One line: on stdout as a plugin status for Nagios, else on stderr."""
    if args.format == "nagios":
        print(f"BALANCE UNKNOWN - {reason}")
    else:
        print(f"balancebot: {reason}", file=sys.stderr)
    sys.exit(EXIT_UNKNOWN)


def _check(args: argparse.Namespace) -> None:
    """No event loop here (asyncio is imported only for `--outlook`'s store): see check.py."""
    _configure_logging(args, quiet_default="error")

    def fail(exc: Exception) -> NoReturn:
        first, *rest = str(exc).splitlines()
        _unknown(args, " ".join([first, "; ".join(line.strip() for line in rest)]).strip())

    config = _load(args, notifiers=(), fail=fail)  # keeps Slack/Telegram unimported
    from ..providers.engine import Deadline
    from . import check as oneshot

    seconds = args.timeout if args.timeout is not None else oneshot.default_timeout(config)
    deadline = Deadline(oneshot.process_started() + seconds, seconds)
    trust = None
    if oneshot.may_need_tls(config):  # parsed on a thread while the providers load
        from ..tls import load_in_background

        trust = load_in_background().result
    reports = oneshot.check_all(config, deadline, trust)
    if args.outlook:
        import asyncio

        outlooks = asyncio.run(oneshot.outlooks(config, reports, deadline))
        reports = [oneshot.with_outlook(r, outlooks.get(r.result.account)) for r in reports]
    if args.format == "json":
        import json

        print(json.dumps(oneshot.as_json(reports), indent=2))
    elif args.format == "nagios":
        print(oneshot.as_nagios(config, reports))
    else:
        print(oneshot.as_table(reports))
    code = int(oneshot.overall(reports))
    if args.whole_process:
        _exit_at_once(code)
    sys.exit(code)


def _exit_at_once(code: int) -> NoReturn:
    """Exit without the interpreter's teardown, which frees every module and object one by
    one: a fifth of a `check` process. What was printed is flushed first; nothing else is
    left to do (the threads of accounts past the deadline are abandoned either way)."""
    import logging
    import os

    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away (a closed pipe): nothing more can be said
        pass
    os._exit(code)


def run(args: argparse.Namespace) -> None:
    """Run the daemon: scheduled checks, alerts and deliveries until SIGINT/SIGTERM."""
    _configure_logging(args)
    config = _load(args)
    from ..configure import load_config
    from ..errors import BalanceBotError
    from ..process import run_process

    path = args.config_path  # found once: SIGHUP reads the same file again
    try:
        run_process(config, lambda: load_config(path))
    except BalanceBotError as exc:
        print(f"balancebot: {exc}", file=sys.stderr)
        sys.exit(1)


def notify_test(args: argparse.Namespace) -> None:
    """Send a test message through each notifier, to check tokens and channel ids."""
    _configure_logging(args, quiet_default="warning")
    only = tuple(args.only)
    config = _load(args, notifiers=only or None)  # an unknown name is a config error
    import asyncio

    from .notify_test import send_test_messages

    outcomes = asyncio.run(send_test_messages(config, only))
    for outcome in outcomes:
        print(outcome.line())
    sys.exit(0 if all(o.error is None for o in outcomes) else 1)


def history(args: argparse.Namespace) -> None:
    """Balance history from the store: a table (one row per hour), or a chart."""
    _configure_logging(args, quiet_default="warning")
    from .history import history_chart, history_table, plot_format

    try:  # before anything is read: the file would be of the wrong kind
        image_format = None if args.plot is None else plot_format(args.plot)
    except ValueError as exc:
        _fail_config(exc)
    config = _load(args, notifiers=())
    name = args.account or config.accounts[0].name
    if name not in {a.name for a in config.accounts}:
        names = ", ".join(repr(a.name) for a in config.accounts)
        _fail_config(Exception(f"no account named {name!r} (configured: {names})"))
    import asyncio

    from ..errors import BalanceBotError

    try:  # also StoreError: `history` reads a store, it never creates one
        if image_format is None:
            print(asyncio.run(history_table(config, name, args.days)))
            return
        image = asyncio.run(history_chart(config, name, args.days, image_format))
    except BalanceBotError as exc:  # ChartsUnavailable, NoHistory ("no data yet") too
        print(f"balancebot: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        with open(args.plot, "wb") as out:
            out.write(image)
    except OSError as exc:
        from pathlib import Path

        where = Path(args.plot).parent
        why = f"{where} does not exist" if not where.is_dir() else exc.strerror
        print(f"balancebot: cannot write {args.plot}: {why} — choose another path", file=sys.stderr)
        sys.exit(1)
    print(f"wrote {args.plot} ({len(image) // 1024} KiB)")


def mcp(args: argparse.Namespace) -> None:
    """Serve balances, alerts and history to an AI assistant over MCP (stdio)."""
    _configure_logging(args, quiet_default="warning")  # on stderr: stdout is the protocol's

    def fail(exc: Exception) -> NoReturn:  # one line: a client's log may show only that
        first, *rest = str(exc).splitlines()
        _fail_config(Exception(" ".join([first, "; ".join(line.strip() for line in rest)])))

    config = _load(args, notifiers=(), fail=fail, keys=False)  # no key or token needed
    from .alerts_and_silences import existing_store

    url = existing_store(config)  # a StoreError (one line, exit 1) before the slow imports
    try:
        from ..mcp.stdio import serve_stdio  # the SDK: the `mcp` extra
    except ImportError as exc:
        if exc.name is None or exc.name.partition(".")[0] not in ("mcp", "mcp_types"):
            raise
        print(
            "balancebot: `balancebot mcp` needs the MCP SDK: pip install 'balancebot[mcp]'",
            file=sys.stderr,
        )
        sys.exit(1)
    import asyncio

    from ..errors import BalanceBotError

    try:
        asyncio.run(serve_stdio(config, url))
    except BalanceBotError as exc:  # StoreError too: an old schema, an unreachable server
        print(f"balancebot: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:  # Ctrl-C on a terminal: a client closes stdin instead
        sys.exit(130)


def demo(args: argparse.Namespace) -> None:
    """Watch a simulated account drain, alert, escalate and recover. No credentials needed."""
    _configure_logging(args, quiet_default="warning")
    import asyncio

    try:
        from .demo import run_demo

        shown = asyncio.run(run_demo(args.time_limit))
    except KeyboardInterrupt:  # Ctrl-C while starting, before the demo handles it itself
        print("\nDemo stopped (interrupted).", flush=True)
        shown = False
    sys.exit(0 if shown else 1)


# --- alerts and silences: the chat command layer from a terminal (cli/alerts_and_silences.py) --


def alerts(args: argparse.Namespace) -> None:
    """Current alerts from the store (what /alerts shows): table or --json."""
    _operate(args, lambda op: op.alerts(args.as_json))


def silences(args: argparse.Namespace) -> None:
    """List, add or expire silences (what /mute and /unmute change), without the daemon."""
    if args.action == "add":
        _operate(
            args,
            lambda op: op.add(args.duration, args.account, args.rule, args.comment, args.match),
        )
    elif args.action == "expire":
        _operate(args, lambda op: op.expire(args.id))
    else:
        _operate(args, lambda op: op.list_silences(args.as_json))


def _operate(args: argparse.Namespace, work: Callable[[Any], Any]) -> None:
    """Exit 0 done, 1 store missing/unreachable or no such silence, 2 bad config/arguments."""
    _configure_logging(args, quiet_default="warning")
    config = _load(args, notifiers=())
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from ..commands.alerting import UsageError
    from ..errors import StoreError
    from ..store import Store
    from .alerts_and_silences import Operator, existing_store

    async def go(url: str) -> str:
        store = await Store.open(url, migrate=False)
        try:
            return str(await work(Operator(config, store)))
        finally:
            await store.close()

    try:
        print(asyncio.run(go(existing_store(config))))
    except UsageError as exc:
        _fail_config(exc)
    except (StoreError, LookupError, SQLAlchemyError, OSError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]  # SQLAlchemy adds lines
        prefix = "" if isinstance(exc, StoreError | LookupError) else "the store failed: "
        print(f"balancebot: {prefix}{first}", file=sys.stderr)
        sys.exit(1)


def db(args: argparse.Namespace) -> None:
    """The store's schema: `status` (exit 1 if an upgrade is due) or `upgrade`."""
    _configure_logging(args, quiet_default="warning")
    config = _load(args, notifiers=())
    import asyncio

    from ..errors import StoreError
    from . import db as schema

    url = config.store.database_url
    try:
        if args.action == "upgrade":
            print(asyncio.run(schema.upgrade(url)))
            return
        found = asyncio.run(schema.schema_status(url))
    except StoreError as exc:
        print(f"balancebot: {exc}", file=sys.stderr)
        sys.exit(1)
    print(schema.describe(found))
    sys.exit(0 if found.up_to_date else 1)


def providers(args: argparse.Namespace) -> None:
    """List the installed providers and what each needs (which key, which host, options)."""
    from .providers import providers_table

    print(providers_table())


def init(args: argparse.Namespace) -> None:
    """Write a commented starter configuration; asks a few questions on a terminal."""
    from ..errors import ConfigError
    from .init import run_init

    try:
        run_init(args)
    except (ConfigError, ValueError, OSError) as exc:
        _fail_config(exc)


def completion(args: argparse.Namespace) -> None:
    """Print a shell completion script: `source <(balancebot completion bash)`, zsh or fish."""
    from .completion import script

    sys.stdout.write(script(args.parser, args.shell))


def hash_password(args: argparse.Namespace) -> None:
    """Print the hash of a status-page password for [http] status_password_hash (the
    password is asked twice on a terminal, else read from the first line of stdin)."""
    import getpass

    from ..config.status_access import hash_password as scrypt_hash

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("balancebot: the two passwords differ; nothing hashed", file=sys.stderr)
            sys.exit(1)
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not password:
        print("balancebot: an empty password; nothing hashed", file=sys.stderr)
        sys.exit(1)
    print(scrypt_hash(password))
