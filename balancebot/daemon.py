"""`balancebot run`: every part in one event loop, started and stopped in order."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .checks import CheckPipeline
from .clock import Clock, SystemClock
from .commands import Commands
from .commands.access import Access
from .config import Config
from .delivery import Dispatcher
from .digest import build_digest
from .frontends import FrontEnd, FrontEndContext, FrontEndStatus, frontend_class
from .heartbeat import Heartbeat
from .httpserver import quiet_accept_errors, raise_descriptor_limit
from .i18n import activate
from .leader import Leadership
from .memory import AccountMemory
from .metrics import Metrics
from .models import AlertKey, AlertState, AlertStatus
from .notifiers import Notifier, close_all, notifier_class
from .ops_http import OpsServer
from .plugins import FRONTENDS, available
from .providers.aio import build_providers, http_client
from .scheduler import build_scheduler
from .silences import release_loop
from .store import Store
from .sweep import SharedSweep

if TYPE_CHECKING:
    from .mcp.http import McpEndpoint

log = logging.getLogger(__name__)


def build_notifiers(config: Config, clock: Clock) -> dict[str, Notifier]:
    return {
        n.name: notifier_class(n.type).from_options(n.name, n.options, clock)
        for n in config.notifiers
    }


def firing_keys(states: Mapping[AlertKey, AlertState]) -> set[AlertKey]:
    return {key for key, state in states.items() if state.status is AlertStatus.FIRING}


def build_front_ends(context: FrontEndContext) -> list[FrontEnd]:
    """The chat front-ends the config has a `[chat.<name>]` section for, found through
    `balancebot.frontends` entry points and imported only when used."""
    return [
        frontend_class(name).build(context)
        for name in available(FRONTENDS)
        if getattr(context.config.chat, name, None) is not None
        or name in context.config.chat.frontends
    ]


def notified_chats(config: Config, notifiers: Mapping[str, Notifier]) -> dict[str, list[str]]:
    """The chats each front-end's bot notifies: allowed to ask when no rule says otherwise.
    A plugin front-end's section names its notifier the same way: `notifier = "..."`."""
    chats: dict[str, list[str]] = {}
    for platform, front_end in (("telegram", config.chat.telegram), ("slack", config.chat.slack)):
        if front_end is not None and front_end.notifier in notifiers:
            chats[platform] = notifiers[front_end.notifier].targets()
    for platform, section in config.chat.frontends.items():
        if section.get("notifier") in notifiers:
            chats[platform] = notifiers[section["notifier"]].targets()
    return chats


def front_end_statuses(front_ends: list[FrontEnd]) -> Callable[[], dict[str, FrontEndStatus]]:
    return lambda: {f.name: f.status for f in front_ends}


