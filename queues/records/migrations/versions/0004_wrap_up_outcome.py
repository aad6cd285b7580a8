"""The outcome code the agent gave a call at wrap-up (config `outcomes:`), for reports.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable wrap_up_outcome column to call_records (empty on older rows)."""
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("wrap_up_outcome", sa.String(32), nullable=True))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("wrap_up_outcome")
