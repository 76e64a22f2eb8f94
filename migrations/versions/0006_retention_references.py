"""index the notifications that refer to others, for retention

Retention keeps a notification while a kept one was folded into it (superseded_by) or
fell back from it (fallback_of); both columns are nearly always empty, so the indexes
hold only the rows that refer to another.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("superseded_by", "fallback_of")


def _where(column: str) -> dict[str, sa.TextClause]:
    condition = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        for column in _COLUMNS:
            batch_op.create_index(f"ix_notifications_{column}", [column], **_where(column))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        for column in _COLUMNS:
            batch_op.drop_index(f"ix_notifications_{column}", **_where(column))
