"""The deploy kit works as shipped, checked by the tools that will read it: promtool for
Prometheus' config, rules and rule unit tests (and every dashboard query), amtool for
Alertmanager's config and routing, the receiver's own check-config for its config and
runbooks. Docker cannot run here, so the compose file and the Dockerfile are parsed and
held against each other and against the configs they mount; the Dockerfile's health
check command is run for real against a receiver."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from receiver.domain.matchers import matches_all, parse_matcher
from receiver.domain.routing import Route
from receiver.runtime.runbooks import load_runbooks
from tests.conftest import require
from tests.processes import address, serve

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
ALERTMANAGER_YML = DEPLOY / "alertmanager" / "alertmanager.yml"
RECEIVER_YML = DEPLOY / "receiver" / "receiver.yml"
RUNBOOKS = DEPLOY / "runbooks"

# The receiver's own metrics, as agreed with /metrics (histograms add _bucket/_sum/_count).
RECEIVER_METRICS = {
    "alert_receiver_webhook_requests_total",
    "alert_receiver_webhook_request_duration_seconds",
    "alert_receiver_alerts_received_total",
    "alert_receiver_open_incidents",
    "alert_receiver_notifications_total",
    "alert_receiver_notification_send_duration_seconds",
    "alert_receiver_outbox_pending",
    "alert_receiver_outbox_oldest_pending_age_seconds",
    "alert_receiver_breaker_state",
    "alert_receiver_write_batch_size",
    "alert_receiver_write_batch_duration_seconds",
    "alert_receiver_heartbeat_missing",
    "alert_receiver_build_info",
}
RECEIVER_HISTOGRAMS = {
    "alert_receiver_webhook_request_duration_seconds",
    "alert_receiver_notification_send_duration_seconds",
    "alert_receiver_write_batch_size",
    "alert_receiver_write_batch_duration_seconds",
}
SERVICES = {"receiver", "postgres", "prometheus", "alertmanager", "grafana", "mailpit"}
RUNBOOK_URL = re.compile(r"http://localhost:5001/runbooks/([a-z0-9_-]+)")


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed (apt-get install {package})")
    assert path is not None
    return path


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=120, env=env, cwd=ROOT
    )


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in RULE_FILES:
        for group in _load(path)["groups"]:
            for rule in group["rules"]:
                yield path, rule


def _alerts() -> list[dict[str, Any]]:
    return [rule for _, rule in _rules() if "alert" in rule]


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = _load(ROOT / "docker-compose.yml")
    return compose


def _default(value: str) -> str:
    """A compose value as compose reads it with nothing set: `${X:-d}` becomes d."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+)(ms|s|m|h|d)", duration)
    assert parts, duration
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * units[u] for n, u in parts)


def _host_port(target: str) -> tuple[str, int]:
    split = urlsplit(target if "//" in target else f"//{target}")
    assert split.hostname is not None, target
    assert split.port is not None, target
    return split.hostname, split.port


def _container_ports(service: dict[str, Any]) -> set[int]:
    ports = {int(str(p).split(":")[-1].split("/")[0]) for p in service.get("ports", [])}
    return ports | {int(p) for p in service.get("expose", [])}


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_config_and_its_rule_files_pass_promtool() -> None:
    promtool = _tool("promtool", "prometheus")
    result = _run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout, result.stdout


