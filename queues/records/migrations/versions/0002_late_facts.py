"""Late facts of a call: its voicemail called back, its follow-up closed, a crisis rollover, heavy.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Rows written before this revision keep these empty: the facts were not recorded then.
COLUMNS = (
    ("voicemail_called_back_at", sa.Float),
    ("followup_closed", sa.Boolean),
    ("crisis_rollover", sa.Boolean),
    ("heavy", sa.Boolean),
)


def upgrade() -> None:
    """Add the four nullable columns to call_records."""
    with op.batch_alter_table("call_records") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("call_records") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
