"""Every page in a real browser, as people use them: filters, pagers, incident actions,
exports, dark mode, the keyboard, kiosk, no JavaScript, hostile alert data, a cross-site
form. The site is seeded once per module through POST /alerts like Alertmanager; each
test that acts does so on an incident of its own. Screenshots go to `site.shots`."""

from __future__ import annotations

import csv
import http.server
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote_plus, urlencode
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, Response, expect

from tests.browser.conftest import Pages, Site, Watch
from tests.payloads import alert, webhook

CRITICAL = "HighLatencyP95Critical"  # deploy/runbooks/high-latency-p95.md matches it
API_FILTER = 'instance=~"api-.*"'
BULK = 64  # more than one page of alerts (50)
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
HUGE = "0123456789" * 10_000  # 100 KB in one annotation
HOSTILE = f"Hostile{SCRIPT}"
# Incidents that tests act on, one each, so that no test depends on another's actions.
TARGETS = ("ActedOn", "BulkA", "BulkB", "NoScript", "CrossSite")
NOW = datetime.now(UTC)


def ago(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Story:
    site: Site
    incidents: dict[str, int]  # by group alertname (the first incident of a group)
    hostile_alert: int

    def url(self, path: str) -> str:
        return self.site.base + path


def _seed(site: Site) -> None:
    post = site.post
    post(
        "/alerts",
        webhook(
            *(
                alert(CRITICAL, starts=ago(30), severity="critical", instance=i, service="checkout")
                for i in ("api-1", "api-2")
            ),
            group=CRITICAL,
        ),
    )
    post(
        "/alerts",
        webhook(
            alert("HighErrorRateWarning", starts=ago(25), severity="warning", instance="api-3"),
            group="HighErrorRateWarning",
        ),
    )
    post(
        "/alerts",
        webhook(
            alert("LowThroughput", starts=ago(20), severity="info", instance="worker-1"),
            group="LowThroughput",
        ),
    )
    memory = alert("HighMemoryUsage", starts=ago(120), instance="db-1")
    post("/alerts", webhook(memory, group="HighMemoryUsage"))
    post(
        "/alerts",
        webhook({**memory, "status": "resolved", "endsAt": ago(90)}, group="HighMemoryUsage"),
    )
    for n in range(4):  # flapping: the same labels, four episodes
        flap = alert("SlowStartup", starts=ago(400 - 60 * n), instance="api-4")
        post("/alerts", webhook(flap, group="SlowStartup"))
        post(
            "/alerts",
            webhook(
                {**flap, "status": "resolved", "endsAt": ago(390 - 60 * n)}, group="SlowStartup"
            ),
        )
    bulk = [
        alert("BatchJobSlow", starts=ago(500 + n), severity="info", instance=f"api-batch-{n:02d}")
        for n in range(BULK)
    ]
    post("/alerts", webhook(*bulk, receiver="team-b", group="BatchJobSlow"))
    hostile = alert(
        HOSTILE,
        starts=ago(15),
        annotations={
            "summary": SCRIPT,
            "runbook_url": "javascript:alert(2)",
            "description": HUGE,
        },
        severity="warning",
        instance=BREAKOUT,
        note=SCRIPT,
    )
    post("/alerts", webhook({**hostile, "generatorURL": "javascript:alert(3)"}, group=HOSTILE))
    for k, name in enumerate(TARGETS):
        post(
            "/alerts",
            webhook(alert(name, starts=ago(10 + k), instance="web-1"), group=name),
        )


@pytest.fixture(scope="module")
def story(site: Site) -> Story:
    _seed(site)
    incidents: dict[str, int] = {}
    for i in reversed(site.get("/api/v1/incidents?limit=1000")["incidents"]):
        incidents.setdefault(i["groupLabels"]["alertname"], i["id"])
    hostile = site.get("/api/v1/alerts?" + urlencode({"alertname": HOSTILE}))["alerts"]
    assert len(hostile) == 1, "the hostile alert was stored"
    return Story(site, incidents, hostile[0]["id"])


def shot(page: Page, site: Site, name: str) -> None:
    page.screenshot(path=str(site.shots / f"{name}.png"), full_page=True)


def status(answer: Response | None) -> int:
    assert answer is not None, "no answer"
    return answer.status


def no_sideways_scroll(page: Page) -> None:
    """The page is no wider than the screen (a phone's browser would otherwise zoom out,
    so window.innerWidth grows with the page: compare with the viewport itself)."""
    screen = page.viewport_size
    assert screen is not None
    wide = page.evaluate("document.documentElement.scrollWidth") - screen["width"]
    assert wide <= 0, f"{page.url} is {wide}px wider than the screen"


def luminance(css_rgb: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css_rgb)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# 1 ---------------------------------------------------------------------------------------
def test_home_shows_what_fires_now_critical_first(page: Page, story: Story) -> None:
    page.goto(story.url("/"))
    rows = page.locator("table.rows").first.locator("tbody tr")
    expect(rows.first).to_contain_text(CRITICAL)
    expect(rows.first.locator(".sev")).to_have_text("critical")
    expect(rows.first).to_contain_text("2 firing")
    heading = page.locator("h1").inner_text()
    found = re.match(r"(\d+) open incidents?, (\d+) alerts? firing", heading)
    assert found, heading
    opened, firing = int(found.group(1)), int(found.group(2))
    assert firing >= 2 + 1 + 1 + BULK + 1, heading
    expect(page).to_have_title(f"({firing}) firing — alert-receiver")
    assert rows.count() == opened
    counts = {
        li.locator(".sev").inner_text(): int(li.inner_text().split()[-1])
        for li in page.locator(".severities li").all()
    }
    assert counts["critical"] == 1
    assert counts["info"] >= 2
    assert counts["warning"] >= 2
    assert sum(counts.values()) == opened
    severities = [r.locator("td").nth(1).inner_text() for r in rows.all()]
    order = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=lambda s: order.get(s, 3)), "most urgent first"
    expect(page.locator("table.rows").nth(1)).to_contain_text("HighMemoryUsage")  # resolved
    shot(page, story.site, "home")


