"""Prometheus metrics: what the daemon has seen, in prometheus-client's registry."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .models import (
    AlertKey,
    AlertState,
    AlertStatus,
    BalanceSnapshot,
    CheckResult,
    FrontEndState,
    FrontEndStatus,
    Severity,
)


class _FiringAlerts(Collector):
    """Read at scrape time from the pipeline's alert states, so it is never stale."""

    def __init__(self, states: Callable[[], Mapping[AlertKey, AlertState]]) -> None:
        self._states = states

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "balancebot_alerts_firing", "Alerts currently firing.", labels=["severity"]
        )
        counts = dict.fromkeys((s.label for s in Severity), 0)
        for state in self._states().values():
            if state.status is AlertStatus.FIRING and state.severity is not None:
                counts[state.severity.label] += 1
        for severity, count in counts.items():
            family.add_metric([severity], count)
        yield family


class _FrontEnds(Collector):
    """Chat front-end connection states, read at scrape time."""

    def __init__(self, statuses: Callable[[], Mapping[str, FrontEndStatus]]) -> None:
        self._statuses = statuses

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "balancebot_frontend_up",
            "1 if the chat front-end is connected and answering commands.",
            labels=["frontend"],
        )
        state = GaugeMetricFamily(
            "balancebot_frontend_state",
            "The chat front-end's state (1 for the current one).",
            labels=["frontend", "state"],
        )
        for name, status in self._statuses().items():
            up.add_metric([name], 1 if status.state is FrontEndState.CONNECTED else 0)
            for candidate in FrontEndState:
                state.add_metric([name, candidate.value], 1 if candidate is status.state else 0)
        yield up
        yield state


class _Accounts(Collector):
    """Per-account series, built at scrape time from the last result of each account.

    prometheus-client keeps a child object (a lock, a value, label tuples: ~1 KiB) per
    labelled series; ten series an account made this the largest part of a 10,000-account
    replica's memory. Here an account costs one dict entry pointing at a snapshot the
    pipeline keeps anyway, and a counter entry once it has failed."""

    def __init__(self) -> None:
        self._snapshots: dict[str, BalanceSnapshot] = {}
        self._failures: collections.Counter[tuple[str, str]] = collections.Counter()

    def observe(self, result: CheckResult) -> None:
        if isinstance(result, BalanceSnapshot):
            self._snapshots[result.account] = result
        else:
            self._failures[(result.account, result.kind.value)] += 1

    def collect(self) -> Iterable[Metric]:
        balance = GaugeMetricFamily(
            "balancebot_balance",
            "Balance from the last successful check.",
            labels=["account", "currency", "kind"],
        )
        available = GaugeMetricFamily(
            "balancebot_account_available",
            "1 if the account can make API calls (is_available).",
            labels=["account"],
        )
        last_success = GaugeMetricFamily(
            "balancebot_last_success_timestamp_seconds",
            "When the account was last checked successfully.",
            labels=["account"],
        )
        for account, snapshot in self._snapshots.items():  # scraped on the loop: no race
            available.add_metric([account], 1 if snapshot.is_available else 0)
            last_success.add_metric([account], snapshot.taken_at.timestamp())
            for currency, b in snapshot.balances.items():
                # a gauge is a float; the exact Decimal stays in the store
                balance.add_metric([account, currency, "total"], float(b.total))
                balance.add_metric([account, currency, "granted"], float(b.granted))
                balance.add_metric([account, currency, "topped_up"], float(b.topped_up))
        failures = CounterMetricFamily(
            "balancebot_check_failures",
            "Failed balance checks by error class.",
            labels=["account", "error"],
        )
        for (account, error), count in self._failures.items():
            failures.add_metric([account, error], count)
        yield from (balance, available, last_success, failures)


class _Role(Collector):
    """This process's part among replicas and its store, read at scrape time."""

    def __init__(self, leading: Callable[[], bool], store_up: Callable[[], bool]) -> None:
        self._leading = leading
        self._store_up = store_up

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "balancebot_leader",
            "1 if this process polls Telegram and sends digests (always 1 on SQLite).",
            value=1 if self._leading() else 0,
        )
        yield GaugeMetricFamily(
            "balancebot_store_up",
            "1 unless the store can no longer be read or written (see /readyz).",
            value=1 if self._store_up() else 0,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._accounts = _Accounts()
        r.register(self._accounts)
        self.check_duration = Histogram(
            "balancebot_check_duration_seconds",
            "How long a balance check took, retries included.",
            ["provider"],  # not per account: a histogram is 13 series, times 10,000 accounts
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.notifications = Counter(
            "balancebot_notifications",
            "Notification deliveries by notifier and outcome (sent, failed, retried).",
            ["notifier", "outcome"],
            registry=r,
        )

        self.commands_refused = Counter(  # chat: stranger commands refused or dropped silently
            "balancebot_commands_refused",
            "Chat commands from callers no allow rule admits (answered once, then dropped).",
            ["platform", "outcome"],
            registry=r,
        )
        # Prometheus' and Alertmanager's own names: dashboards and alerts on them carry over
        self.config_reload_ok = Gauge(
            "balancebot_config_last_reload_successful",
            "Whether the last configuration load (at start or on SIGHUP) succeeded.",
            registry=r,
        )
        self.config_reload_at = Gauge(
            "balancebot_config_last_reload_success_timestamp_seconds",
            "When the configuration running now was loaded (Unix time).",
            registry=r,
        )

    def watch_alerts(self, states: Callable[[], Mapping[AlertKey, AlertState]]) -> None:
        self.registry.register(_FiringAlerts(states))

    def watch_front_ends(self, statuses: Callable[[], Mapping[str, FrontEndStatus]]) -> None:
        self.registry.register(_FrontEnds(statuses))

    def watch_role(self, leading: Callable[[], bool], store_up: Callable[[], bool]) -> None:
        self.registry.register(_Role(leading, store_up))

    def observe_check(self, result: CheckResult, seconds: float) -> None:
        self.check_duration.labels(result.provider).observe(seconds)
        self._accounts.observe(result)

    def config_loaded(self, ok: bool, at: datetime) -> None:
        """A configuration load: a failed one keeps the last success's time."""
        self.config_reload_ok.set(1 if ok else 0)
        if ok:
            self.config_reload_at.set(at.timestamp())

    def observe_delivery(self, notifier: str, outcome: str) -> None:
        self.notifications.labels(notifier, outcome).inc()
