"""index firing alerts by fingerprint instead of by status

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FIRING = sa.text("status = 'firing'")


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_status_starts_at"))
        batch_op.create_index(
            "ix_alerts_firing_fingerprint",
            ["fingerprint"],
            unique=False,
            sqlite_where=_FIRING,
            postgresql_where=_FIRING,
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_alerts_firing_fingerprint", sqlite_where=_FIRING, postgresql_where=_FIRING
        )
        batch_op.create_index(
            batch_op.f("ix_alerts_status_starts_at"), ["status", "starts_at"], unique=False
        )
