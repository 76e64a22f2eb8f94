"""The OpenAPI document stays true: it is valid OpenAPI 3.1, it names exactly the JSON
routes of the route table with their access, the real server's answers match it on both
databases, and schemathesis, generating requests from it, finds no 5xx and no answer
the document does not describe."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from receiver.app import create_app
from receiver.runtime.settings import Settings
from receiver.web.api.openapi import spec
from receiver.web.routes import ROUTES
from tests.conftest import Client, MakeReceiver, require
from tests.pagehelp import only_our_script
from tests.payloads import alert, webhook
from tests.processes import address, serve
from tests.sinks import JsonSink, eventually
from tests.test_auth import PASSWORDS, ROLE_CONFIG, MakeClient, basic, web_config


def needs(module: str) -> None:
    require(find_spec(module) is not None, f"{module} is not installed: pip install -e '.[test]'")


def is_json_route(method: str, path: str) -> bool:
    """The webhook, the lifecycle endpoints and the API; the pages (GET /alerts is the
    history page), static files and /metrics answer HTML, files or Prometheus text."""
    return (method, path) == ("POST", "/alerts") or path.startswith(("/-/", "/api/v1/"))


def documented() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, methods in spec()["paths"].items()
        for method, operation in methods.items()
    }


def test_document_is_valid_openapi_3_1() -> None:
    needs("openapi_spec_validator")
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    validate(spec(), cls=OpenAPIV31SpecValidator)
    assert spec()["openapi"] == "3.1.0"
    # Served as built: what the page shows and what tools download are one document.
    assert json.loads(json.dumps(spec())) == spec()


def test_every_json_route_is_documented_and_every_documented_one_routed() -> None:
    routed = {(r.method, r.path): r.access for r in ROUTES if is_json_route(r.method, r.path)}
    operations = documented()
    missing = sorted(set(routed) - set(operations))
    assert not missing, f"routes missing from receiver/web/api/openapi.py OPERATIONS: {missing}"
    unrouted = sorted(set(operations) - set(routed))
    assert not unrouted, f"documented but not in receiver/web/routes.ROUTES: {unrouted}"
    wrong = {k: (operations[k]["x-access"], a.value) for k, a in routed.items()}
    assert {k: v for k, v in wrong.items() if v[0] != v[1]} == {}, "(documented, routed) access"


class Conformance:
    """Checks real answers against the document: the operation is found by the request's
    method and path, the answer by its status; a JSON body must validate against the
    documented schema, $refs resolved within the document. Remembers what it saw."""

    def __init__(self) -> None:
        import jsonschema_rs

        self._jsonschema = jsonschema_rs
        self.seen: set[tuple[str, str]] = set()
        self._templates = sorted(
            documented(), key=lambda k: (k[1].count("{"), k[1])
        )  # a literal path before one with a parameter that also matches it

    def _operation(self, method: str, path: str) -> tuple[tuple[str, str], dict[str, Any]]:
        for key in self._templates:
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(key[1]))
            if key[0] == method and re.fullmatch(pattern, path):
                return key, documented()[key]
        raise AssertionError(f"{method} {path} is not documented")

    async def check(self, resp: Any) -> Any:
        """The answer's JSON body (None for text) once it conforms."""
        key, operation = self._operation(resp.method, resp.url.path)
        where = f"{key[0]} {key[1]} answered {resp.status}"
        answer = operation["responses"].get(str(resp.status))
        assert answer is not None, f"{where}, which is not documented: {await resp.text()}"
        media = answer["content"].get(resp.content_type)
        assert media is not None, f"{where} as {resp.content_type}, documented {answer['content']}"
        self.seen.add(key)
        if resp.content_type != "application/json":
            return None
        body = await resp.json()
        schema = {**media["schema"], "components": spec()["components"]}
        validator = self._jsonschema.validator_for(schema, validate_formats=True)
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{where} off the schema: {errors[:5]}"
        return body


RUNBOOK = "---\ntitle: Disk full\nmatch: ['alertname=\"DiskFull\"']\n---\n1. Free space.\n"


