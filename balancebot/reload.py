"""SIGHUP: the running daemon takes a new configuration, as Prometheus and Alertmanager do.

The file is read and validated first, with the loader `run` started with; on an error the
running configuration stays and one line says why. Otherwise everything built from the
configuration follows it without a restart: accounts (their scheduler jobs, or their rows
in the replicas' shared schedule), rules, routes, notifiers, quiet hours, the digest, the
heartbeat. What the checks remember (`memory.py`: alert states, what each route was told)
is kept for every account the new file still lists, so nothing is sent again.

A few settings are bound to what the process opened at start (the store, the `[http]`
server, the chat front-ends and the notifiers they share a bot with, the time zone): a
change to them is said in one line and waits for a restart; the running values stay.
`balancebot_config_last_reload_successful` and `..._success_timestamp_seconds` say how the
last load went.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import msgspec

from .commands.access import Access
from .config import Config, NotifierConfig
from .configure import config_secrets
from .daemon import Daemon, firing_keys, notified_chats
from .errors import ConfigError
from .heartbeat import Heartbeat
from .i18n import activate
from .notifiers import Notifier, close_all, notifier_class
from .providers.aio import build_providers
from .redact import install, safe_message
from .scheduler import follow

log = logging.getLogger(__name__)

RESTART_ONLY = ("store", "http", "chat", "mcp", "timezone")
"""Top-level settings a running daemon keeps until it is restarted."""

RELOAD_TIMEOUT = 60.0
"""Seconds a reload may take (notifiers starting, the store answering) before it gives up."""


def shared_notifiers(config: Config) -> set[str]:
    """The notifiers whose bot a chat front-end shares (`notifier = "..."` in `[chat.*]`)."""
    chat = config.chat
    names = {f.notifier for f in (chat.telegram, chat.slack) if f is not None}
    names |= {section["notifier"] for section in chat.frontends.values() if "notifier" in section}
    return names


def restart_only(old: Config, new: Config) -> tuple[Config, list[str]]:
    """`new`, but with the settings only a restart changes as they run now; and what those
    were (for the one line that says so)."""
    waiting = [f"[{name}]" for name in RESTART_ONLY if getattr(old, name) != getattr(new, name)]
    before: dict[str, NotifierConfig] = {n.name: n for n in old.notifiers}
    after: dict[str, NotifierConfig] = {n.name: n for n in new.notifiers}
    pinned = sorted(n for n in shared_notifiers(old) if before.get(n) != after.get(n))
    waiting += [f"notifier {name!r} (a chat front-end shares its bot)" for name in pinned]
    notifiers = [before[n.name] if n.name in pinned else n for n in new.notifiers]
    notifiers += [before[name] for name in pinned if name not in after]
    kept = {name: getattr(old, name) for name in RESTART_ONLY}
    return msgspec.structs.replace(new, notifiers=notifiers, **kept), waiting


async def reload_config(daemon: Daemon, load: Callable[[], Config]) -> bool:
    """Read the file again and apply it; False (said in one line) when the running
    configuration stays. Nothing escapes: a reload never stops the daemon."""
    async with daemon.reloading:
        try:
            new = load()
        except ConfigError as exc:
            said = "; ".join(line.strip() for line in exc.problems)
            return _failed(daemon, f"{said} — fix the file and send SIGHUP again")
        except Exception as exc:  # the loader's bug: still one line
            return _failed(daemon, f"{type(exc).__name__}: {exc}")
        new, waiting = restart_only(daemon.config, new)
        if waiting:
            log.warning(
                "SIGHUP: %s change(s) only with a restart; the running settings stay",
                ", ".join(waiting),
            )
        old = daemon.config
        try:
            async with asyncio.timeout(RELOAD_TIMEOUT):
                notifiers = await _start_notifiers(daemon, new)
                await _apply(daemon, new, notifiers)
        except Exception as exc:  # a notifier that cannot start, the store down
            return _failed(daemon, f"{type(exc).__name__}: {exc}")
        daemon.metrics.config_loaded(True, daemon.clock.now())
        added = len({a.name for a in new.accounts} - {a.name for a in old.accounts})
        removed = len({a.name for a in old.accounts} - {a.name for a in new.accounts})
        log.info(
            "SIGHUP: configuration reloaded: %d account(s) (%d added, %d removed), "
            "%d rule(s), notifiers: %s",
            len(new.accounts),
            added,
            removed,
            len(new.rules),
            ", ".join(daemon.notifiers) or "none",
        )
        return True


def _failed(daemon: Daemon, why: str) -> bool:
    log.error(
        "SIGHUP: configuration not reloaded, the running one stays: %s",
        " ".join(safe_message(why).split()),
    )
    daemon.metrics.config_loaded(False, daemon.clock.now())
    return False


async def _start_notifiers(daemon: Daemon, new: Config) -> dict[str, Notifier]:
    """The notifiers `new` adds or changes, built and started before anything changes:
    if one cannot start, the reload fails and the running ones are untouched."""
    before: dict[str, NotifierConfig] = {n.name: n for n in daemon.config.notifiers}
    fresh: dict[str, Notifier] = {}
    try:
        for n in new.notifiers:
            if before.get(n.name) == n and n.name in daemon.notifiers:
                continue
            fresh[n.name] = notifier_class(n.type).from_options(n.name, n.options, daemon.clock)
            await fresh[n.name].start()
    except BaseException:
        await close_all(fresh)
        raise
    return fresh


async def _apply(daemon: Daemon, new: Config, fresh: dict[str, Notifier]) -> None:
    old, notifiers = daemon.config, daemon.notifiers
    names = {n.name for n in new.notifiers}
    replaced = {name: n for name, n in notifiers.items() if name in fresh or name not in names}
    for name in replaced:
        del notifiers[name]
    notifiers.update(fresh)  # in place: the dispatcher and the self alerts read this dict
    memory = daemon.pipeline.memory
    for notifier in fresh.values():
        notifier.watch(lambda: firing_keys(memory.states()))
    daemon.dispatcher.notifiers_changed()
    assert daemon.http is not None
    providers = build_providers(new, daemon.http, daemon.clock)
    targets = {name: notifier.targets() for name, notifier in notifiers.items()}
    daemon.pipeline.reconfigure(new, providers, targets)
    daemon.commands.reconfigure(new, Access(new, notified_chats(new, notifiers)))
    if daemon.server is not None:
        daemon.server.reconfigure(new)
    if daemon.mcp is not None:
        daemon.mcp.reconfigure(new)
    accounts = [a.name for a in new.accounts]
    if (old.heartbeat, [a.name for a in old.accounts]) != (new.heartbeat, accounts):
        if daemon.heartbeat is not None:
            await daemon.heartbeat.close()
        daemon.heartbeat = None if new.heartbeat is None else Heartbeat(new.heartbeat, accounts)
    if daemon.sweep is not None:
        await daemon.sweep.reconfigure(new)
    if daemon.store.shared:
        await daemon.store.rename(f"balancebot/{new.fingerprint()}")
    if daemon.scheduler is not None:
        health = daemon.pipeline.health
        swept = daemon.sweep is not None
        follow(daemon.scheduler, old, new, daemon.check, daemon.send_digest, health, swept)
    daemon.config = new
    install(config_secrets(new))  # new secrets are masked in every log line too
    activate(new.language)
    await close_all(replaced)
