"""Alembic's environment for the call records: runs on the connection the caller hands over.

`queues.records.store.RecordStore.migrate` builds the Alembic config in code and passes its
open connection as `config.attributes["connection"]`: no alembic.ini, no URL read here.
"""

from __future__ import annotations

from alembic import context

from queues.records.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
