"""index notifications by channel, and failed attempts by time, for the channels page

The channels page shows each channel's last outcome (the newest notification of the
channel that has an attempt: a backward walk of (channel, id)) and its failures of the
last 24 hours (failed attempts are few, so a partial index holds only them).

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNDELIVERED = sa.text("outcome <> 'delivered'")


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_channel_id", ["channel", "id"])
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_attempts_started_at",
            ["started_at"],
            sqlite_where=_UNDELIVERED,
            postgresql_where=_UNDELIVERED,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_notification_attempts_started_at",
            sqlite_where=_UNDELIVERED,
            postgresql_where=_UNDELIVERED,
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_channel_id")
