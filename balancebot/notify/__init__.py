"""What happens between "an alert changed" and "a row in the outbox": one pure function of
small stages (Alertmanager's shape), each `stage(alerts, context) -> alerts`.

Nothing here reads a clock, a store or the network: the caller hands in the moment, the
silences, what each route was told and the configuration, and gets back outbox rows."""

from __future__ import annotations

from .grouped import common_labels, grouped
from .stages import (
    Alert,
    Context,
    firing_labels,
    group_matchers,
    group_members,
    group_of,
    inhibit,
    inhibited,
    inhibition,
    labelled,
    labels_of,
    plan,
    quiet,
    released,
    silence,
)

__all__ = [
    "Alert",
    "Context",
    "common_labels",
    "firing_labels",
    "group_matchers",
    "group_members",
    "group_of",
    "grouped",
    "inhibit",
    "inhibited",
    "inhibition",
    "labelled",
    "labels_of",
    "plan",
    "quiet",
    "released",
    "silence",
]
