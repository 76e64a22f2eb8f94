"""indexes for the read filters: alerts by severity and by alertname with the keyset's id,
notifications by channel and by status, unresolved incidents by time, incidents by
receiver, actions by kind and time (MTTA)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNRESOLVED = sa.text("status != 'resolved'")

# (table, index name, columns); each serves one filter of the lists, newest first.
_INDEXES = (
    ("alerts", "ix_alerts_severity_starts_at_id", ["severity", "starts_at", "id"]),
    ("alerts", "ix_alerts_alertname_starts_at_id", ["alertname", "starts_at", "id"]),
    ("notifications", "ix_notifications_channel_created_at_id", ["channel", "created_at", "id"]),
    ("notifications", "ix_notifications_status_created_at_id", ["status", "created_at", "id"]),
    ("incidents", "ix_incidents_receiver_opened_at_id", ["receiver", "opened_at", "id"]),
    ("incident_actions", "ix_incident_actions_kind_at", ["kind", "at"]),
)


def upgrade() -> None:
    # (alertname, starts_at) without the id left ties to a sort on Postgres.
    op.drop_index("ix_alerts_alertname_starts_at", "alerts")
    for table, name, columns in _INDEXES:
        op.create_index(name, table, columns)
    op.create_index(
        "ix_incidents_unresolved_opened_at",
        "incidents",
        ["opened_at", "id"],
        sqlite_where=_UNRESOLVED,
        postgresql_where=_UNRESOLVED,
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_unresolved_opened_at", "incidents")
    for table, name, _ in reversed(_INDEXES):
        op.drop_index(name, table)
    op.create_index("ix_alerts_alertname_starts_at", "alerts", ["alertname", "starts_at"])
