"""Alembic's environment for the registry: always run programmatically (textgen.db.Database.migrate), on the
connection the registry already holds under its lock; there is no alembic.ini."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
