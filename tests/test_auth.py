"""Auth: every route without, with wrong and with right credentials for each role; the
webhook's bearer token; the web config file's mistakes at file:line; the warning when
nobody signs in on an open address."""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from receiver.app import create_app
from receiver.domain.auth import Access, Caller, Policy, Verdict, decide
from receiver.runtime.errors import ConfigError
from receiver.runtime.live import load_setup
from receiver.runtime.settings import Settings
from receiver.runtime.webconfig import load_web_config
from receiver.web.routes import ROUTES
from tests.conftest import Client
from tests.payloads import alert, webhook
from tests.processes import address, logs, serve

MakeClient = Callable[..., Awaitable[Client]]
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-22", "alertmanager": "am-pw-333"}
TOKEN = "am-token-0123456789"


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()  # cost 4: fast tests


def web_config(tmp_path: Path, extra: str = "") -> Path:
    users = "".join(f"  {name}: {_hash(pw)}\n" for name, pw in PASSWORDS.items())
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n{users}{extra}")
    return path


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- the decision, alone --------------------------------------------------------------

SIGNED_IN = Policy(users=frozenset(PASSWORDS))
ROLES = Policy(
    users=frozenset(PASSWORDS),
    admins=frozenset({"alice"}),
    webhook_users=frozenset({"alertmanager"}),
)
TOKEN_ONLY = Policy(webhook_token=True)
A, U, F = Verdict.ALLOW, Verdict.UNAUTHENTICATED, Verdict.FORBIDDEN
NOBODY, ALICE, BOB, AM, WITH_TOKEN = (
    Caller(),
    Caller(user="alice"),
    Caller(user="bob"),
    Caller(user="alertmanager"),
    Caller(token=True),
)


@pytest.mark.parametrize(
    ("policy", "access", "caller", "verdict"),
    [
        # No users, no token: everything is open (and the log and pages say so).
        *((Policy(), access, NOBODY, A) for access in Access),
        # Users: all but PUBLIC need a signed-in user; any user may do anything.
        (SIGNED_IN, Access.PUBLIC, NOBODY, A),
        *((SIGNED_IN, access, NOBODY, U) for access in (Access.READ, Access.ADMIN, Access.WEBHOOK)),
        *((SIGNED_IN, access, BOB, A) for access in (Access.READ, Access.ADMIN, Access.WEBHOOK)),
        # Roles: only admins act, only webhook users post; everyone signed in reads.
        (ROLES, Access.ADMIN, ALICE, A),
        (ROLES, Access.ADMIN, BOB, F),
        (ROLES, Access.ADMIN, AM, F),
        (ROLES, Access.WEBHOOK, AM, A),
        (ROLES, Access.WEBHOOK, ALICE, F),
        (ROLES, Access.WEBHOOK, NOBODY, U),
        *((ROLES, Access.READ, who, A) for who in (ALICE, BOB, AM)),
        (ROLES, Access.READ, WITH_TOKEN, U),  # the webhook's token reads nothing
        # A token alone: it guards the webhook; the rest stays open.
        (TOKEN_ONLY, Access.WEBHOOK, NOBODY, U),
        (TOKEN_ONLY, Access.WEBHOOK, WITH_TOKEN, A),
        (TOKEN_ONLY, Access.READ, NOBODY, A),
        # A token and users: with no webhook.users, only the token may post.
        (Policy(users=frozenset(PASSWORDS), webhook_token=True), Access.WEBHOOK, BOB, F),
        (Policy(users=frozenset(PASSWORDS), webhook_token=True), Access.WEBHOOK, WITH_TOKEN, A),
    ],
)
def test_who_may_call_what(
    policy: Policy, access: Access, caller: Caller, verdict: Verdict
) -> None:
    assert decide(policy, access, caller) is verdict


# --- every route, through a real server -----------------------------------------------


def _path(template: str) -> str:
    return re.sub(
        r"\{(\w+)\}", lambda m: {"name": "style.css", "slug": "none"}.get(m[1], "1"), template
    )


