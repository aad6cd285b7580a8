"""Call records, agent state intervals and the presence follower's cursor.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "call_records",
        sa.Column("call_sid", sa.String(64), primary_key=True),
        sa.Column("caller_digest", sa.String(64), nullable=False),
        sa.Column("arrived_at", sa.Float, nullable=False),
        sa.Column("menu_done_at", sa.Float),
        sa.Column("queued_at", sa.Float),
        sa.Column("offered_at", sa.Float),
        sa.Column("answered_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("end_status", sa.String(32), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("wait_s", sa.Float),
        sa.Column("talk_s", sa.Float),
        sa.Column("wrap_up_s", sa.Float),
        sa.Column("rating", sa.Integer),
        sa.Column("crisis_trigger", sa.String(64), nullable=False),
        sa.Column("crisis_to_human_s", sa.Float),
        sa.Column("callback", sa.String(32), nullable=False),
        sa.Column("voicemail_recording", sa.String(64), nullable=False),
        sa.Column("written_at", sa.Float, nullable=False),
    )
    op.create_index("call_records_arrived_at", "call_records", ["arrived_at"])
    op.create_index("call_records_area_arrived_at", "call_records", ["area", "arrived_at"])
    op.create_table(
        "agent_intervals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.UniqueConstraint("agent", "started_at", name="agent_intervals_agent_start"),
    )
    op.create_index("agent_intervals_started_at", "agent_intervals", ["started_at"])
    op.create_table(
        "record_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("stream_id", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("record_cursors")
    op.drop_index("agent_intervals_started_at", "agent_intervals")
    op.drop_table("agent_intervals")
    op.drop_index("call_records_area_arrived_at", "call_records")
    op.drop_index("call_records_arrived_at", "call_records")
    op.drop_table("call_records")