def test_rules_pass_promtool_check_rules() -> None:
    promtool = _tool("promtool", "prometheus")
    assert {p.name for p in RULE_FILES} >= {
        "mistralrs-recording.yml",
        "mistralrs-slo.yml",
        "alert-receiver.yml",
        "meta.yml",
    }
    result = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass_promtool_test_rules() -> None:
    promtool = _tool("promtool", "prometheus")
    result = _run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_every_alert_rule_has_a_unit_test_firing_and_one_quiet() -> None:
    """Firing: some case expects the alert at an eval time (past its threshold and its
    `for:`). Quiet: some case expects none of it (before `for:`, or inside the threshold);
    all but the always-firing Watchdog."""
    firing: set[str] = set()
    quiet: set[str] = set()
    tested_files: set[Path] = set()
    for path in RULE_TESTS:
        doc = _load(path)
        files = {(path.parent / f).resolve() for f in doc["rule_files"]}
        tested_files |= files
        groups = [g["name"] for f in files for g in _load(f)["groups"]]
        if len(groups) > 1:  # else promtool evaluates groups in a random order
            assert sorted(doc.get("group_eval_order", [])) == sorted(groups), path.name
        for case in doc["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    always = {rule["alert"] for rule in _alerts() if rule["expr"] == "vector(1)"}  # Watchdog
    assert names - firing == set(), "never shown firing"
    assert names - always - quiet == set(), "never shown quiet"
    assert {p.resolve() for p in RULE_FILES} <= tested_files


def test_the_slo_table_is_covered_at_both_thresholds() -> None:
    """Every row of the guide's SLO table has a warning and a critical alert, with the
    guide's thresholds (memory's warning is the guide's own 2.5 GiB example)."""
    alerts = {rule["alert"]: rule for rule in _alerts()}
    table = {
        "HighLatencyP95": ("> 0.2", "> 0.5"),
        "HighToolCallLatencyP95": ("> 0.1", "> 0.2"),
        "LowThroughput": ("< 1000", "< 500"),
        "HighMemoryUsage": ("> 2684354560", "> 3221225472"),
        "LowConnectionReuse": ("< 0.9", "< 0.7"),
        "HighErrorRate": ("> 0.01", "> 0.05"),
        "SlowStartup": ("> 0.3", "> 1"),
        "SlowShutdown": ("> 2", "> 5"),
    }
    for name, (warning, critical) in table.items():
        for severity, threshold in (("warning", warning), ("critical", critical)):
            rule = alerts[f"{name}{severity.title()}"]
            assert rule["labels"]["severity"] == severity
            assert re.search(rf"{re.escape(threshold)}(?![\d.])", rule["expr"]), rule["expr"]
    assert alerts["CircuitBreakerTripping"]["expr"].startswith(
        "job_name:mistralrs_circuit_breaker_trips:increase1h"
    )
    assert "mistralrs_circuit_breaker_state" in alerts["CircuitBreakerOpen"]["expr"]
    assert alerts["Watchdog"]["expr"] == "vector(1)"
    assert alerts["Watchdog"]["labels"] == {"severity": "none"}
    assert "for" not in alerts["Watchdog"]


def test_every_alert_is_labelled_annotated_and_has_a_matching_runbook() -> None:
    runbooks = load_runbooks(RUNBOOKS)
    used: set[str] = set()
    for rule in _alerts():
        name = rule["alert"]
        labels = rule.get("labels", {})
        assert labels.get("severity") in {"critical", "warning", "none"}, name
        annotations = rule.get("annotations", {})
        assert set(annotations) >= {"summary", "description", "runbook_url"}, name
        found = RUNBOOK_URL.fullmatch(annotations["runbook_url"])
        assert found, annotations["runbook_url"]
        slug = found.group(1)
        assert (RUNBOOKS / f"{slug}.md").is_file(), f"{name}: no runbook {slug}.md"
        picked = [r.slug for r in runbooks.pick([{"alertname": name, **labels}])]
        assert slug in picked, f"{name}: runbook {slug} does not match it (matched: {picked})"
        assert runbooks.by_slug[slug].steps, f"{slug} has no steps"
        used.add(slug)
    assert {r.slug for r in runbooks.items} == used, "runbooks no shipped alert links to"


def test_receiver_rules_use_the_agreed_metric_names() -> None:
    by_name = {rule["alert"]: rule for rule in _alerts()}
    expected = {
        "AlertReceiverDown": 'up{job="alert-receiver"}',
        "AlertReceiverWebhookErrors": "job:alert_receiver_webhook_errors:ratio_rate5m",
        "AlertReceiverNotificationsFailing": "alert_receiver_notifications_failed:ratio",
        "AlertReceiverOutboxBacklog": "alert_receiver_outbox_oldest_pending_age_seconds",
        "AlertReceiverBreakerOpen": "alert_receiver_breaker_state",
        "AlertReceiverHeartbeatMissing": "alert_receiver_heartbeat_missing",
    }
    for name, needle in expected.items():
        assert needle in by_name[name]["expr"], name
    texts = [p.read_text() for p in (*RULE_FILES, *DASHBOARDS)]
    used = {m for text in texts for m in re.findall(r"(?<![:\w])alert_receiver_\w+(?![\w:])", text)}
    unknown = {
        name
        for name in used
        if name not in RECEIVER_METRICS
        and not (
            re.sub(r"_(bucket|sum|count)$", "", name) in RECEIVER_HISTOGRAMS
            and name.endswith(("_bucket", "_sum", "_count"))
        )
    }
    assert unknown == set()


def test_the_receiver_serves_every_metric_the_rules_and_dashboards_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real receiver, on the kit's own config, asked for /metrics: every family the
    rules and dashboards read is there, with its type."""
    monkeypatch.setenv("CHAT_URL", _receiver_env()["CHAT_URL"])
    config = tmp_path / "receiver.yml"
    config.write_text(
        RECEIVER_YML.read_text().replace("/etc/alert-receiver/runbooks", str(RUNBOOKS))
    )
    proc = serve(f"sqlite+aiosqlite:///{tmp_path / 'receiver.db'}", "--config", str(config))
    try:
        with urllib.request.urlopen(f"{address(proc)}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    served = dict(re.findall(r"^# TYPE (alert_receiver_\w+) (\w+)$", text, re.M))
    expected = {
        name: "histogram" if name in RECEIVER_HISTOGRAMS
        else "counter" if name.endswith("_total")
        else "gauge"
        for name in RECEIVER_METRICS
    }  # fmt: skip
    missing = sorted(set(expected) - set(served))
    assert not missing, f"not served by /metrics, so the rules reading them never fire: {missing}"
    assert {name: served[name] for name in expected} == expected


def test_recorded_series_that_alerts_and_dashboards_read_are_recorded() -> None:
    recorded = {rule["record"] for _, rule in _rules() if "record" in rule}
    for name in recorded:  # level:metric:operations
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), name
    expressions = [rule["expr"] for rule in _alerts()] + [e for e, _ in _dashboard_queries()]
    read = {m for e in expressions for m in re.findall(r"\b[a-z_]+:[a-z_]+:[a-z0-9_]+\b", e)}
    assert read - recorded == set()


def test_prometheus_scrapes_the_receiver_the_server_and_sends_to_alertmanager() -> None:
    config = _load(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["alert-receiver"]["static_configs"][0]["targets"] == ["receiver:5001"]
    assert jobs["alert-receiver"].get("metrics_path", "/metrics") == "/metrics"
    mistralrs = jobs["mistralrs"]["file_sd_configs"][0]["files"]
    for pattern in mistralrs:
        targets = _load(PROMETHEUS / pattern)
        assert targets
        assert all(t["targets"] for t in targets)
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    assert config["rule_files"] == ["rules/*.yml"]


# --------------------------------------------------------------------------- Grafana


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard_queries() -> list[tuple[str, str]]:
    """(PromQL, where) for every panel target and every query variable of the dashboards."""
    found: list[tuple[str, str]] = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in _panels(board["panels"]):
            for target in panel.get("targets", []):
                found.append((target["expr"], f"{path.name}: {panel['title']}"))
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable["query"]
            query = query["query"] if isinstance(query, dict) else query
            inner = re.fullmatch(r"(?:label_values|query_result)\((.+?)(?:,\s*\w+)?\)", query)
            if inner and not re.fullmatch(r"\w+", inner.group(1)):
                found.append((inner.group(1), f"{path.name}: variable {variable['name']}"))
    return found


def _as_promql(expr: str) -> str:
    """Grafana's variables as Prometheus would see them once Grafana filled them in."""
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$\{?\w+\}?", ".+", expr)


def test_every_dashboard_query_passes_promtool(tmp_path: Path) -> None:
    promtool = _tool("promtool", "prometheus")
    queries = _dashboard_queries()
    assert len(queries) > 40
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{i}:check", "expr": _as_promql(expr)}
                    for i, (expr, _) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules, width=1000))
    result = _run(promtool, "check", "rules", str(path))
    where = "\n".join(f"query_{i}: {w}: {e}" for i, (e, w) in enumerate(queries))
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + where
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_dashboards_cover_the_receiver_and_the_slo_table() -> None:
    boards = {p.stem: json.loads(p.read_text()) for p in DASHBOARDS}
    assert set(boards) == {"alert-receiver", "mistralrs-slo"}
    assert len({b["uid"] for b in boards.values()}) == len(boards)
    receiver_text = json.dumps(boards["alert-receiver"])
    for metric in RECEIVER_METRICS:
        assert metric in receiver_text, f"the receiver dashboard does not show {metric}"
    slo_text = json.dumps(boards["mistralrs-slo"])
    for series in (
        "job:mistralrs_request_duration_seconds:p95_rate5m",
        "job:mistralrs_tool_call_duration_seconds:p95_rate5m",
        "job:mistralrs_requests:rate5m",
        "process_resident_memory_bytes",
        "job:mistralrs_connection_reuse:ratio_rate5m",
        "job:mistralrs_requests_failed:ratio_rate5m",
        "mistralrs_startup_duration_seconds",
        "mistralrs_last_shutdown_duration_seconds",
        "mistralrs_circuit_breaker_trips",
        "mistralrs_circuit_breaker_state",
    ):
        assert series in slo_text, series
    datasource = _load(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uid = datasource["datasources"][0]["uid"]
    for name, board in boards.items():
        for panel in _panels(board["panels"]):
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, (name, panel["title"])
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == uid, (name, panel["title"])
                assert panel["targets"], (name, panel["title"])


def test_grafana_provisioning_matches_compose() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("./"))
    provisioning = DEPLOY / "grafana" / "provisioning"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = _load(provisioning / "dashboards" / "dashboards.yml")["providers"][0]
    assert provider["type"] == "file"
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    source = _load(provisioning / "datasources" / "prometheus.yml")["datasources"][0]
    assert source["type"] == "prometheus"
    host, port = _host_port(source["url"])
    assert host in _compose()["services"]
    assert port in _container_ports(_compose()["services"][host])


