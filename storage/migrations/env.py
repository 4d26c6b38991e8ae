"""Alembic environment: runs on the connection handed over by storage.db.upgrade."""

from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Curfew always hands a connection over
    raise RuntimeError("run migrations with `python app.py db upgrade`")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
