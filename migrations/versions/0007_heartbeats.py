"""heartbeats: when each configured heartbeat last arrived, and since when it is overdue

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("last_seen_at", _TIME, nullable=False),
        sa.Column("missing_since", _TIME),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