# --------------------------------------------------------------------------- Alertmanager


def _routes_for(amtool: str, *labels: str) -> list[str]:
    result = _run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_YML}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(",")


def test_alertmanager_config_passes_amtool() -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    result = _run(amtool, "check-config", str(ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    config = _load(ALERTMANAGER_YML)
    webhook = config["receivers"][0]["webhook_configs"][0]
    assert webhook == {"url": "http://receiver:5001/alerts", "send_resolved": True}
    assert config["route"]["group_by"] == ["alertname", "severity"]
    for receiver in config["receivers"]:
        for kind in ("webhook_configs", "email_configs"):
            for entry in receiver.get(kind, []):
                assert entry["send_resolved"] is True, receiver["name"]


def test_alertmanager_routes_every_alert_to_the_receiver() -> None:
    """amtool's own routing: every shipped alert reaches alert-receiver; the receiver's
    own alerts also go around it by email."""
    amtool = _tool("amtool", "prometheus-alertmanager")
    for rule in _alerts():
        name, severity = rule["alert"], rule["labels"]["severity"]
        receivers = _routes_for(amtool, f"alertname={name}", f"severity={severity}")
        assert "alert-receiver" in receivers, (name, receivers)
        if name.startswith("AlertReceiver"):
            assert sorted(receivers) == ["alert-receiver", "direct-email"], name
        else:
            assert receivers == ["alert-receiver"], name


def test_watchdog_is_watched_by_a_heartbeat_and_sent_often_enough_for_it() -> None:
    config = _load(ALERTMANAGER_YML)
    watchdog = next(
        r for r in config["route"]["routes"] if r.get("matchers") == ['alertname="Watchdog"']
    )
    assert watchdog["receiver"] == config["receivers"][0]["name"] == "alert-receiver"
    receiver = _load(RECEIVER_YML)
    (heartbeat,) = receiver["heartbeats"]
    rule = next(r for r in _alerts() if r["alert"] == "Watchdog")
    labels = {"alertname": "Watchdog", **rule["labels"]}
    assert matches_all([parse_matcher(m) for m in heartbeat["match"]], labels)
    assert heartbeat["channels"] == ["oncall-chat"]
    assert "oncall-chat" in receiver["channels"]
    # Alertmanager re-sends at a group_interval tick once repeat_interval has passed.
    every = max(_seconds(watchdog["group_interval"]), _seconds(watchdog["repeat_interval"]))
    assert every <= 120
    assert 2 * every <= _seconds(heartbeat["timeout"]), "two chances within the timeout"


# --------------------------------------------------------------------------- receiver


def _receiver_env() -> dict[str, str]:
    """The receiver container's environment with compose's defaults."""
    env = _compose()["services"]["receiver"]["environment"]
    return {name: _default(str(value)) for name, value in env.items()}


def test_receiver_config_and_runbooks_pass_check_config(tmp_path: Path) -> None:
    """The kit's receiver.yml, with its runbooks folder where compose mounts it and the
    environment compose gives it."""
    text = RECEIVER_YML.read_text()
    config = tmp_path / "receiver.yml"
    config.write_text(
        text.replace("/etc/alert-receiver/runbooks", str(ROOT / "deploy" / "runbooks"))
    )
    env = {**os.environ, "CHAT_URL": _receiver_env()["CHAT_URL"]}
    result = subprocess.run(
        [sys.executable, "-m", "receiver", "check-config", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"runbooks: {len(list(RUNBOOKS.glob('*.md')))} from" in result.stdout
    assert "channel oncall-chat" in result.stdout
    assert "channel ops-email" in result.stdout


def test_receiver_routes_send_nothing_for_the_watchdog() -> None:
    routes = [Route.model_validate(r) for r in _load(RECEIVER_YML)["routes"]]
    watchdog = {"alertname": "Watchdog", "severity": "none"}
    assert not [r for r in routes if matches_all(r.match, watchdog)]
    assert [r for r in routes if matches_all(r.match, {"severity": "critical"})]
    assert [r for r in routes if matches_all(r.match, {"severity": "warning"})]


# --------------------------------------------------------------------------- compose


def test_compose_runs_the_whole_stack_on_pinned_images() -> None:
    compose = _compose()
    services: dict[str, dict[str, Any]] = compose["services"]
    assert set(services) == SERVICES
    assert services["receiver"]["build"] == "."
    for name, service in services.items():
        if name == "receiver":
            assert "image" not in service
            continue
        image = service["image"]
        assert re.fullmatch(r"[a-z0-9./-]+:v?\d+\.\d+(\.\d+)?(-[a-z0-9]+)?", image), image
        assert "latest" not in image
        test = service["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"}, name
        assert len(test) > 1, name
    # Where the receiver's health check comes from: the Dockerfile it builds.
    assert "healthcheck" not in services["receiver"]
    assert _dockerfile_healthcheck()
    assert services["receiver"]["ports"] == ["5001:5001"]


def test_compose_keeps_state_in_named_volumes_and_mounts_existing_files() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    used: set[str] = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
                assert volume.endswith(":ro"), f"{name}: {volume} should be read-only"
            else:
                assert source in declared, f"{name}: {source} is not a named volume"
                used.add(source)
    assert used == declared
    stateful = {
        "postgres": "/var/lib/postgresql/data",
        "prometheus": "/prometheus",
        "alertmanager": "/alertmanager",
        "grafana": "/var/lib/grafana",
        "mailpit": "/data",
    }
    for name, path in stateful.items():
        targets = [v.split(":")[1] for v in compose["services"][name]["volumes"]]
        assert path in targets, name


def test_compose_wires_the_services_to_each_other() -> None:
    services = _compose()["services"]
    # Alertmanager posts to the receiver's service name and container port.
    url = urlsplit(_load(ALERTMANAGER_YML)["receivers"][0]["webhook_configs"][0]["url"])
    assert url.hostname in services
    assert url.path == "/alerts"
    assert url.port in _container_ports(services[str(url.hostname)])
    # Prometheus: its config inside the mounted folder, and targets that are services.
    prometheus = services["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = _load(PROMETHEUS / "prometheus.yml")
    targets = [
        t
        for job in config["scrape_configs"]
        if job["job_name"] in {"alert-receiver", "alertmanager"}
        for t in job["static_configs"][0]["targets"]
    ] + config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    for target in targets:
        host, port = _host_port(target)
        service = {"receiver": "receiver", "alertmanager": "alertmanager"}[host]
        assert port in _container_ports(services[service]), target
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in services["alertmanager"]["command"]
    # The receiver: on the compose Postgres, its config and runbooks where it reads them.
    env = _receiver_env()
    database = urlsplit(env["RECEIVER_DATABASE_URL"])
    postgres = services["postgres"]["environment"]
    assert database.scheme == "postgresql+asyncpg"
    assert database.hostname == "postgres"
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == _default(postgres["POSTGRES_PASSWORD"])
    assert database.path == "/" + postgres["POSTGRES_DB"]
    assert services["receiver"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    mounts = dict(v.split(":")[:2] for v in services["receiver"]["volumes"])
    assert mounts["./deploy/receiver/receiver.yml"] == env["RECEIVER_CONFIG"]
    assert mounts["./deploy/runbooks"] == _load(RECEIVER_YML)["runbooks_dir"]
    # Email goes to mailpit's SMTP port; the chat channel defaults to a mailpit mailbox.
    for channel in (_load(RECEIVER_YML)["channels"]["ops-email"], env["CHAT_URL"]):
        assert _host_port(channel) == ("mailpit", 1025), channel
    assert 8025 in _container_ports(services["mailpit"])


# --------------------------------------------------------------------------- Dockerfile


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _dockerfile_healthcheck() -> list[str]:
    checks = [args for op, args in _dockerfile() if op == "HEALTHCHECK"]
    assert len(checks) == 1
    command = re.search(r"\bCMD\s+(\[.*\])\s*$", checks[0])
    assert command, "HEALTHCHECK CMD should be an exec form (JSON array)"
    argv: list[str] = json.loads(command.group(1))
    return argv


def test_dockerfile_is_slim_pinned_non_root_and_migrates_on_start() -> None:
    instructions = _dockerfile()
    images = [args.split()[0] for op, args in instructions if op == "FROM"]
    assert images, "no FROM"
    for image in images:
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim(-\w+)?", image), image
    users = [args for op, args in instructions if op == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert instructions[-1] == ("CMD", '["serve"]')
    assert ("ENTRYPOINT", '["alert-receiver"]') in instructions
    assert not [args for _, args in instructions if "--no-migrate" in args]
    assert "EXPOSE" in {op for op, _ in instructions}
    argv = _dockerfile_healthcheck()
    assert argv[0] == "python"
    assert "/-/ready" in " ".join(argv)
    assert not {"curl", "wget"} & set(re.findall(r"\w+", " ".join(argv)))


def test_dockerfile_healthcheck_passes_on_a_ready_receiver_and_fails_without(
    tmp_path: Path,
) -> None:
    """The HEALTHCHECK command itself, run against a real receiver on a free port."""
    argv = [sys.executable, *_dockerfile_healthcheck()[1:]]

    def check(port: int | None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "RECEIVER_PORT": str(port)}
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)

    proc = serve(f"sqlite+aiosqlite:///{tmp_path / 'receiver.db'}")
    try:
        port = urlsplit(address(proc)).port
        ready = check(port)
        assert ready.returncode == 0, ready.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    gone = check(port)
    assert gone.returncode == 1, gone.stderr
