"""`balancebot check`: one look at every account, Nagios-style, with no store.

Rules are applied to this single result without history or alert state, so `for` and
repeat intervals do not apply; a failed check is UNKNOWN whatever rule would say.

It runs the providers on the synchronous engine (`providers/engine.py`), on threads, with
no event loop: a monitoring system starts it every minute, and asyncio with anyio's
backend was half of its start-up. The whole run keeps one deadline (`--timeout`).
"""

from __future__ import annotations

import enum
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ..clock import Clock, SystemClock
from ..config import Config
from ..models import BalanceSnapshot, CheckResult, Finding, Severity
from ..phrases import describe, no_data_message, shown_against
from ..printable import shown
from ..providers.engine import Deadline, fetch_all_sync
from ..retry import Backoff
from ..rules import evaluate, missing_currencies
from ..spend import MAX_SHOWN_DIGITS, balances_json, money, plain

RETRY = Backoff(attempts=2)
"""One quick retry at most (after 0.5-1 s), and only if it can end before the deadline:
a cron job or a monitoring plugin must not hang on a flaky upstream."""


class Status(enum.IntEnum):
    """Nagios plugin exit codes."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def rank(self) -> int:
        """Which status wins when accounts disagree: critical > warning > unknown > ok."""
        return {Status.OK: 0, Status.UNKNOWN: 1, Status.WARNING: 2, Status.CRITICAL: 3}[self]


@dataclass(frozen=True, slots=True)
class AccountReport:
    result: CheckResult
    status: Status
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # the ones at warning or above
    missing: list[str] = field(default_factory=list)  # watched currencies not in the answer
    outlook: list[str] = field(default_factory=list)  # runway and today's spend (--outlook)


def with_outlook(report: AccountReport, lines: list[str] | None) -> AccountReport:
    return replace(report, outlook=lines or [])


async def outlooks(
    config: Config, reports: list[AccountReport], deadline: Deadline
) -> dict[str, list[str]]:
    """Per account, each currency's runway and today's spend (`phrases.outlook`, as `/balance`
    shows them), from the history the daemon records; a check alone has none, so without a
    store every line says why. Read only: the store is neither created nor upgraded. A
    store that has not answered by the run's deadline gives no outlook."""
    import asyncio

    snapshots = [r.result for r in reports if isinstance(r.result, BalanceSnapshot)]
    try:
        async with asyncio.timeout(max(0.0, deadline.left())):
            return await _outlooks(config, snapshots)
    except TimeoutError:
        reason = f"no outlook: the store did not answer within {deadline.seconds:g}s"
        return {s.account: [f"{reason} (check --timeout)"] for s in snapshots}


async def _outlooks(config: Config, snapshots: list[BalanceSnapshot]) -> dict[str, list[str]]:
    from ..errors import StoreError
    from ..phrases import outlook
    from ..store import Store
    from ..trends import outlook_since

    try:
        store = await Store.open(config.store.database_url, migrate=False)
    except StoreError as exc:
        reason = f"no outlook: {str(exc).splitlines()[0]}"
        return {s.account: [reason] for s in snapshots}
    try:
        found: dict[str, list[str]] = {}
        for snapshot in snapshots:
            rules = config.rules_for(snapshot.account)
            since = outlook_since(rules, snapshot.taken_at, config.zone)
            history = [*await store.history(snapshot.account, since), snapshot]
            found[snapshot.account] = [
                outlook(rules, history, currency, snapshot.taken_at, config.zone)
                for currency in snapshot.balances
            ]
        return found
    finally:
        await store.close()


def judge(config: Config, result: CheckResult) -> AccountReport:
    if not isinstance(result, BalanceSnapshot):
        return AccountReport(result, Status.UNKNOWN, [f"{result.kind.value}: {result.message}"])
    worst: Severity | None = None
    problems = []
    findings = []
    for rule in config.rules_for(result.account):
        for finding in evaluate(rule, result, (result,)):
            if finding.severity is None or finding.severity < Severity.WARNING:
                continue
            findings.append(finding)
            problems.append(f"{finding.severity.label}: {describe(finding.facts, config.zone)}")
            worst = finding.severity if worst is None else max(worst, finding.severity)
    status = {None: Status.OK, Severity.WARNING: Status.WARNING}.get(worst, Status.CRITICAL)
    missing = missing_currencies(config.rules_for(result.account), result)
    if missing:  # nothing was checked for them: no data, never OK
        problems.append(f"UNKNOWN: {no_data_message(missing)}")
        status = max(status, Status.UNKNOWN, key=lambda s: s.rank)
    return AccountReport(result, status, problems, findings, missing)


def check_all(
    config: Config,
    deadline: Deadline,
    trust: Callable[[], ssl.SSLContext] | None = None,
    clock: Clock | None = None,
) -> list[AccountReport]:
    """Every account once, judged; one not answered by `deadline` is UNKNOWN."""
    clock = clock or SystemClock()
    results = fetch_all_sync(config, clock, RETRY, deadline, trust)
    return [judge(config, result) for result in results]


def default_timeout(config: Config) -> float:
    """Without `--timeout`: the longest account `timeout`, for the whole run."""
    return max(a.timeout.total_seconds() for a in config.accounts)


def may_need_tls(config: Config) -> bool:
    """Whether to load the CA bundle ahead of the first https request (on a thread, while
    the providers load): an account not on an `http://` URL, or a proxy (the engine loads
    it anyway, later, for any https request these do not foresee)."""
    import urllib.request

    return bool(urllib.request.getproxies()) or any(
        not (a.base_url or "").startswith("http://") for a in config.accounts
    )


