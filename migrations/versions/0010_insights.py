"""alert_hours: alerts per started hour, alertname and severity, for the insights page,
filled from the alerts already stored; alerts by (starts_at, fingerprint), so that
counting a window's episodes per fingerprint reads the index alone

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The hour an alert started in, as each database stores UTC times (SQLite: the text
# "2026-11-26 10:00:00.000000"; Postgres: timestamptz, truncated in UTC whatever the
# session's time zone).
_HOUR = {
    "sqlite": "substr(starts_at, 1, 13) || ':00:00.000000'",
    "postgresql": "date_trunc('hour', starts_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}


def upgrade() -> None:
    op.create_table(
        "alert_hours",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alertname", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "alertname", "severity", name="pk_alert_hours"),
    )
    op.create_index("ix_alerts_starts_at_fingerprint", "alerts", ["starts_at", "fingerprint"])
    hour = _HOUR[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO alert_hours (hour, alertname, severity, count) "
        f"SELECT {hour}, alertname, severity, count(*) FROM alerts "
        f"GROUP BY {hour}, alertname, severity"
    )


def downgrade() -> None:
    op.drop_table("alert_hours")
    op.drop_index("ix_alerts_starts_at_fingerprint", "alerts")