async def test_real_answers_match_the_document(
    make_receiver: MakeReceiver, json_sink: JsonSink, tmp_path: Path
) -> None:
    needs("jsonschema_rs")
    books = tmp_path / "books"
    books.mkdir()
    (books / "disk.md").write_text(RUNBOOK)
    json_sink.status = 500  # every notification fails, so that one can be retried
    client = await make_receiver(
        f'runbooks_dir: {books}\nchannels:\n  chat: "{json_sink.url()}"\n'
        "routes:\n  - channels: [chat]\n"
        "delivery:\n  backoff: 10ms\n  max_backoff: 20ms\n  poll_interval: 50ms\n"
        "  max_attempts: 2\n",
        max_alerts_per_webhook=5,
    )
    conform = Conformance()
    await _webhook_answers(client, conform)
    await _alert_answers(client, conform)
    await _incident_answers(client, conform)
    await _notification_answers(client, conform)
    for path in ("/-/healthy", "/-/ready", "/api/v1/openapi.json", "/api/v1/runbooks"):
        await conform.check(await client.get(path))
    await conform.check(await client.get("/api/v1/runbooks/disk"))
    await conform.check(await client.get("/api/v1/runbooks/nothing"))
    await conform.check(await client.get("/api/v1/channels"))
    for params in ({}, {"window": "24h", "flaps": "2"}, {"window": "5y"}):
        await conform.check(await client.get("/api/v1/insights", params=params))
    for name in ("chat", "nothing"):
        await conform.check(await client.post(f"/api/v1/channels/{name}/test"))
    await conform.check(await client.post("/-/reload"))
    (books / "broken.md").write_text("---\ntitle: [\n---\n")
    await conform.check(await client.post("/-/reload"))
    unseen = set(documented()) - conform.seen
    assert not unseen, f"no answer of these was checked: {sorted(unseen)}"


async def _webhook_answers(client: Client, conform: Conformance) -> None:
    for i, name in enumerate(("DiskFull", "HighLatencyP95", "DiskFull")):
        body = webhook(alert(name, instance=f"db-{i}"), group=name)
        await conform.check(await client.post("/alerts", json=body))
    resolved = alert("DiskFull", status="resolved", instance="db-0", ends="2026-11-26T11:00:00Z")
    await conform.check(await client.post("/alerts", json=webhook(resolved, group="DiskFull")))
    refused = [
        client.post("/alerts", data="{", headers={"Content-Type": "application/json"}),
        client.post("/alerts", data="hello", headers={"Content-Type": "text/plain"}),
        client.post("/alerts", json={"status": "firing"}),
        client.post("/alerts", json=webhook(*(alert(instance=f"x{i}") for i in range(6)))),
    ]
    for request in refused:
        await conform.check(await request)


async def _alert_answers(client: Client, conform: Conformance) -> None:
    first = await conform.check(await client.get("/api/v1/alerts", params={"limit": "2"}))
    assert first["next"], "four alerts make more than one page of two"
    await conform.check(await client.get("/api/v1/alerts", params={"cursor": first["next"]}))
    for bad in ({"limit": "0"}, {"since": "yesterday"}, {"filter": "x"}, {"cursor": "!"}):
        await conform.check(await client.get("/api/v1/alerts", params=bad))
    for alert_id in (first["alerts"][0]["id"], 999999, "abc"):
        await conform.check(await client.get(f"/api/v1/alerts/{alert_id}"))


async def _incident_answers(client: Client, conform: Conformance) -> None:
    listed = await conform.check(await client.get("/api/v1/incidents"))
    await conform.check(await client.get("/api/v1/incidents", params={"status": "nope"}))
    for incident_id in (listed["incidents"][0]["id"], 999999):
        await conform.check(await client.get(f"/api/v1/incidents/{incident_id}"))
    first = listed["incidents"][0]["id"]
    act = f"/api/v1/incidents/{first}"
    for verb, body in (
        ("acknowledge", {"by": "alice"}),
        ("acknowledge", {"by": "alice"}),  # 409: already
        ("notes", {"by": "alice", "text": "looking"}),
        ("notes", {"by": "alice"}),  # 422: no text
        ("unacknowledge", {"by": "alice"}),
        ("resolve", {"by": "alice"}),
    ):
        await conform.check(await client.post(f"{act}/{verb}", json=body))
    await conform.check(await client.post("/api/v1/incidents/999999/resolve", json={"by": "a"}))
    await conform.check(await client.post(f"{act}/notes", data="text=x"))  # 415
    ids = [i["id"] for i in listed["incidents"]] + [999999]
    bulk = "/api/v1/incidents/acknowledge"
    await conform.check(await client.post(bulk, json={"ids": ids, "by": "bob"}))
    await conform.check(await client.post(bulk, json={"ids": [], "by": "bob"}))  # 422
    for fmt in ("json", "csv"):
        await conform.check(await client.get("/api/v1/alerts/export", params={"format": fmt}))