# 2 ---------------------------------------------------------------------------------------
def test_alerts_filter_pager_and_one_alert(page: Page, story: Story) -> None:
    page.goto(story.url("/alerts"))
    page.locator("input[name=filter]").fill(API_FILTER)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/alerts\?.*filter="))
    assert unquote_plus(page.url).count(API_FILTER) == 1, page.url
    expect(page.locator("input[name=filter]")).to_have_value(API_FILTER)
    rows = page.locator("table.rows tbody tr")
    expect(rows).to_have_count(50)
    for cell in rows.locator("td:nth-child(4)").all_inner_texts():
        assert 'instance="api-' in cell, cell
    first_page = rows.locator("td:first-child a").evaluate_all("els => els.map(e => e.href)")
    shot(page, story.site, "alerts-filtered")

    page.get_by_role("link", name="Older →").click()
    page.wait_for_url(re.compile(r"cursor="))
    assert API_FILTER in unquote_plus(page.url), "the next page keeps the filter"
    expected = len(
        story.site.get("/api/v1/alerts?" + urlencode({"filter": API_FILTER, "limit": 1000}))[
            "alerts"
        ]
    )
    expect(rows).to_have_count(expected - 50)
    second = rows.locator("td:first-child a").evaluate_all("els => els.map(e => e.href)")
    assert not set(first_page) & set(second)
    for cell in rows.locator("td:nth-child(4)").all_inner_texts():
        assert 'instance="api-' in cell, cell
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)

    page.get_by_role("link", name="← Newest").click()
    page.wait_for_url(lambda url: "cursor=" not in url)
    assert API_FILTER in unquote_plus(page.url)
    expect(rows).to_have_count(50)

    page.get_by_role("link", name=CRITICAL).first.click()
    page.wait_for_url(re.compile(r"/alerts/\d+$"))
    expect(page.locator("h1")).to_contain_text(CRITICAL)
    labels = page.locator("table.pairs").first
    expect(labels).to_contain_text("severity")
    expect(labels).to_contain_text("critical")
    expect(labels).to_contain_text("service")
    expect(page.locator("ol.timeline li.event-fired")).to_contain_text("fired")
    runbook = page.locator(".card.runbook").first
    expect(runbook.locator("h3 a")).to_have_attribute("href", "/runbooks/high-latency-p95")
    assert runbook.locator("ol li, ul li").count() >= 2, "the runbook's steps are shown"
    silence = page.get_by_role("link", name="Silence in Alertmanager")
    href = silence.get_attribute("href") or ""
    assert href.startswith("http://alertmanager-1:9093/#/silences/new?filter="), href
    assert quote(f'alertname="{CRITICAL}"', safe="") in href
    shot(page, story.site, "alert")


