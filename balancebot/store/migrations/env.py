"""Alembic's entry: always handed an open connection by `migrations.upgrade` (balancebot
never lets Alembic open its own), so upgrades share the caller's transaction and lock."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
