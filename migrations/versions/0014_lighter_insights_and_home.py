"""insights and the home page read less: flapping's walk reads an index alone, the
volume chart sums a rollup by hour and severity, incidents keep their alertname, and
resolved incidents are indexed by resolution time

Flapping groups the window's 5,000 newest alerts by fingerprint. Walking
(starts_at, id), SQLite fetched each alert's table row for its fingerprint (8 ms at a
million alerts); with the fingerprint in the index it reads the index alone (3 ms). The
index replaces the old one (same keyset order), so each alert stored still writes one.

severity_hours holds alert_hours summed over alertname: a week's chart sums about 700
rows instead of 40,000 (9 ms on SQLite). It is filled from alert_hours here, and kept
from then on by the write path and retention, like the other two rollups.

incidents.alertname is what response times group by (the alerts' common alertname, else
the group's, else ""): taking it out of two JSON texts for each of 5,000 incidents cost
SQLite about 4 ms. The write path keeps it with the labels it comes from.

ix_incidents_resolved_at holds resolved incidents by resolution time, for the home
page's "recently resolved": it walked the newest opened incidents for resolved ones,
which in an alert storm meant every incident of the storm (47 ms at 160,000 open), and
could miss an incident that had been open for long.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The alertname of an incident's labels, as each database reads its JSON text.
_ALERTNAME = {
    "sqlite": "coalesce(json_extract(common_labels, '$.alertname'), "
    "json_extract(group_labels, '$.alertname'), '')",
    "postgresql": "coalesce(common_labels ->> 'alertname', group_labels ->> 'alertname', '')",
}


def upgrade() -> None:
    op.add_column("incidents", sa.Column("alertname", sa.Text(), nullable=False, server_default=""))
    op.execute(f"UPDATE incidents SET alertname = {_ALERTNAME[op.get_bind().dialect.name]}")
    resolved = sa.text("resolved_at IS NOT NULL")
    op.create_index(
        "ix_incidents_resolved_at",
        "incidents",
        ["resolved_at", "id"],
        sqlite_where=resolved,
        postgresql_where=resolved,
    )
    op.create_index(
        "ix_alerts_starts_at_id_fingerprint", "alerts", ["starts_at", "id", "fingerprint"]
    )
    op.drop_index("ix_alerts_starts_at_id", "alerts")
    op.create_table(
        "severity_hours",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "severity", name="pk_severity_hours"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO severity_hours (hour, severity, count) "
        "SELECT hour, severity, sum(count) FROM alert_hours GROUP BY hour, severity"
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_resolved_at", "incidents")
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_column("alertname")
    op.drop_table("severity_hours")
    op.create_index("ix_alerts_starts_at_id", "alerts", ["starts_at", "id"])
    op.drop_index("ix_alerts_starts_at_id_fingerprint", "alerts")
