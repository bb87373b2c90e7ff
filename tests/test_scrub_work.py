"""A failed check's message is scrubbed of every run of 8+ characters of every secret, on
the daemon's event loop: the work must grow with the key and the message, not their
product (an 8,000-character key cost 12.7 s of `check` against an upstream 500).

Work is counted, not timed: every line Python runs while scrubbing is an event, and the
count is held to a bound linear in the sizes (a quadratic scrub blows through it at once)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancebot.config import AccountConfig, convert
from balancebot.errors import CheckError
from balancebot.providers.contract import HttpResponse
from balancebot.providers.engine import Run
from balancebot.providers.json import JsonProvider
from balancebot.redact import mask_runs
from balancebot.testing.clock import FakeClock


class TooMuchWork(Exception):
    pass


@contextmanager
def budget(lines: int) -> Iterator[list[int]]:
    """Raise `TooMuchWork` once more than `lines` lines of Python have run inside."""
    ran = [0]

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            ran[0] += 1
            if ran[0] > lines:
                raise TooMuchWork(f"more than {lines} lines run")
        return trace

    sys.settrace(trace)
    try:
        yield ran
    finally:
        sys.settrace(None)


def test_scrubbing_a_long_key_out_of_a_long_body_is_linear_work() -> None:
    key = "".join(f"k{i:06x}-" for i in range(64 * 1024 // 8))  # 64 KiB, no 8 chars repeat
    body = ("x" * 100 + key[30_000:30_020]) * 136  # 16 KiB echoing 20-character pieces
    options = {"url": "https://up.example/b", "balance": "b", "currency": "USD"}
    raw = {"name": "acct", "api_key": key, "provider": "json", "options": options}
    config = convert(raw, AccountConfig)
    run = Run(JsonProvider(), config, FakeClock())
    request = run.signed(run.requests[0])
    with budget(8 * (len(key) + len(body))) as ran, pytest.raises(CheckError) as caught:
        run.take(request, HttpResponse(500, {}, body.encode()))
    assert "HTTP 500" in caught.value.message
    assert key[30_000:30_008] not in caught.value.message
    print(f"{ran[0]} lines for a {len(key)}-character key and a {len(body)}-character body")


@given(
    st.lists(st.text("abcd-/%", min_size=1, max_size=20), min_size=1, max_size=4),
    st.lists(st.text("abcd-/%xyz", max_size=12), max_size=6),
    st.data(),
)
def test_no_run_of_eight_characters_of_a_secret_survives(
    keys: list[str], fillers: list[str], data: st.DataObject
) -> None:
    pieces = [data.draw(st.sampled_from([*keys, *fillers])) for _ in range(6)]
    masked = mask_runs("".join(pieces), keys)
    for key in keys:
        runs = {key[i : i + 8] for i in range(len(key) - 7)} if len(key) >= 8 else {key}
        assert not [run for run in runs if run in masked], (key, masked)


def test_text_without_a_secret_comes_back_as_it_was() -> None:
    text = "server error (HTTP 500): upstream said no"
    assert mask_runs(text, ["QUERYTOK-abc/def", "QUERYTOK-abc%2Fdef"]) is text