@dataclass
class Daemon:
    config: Config
    store: Store
    pipeline: CheckPipeline
    dispatcher: Dispatcher
    notifiers: dict[str, Notifier]
    """Changed in place by a reload: the dispatcher and self alerts share this dict."""
    commands: Commands
    front_ends: list[FrontEnd]
    metrics: Metrics
    server: OpsServer | None
    clock: Clock
    heartbeat: Heartbeat | None = None
    sweep: SharedSweep | None = None
    """With a shared (PostgreSQL) store: checks claimed from it, so replicas split them."""
    leadership: Leadership | None = None
    """With a shared store: the one replica that sends digests and tidies history."""
    http: httpx.AsyncClient | None = None
    """The providers' client (a reload builds new providers on it)."""
    scheduler: AsyncIOScheduler | None = None
    """Set while serving (a reload changes its jobs)."""
    reloading: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    """One reload at a time."""
    mcp: McpEndpoint | None = None
    """`/mcp` on the server, with `[mcp] http = true`."""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        config: Config,
        clock: Clock | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> AsyncIterator[Daemon]:
        clock = clock or SystemClock()
        activate(config.language)
        store = await Store.open(
            config.store.database_url,
            exclusive=True,
            application_name=f"balancebot/{config.fingerprint()}",  # replicas compare these
        )
        http = http_client(config)
        notifiers = dict(notifiers) if notifiers is not None else build_notifiers(config, clock)
        front_ends: list[FrontEnd] = []
        daemon: Daemon | None = None
        pipeline: CheckPipeline | None = None
        sweep: SharedSweep | None = None
        heartbeat = (
            Heartbeat(config.heartbeat, (a.name for a in config.accounts))
            if config.heartbeat is not None
            else None
        )
        try:
            for notifier in notifiers.values():
                await notifier.start()
            metrics = Metrics()
            dispatcher = Dispatcher(store, notifiers, clock, metrics=metrics)
            dispatcher.zone = config.zone
            pipeline = CheckPipeline(
                config,
                store,
                build_providers(config, http, clock),
                {name: notifier.targets() for name, notifier in notifiers.items()},
                clock,
                dispatcher.wake,
                metrics=metrics,
            )
            pipeline.unrecorded.send = dispatcher.self_alerts.send  # the store down: still tell
            await pipeline.load()
            memory = pipeline.memory
            metrics.watch_alerts(memory.states)
            for notifier in notifiers.values():
                notifier.watch(lambda: firing_keys(memory.states()))
            server = (
                OpsServer(config, metrics, store, memory, clock) if config.http.enabled else None
            )
            access = Access(config, notified_chats(config, notifiers))
            commands = Commands(config, memory, pipeline, store, dispatcher, access, clock, metrics)
            front_ends = build_front_ends(
                FrontEndContext(config, commands, notifiers, clock, server)
            )
            statuses = front_end_statuses(front_ends)
            metrics.watch_front_ends(statuses)
            commands.front_ends = statuses
            if server is not None:
                server.front_ends = statuses
                if server.status is not None:
                    server.status.checker = pipeline
            mcp = None
            if server is not None and config.mcp.http:
                from .mcp.http import daemon_endpoint  # the MCP SDK, only when serving it

                mcp = daemon_endpoint(config, store, pipeline, dispatcher, clock)
                mcp.attach(server.app)
            leadership = None
            if store.shared:
                sweep = SharedSweep(
                    config, store, pipeline, clock, dispatcher.owner, live=dispatcher.alive
                )
                await sweep.register()
                leadership = Leadership(store.url)
            daemon = cls(
                config,
                store,
                pipeline,
                dispatcher,
                notifiers,
                commands,
                front_ends,
                metrics,
                server,
                clock,
                heartbeat,
                sweep,
                leadership,
                http,
                mcp=mcp,
            )
            metrics.config_loaded(True, clock.now())
            metrics.watch_role(
                lambda: daemon.leading, lambda: "store" not in store.health.problems()
            )
            if sweep is not None:
                sweep.on_checked = daemon.observe
            if leadership is not None:
                leadership.on_change = daemon.lead
            yield daemon
        finally:
            if daemon is not None:
                heartbeat = daemon.heartbeat  # a reload may have replaced it
            if sweep is not None:
                await sweep.stop()  # a no-op once serve() stopped it
            if pipeline is not None:
                await pipeline.abandon_in_flight()
            if heartbeat is not None:
                await heartbeat.close()
            for front_end in front_ends:
                await front_end.stop()  # a no-op for those serve() stopped
            await close_all(notifiers)
            await http.aclose()
            await store.close()

    async def serve(self, stop: asyncio.Event) -> None:
        """Check on schedule and deliver until `stop` is set; undelivered rows stay queued.
        Chat front-ends connect in the background: a chat service never gates checks."""
        log.debug("descriptor limit: %d", raise_descriptor_limit())
        quiet_accept_errors(asyncio.get_running_loop())
        async with contextlib.AsyncExitStack() as stack:
            if self.mcp is not None:  # outlives the server: no request finds it stopped
                await stack.enter_async_context(self.mcp.running())
            try:
                if self.server is not None:
                    await self.server.serve()
                await self._serve(stop)
            except BaseExceptionGroup as failed:  # one loop's failure, as itself (one line)
                if len(failed.exceptions) != 1:
                    raise
                raise failed.exceptions[0] from None
            finally:
                if self.server is not None:
                    await self.server.stop()

    async def check(self, account: str) -> None:
        """One scheduled check (nothing escapes it); a round of good ones beats the
        heartbeat, if configured. Only a result taken by this check counts."""
        started = self.clock.now()
        await self.pipeline.scheduled_check(account)
        self.observe(account, started)

    def observe(self, account: str, started: datetime) -> None:
        """A check of `account` begun at `started` has ended (here or in the shared sweep)."""
        latest = self.memory.latest(account)
        if self.heartbeat is not None and latest is not None and latest.taken_at >= started:
            self.heartbeat.observe(latest)

    async def lead(self, leading: bool) -> None:
        """Leadership won or lost: the once-per-deployment jobs follow it (`leading`), and so
        do the front-ends that allow one consumer only (Telegram polling)."""
        log.info(
            "this replica %s the digest, housekeeping and single-consumer front-ends",
            "now runs" if leading else "stops",
        )
        for front_end in self.front_ends:
            if front_end.single_consumer:
                if leading:
                    front_end.start()
                else:
                    await front_end.stop()

    @property
    def memory(self) -> AccountMemory:
        """What the checks found, per account: the read model for every reader."""
        return self.pipeline.memory

    @property
    def leading(self) -> bool:
        """Whether this process does the once-per-deployment jobs (always, on SQLite)."""
        return self.leadership is None or self.leadership.is_leader

    async def send_digest(self) -> None:
        if not self.leading:
            return
        now = self.clock.now()
        targets = {name: notifier.targets() for name, notifier in self.notifiers.items()}
        entries = await build_digest(self.config, self.store, targets, now)
        await self.store.enqueue(entries, now)
        self.dispatcher.wake()
        log.info("digest queued for %d target(s)", len(entries))

    async def housekeeping(self) -> None:
        """Downsample old history so a year of checks stays small and charts stay fast."""
        if not self.leading:
            return
        store = self.config.store
        removed = await self.store.downsample(
            self.clock.now() - store.keep_full_resolution, store.downsample_to
        )
        if removed:
            log.info("housekeeping: downsampled %d old snapshots", removed)

    async def _serve(self, stop: asyncio.Event) -> None:
        scheduler = self.scheduler = build_scheduler(
            self.config,
            self.pipeline,
            self.housekeeping,
            self.send_digest,
            self.check,
            self.sweep,
        )
        try:
            await self._run_loops(scheduler, stop)
        finally:
            log.info("balancebot stopped")

    async def _run_loops(self, scheduler: AsyncIOScheduler, stop: asyncio.Event) -> None:
        release = release_loop(
            self.pipeline,
            self.store,
            self.clock,
            ZoneInfo(self.config.timezone),
            self.dispatcher.wake,
            stop,
            lambda: self.leading,
            lambda: self.config,
        )
        # the loops end once `stop` is set; leaving the group waits for them (one that
        # fails stops the daemon, rather than leaving it running without it)
        async with asyncio.TaskGroup() as loops:
            loops.create_task(self.dispatcher.run(stop), name="dispatcher")
            if self.leadership is not None:
                loops.create_task(self.leadership.run(stop), name="leader election")
            loops.create_task(release, name="release")
            scheduler.start()
            for front_end in self.front_ends:
                if not (front_end.single_consumer and self.leadership is not None):
                    front_end.start()  # single consumers start once elected (`lead`)
            log.info(
                "balancebot running: %d account(s), notifiers: %s",
                len(self.config.accounts),
                ", ".join(self.notifiers) or "none",
            )
            try:
                await stop.wait()
            finally:
                stop.set()  # also when a loop failed: the others end too
                for front_end in self.front_ends:
                    await front_end.stop()  # each bounded, whatever its state
                scheduler.shutdown(wait=False)
                if self.sweep is not None:
                    await self.sweep.stop()
                await self.pipeline.abandon_in_flight()
