"""alerts, events, incidents

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("starts_at", _TIME, nullable=False),
        sa.Column("ends_at", _TIME, nullable=True),
        sa.Column("end_inferred", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("alertname", sa.Text(), server_default="", nullable=False),
        sa.Column("severity", sa.Text(), server_default="", nullable=False),
        sa.Column("labels", _JSON, nullable=False),
        sa.Column("annotations", _JSON, nullable=False),
        sa.Column("generator_url", sa.Text(), server_default="", nullable=False),
        sa.Column("times_received", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("first_received_at", _TIME, nullable=False),
        sa.Column("last_received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint(
            "fingerprint", "starts_at", name=op.f("uq_alerts_fingerprint_starts_at")
        ),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_alertname_starts_at"), ["alertname", "starts_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alerts_starts_at_id"), ["starts_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_alerts_status_starts_at"), ["status", "starts_at"], unique=False
        )

    op.create_table(
        "incidents",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("group_hash", sa.String(length=32), nullable=False),
        sa.Column("receiver", sa.Text(), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("group_labels", _JSON, nullable=False),
        sa.Column("common_labels", _JSON, nullable=False),
        sa.Column("common_annotations", _JSON, nullable=False),
        sa.Column("external_url", sa.Text(), server_default="", nullable=False),
        sa.Column("truncated_alerts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("resolved_at", _TIME, nullable=True),
        sa.Column("times_received", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("last_received_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incidents_opened_at_id"), ["opened_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incidents_group_hash_id"), ["group_hash", "id"], unique=False
        )
        batch_op.create_index(
            "uq_incidents_open_group",
            ["group_hash"],
            unique=True,
            sqlite_where=sa.text("status != 'resolved'"),
            postgresql_where=sa.text("status != 'resolved'"),
        )

    op.create_table(
        "events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("inferred", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("received_at", _TIME, nullable=False),
        sa.Column("details", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_events_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_alert_id_id"), ["alert_id", "id"], unique=False)

    op.create_table(
        "incident_alerts",
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("alert_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_incident_alerts_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "alert_id", name=op.f("pk_incident_alerts")),
    )
    with op.batch_alter_table("incident_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_alerts_alert_id"), ["alert_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_alerts_alert_id"))

    op.drop_table("incident_alerts")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_alert_id_id"))

    op.drop_table("events")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_incidents_open_group",
            sqlite_where=sa.text("status != 'resolved'"),
            postgresql_where=sa.text("status != 'resolved'"),
        )
        batch_op.drop_index(batch_op.f("ix_incidents_group_hash_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_opened_at_id"))

    op.drop_table("incidents")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_status_starts_at"))
        batch_op.drop_index(batch_op.f("ix_alerts_starts_at_id"))
        batch_op.drop_index(batch_op.f("ix_alerts_alertname_starts_at"))

    op.drop_table("alerts")
