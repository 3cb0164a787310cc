"""Alembic's entry point: run the migrations on the connection the caller opened (and locked)."""

from alembic import context

from read_receipts.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `flask --app app db ...`, which opens the database and its lock")

# Batch mode rebuilds a SQLite table for the ALTERs SQLite cannot do in place.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