ROLE_CONFIG = "auth:\n  admins: [alice]\n  webhook:\n    users: [alertmanager]\n"
ALLOWED: dict[Access, set[str | None]] = {
    Access.PUBLIC: {None, "alice", "bob", "alertmanager"},
    Access.READ: {"alice", "bob", "alertmanager"},
    Access.ADMIN: {"alice"},
    Access.WEBHOOK: {"alertmanager"},
}


@pytest.fixture
async def guarded(aiohttp_client: MakeClient, settings: Settings, tmp_path: Path) -> Client:
    config = tmp_path / "receiver.yml"
    config.write_text(ROLE_CONFIG)
    return await aiohttp_client(
        create_app(
            settings.model_copy(update={"config": config, "web_config_file": web_config(tmp_path)})
        )
    )


FORM_TOKEN = "t" * 43  # the shape of a CSRF token (receiver.web.pages.env)


async def _call(client: Client, method: str, path: str, headers: dict[str, str]) -> Any:
    if method == "POST" and not path.startswith(("/api/", "/-/", "/alerts")):
        # A page's form, with the browser's CSRF cookie and field: only auth may refuse it.
        client.session.cookie_jar.clear()  # the token pages set before, which this replaces
        cookie = {**headers, "Cookie": f"csrf={FORM_TOKEN}"}
        return await client.request(method, path, data={"csrf": FORM_TOKEN}, headers=cookie)
    body: Any = webhook(alert()) if path == "/alerts" else None
    return await client.request(method, path, json=body, headers=headers)


async def test_every_route_without_with_wrong_and_with_right_credentials(
    guarded: Client,
) -> None:
    for route, user in itertools.product(ROUTES, [None, *PASSWORDS]):
        path = _path(route.path)
        allowed = user in ALLOWED[route.access]
        if user is None:
            resp = await _call(guarded, route.method, path, {})
        else:
            wrong = await _call(guarded, route.method, path, basic(user, "wrong-password"))
            if route.access is not Access.PUBLIC:
                assert wrong.status == 401, (route.path, user)
            resp = await _call(guarded, route.method, path, basic(user, PASSWORDS[user]))
        where = f"{route.method} {route.path} as {user}"
        if allowed:
            assert resp.status not in (401, 403), where
        elif user is None:
            assert resp.status == 401, where
            assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")
            assert "sign in" in (await resp.json())["error"]
        else:
            assert resp.status == 403, where
            assert f"'{user}'" in (await resp.json())["error"]


async def test_refused_calls_change_nothing(guarded: Client) -> None:
    assert (await guarded.post("/alerts", json=webhook(alert()))).status == 401
    assert (
        await guarded.post("/alerts", json=webhook(alert()), headers=basic("bob", PASSWORDS["bob"]))
    ).status == 403
    resp = await guarded.get("/api/v1/alerts", headers=basic("bob", PASSWORDS["bob"]))
    assert (await resp.json())["alerts"] == []


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic " + base64.b64encode(b"alice:" + b"x" * 100).decode(),  # over bcrypt's 72 bytes
        "Basic " + base64.b64encode(b"nobody:whatever").decode(),
        "Bearer",
        "Digest username=alice",
        "basic " + base64.b64encode(b"alice:wrong").decode(),
    ],
)
async def test_malformed_or_wrong_credentials_are_a_401_never_a_500(
    guarded: Client, header: str
) -> None:
    resp = await guarded.get("/api/v1/alerts", headers={"Authorization": header})
    assert resp.status == 401


async def test_a_password_that_checked_out_is_remembered_until_the_users_change(
    guarded: Client, tmp_path: Path
) -> None:
    for _ in range(3):
        assert (
            await guarded.get("/api/v1/alerts", headers=basic("bob", PASSWORDS["bob"]))
        ).status == 200
    web = tmp_path / "web.yml"
    web.write_text(web.read_text().replace("  bob:", "  robert:"))  # bob is gone
    assert (
        await guarded.post("/-/reload", headers=basic("alice", PASSWORDS["alice"]))
    ).status == 200
    assert (
        await guarded.get("/api/v1/alerts", headers=basic("bob", PASSWORDS["bob"]))
    ).status == 401
    assert (
        await guarded.get("/api/v1/alerts", headers=basic("robert", PASSWORDS["bob"]))
    ).status == 200


