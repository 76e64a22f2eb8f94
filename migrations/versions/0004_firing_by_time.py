"""index firing alerts by start time for "what is firing now"

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRING = sa.text("status = 'firing'")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_firing_starts_at",
            ["starts_at", "id"],
            unique=False,
            sqlite_where=_FIRING,
            postgresql_where=_FIRING,
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_alerts_firing_starts_at", sqlite_where=_FIRING, postgresql_where=_FIRING
        )
