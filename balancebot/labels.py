"""Alert labels and label matchers, in Prometheus Alertmanager's form.

Every alert is identified by its labels: `alertname` (the rule's name), `account`,
`provider`, `severity` and, for a per-currency rule, `currency`, plus the labels an account
adds itself (`labels = { team = "search" }`). Routes, silences, inhibit rules and grouping
all select alerts by matching labels: `name="value"`, `name!="value"`, `name=~"regex"`,
`name!~"regex"`. A regex matches the whole value (it is anchored, as in Alertmanager), and
a label that is absent matches as the empty string.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .models import AlertKey, Severity

Labels = Mapping[str, str]

RESERVED = frozenset({"alertname", "account", "provider", "severity", "currency"})
"""Labels balancebot sets on every alert; an account's own labels cannot replace them."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*")


class Op(enum.StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label."""

    name: str
    op: Op
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, op: Op | str, value: str) -> Matcher:
        op = Op(op)
        pattern = None
        if op in (Op.RE, Op.NRE):
            try:
                pattern = re.compile(value)
            except re.error as exc:
                problem = f"{name}{op.value}{value!r}: not a regular expression ({exc})"
                raise ValueError(problem) from None
        return cls(name, op, value, pattern)

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """`team="search"`, `severity!=info`, `account=~"prod-.*"`: quotes are optional."""
        found = _MATCHER.fullmatch(text)
        if found is None:
            raise ValueError(
                f'{text!r} is not a label matcher: write name="value" '
                '(or !=, =~ for a regular expression, !~), e.g. severity="critical"'
            )
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        return cls.of(name, op, value)

    def matches(self, labels: Labels) -> bool:
        value = labels.get(self.name, "")
        if self.op is Op.EQ:
            return value == self.value
        if self.op is Op.NE:
            return value != self.value
        assert self._pattern is not None
        found = self._pattern.fullmatch(value) is not None
        return found if self.op is Op.RE else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{self.value}"'


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    """All conditions hold (no conditions: every alert)."""
    return all(m.matches(labels) for m in matchers)


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    return tuple(Matcher.parse(text) for text in texts)


def one_of(values: Iterable[str]) -> str:
    """A regex matching exactly these values (for `name=~"a|b"`), readable when shown:
    `-`, literal outside a character class, is left unescaped."""
    return "|".join(re.escape(value).replace("\\-", "-") for value in values)


def check_label_name(name: str) -> str:
    """An account's own label: a Prometheus label name, not one balancebot sets."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"label {name!r}: use letters, digits and _ (not first a digit)")
    if name in RESERVED:
        raise ValueError(f"label {name!r} is set by balancebot on every alert")
    return name


def alert_labels(
    key: AlertKey, severity: Severity, provider: str, own: Labels | None = None
) -> dict[str, str]:
    """The labels of one alert: the account's own first, balancebot's over them."""
    labels = dict(own or {})
    labels.update(
        alertname=key.rule,
        account=key.account,
        provider=provider,
        severity=severity.label,
    )
    if key.subject:  # per-currency rules key their alerts by currency
        labels["currency"] = key.subject
    return labels