def process_started() -> float:
    """When this process started, on the `time.monotonic()` scale, so that the deadline
    counts the interpreter's start-up too; now when that cannot be known (no /proc) or is
    too long ago to be this command's start-up (`main()` called by a longer process)."""
    now = time.monotonic()
    try:
        with open("/proc/self/stat", "rb") as stat:
            ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0 <= age < 5 else now


def overall(reports: list[AccountReport]) -> Status:
    return max((r.status for r in reports), key=lambda s: s.rank, default=Status.UNKNOWN)


def as_json(reports: list[AccountReport]) -> dict[str, Any]:
    status = overall(reports)
    accounts = []
    for report in reports:
        result = report.result
        entry: dict[str, Any] = {
            "account": result.account,
            "provider": result.provider,
            "status": report.status.name.lower(),
            "checked_at": result.taken_at.isoformat(),
            "problems": report.problems,
        }
        if report.outlook:
            entry["outlook"] = report.outlook
        if isinstance(result, BalanceSnapshot):
            entry["is_available"] = result.is_available
            entry["balances"] = balances_json(result.balances)
        else:
            entry["error"] = {"kind": result.kind.value, "message": result.message}
        accounts.append(entry)
    return {"status": status.name.lower(), "exit_code": int(status), "accounts": accounts}


def as_table(reports: list[AccountReport]) -> str:
    header = ("ACCOUNT", "STATUS", "CURRENCY", "TOTAL", "GRANTED", "TOPPED-UP", "AVAILABLE")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for report in reports:
        result = report.result
        status, account = report.status.name, shown(result.account)
        if isinstance(result, BalanceSnapshot) and result.balances:
            for currency, b in result.balances.items():
                rows.append(
                    (
                        account,
                        status,
                        shown(currency),
                        money(b.total),
                        money(b.granted),
                        money(b.topped_up),
                        "yes" if result.is_available else "NO",
                    )
                )
        elif isinstance(result, BalanceSnapshot):
            available = "yes" if result.is_available else "NO"
            rows.append((account, status, "-", "-", "-", "-", available))
        else:
            rows.append((account, status, "-", "-", "-", "-", "?"))
        notes += [f"{account}: {shown(line)}" for line in (*report.problems, *report.outlook)]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    if notes:
        lines += ["", *notes]
    lines += ["", f"overall: {overall(reports).name}"]
    return "\n".join(lines)


def as_nagios(config: Config, reports: list[AccountReport]) -> str:
    """The monitoring-plugin format: `BALANCE <STATUS> - <summary> | <perfdata>`, then one
    line per account. Thresholds are "alert below" ranges (`50.00:`), as the plugin
    guidelines define them, so Nagios, Icinga, Checkmk and Zabbix read the same verdict."""
    status = overall(reports)
    worst = [r for r in reports if r.status is status]
    summary = (
        "; ".join(_nagios_summary(r) for r in worst)
        if status is not Status.OK
        else (f"{len(reports)} account(s) above every threshold")
    )
    perfdata = " ".join(p for r in reports for p in _perfdata(config, r))
    lines = [f"BALANCE {status.name} - {_text(summary)}" + (f" | {perfdata}" if perfdata else "")]
    for report in reports:
        lines.append(_text(f"{report.result.account}: {report.status.name} - {_detail(report)}"))
    return "\n".join(lines)


def _text(text: str) -> str:
    """Plugin output text: one line, printable, no `|` (Nagios takes what follows the
    first one for perfdata), which is written `¦`."""
    return shown(text).replace("|", "¦")


def _detail(report: AccountReport) -> str:
    """The account's problems without the label its status already says (not
    "UNKNOWN - UNKNOWN: no CNY balance"); another severity's keeps its label."""
    own = f"{report.status.name.lower()}: "
    return (
        "; ".join(p[len(own) :] if p.lower().startswith(own) else p for p in report.problems)
        or "ok"
    )


def _nagios_summary(report: AccountReport) -> str:
    account = report.result.account
    parts = [
        f"{account} {shown_against(f.observed, f.limit)} {f.key.subject} < {money(f.limit)}"
        for f in report.findings
        if f.severity is not None
        and report.status.name == f.severity.name
        and f.observed is not None
        and f.limit is not None
    ]
    if report.missing:
        parts.append(f"{account}: {no_data_message(report.missing)}")
    return ", ".join(parts) or f"{account}: " + "; ".join(report.problems or ["no balance"])


def _perfdata(config: Config, report: AccountReport) -> list[str]:
    """`'label'=value;warn;crit` per balance; the label printable, its quotes doubled, `=`
    and `|` written `_`.
    Numbers are exact (`_exact`): a monitoring system compares them itself."""
    result = report.result
    if not isinstance(result, BalanceSnapshot):
        return []
    limits = config.thresholds_for(result.account)
    found = []
    for currency, balance in result.balances.items():
        label = shown(f"{result.account} {currency}").replace("'", "''")
        label = label.replace("=", "_").replace("|", "_")
        limit = limits.get(currency)
        warn = crit = ""
        if limit is not None and limit.warning_below is not None:
            warn = f"{_exact(limit.warning_below)}:"
        if limit is not None and limit.critical_below is not None:
            crit = f"{_exact(limit.critical_below)}:"
        found.append(f"'{label}'={_exact(balance.total)};{warn};{crit}".rstrip(";"))
    return found


def _exact(amount: Decimal) -> str:
    """Two decimals when they are the whole value (`50.00`), else every decimal it has
    (`49.996`, not `50.00`: Nagios would compare 50.00 with `50.00:` and say OK)."""
    if not amount.is_finite() or amount.adjusted() >= MAX_SHOWN_DIGITS:
        return plain(amount)  # ∞ or (out of range), as `money` says them
    shown = money(amount)
    return shown if Decimal(shown) == amount else plain(amount)
