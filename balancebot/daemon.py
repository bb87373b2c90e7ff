"""`balancebot run`: every part in one event loop, started and stopped in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from .clock import Clock, SystemClock
from .config import Config
from .dispatcher import Dispatcher, close_all
from .notifiers import Notifier
from .pipeline import CheckPipeline
from .plugins import notifier_class
from .providers import build_providers, http_client
from .scheduler import build_scheduler
from .store import Store

log = logging.getLogger(__name__)


def build_notifiers(config: Config, clock: Clock) -> dict[str, Notifier]:
    return {
        n.name: notifier_class(n.type).from_options(n.name, n.options, clock)
        for n in config.notifiers
    }


@dataclass
class Daemon:
    config: Config
    store: Store
    pipeline: CheckPipeline
    dispatcher: Dispatcher
    notifiers: Mapping[str, Notifier]

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        config: Config,
        clock: Clock | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> AsyncIterator[Daemon]:
        clock = clock or SystemClock()
        store = await Store.open(config.store.database_url)
        http = http_client(config)
        notifiers = dict(notifiers) if notifiers is not None else build_notifiers(config, clock)
        try:
            for notifier in notifiers.values():
                await notifier.start()
            dispatcher = Dispatcher(store, notifiers, clock)
            pipeline = CheckPipeline(
                config,
                store,
                build_providers(config, http, clock),
                {name: notifier.targets() for name, notifier in notifiers.items()},
                clock,
                dispatcher.wake,
            )
            await pipeline.load()
            yield cls(config, store, pipeline, dispatcher, notifiers)
        finally:
            await close_all(notifiers)
            await http.aclose()
            await store.close()

    async def serve(self, stop: asyncio.Event) -> None:
        """Check on schedule and deliver until `stop` is set; undelivered rows stay queued."""
        scheduler = build_scheduler(self.config, self.pipeline)
        delivery = asyncio.create_task(self.dispatcher.run(stop), name="dispatcher")
        scheduler.start()
        log.info(
            "balancebot running: %d account(s), notifiers: %s",
            len(self.config.accounts),
            ", ".join(self.notifiers) or "none",
        )
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            await self.pipeline.abandon_in_flight()
            await delivery
            log.info("balancebot stopped")
