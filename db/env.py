"""Alembic environment: runs on a connection handed in by mailgate.store.migrate (sync or async URL)."""

from __future__ import annotations

from alembic import context

from mailgate.store.kb_tables import ours
from mailgate.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` CLI use: mailgate.store.migrate is the supported entry point
    raise SystemExit("run migrations with `mailgate db upgrade`")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True, include_object=ours)
with context.begin_transaction():
    context.run_migrations()
