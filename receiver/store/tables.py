"""The schema: one set of tables for SQLite and Postgres. Alembic migrations mirror it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise drop the offset silently.

    On SQLite the value is stored as the text SQLAlchemy's DATETIME uses
    ("2026-11-26 10:00:00.123000"), written and read with one C call each way: the generic
    formatting and regex parsing cost a tenth of ingest's time in webhooks of 20 alerts.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware times")
        value = value if value.tzinfo is UTC else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is not None and value.tzinfo is UTC:  # nearly always: skip the checks
                return value.isoformat(" ", "microseconds")[:26]  # cut "+00:00"
            naive = self.process_bind_param(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return to_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

        return from_text


# Label values have no length limit, but a btree entry does (Postgres: about 2.7 kB), so the
# indexed copies of alertname and severity keep this many characters; reads re-check exactly.
INDEXED_LABEL_CHARS = 200


def group_hash(receiver: str, group_key: str) -> str:
    """Index key of an Alertmanager group; a groupKey can be longer than an index allows."""
    return hashlib.blake2b(f"{receiver}\x00{group_key}".encode(), digest_size=16).hexdigest()


_FIRING = text("status = 'firing'")
_UNRESOLVED = text("status != 'resolved'")
_SUPERSEDED = text("superseded_by IS NOT NULL")
_FALLBACK = text("fallback_of IS NOT NULL")
_RESOLVED_AT = text("resolved_at IS NOT NULL")
# Failed attempts (failed, timeout), the few the channels page counts per channel; a query
# must spell this same condition for the planner to use the partial index.
UNDELIVERED = text("outcome <> 'delivered'")

Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def _id() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


alerts = Table(
    "alerts",
    metadata,
    _id(),
    Column("fingerprint", String(64), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime()),
    Column("end_inferred", Boolean, nullable=False, server_default=text("false")),
    Column("status", String(16), nullable=False),
    Column("alertname", Text, nullable=False, server_default=""),
    Column("severity", Text, nullable=False, server_default=""),
    Column("labels", Json, nullable=False),
    Column("annotations", Json, nullable=False),
    Column("generator_url", Text, nullable=False, server_default=""),
    Column("times_received", Integer, nullable=False, server_default=text("1")),
    Column("first_received_at", UTCDateTime(), nullable=False),
    Column("last_received_at", UTCDateTime(), nullable=False),
    UniqueConstraint("fingerprint", "starts_at"),
    # Lists newest first by (starts_at, id); the fingerprint rides along so that flapping's
    # walk of the newest alerts reads the index alone, not a table row each (0014).
    Index(None, "starts_at", "id", "fingerprint"),
    # The firing episode of a fingerprint, for dedup; a (status, ...) index instead would
    # tempt SQLite's planner to scan every firing alert for `status = 'firing' OR ...`.
    # "What is firing now", newest first, without walking the resolved history.
    Index(
        "ix_alerts_firing_starts_at",
        "starts_at",
        "id",
        sqlite_where=_FIRING,
        postgresql_where=_FIRING,
    ),
    Index(
        "ix_alerts_firing_fingerprint",
        "fingerprint",
        sqlite_where=_FIRING,
        postgresql_where=_FIRING,
    ),
    # The list filters, newest first: each with the keyset's (starts_at, id).
    Index(None, "alertname", "starts_at", "id"),
    Index(None, "severity", "starts_at", "id"),
)


def _rollup(name: str, start: str) -> Table:
    """Alerts per started `start` (hour or UTC day), alertname and severity (their indexed
    copies), kept equal to a GROUP BY over alerts by the write path and retention
    (receiver.store.insights): insights read these few rows instead of a month of alerts."""
    # Keyed in the order the volume chart sums them, and on SQLite clustered on that key,
    # so the sum walks the key alone (migration 0013).
    return Table(
        name,
        metadata,
        Column(start, UTCDateTime(), nullable=False),
        Column("alertname", Text, nullable=False),
        Column("severity", Text, nullable=False),
        Column("count", Integer, nullable=False),
        PrimaryKeyConstraint(start, "severity", "alertname"),
        sqlite_with_rowid=False,
    )


alert_hours = _rollup("alert_hours", "hour")
# A month's counts read some thousands of daily rows, and only the hours at either end
# of the window from alert_hours.
alert_days = _rollup("alert_days", "day")
# Alerts per started hour and severity alone, for the volume chart: a week is some 700
# rows here, against 40,000 of alert_hours with a few hundred alertnames (0014).
severity_hours = Table(
    "severity_hours",
    metadata,
    Column("hour", UTCDateTime(), nullable=False),
    Column("severity", Text, nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint("hour", "severity"),
    sqlite_with_rowid=False,
)

events = Table(
    "events",
    metadata,
    _id(),
    Column("alert_id", Id, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("inferred", Boolean, nullable=False, server_default=text("false")),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("details", Json),
    Index(None, "alert_id", "id"),
)

incidents = Table(
    "incidents",
    metadata,
    _id(),
    Column("group_hash", String(32), nullable=False),
    Column("receiver", Text, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("group_labels", Json, nullable=False),
    Column("common_labels", Json, nullable=False),
    # The alertname its response times are counted under: its alerts' common one, else
    # its group's, else "" (kept with the labels above: 0014). Insights read 5,000
    # incidents at a time, and taking it out of two JSON texts each cost SQLite 4 ms.
    Column("alertname", Text, nullable=False, server_default=""),
    Column("common_annotations", Json, nullable=False),
    Column("external_url", Text, nullable=False, server_default=""),
    Column("truncated_alerts", Integer, nullable=False, server_default=text("0")),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Column("times_received", Integer, nullable=False, server_default=text("1")),
    Column("last_received_at", UTCDateTime(), nullable=False),
    # Who acknowledged it, while it stays acknowledged; who resolved it by hand (None when
    # Alertmanager's resolution closed it). The history of actions is incident_actions.
    Column("acknowledged_by", Text),
    Column("acknowledged_at", UTCDateTime()),
    Column("resolved_by", Text),
    Index(None, "group_hash", "id"),
    Index(None, "opened_at", "id"),
    Index(None, "receiver", "opened_at", "id"),
    # Unresolved incidents newest first (the status filters open and acknowledged); a
    # (status, ...) index instead would take the count of open ones from the partial
    # index below and walk every resolved incident.
    Index(
        "ix_incidents_unresolved_opened_at",
        "opened_at",
        "id",
        sqlite_where=_UNRESOLVED,
        postgresql_where=_UNRESOLVED,
    ),
    # The last incidents to resolve (the home page), exactly: walking the newest opened
    # for resolved ones read every incident of an alert storm still open (0014).
    Index(
        "ix_incidents_resolved_at",
        "resolved_at",
        "id",
        sqlite_where=_RESOLVED_AT,
        postgresql_where=_RESOLVED_AT,
    ),
    # At most one incident of a group is open at a time, whatever replicas do concurrently.
    Index(
        "uq_incidents_open_group",
        "group_hash",
        unique=True,
        sqlite_where=_UNRESOLVED,
        postgresql_where=_UNRESOLVED,
    ),
)

incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column(
        "incident_id",
        Id,
        ForeignKey("incidents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("alert_id", Id, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "alert_id"),
)

# What people did to an incident, in order: kind is acknowledged | unacknowledged |
# resolved | note; `by` is the signed-in user, or the name typed while nobody signs in.
incident_actions = Table(
    "incident_actions",
    metadata,
    _id(),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("by", Text, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("text", Text, nullable=False, server_default=""),
    Index(None, "incident_id", "id"),
    Index(None, "kind", "at"),  # time to acknowledge (MTTA) over a period
)

notifications = Table(
    "notifications",
    metadata,
    _id(),
    Column("incident_id", Id, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(255), nullable=False),
    Column("route_index", Integer),
    Column("kind", String(16), nullable=False),  # change | reminder | fallback
    Column("change", Json, nullable=False),
    Column("status", String(16), nullable=False),  # pending|sending|delivered|failed|superseded
    Column("created_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("claimed_by", String(64)),
    Column("claimed_until", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    Column("superseded_by", Id),
    Column("fallback_of", Id),
    Column("last_error", Text),
    Column("title", Text),
    Column("body", Text),
    Index(None, "status", "due_at"),
    Index(None, "incident_id", "channel", "id"),
    Index(None, "created_at", "id"),
    Index(None, "channel", "id"),  # a channel's newest notifications (the channels page)
    Index(None, "channel", "created_at", "id"),
    Index(None, "status", "created_at", "id"),
    # Retention keeps the rows that a kept row was folded into or fell back from.
    Index(None, "superseded_by", sqlite_where=_SUPERSEDED, postgresql_where=_SUPERSEDED),
    Index(None, "fallback_of", sqlite_where=_FALLBACK, postgresql_where=_FALLBACK),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    _id(),
    Column(
        "notification_id",
        Id,
        ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The notification's, copied so that a channel's failures are counted on an index
    # alone (a join to notifications let Postgres scan them all); None only if written
    # by hand.
    Column("channel", String(255)),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("seconds", Float, nullable=False),
    Column("outcome", String(16), nullable=False),  # delivered | failed | timeout
    Column("error", Text),
    Column("services", Json, nullable=False),
    Column("replica", String(64), nullable=False),
    Index(None, "notification_id", "id"),
    Index(None, "channel", "started_at", sqlite_where=UNDELIVERED, postgresql_where=UNDELIVERED),
)

# One row per configured heartbeat (receiver.domain.heartbeats): when a firing alert of it
# last arrived, and since when it has been overdue (None: it is not).
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("missing_since", UTCDateTime()),
)