async def test_a_bearer_token_guards_the_webhook_without_a_web_config(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_TOKEN", TOKEN)
    config = tmp_path / "receiver.yml"
    config.write_text("auth:\n  webhook:\n    bearer_token: ${AM_TOKEN}\n")
    client = await aiohttp_client(create_app(settings.model_copy(update={"config": config})))
    refused = await client.post("/alerts", json=webhook(alert()))
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {"Authorization": f"Bearer {TOKEN[:-1]}x"}
    assert (await client.post("/alerts", json=webhook(alert()), headers=wrong)).status == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.post("/alerts", json=webhook(alert()), headers=right)).status == 200
    assert (await client.get("/api/v1/alerts")).status == 200  # reading stays open


def test_the_token_may_come_from_a_file_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "am.token").write_text(f"{TOKEN}\n")
    config = tmp_path / "receiver.yml"
    config.write_text("auth:\n  webhook:\n    bearer_token_file: am.token\n")
    setup = load_setup(Settings(config=config))
    assert setup.config.auth.webhook.bearer_token == TOKEN
    assert TOKEN in setup.config.secrets


# --- mistakes in the files, with file:line -------------------------------------------


@pytest.mark.parametrize(
    ("web", "line", "needle"),
    [
        (
            "basic_auth_users:\n  alice: plaintext\n",
            2,
            "not a bcrypt hash; make one with `htpasswd",
        ),
        ("basic_auth_users:\n  'a:b': HASH\n", 2, "without ':'"),
        ("basic_auth_user:\n  alice: HASH\n", 1, "unknown key 'basic_auth_user'"),
        (
            "tls_server_config:\n  cert_file: none.crt\n  key_file: none.key\n",
            2,
            "cannot load the certificate",
        ),
        (
            "tls_server_config:\n  cert_file: a.crt\n",
            1,
            "tls_server_config.key_file: Field required",
        ),
        ("http_server_config:\n  http2: true\n", 1, "unknown key 'http_server_config'"),
    ],
)
def test_web_config_mistakes_name_file_line_and_fix(
    tmp_path: Path, web: str, line: int, needle: str
) -> None:
    path = tmp_path / "web.yml"
    path.write_text(web.replace("HASH", _hash("x")))
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:{line}: "), problem
    assert needle in problem


@pytest.mark.parametrize(
    ("config", "with_web", "line", "needle"),
    [
        (
            "auth:\n  admins: [alice, carol]\n",
            True,
            2,
            "'carol' is not a user of the web config file",
        ),
        ("auth:\n  webhook:\n    users:\n      - am\n", True, 4, "'am' is not a user"),
        ("auth:\n  admins: [alice]\n", False, 2, "no web config file to sign in with"),
        (
            "auth:\n  webhook:\n    bearer_token: x1y2z3\n    bearer_token_file: t\n",
            False,
            2,
            "not both",
        ),
        ("auth:\n  webhook:\n    bearer_token_file: missing.token\n", False, 3, "cannot read"),
    ],
)
def test_auth_mistakes_in_the_config_file_name_file_line_and_fix(
    tmp_path: Path, config: str, with_web: bool, line: int, needle: str
) -> None:
    path = tmp_path / "receiver.yml"
    path.write_text(config)
    settings = Settings(config=path, web_config_file=web_config(tmp_path) if with_web else None)
    with pytest.raises(ConfigError) as caught:
        load_setup(settings)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:{line}: "), problem
    assert needle in problem


# --- nobody signs in on an open address -----------------------------------------------


