"""incident_actions: what people did to an incident (acknowledged, unacknowledged, resolved
by hand, a note), with who and when; incidents keep the current acknowledgement and who
resolved them by hand

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incident_actions",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id",
            _ID,
            sa.ForeignKey(
                "incidents.id",
                ondelete="CASCADE",
                name="fk_incident_actions_incident_id_incidents",
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("text", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_incident_actions"),
    )
    op.create_index(
        "ix_incident_actions_incident_id_id", "incident_actions", ["incident_id", "id"]
    )
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acknowledged_by", sa.Text()))
        batch.add_column(sa.Column("acknowledged_at", _TIME))
        batch.add_column(sa.Column("resolved_by", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("resolved_by")
        batch.drop_column("acknowledged_at")
        batch.drop_column("acknowledged_by")
    op.drop_index("ix_incident_actions_incident_id_id", "incident_actions")
    op.drop_table("incident_actions")
