"""notification outbox and delivery log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("route_index", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("change", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("due_at", _TIME, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("superseded_by", _ID, nullable=True),
        sa.Column("fallback_of", _ID, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_notifications_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_created_at_id"), ["created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_incident_id_channel_id"),
            ["incident_id", "channel", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_status_due_at"), ["status", "due_at"], unique=False
        )

    op.create_table(
        "notification_attempts",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", _ID, nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("services", _JSON, nullable=False),
        sa.Column("replica", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_attempts_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_attempts")),
    )
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_attempts_notification_id_id"),
            ["notification_id", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_attempts_notification_id_id"))

    op.drop_table("notification_attempts")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_status_due_at"))
        batch_op.drop_index(batch_op.f("ix_notifications_incident_id_channel_id"))
        batch_op.drop_index(batch_op.f("ix_notifications_created_at_id"))

    op.drop_table("notifications")