@pytest.mark.parametrize(("host", "banner"), [("0.0.0.0", True), ("127.0.0.1", False)])
async def test_pages_carry_a_banner_when_anyone_may_read(
    aiohttp_client: MakeClient, settings: Settings, host: str, banner: bool
) -> None:
    client = await aiohttp_client(create_app(settings.model_copy(update={"host": host})))
    html = await (await client.get("/runbooks")).text()
    assert ("Anyone who can reach this address" in html) is banner


async def test_no_banner_once_users_sign_in(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path
) -> None:
    update = {"host": "0.0.0.0", "web_config_file": web_config(tmp_path)}
    client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    resp = await client.get("/runbooks", headers=basic("bob", PASSWORDS["bob"]))
    assert "Anyone who can reach this address" not in await resp.text()


# --- HTTPS, through the real process and its flags -------------------------------------


async def test_https_with_a_test_certificate_and_users(tmp_path: Path) -> None:
    import ssl

    import aiohttp
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    web = web_config(
        tmp_path, "tls_server_config:\n  cert_file: server.pem\n  key_file: server.pem\n"
    )
    proc = serve(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", "--web-config-file", str(web))
    try:
        base = await asyncio.to_thread(address, proc)
        assert base.startswith("https://")
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusting)) as session:
            async with session.get(f"{base}/-/healthy") as resp:
                assert resp.status == 200
            async with session.get(f"{base}/api/v1/alerts") as resp:
                assert resp.status == 401
            bob = basic("bob", PASSWORDS["bob"])
            async with session.get(f"{base}/api/v1/alerts", headers=bob) as resp:
                assert resp.status == 200
            async with session.post(f"{base}/alerts", json=webhook(alert()), headers=bob) as resp:
                assert resp.status == 200  # no webhook.users: any user may post
        async with aiohttp.ClientSession() as untrusting:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await untrusting.get(f"{base}/-/healthy")
            plain = base.replace("https://", "http://")
            with pytest.raises(aiohttp.ClientError):
                await untrusting.get(f"{plain}/api/v1/alerts")
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 15)


def test_serving_on_an_open_address_without_users_warns_loudly(tmp_path: Path) -> None:
    proc = serve(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")  # 127.0.0.1: no warning
    try:
        address(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert "NOBODY SIGNS IN" not in logs(proc)
    proc = serve(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}", "--host", "0.0.0.0")
    assert proc.stderr is not None
    try:
        while "listening on" not in (line := proc.stderr.readline()):
            assert line, "serve exited"
        warning = proc.stderr.readline()  # logged right after
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert "NOBODY SIGNS IN" in warning
    assert "--web-config-file" in warning


# --- what a browser on another site may not do; headers on every answer ---------------


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"Sec-Fetch-Site": "same-site"}, True),  # another port or subdomain is another app
        ({"Sec-Fetch-Site": "same-origin"}, False),
        ({"Origin": "https://evil.example"}, True),
        ({"Origin": "null"}, True),
        ({}, False),  # Alertmanager, curl, scripts
    ],
)
async def test_a_page_on_another_site_cannot_act_through_a_browser(
    guarded: Client, headers: dict[str, str], refused: bool
) -> None:
    alice = basic("alice", PASSWORDS["alice"])
    resp = await guarded.post("/-/reload", headers={**alice, **headers})
    assert (resp.status == 403) is refused, await resp.text()
    am = basic("alertmanager", PASSWORDS["alertmanager"])
    resp = await guarded.post("/alerts", json=webhook(alert()), headers={**am, **headers})
    assert (resp.status == 403) is refused


async def test_a_same_origin_browser_request_may_act(guarded: Client) -> None:
    origin = str(guarded.make_url("")).rstrip("/")
    alice = basic("alice", PASSWORDS["alice"])
    assert (await guarded.post("/-/reload", headers={**alice, "Origin": origin})).status == 200


@pytest.mark.parametrize("path", ["/-/healthy", "/api/v1/alerts", "/runbooks", "/no/such/page"])
async def test_every_answer_carries_the_security_headers(client: Client, path: str) -> None:
    resp = await client.get(path)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert resp.headers["Referrer-Policy"] == "same-origin"
