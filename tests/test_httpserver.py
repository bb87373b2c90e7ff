"""Issue 11 §5: the daemon's HTTP server against slow and idle clients (slow-loris), a
descriptor shortage, and hostile unauthenticated Slack requests."""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from balancebot.httpserver import (
    ACCEPT_ERROR,
    LoopbackServer,
    ServerLimits,
    quiet_accept_errors,
    raise_descriptor_limit,
)

from .conftest import SUMMARY

IDLE_CLIENTS = 300
CAP = 20


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    guarded = LoopbackServer(
        ServerLimits(max_connections=CAP, header_timeout=0.5, body_timeout=0.5)
    )

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    guarded.app.router.add_get("/healthz", healthz)
    guarded.app.router.add_post("/echo", echo)
    async with guarded:
        yield guarded


async def exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)  # until the server closes
    finally:
        writer.close()


async def test_slow_loris_is_capped_and_timed_out(server: LoopbackServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    clients = [await asyncio.open_connection(host, int(port)) for _ in range(IDLE_CLIENTS)]
    for _, writer in clients:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    # every idle connection is closed by the server: at once over the cap, else after 0.5 s
    answers = await asyncio.gather(*(asyncio.wait_for(r.read(), 10) for r, _ in clients))
    for _, writer in clients:
        writer.close()
    assert answers == [b""] * IDLE_CLIENTS
    assert server.peak_connections <= CAP
    assert server.refused_connections > 0  # (slots freed at the deadline may be taken again)
    SUMMARY["fault cases tried"] += 1
    # and the server still answers, one request per connection
    reply = await exchange(server.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and b"Connection: close" in reply


async def test_a_body_that_never_arrives_times_out(server: LoopbackServer) -> None:
    reply = await exchange(
        server.url, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten!!"
    )
    assert reply.startswith(b"HTTP/1.1 408")


async def test_a_bad_content_encoding_is_a_400(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"\x00not gzip at all"
    reply = await exchange(
        server.url,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body,
    )
    assert reply.startswith(b"HTTP/1.1 400")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_accept_errors_are_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    quiet_accept_errors(loop)
    try:
        for _ in range(1000):  # what 1000 seconds of EMFILE on one socket produce
            loop.call_exception_handler(
                {"message": ACCEPT_ERROR, "exception": OSError(24, "Too many open files")}
            )
    finally:
        loop.set_exception_handler(previous)
    lines = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None


def test_descriptor_soft_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        raised = raise_descriptor_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raised > 256
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