# 3 ---------------------------------------------------------------------------------------
def test_incident_actions_in_the_browser(page: Page, story: Story) -> None:
    incident = story.incidents["ActedOn"]
    page.goto(story.url(f"/incidents/{incident}"))
    summary = page.locator("p.summary")
    expect(summary.locator(".status")).to_have_text("open")

    ack = page.locator("form.action-acknowledge")
    ack.locator("input[name=by]").fill("Ada Lovelace")
    ack.get_by_role("button", name="Acknowledge").click()
    expect(summary).to_contain_text("acknowledged by Ada Lovelace")
    expect(summary.locator(".status")).to_have_text("acknowledged")
    expect(page.locator("ol.timeline li.event-acknowledged")).to_contain_text("Ada Lovelace")

    note = page.locator("form.action-notes")
    note.locator("input[name=by]").fill("Ada Lovelace")
    note.locator("textarea[name=text]").fill("Rolled back deploy 4711;\nwatching p95.")
    note.get_by_role("button", name="Add note").click()
    expect(page.locator("ol.timeline li.event-note blockquote")).to_have_text(
        "Rolled back deploy 4711;\nwatching p95."
    )

    resolve = page.locator("form.action-resolve")
    resolve.locator("input[name=by]").fill("Grace Hopper")
    resolve.get_by_role("button", name="Resolve").click()
    expect(summary.locator(".status")).to_have_text("resolved")
    expect(summary).to_contain_text(re.compile(r"resolved [^·]* by Grace Hopper"))
    expect(page.locator("ol.timeline li.event-resolved")).to_contain_text("by Grace Hopper")
    expect(page.locator("form.action-resolve")).to_have_count(0)
    assert story.site.get(f"/api/v1/incidents/{incident}")["status"] == "resolved"
    shot(page, story.site, "incident-acted")
    page.goto(story.url("/incidents"))
    status = page.locator(f'tr[data-href="/incidents/{incident}"] td:nth-child(3)')
    expect(status).to_contain_text("resolved")
    expect(status).to_contain_text("by Grace Hopper")  # who resolved it, not who acknowledged


def test_bulk_acknowledge_from_the_list(page: Page, story: Story) -> None:
    chosen = [story.incidents["BulkA"], story.incidents["BulkB"]]
    page.goto(story.url("/incidents"))
    for i in chosen:
        page.get_by_label(f"select incident {i}", exact=True).check()
    bulk = page.locator("form.bulk")
    bulk.locator("input[name=by]").fill("Linus")
    bulk.get_by_role("button", name="Acknowledge selected").click()
    page.wait_for_url(re.compile(r"/incidents$"))
    for i in chosen:
        row = page.locator(f'tr[data-href="/incidents/{i}"]')
        expect(row.locator(".status")).to_have_text("acknowledged")
        expect(row).to_contain_text("by Linus")
        assert story.site.get(f"/api/v1/incidents/{i}")["acknowledgedBy"] == "Linus"
    untouched = story.incidents["CrossSite"]
    expect(page.locator(f'tr[data-href="/incidents/{untouched}"] .status')).to_have_text("open")


# 4 ---------------------------------------------------------------------------------------
def test_csv_export_of_a_filter(page: Page, story: Story) -> None:
    page.goto(story.url("/alerts?" + urlencode({"filter": API_FILTER, "status": "firing"})))
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV", exact=True).click()
    path = download.value.path()
    with open(path, newline="", encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0][:5] == ["id", "fingerprint", "status", "alertname", "severity"]
    assert "labels" in table[0]
    assert "annotations" in table[0]
    api = story.site.get(
        "/api/v1/alerts?" + urlencode({"filter": API_FILTER, "status": "firing", "limit": 1000})
    )["alerts"]
    assert len(api) > 50  # more than the page shows: the export is not one page
    assert sorted(int(r[0]) for r in table[1:]) == sorted(a["id"] for a in api)
    assert {r[2] for r in table[1:]} == {"firing"}
    assert all('"instance":"api-' in r[table[0].index("labels")] for r in table[1:])


# 5 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_dark_and_light(new_page: Pages, story: Story, scheme: str) -> None:
    page: Page = new_page(color_scheme=scheme)
    page.goto(story.url("/"))
    colours = page.evaluate(
        """() => { const s = getComputedStyle(document.body);
                   const c = getComputedStyle(document.querySelector("td"));
                   const t = getComputedStyle(document.querySelector("table"));
                   return [s.backgroundColor, s.color, t.backgroundColor, c.color]; }"""
    )
    back, text, table_back, cell = (luminance(c) for c in colours)
    if scheme == "dark":
        assert max(back, table_back) < 0.2, colours
        assert min(text, cell) > 0.6, colours
    else:
        assert min(back, table_back) > 0.8, colours
        assert max(text, cell) < 0.3, colours
    shot(page, story.site, f"home-{scheme}")
    page.goto(story.url(f"/incidents/{story.incidents[CRITICAL]}"))
    shot(page, story.site, f"incident-{scheme}")


