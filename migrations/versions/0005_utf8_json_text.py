"""rewrite alert labels and annotations as UTF-8 JSON on SQLite, for text search

Earlier versions wrote JSON with non-ASCII characters as \\u escapes; the text search
(a LIKE over the stored text) could not find them. Postgres stores JSONB, which keeps no
escapes, so there is nothing to do there. Only rows that hold an escape are read; where
most labels are in another script that can be most of the table (about a minute per
million such rows), reported as it goes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import json
import logging
from collections.abc import Sequence
from typing import Any

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
_CHUNK = 5000
_ESCAPED = (
    "SELECT id, labels, annotations FROM alerts WHERE id > ? "
    "AND (instr(labels, '\\u') > 0 OR instr(annotations, '\\u') > 0) ORDER BY id LIMIT ?"
)


def _utf8(text: str) -> str:
    value: Any = json.loads(text)
    rewritten = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        rewritten.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, stored before such input was refused
        return text
    return rewritten


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    last, done = 0, 0
    while rows := bind.exec_driver_sql(_ESCAPED, (last, _CHUNK)).fetchall():
        bind.exec_driver_sql(
            "UPDATE alerts SET labels = ?, annotations = ? WHERE id = ?",
            [(_utf8(labels), _utf8(annotations), id_) for id_, labels, annotations in rows],
        )
        last, done = rows[-1][0], done + len(rows)
        log.info("0005: rewrote %d alerts so far", done)


def downgrade() -> None:
    """Nothing to undo: both forms are the same JSON to every reader."""
