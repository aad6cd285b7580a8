"""The call records' tables, in SQLAlchemy Core: one row per call, one per agent state interval.

Times are epoch seconds (floats) as the hotline recorded them, so SQLite and PostgreSQL keep the
same values and reports need no time zone. The caller is kept only as a keyed digest
(`queues.sealing.Sealer.digest`): the same number gives the same digest, so returning callers
can be counted, but the table never holds a number. Alembic's migrations (migrations/) create
and change these tables; this module is what the code reads and writes them through.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

calls = Table(
    "call_records",
    metadata,
    Column("call_sid", String(64), primary_key=True),
    Column("caller_digest", String(64), nullable=False, default=""),
    Column("arrived_at", Float, nullable=False),
    Column("menu_done_at", Float),
    Column("queued_at", Float),
    Column("offered_at", Float),
    Column("answered_at", Float),
    Column("ended_at", Float),
    Column("area", String(64), nullable=False, default=""),
    Column("language", String(16), nullable=False, default=""),
    Column("outcome", String(32), nullable=False, default=""),
    Column("end_status", String(32), nullable=False, default=""),
    Column("agent", String(64), nullable=False, default=""),
    Column("wait_s", Float),
    Column("talk_s", Float),
    Column("wrap_up_s", Float),
    Column("rating", Integer),
    Column("crisis_trigger", String(64), nullable=False, default=""),
    Column("crisis_to_human_s", Float),
    Column("callback", String(32), nullable=False, default=""),
    Column("voicemail_recording", String(64), nullable=False, default=""),
    Column("written_at", Float, nullable=False),
    # Facts that come late or change after the call (migration 0002); empty where not known.
    Column("voicemail_called_back_at", Float),
    Column("followup_closed", Boolean),
    Column("crisis_rollover", Boolean),
    Column("heavy", Boolean),
    # The outcome code the agent gave at wrap-up (migration 0004); empty where none was given.
    Column("wrap_up_outcome", String(32)),
)
Index("call_records_arrived_at", calls.c.arrived_at)
Index("call_records_area_arrived_at", calls.c.area, calls.c.arrived_at)
# A person's calls, for the export and erasure of their data (migration 0003).
Index("call_records_caller_digest", calls.c.caller_digest)

agent_intervals = Table(
    "agent_intervals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    UniqueConstraint("agent", "started_at", name="agent_intervals_agent_start"),
)
Index("agent_intervals_started_at", agent_intervals.c.started_at)

# Where the presence follower has read the event stream up to (one row, name "presence").
cursors = Table(
    "record_cursors",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("stream_id", String(32), nullable=False),
)