# 6 ---------------------------------------------------------------------------------------
def test_keyboard_on_the_incident_list(page: Page, story: Story) -> None:
    page.goto(story.url("/incidents"))
    page.keyboard.press("/")
    expect(page.locator("input[data-search]")).to_be_focused()
    page.locator("h1").click()  # leave the field: letters typed there are not shortcuts
    rows = page.locator("tr[data-href]")
    highlighted = page.locator("tr.highlight")
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bhighlight\b"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bhighlight\b"))
    expect(highlighted).to_have_count(1)
    page.keyboard.press("j")
    expect(rows.nth(2)).to_have_class(re.compile(r"\bhighlight\b"))
    page.keyboard.press("k")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bhighlight\b"))
    expect(highlighted).to_have_count(1)
    target = rows.nth(1).get_attribute("data-href")
    assert (target or "").startswith("/incidents/")
    page.keyboard.press("Enter")
    page.wait_for_url(story.url(target or ""))
    expect(page.locator("h1")).to_contain_text("#" + (target or "").rsplit("/", 1)[1])


def test_live_refresh_pause_survives_a_reload(page: Page, story: Story) -> None:
    page.goto(story.url("/"))
    toggle = page.locator("button.live-toggle")
    expect(toggle).to_have_text("Pause live updates")
    toggle.click()
    expect(toggle).to_have_text("Resume live updates")
    page.reload()
    expect(toggle).to_have_text("Resume live updates")
    assert page.evaluate("localStorage.getItem('alert-receiver.live-paused')") == "1"
    toggle.click()
    expect(toggle).to_have_text("Pause live updates")
    page.reload()
    expect(toggle).to_have_text("Pause live updates")


def test_times_are_local_with_utc_in_the_title(new_page: Pages, story: Story) -> None:
    page: Page = new_page(timezone_id="America/New_York", locale="en-US")
    page.goto(story.url(f"/incidents/{story.incidents[CRITICAL]}"))
    first = page.locator("p.summary time").first
    raw = first.get_attribute("datetime") or ""
    at = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    expect(first).to_have_attribute("title", at.strftime("%Y-%m-%d %H:%M:%S UTC"))
    local = at.astimezone(ZoneInfo("America/New_York"))
    expect(first).to_contain_text(local.strftime("%I:%M"))  # New York's hour, not UTC's
    expect(first).to_contain_text(re.compile(r"E[SD]T"))
    assert "UTC" not in first.inner_text()


# 7 ---------------------------------------------------------------------------------------
def test_kiosk_has_no_chrome_and_larger_type(page: Page, story: Story) -> None:
    size = "() => parseFloat(getComputedStyle(document.querySelector('td')).fontSize)"
    page.goto(story.url("/"))
    normal = page.evaluate(size)
    expect(page.locator("header nav")).to_have_count(1)
    page.goto(story.url("/?kiosk=1"))
    expect(page.locator("header")).to_have_count(0)
    expect(page.locator("nav")).to_have_count(0)
    expect(page.locator("button.live-toggle")).to_have_count(0)
    expect(page.locator("table.rows tbody tr").first).to_contain_text(CRITICAL)
    assert page.evaluate(size) >= normal * 1.3
    shot(page, story.site, "kiosk")


# 8 ---------------------------------------------------------------------------------------
def test_acknowledge_without_javascript(new_page: Pages, story: Story) -> None:
    page: Page = new_page(java_script_enabled=False)
    incident = story.incidents["NoScript"]
    page.goto(story.url(f"/incidents/{incident}"))
    ack = page.locator("form.action-acknowledge")
    ack.locator("input[name=by]").fill("Margaret")
    ack.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(story.url(f"/incidents/{incident}"))
    expect(page.locator("p.summary")).to_contain_text("acknowledged by Margaret")
    # No script ran: times stay in UTC as the server wrote them.
    expect(page.locator("p.summary time").first).to_contain_text("UTC")
    assert story.site.get(f"/api/v1/incidents/{incident}")["status"] == "acknowledged"


