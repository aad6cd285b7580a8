"""An index on the caller's keyed digest: a person's calls are found without reading every row.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index call_records by caller_digest (a person's data: export and erase)."""
    op.create_index("call_records_caller_digest", "call_records", ["caller_digest"])


def downgrade() -> None:
    """Drop the index again."""
    op.drop_index("call_records_caller_digest", table_name="call_records")
