"""Links built from alert data: the one rule for which URLs become links, and the links
messages, pages and the API share. Alert text is written by whoever writes the alerting
rules and rendered into chat, mail and browsers, so only http(s) becomes a link."""

from __future__ import annotations

from urllib.parse import quote

RUNBOOK_ANNOTATIONS = ("runbook_url", "runbook", "playbook")


def safe_link(url: str) -> str | None:
    """The URL, stripped, if it is http(s); None otherwise (`javascript:` must never become
    a link, and a stray space must not hide a good one)."""
    url = url.strip()
    return url if url.lower().startswith(("http://", "https://")) else None


def runbook_links(annotations: dict[str, str]) -> list[tuple[str, str]]:
    """(annotation name, URL) of the runbook links an alert carries itself."""
    return [
        (name, link)
        for name in RUNBOOK_ANNOTATIONS
        if (link := safe_link(annotations.get(name, ""))) is not None
    ]


def base_url(external_url: str, hostname: str, port: int) -> str:
    """Where people reach this service, for the links it sends: the external URL when
    given, else http://HOSTNAME:PORT, as Alertmanager defaults its own, so that a message
    never carries a relative link (a chat or mail client cannot follow one)."""
    given = _base(external_url)
    return given if given else f"http://{hostname}:{port}"


def _base(url: str) -> str | None:
    base = safe_link(url)
    return base.rstrip("/") if base else None


def runbook_url(external_url: str, slug: str) -> str | None:
    """Where this service shows a runbook, or None without a usable base URL."""
    base = _base(external_url)
    return f"{base}/runbooks/{slug}" if base else None


def incident_url(external_url: str, incident_id: int) -> str | None:
    base = _base(external_url)
    return f"{base}/incidents/{incident_id}" if base else None


def _matcher_filter(labels: dict[str, str]) -> str:
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"') for v in labels.values())
    return "{" + ",".join(f'{k}="{v}"' for k, v in zip(labels, escaped, strict=True)) + "}"


def silence_url(alertmanager_url: str, labels: dict[str, str]) -> str | None:
    """Alertmanager's new-silence form, pre-filled with matchers for these labels."""
    base = _base(alertmanager_url)
    if base is None or not labels:
        return None
    return f"{base}/#/silences/new?filter={quote(_matcher_filter(labels), safe='')}"