# 9 ---------------------------------------------------------------------------------------
def test_hostile_alert_is_only_text(page: Page, story: Story) -> None:
    hostile_incident = story.incidents[HOSTILE]
    shows_text = {
        "/": True,
        "/alerts": True,
        f"/alerts/{story.hostile_alert}": True,
        f"/incidents/{hostile_incident}": True,
        "/insights": True,
        "/runbooks": True,
        "/channels": False,
        "/api": False,
    }
    for path, visible in shows_text.items():
        started = time.monotonic()
        answer = page.goto(story.url(path))
        took = time.monotonic() - started
        assert status(answer) == 200, path
        assert took < 4, f"{path} took {took:.1f} s"
        links = page.evaluate(
            "Array.from(document.querySelectorAll('[href],[src],[action]'))"
            ".map(e => e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action'))"
        )
        assert not [x for x in links if x.strip().lower().startswith("javascript:")], path
        assert page.locator("img").count() == 0, path
        if visible:
            expect(page.get_by_text(SCRIPT).first).to_be_visible()
        no_sideways_scroll(page)

    page.goto(story.url(f"/alerts/{story.hostile_alert}"))
    expect(page.locator("td.value").filter(has_text=HUGE[:50])).to_have_count(1)
    assert HUGE in page.locator("body").inner_text()
    expect(page.get_by_text(BREAKOUT).first).to_be_visible()
    expect(page.locator("p.links code")).to_have_text("javascript:alert(3)")  # not a link
    expect(page.get_by_text("javascript:alert(2)")).to_be_visible()
    width = page.evaluate("document.querySelector('td.value').getBoundingClientRect().right")
    assert width <= 1280, "the 100 KB value wraps instead of running off the page"
    shot(page, story.site, "hostile-alert")


# 10 --------------------------------------------------------------------------------------
def test_every_page_answers_and_is_pictured(page: Page, new_page: Pages, story: Story) -> None:
    critical = story.incidents[CRITICAL]
    alert_id = story.site.get("/api/v1/alerts?" + urlencode({"alertname": CRITICAL}))["alerts"][0][
        "id"
    ]
    pages = {
        "page-home": "/",
        "page-alerts": "/alerts",
        "page-alert": f"/alerts/{alert_id}",
        "page-incidents": "/incidents",
        "page-incident": f"/incidents/{critical}",
        "page-insights": "/insights",
        "page-channels": "/channels",
        "page-runbooks": "/runbooks",
        "page-runbook": "/runbooks/high-latency-p95",
        "page-api": "/api",
    }
    for name, path in pages.items():
        answer = page.goto(story.url(path))
        assert status(answer) == 200, path
        expect(page.locator("main h1")).to_be_visible()
        no_sideways_scroll(page)
        shot(page, story.site, name)
        if name == "page-api":  # a long reference: its first screen too
            page.screenshot(path=str(story.site.shots / "page-api-top.png"))
        if name == "page-incident":  # the critical route's channel took the message
            expect(page.locator("td", has_text="oncall-chat")).to_have_count(1)

    phone: Page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    for name, path in (("phone-home", "/"), ("phone-incident", f"/incidents/{critical}")):
        answer = phone.goto(story.url(path))
        assert status(answer) == 200, path
        no_sideways_scroll(phone)
        shot(phone, story.site, name)


# 11 --------------------------------------------------------------------------------------
@pytest.fixture
def other_site(story: Story) -> Iterator[str]:
    """A page on another origin (127.0.0.1, another port) with a form aimed at ours."""
    incident = story.incidents["CrossSite"]
    html = (
        "<!doctype html><title>elsewhere</title>"
        f'<form method="post" action="{story.url(f"/incidents/{incident}/acknowledge")}">'
        '<input name="by" value="mallory"><input name="next" value="/">'
        "<button type=submit>Win a prize</button></form>"
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_cross_site_form_is_refused(
    page: Page, story: Story, other_site: str, watch: Watch
) -> None:
    incident = story.incidents["CrossSite"]
    page.goto(story.url(f"/incidents/{incident}"))  # the browser holds our CSRF cookie
    page.goto(other_site)
    with page.expect_response(lambda r: r.url.endswith("/acknowledge")) as answer:
        page.get_by_role("button", name="Win a prize").click()
    assert answer.value.status == 403
    assert answer.value.request.method == "POST"
    expect(page.locator("body")).to_contain_text("another site")
    assert story.site.get(f"/api/v1/incidents/{incident}")["status"] == "open"
    # The browser logs the refused navigation's 403 itself: expected, not a page's error.
    watch.errors[:] = [e for e in watch.errors if "403" not in e]