async def _notification_answers(client: Client, conform: Conformance) -> None:
    async def failed() -> bool:
        resp = await client.get("/api/v1/notifications", params={"status": "failed"})
        return bool((await resp.json())["notifications"])

    await eventually(failed, "a notification to give up")
    listed = await conform.check(await client.get("/api/v1/notifications"))
    gave_up = next(n for n in listed["notifications"] if n["status"] == "failed")
    await conform.check(await client.get("/api/v1/notifications", params={"incident": "-1"}))
    for _ in range(2):  # queued again, then no longer failed
        await conform.check(await client.post(f"/api/v1/notifications/{gave_up['id']}/retry"))
    await conform.check(await client.post("/api/v1/notifications/999999/retry"))


@pytest.fixture
def scratch_server(tmp_path: Path) -> Iterator[str]:
    """A real `serve` process on SQLite and a free port, with runbooks, a channel that
    fails, and a few incidents, so that generated requests meet real data."""
    books = tmp_path / "books"
    books.mkdir()
    (books / "disk.md").write_text(RUNBOOK)
    config = tmp_path / "receiver.yml"
    config.write_text(
        f'runbooks_dir: {books}\nchannels:\n  dead: "json://127.0.0.1:9/"\n'
        "routes:\n  - channels: [dead]\n"
    )
    proc = serve(f"sqlite+aiosqlite:///{tmp_path / 'receiver.db'}", "--config", str(config))
    try:
        base = address(proc)
        for i in range(3):
            body = json.dumps(webhook(alert("DiskFull", instance=f"db-{i}"), group=f"g{i}"))
            request = urllib.request.Request(
                f"{base}/alerts", body.encode(), {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert resp.status == 200
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def test_schemathesis_finds_nothing_the_document_does_not_say(scratch_server: str) -> None:
    needs("schemathesis")
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.result import Ok
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    # Every operation but the document's own (schemathesis leaves out where it loaded from).
    schema = schemathesis.openapi.from_url(f"{scratch_server}/api/v1/openapi.json")
    failures: list[str] = []
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot read an operation: {result.err()}"
        operations.append(result.ok())
    cases = [(o, m) for o in operations for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    for operation, mode in cases:

        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(base_url=scratch_server, checks=checks)

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid: no parameters and no body
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups its failures
            failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__} {exc}")
    assert not failures, "\n\n".join(failures)


async def test_api_page_shows_every_operation(client: Client) -> None:
    resp = await client.get("/api")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    for method, path in documented():
        assert f"{method}</span> <code>{path}</code>" in html
    assert "curl -sS -X POST -H" in html
    assert "style=" not in html  # the CSP allows no inline style,
    # nor script: the one script is our own file (tests/test_pages_* cover what it does)
    only_our_script(html)


async def test_refusals_match_the_document(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Path
) -> None:
    """With sign-in and roles set up: no credentials, too few rights, another site."""
    needs("jsonschema_rs")
    config = tmp_path / "receiver.yml"
    config.write_text(ROLE_CONFIG)
    update = {"config": config, "web_config_file": web_config(tmp_path)}
    client = await aiohttp_client(create_app(settings.model_copy(update=update)))
    conform = Conformance()
    bob = basic("bob", PASSWORDS["bob"])
    for method, path in sorted(documented()):
        url = re.sub(r"\{\w+\}", "1", path)
        await conform.check(await client.request(method, url))
        await conform.check(await client.request(method, url, headers=bob))
        if method == "POST":
            away = {**bob, "Sec-Fetch-Site": "cross-site"}
            await conform.check(await client.request(method, url, headers=away))
