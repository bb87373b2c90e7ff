"""Every failure a user can cause is one line naming the cause and what to do, with the
exit code of docs/cli.md's table, from the real `balancebot` process: on main each of these
printed a 40-104-line traceback (issue 20, section 2)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from balancebot.config.values import parse_listen
from balancebot.errors import StoreError
from balancebot.httpserver import LoopbackServer
from balancebot.store import Store
from balancebot.testing.processes import spawn
from balancebot.testing.slack import FakeSlack, SlackFault

from .conftest import API_KEY, POSTGRES_URL, _postgres_reachable
from .test_store import snap

PASSWORD = "s3cret-pw-never-shown"
ACCOUNT = f'[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\nbase_url = "http://127.0.0.1:9"\n'

NGINX_501 = """<html>
<head><title>501 Not Implemented</title></head>
<body>
<center><h1>501 Not Implemented</h1></center>
<hr><center>nginx</center>
</body>
</html>
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
<!-- a padding to disable MSIE and Chrome friendly error page -->
"""


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    config: str  # the file's text; {dir} is the test's directory
    code: int
    line: str  # the whole line the command prints (stderr, or stdout for notify-test)
    setup: str = ""  # a name in SETUPS: what the case needs besides the file


def missing_database_url() -> str:
    url = make_url(POSTGRES_URL).set(password=PASSWORD, database="bb_missing_database")
    return url.render_as_string(hide_password=False)


def pg_where() -> str:
    url = make_url(POSTGRES_URL)
    return f"{url.host}:{url.port or 5432}"


def pg_store(url: str) -> str:
    return f'[store]\nurl = "{url}"\n{ACCOUNT}'


SQLITE = f'[store]\npath = "{{dir}}/state.db"\n{ACCOUNT}'
NO_DATABASE = (
    f'balancebot: store: PostgreSQL database "bb_missing_database" does not exist at '
    f"{pg_where()} — create it (createdb bb_missing_database) or fix store.url"
)
STORE_COMMANDS = [
    ("run",),
    ("alerts",),
    ("history",),
    ("silences", "list"),
    ("db", "status"),
    ("db", "upgrade"),
]

CASES = {
    **{
        f"no-database-{'-'.join(args)}": Case(
            args, pg_store(missing_database_url()), 1, NO_DATABASE, "postgres"
        )
        for args in STORE_COMMANDS
    },
    "no-role": Case(
        ("db", "status"),
        pg_store(
            make_url(POSTGRES_URL)
            .set(username="bb_no_such_role", password=PASSWORD)
            .render_as_string(hide_password=False)
        ),
        1,
        f'balancebot: store: PostgreSQL role "bb_no_such_role" does not exist at {pg_where()} '
        "— create it (createuser bb_no_such_role) or fix the user in store.url",
        "postgres",
    ),
    "unknown-url-option": Case(
        ("db", "status"),
        pg_store(POSTGRES_URL + "?bogus=1"),
        1,
        "balancebot: store: PostgreSQL takes no option 'bogus' in store.url — remove it",
        "postgres",
    ),
    "port-in-use": Case(
        ("run",),
        SQLITE + '[http]\nenabled = true\nlisten = "127.0.0.1:{port}"\n',
        1,
        "balancebot: [http] listen = '127.0.0.1:{port}': the port is already in use "
        "(another balancebot?): stop it or choose another port",
        "occupied port",
    ),
    "listen-unresolvable": Case(
        ("run",),
        SQLITE + '[http]\nenabled = true\nlisten = "no-such-host.invalid:9464"\n',
        1,
        "balancebot: [http] listen = 'no-such-host.invalid:9464': cannot resolve "
        "'no-such-host.invalid' ({gaierror}): use an address or a known name",
    ),
    "listen-port-out-of-range": Case(
        ("validate",),
        SQLITE + '[http]\nenabled = true\nlisten = "999.0.0.1:99999"\n',
        2,
        "  http.listen: the port in '999.0.0.1:99999' must be a number from 0 to 65535",
    ),
    "listen-not-an-address": Case(
        ("validate",),
        SQLITE + '[http]\nenabled = true\nlisten = "999.0.0.1:9464"\n',
        2,
        "  http.listen: '999.0.0.1' in '999.0.0.1:9464' is not an IPv4 address "
        "(four numbers from 0 to 255)",
    ),
    "store-directory-missing": Case(
        ("validate",),
        f'[store]\npath = "{{dir}}/nowhere/state.db"\n{ACCOUNT}',
        2,
        "  store.path: the directory {dir}/nowhere does not exist (create it, or fix store.path)",
    ),
    "store-path-is-a-directory": Case(
        ("validate",),
        f'[store]\npath = "{{dir}}"\n{ACCOUNT}',
        2,
        "  store.path: {dir} is a directory; name a file in it ({dir}/balancebot.db)",
    ),
    "plot-directory-missing": Case(
        ("history", "--plot", "{dir}/nowhere/h.png"),
        SQLITE,
        1,
        "balancebot: cannot write {dir}/nowhere/h.png: {dir}/nowhere does not exist — "
        "choose another path",
        "history",
    ),
    "slack-501-html": Case(
        ("notify-test",),
        SQLITE + '[[notifiers]]\nname = "team"\ntype = "slack"\nwebhook_url = "{hook}"\n',
        1,
        "FAILED  team: slack webhook: an HTML page, “501 Not Implemented” (HTTP 501) (transient)",
        "slack",
    ),
}


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def gaierror_text(host: str) -> str:
    try:
        socket.getaddrinfo(host, 9464)
    except socket.gaierror as exc:
        return str(exc.strerror)
    pytest.skip(f"{host} resolves here")


async def with_history(directory: Path) -> None:
    store = await Store.open(f"sqlite:///{directory / 'state.db'}")
    try:
        await store.save_check(snap(datetime.now(UTC) - timedelta(minutes=5)))
    finally:
        await store.close()


@pytest.mark.parametrize("name", list(CASES))
async def test_each_failure_is_one_line_with_its_exit_code(
    name: str, tmp_path: Path, occupied_port: int
) -> None:
    case = CASES[name]
    fill = {"dir": str(tmp_path), "port": str(occupied_port), "hook": "", "gaierror": ""}
    if case.setup == "postgres":
        problem = await _postgres_reachable()
        if problem is not None:
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL must be reachable in CI at {POSTGRES_URL}: {problem}")
            pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    if "{gaierror}" in case.line:
        fill["gaierror"] = gaierror_text("no-such-host.invalid")
    if case.setup == "history":
        await with_history(tmp_path)

    def run() -> Awaitable[tuple[int, str, str]]:
        return balancebot(case, fill, tmp_path)

    if case.setup == "slack":
        async with FakeSlack("xoxb-test") as slack:
            slack.hooks["h"] = "C1"
            slack.faults.append(SlackFault(NGINX_501, status=501))
            fill["hook"] = slack.hook_url("h")
            code, out, err = await run()
    else:
        code, out, err = await run()
    said = out if case.args[0] == "notify-test" else err
    assert "Traceback" not in out + err, (out, err)
    assert case.line.format(**fill) in said.splitlines(), said
    assert code == case.code, (code, out, err)
    assert PASSWORD not in out + err
    if case.code != 2:  # a config error is a header and one line per problem
        assert len(said.strip().splitlines()) == 1, said


async def balancebot(case: Case, fill: dict[str, str], directory: Path) -> tuple[int, str, str]:
    config = directory / f"{uuid.uuid4().hex}.toml"
    config.write_text(case.config.format(**fill))
    args = [arg.format(**fill) for arg in case.args]
    process = await spawn(*args, "-c", str(config), cwd=directory)
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "[::1]:0", "localhost:0"])
async def test_each_listen_form_serves_at_a_url_that_answers(listen: str) -> None:
    """`[::1]:9464` was refused by validate's pattern; served, its URL read `http://::1:...`."""
    if listen.startswith("[") and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    host, port = parse_listen(listen)
    server = LoopbackServer()

    async def answer(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    server.app.router.add_get("/", answer)
    try:
        url = await server.start(host, port)
    except OSError as exc:  # a sandbox without ::1
        pytest.skip(f"cannot listen on {host}: {exc}")
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).text == "ok"
    finally:
        await server.stop()
    if host == "::1":
        assert url.startswith("http://[::1]:")


async def test_a_database_dropped_under_the_daemon_is_store_trouble_in_one_line(
    postgres_url: str,
) -> None:
    """At run time too: a refusal while reconnecting (asyncpg's InvalidCatalogNameError)
    escaped the store's handlers, so `/readyz` and the self alert never heard of it."""
    store = await Store.open(postgres_url)
    try:
        name = make_url(postgres_url).database
        admin = await asyncpg.connect(
            make_url(postgres_url).set(database="postgres").render_as_string(False)
        )
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        with pytest.raises(StoreError):  # the pooled connection the server closed
            await store.ping(within=10)
        with pytest.raises(StoreError) as raised:  # and a new one it refuses
            await store.ping(within=10)
    finally:
        await store.close()
    expected = f'PostgreSQL database "{name}" does not exist at {pg_where()}'
    assert str(raised.value).startswith(f"cannot read the store: {expected} — create it")
    assert store.health.problems()["store"].message == str(raised.value)
