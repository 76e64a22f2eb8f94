"""index notifications by channel, and failed attempts by channel and time, for the
channels page

The channels page shows each channel's last outcome (the newest notification of the
channel that has an attempt: a backward walk of (channel, id)) and its failures of the
last 24 hours. For those, an attempt carries its notification's channel (filled in here
for the attempts already logged), and a partial index holds only the failed ones, which
are few, by (channel, started_at): counting them reads the index alone.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNDELIVERED = sa.text("outcome <> 'delivered'")
_FAILED_INDEX = "ix_notification_attempts_channel_started_at"


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_channel_id", ["channel", "id"])
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(255), nullable=True))
    op.execute(
        "UPDATE notification_attempts SET channel = (SELECT channel FROM notifications "
        "WHERE notifications.id = notification_attempts.notification_id)"
    )
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.create_index(
            _FAILED_INDEX,
            ["channel", "started_at"],
            sqlite_where=_UNDELIVERED,
            postgresql_where=_UNDELIVERED,
        )


def downgrade() -> None:
    with op.batch_alter_table("notification_attempts", schema=None) as batch_op:
        batch_op.drop_index(_FAILED_INDEX, sqlite_where=_UNDELIVERED, postgresql_where=_UNDELIVERED)
        batch_op.drop_column("channel")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_channel_id")
