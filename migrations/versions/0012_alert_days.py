"""alert_days: alerts per started UTC day, alertname and severity, next to alert_hours,
filled from it; insights over a month and runbook coverage sum these few rows. The
(starts_at, fingerprint) index of 0010 goes: flapping reads its 5,000 newest alerts by
(starts_at, id) (Postgres chose that one anyway), and each alert stored paid for it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The UTC day of an hourly row, as each database stores UTC times (SQLite: the text
# "2026-11-26 10:00:00.000000"; Postgres: timestamptz, truncated in UTC whatever the
# session's time zone).
_DAY = {
    "sqlite": "substr(hour, 1, 10) || ' 00:00:00.000000'",
    "postgresql": "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}


def upgrade() -> None:
    op.create_table(
        "alert_days",
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alertname", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "alertname", "severity", name="pk_alert_days"),
    )
    op.drop_index("ix_alerts_starts_at_fingerprint", "alerts")
    day = _DAY[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO alert_days (day, alertname, severity, count) "
        f"SELECT {day}, alertname, severity, sum(count) FROM alert_hours "
        f"GROUP BY {day}, alertname, severity"
    )


def downgrade() -> None:
    op.create_index("ix_alerts_starts_at_fingerprint", "alerts", ["starts_at", "fingerprint"])
    op.drop_table("alert_days")
