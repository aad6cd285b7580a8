"""The call records' database: SQLite by default, PostgreSQL by URL; written idempotently.

A call's row is upserted by its call sid, and a value already kept is never blanked by a later
write with less to say (a rerun after Redis expired part of the call), nor a true fact made
false: a repeated job or callback leaves the row as it was. Agents' state intervals are keyed
by agent and start, so a presence change read twice is one interval. The schema is Alembic's
to create and change (`migrate`, run when the writer starts and by `hotline records migrate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Engine, case, create_engine, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url

from queues.records.schema import agent_intervals, calls, cursors

MIGRATIONS = Path(__file__).with_name("migrations")
# The file under the var dir records go to when no DATABASE_URL is given.
SQLITE_NAME = "records.sqlite3"
# Text columns where "" means "not known": a later empty value keeps the one stored.
_TEXT_COLUMNS = frozenset(
    c.name for c in calls.columns if c.type.python_type is str and c.name != "call_sid"
)
# Facts that only ever become true (a follow-up closed, a rollover, heavy): once true, kept.
_ONCE_TRUE_COLUMNS = frozenset(c.name for c in calls.columns if isinstance(c.type, Boolean))


def engine_url(url: str) -> str:
    """A database URL with its driver: PostgreSQL through psycopg 3, whatever the scheme says."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def sqlite_url(var_dir: Path) -> str:
    """The default database: a SQLite file under the var dir."""
    return f"sqlite:///{var_dir / SQLITE_NAME}"


class RecordStore:
    """Reads and writes call records and agent intervals; the only owner of their tables."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> RecordStore:
        """A store on a database URL (a SQLite file's folder is made when missing)."""
        full = make_url(engine_url(url))
        if full.get_backend_name() == "sqlite" and full.database not in (None, "", ":memory:"):
            Path(full.database).parent.mkdir(parents=True, exist_ok=True)
        return cls(create_engine(full, pool_pre_ping=True))

    def close(self) -> None:
        """Let the database connections go."""
        self.engine.dispose()

    def migrate(self) -> str:
        """Bring the schema up to the newest migration; return the revision it is at."""
        # Alembic is imported here, not with the module: every web process and command loads
        # this module, and only the worker and `hotline records migrate` migrate.
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            return self._revision(connection)

    def _revision(self, connection: Connection) -> str:
        """The schema's revision as Alembic recorded it."""
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision() or ""

    def put_call(self, row: dict[str, Any], now: float) -> None:
        """Upsert a call's row: values already kept stay unless this write knows them."""
        values = {**row, "written_at": now}
        insert = self._insert(calls).values(values)
        merged = {}
        for name in values:
            if name == "call_sid":
                continue
            kept, new = calls.c[name], insert.excluded[name]
            if name == "written_at":
                merged[name] = kept  # when the row was first written
            elif name in _TEXT_COLUMNS:
                merged[name] = func.coalesce(func.nullif(new, ""), kept)
            elif name in _ONCE_TRUE_COLUMNS:
                # A rerun after Redis forgot part of the call must not unsay a fact it recorded.
                merged[name] = case((kept.is_(True), kept), else_=func.coalesce(new, kept))
            else:
                merged[name] = func.coalesce(new, kept)
        statement = insert.on_conflict_do_update(index_elements=["call_sid"], set_=merged)
        with self.engine.begin() as connection:
            connection.execute(statement)

    def get_call(self, call_sid: str) -> dict[str, Any] | None:
        """A call's row as a dict, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(calls).where(calls.c.call_sid == call_sid)).first()
        return dict(row._mapping) if row is not None else None

    def calls_between(self, start: float, end: float) -> list[dict[str, Any]]:
        """The calls that arrived in [start, end), oldest first."""
        query = (
            select(calls)
            .where(calls.c.arrived_at >= start, calls.c.arrived_at < end)
            .order_by(calls.c.arrived_at)
        )
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def first_arrival(self) -> float | None:
        """When the oldest kept call arrived (epoch seconds); None when none is kept."""
        with self.engine.connect() as connection:
            return connection.execute(select(func.min(calls.c.arrived_at))).scalar()

    def count_calls(self) -> int:
        """How many calls are kept."""
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(calls)).scalar_one())

    def put_presence(self, changes: Iterable[tuple[str, str, str, float]], cursor_name: str) -> int:
        """Fold presence changes (stream id, agent, state, at) into intervals; keep the cursor.

        Each change ends the agent's open interval and opens one in the new state, in one
        transaction with the cursor, so a change is never folded twice nor skipped.
        """
        folded, last = 0, None
        with self.engine.begin() as connection:
            for stream_id, agent, state, at in changes:
                connection.execute(
                    update(agent_intervals)
                    .where(
                        agent_intervals.c.agent == agent,
                        agent_intervals.c.ended_at.is_(None),
                        agent_intervals.c.started_at < at,
                    )
                    .values(ended_at=at)
                )
                opened = self._insert(agent_intervals).values(
                    agent=agent, state=state, started_at=at
                )
                connection.execute(opened.on_conflict_do_nothing())
                folded, last = folded + 1, stream_id
            if last is not None:
                put = self._insert(cursors).values(name=cursor_name, stream_id=last)
                connection.execute(
                    put.on_conflict_do_update(
                        index_elements=["name"], set_={"stream_id": put.excluded.stream_id}
                    )
                )
        return folded

    def cursor(self, name: str) -> str:
        """Where a follower of the event stream has read up to ("0": from the start)."""
        with self.engine.connect() as connection:
            value = connection.execute(
                select(cursors.c.stream_id).where(cursors.c.name == name)
            ).scalar()
        return value or "0"

    def intervals(self, agent: str | None = None) -> list[dict[str, Any]]:
        """Agents' state intervals (of one agent), oldest first."""
        query = select(agent_intervals).order_by(agent_intervals.c.started_at)
        if agent is not None:
            query = query.where(agent_intervals.c.agent == agent)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def purge(self, before: float) -> tuple[int, int]:
        """Delete calls that arrived, and intervals that ended, before a time; return counts."""
        with self.engine.begin() as connection:
            gone_calls = connection.execute(delete(calls).where(calls.c.arrived_at < before))
            gone_intervals = connection.execute(
                delete(agent_intervals).where(agent_intervals.c.ended_at < before)
            )
        return gone_calls.rowcount, gone_intervals.rowcount

    # -- a person's data ----------------------------------------------------------------------

    def calls_of(self, caller_digest: str) -> set[str]:
        """The calls kept for a caller's keyed digest (indexed)."""
        query = select(calls.c.call_sid).where(calls.c.caller_digest == caller_digest)
        with self.engine.connect() as connection:
            return set(connection.execute(query).scalars())

    def _person(self, caller_digest: str, call_sids: Iterable[str]):
        """The condition picking a person's rows: their digest, or one of their calls."""
        sids = sorted(set(call_sids))
        condition = calls.c.caller_digest == caller_digest
        return condition | calls.c.call_sid.in_(sids) if sids else condition

    def export_person(self, caller_digest: str, call_sids: Iterable[str]) -> list[dict[str, Any]]:
        """A person's call records, oldest first."""
        query = (
            select(calls).where(self._person(caller_digest, call_sids)).order_by(calls.c.arrived_at)
        )
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def erase_person(self, caller_digest: str, call_sids: Iterable[str]) -> int:
        """Delete a person's call records; how many rows went."""
        with self.engine.begin() as connection:
            gone = connection.execute(delete(calls).where(self._person(caller_digest, call_sids)))
        return gone.rowcount

    def _insert(self, table):
        """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL alike)."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)
