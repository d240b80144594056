"""Where a job runs: the node (a host name, or "local") and its backend's job id (a Ray submission id);
and on PostgreSQL a change counter, so the web process's shared snapshot (roomcache) knows when to read again
(on SQLite the database file's size and mtime tell it).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
WATCHED = ("runs", "metrics", "samples")   # what a snapshot shows; writers seen (`seen`) change it not


def upgrade() -> None:
    op.add_column("runs", sa.Column("node", sa.Text))     # shown on the Train page: where the worker trains
    op.add_column("runs", sa.Column("job", sa.Text))      # the backend's handle, to stop a worker that went quiet
    if op.get_bind().dialect.name == "postgresql":
        # A sequence, not a counter row: nextval takes no lock, so concurrent writers never wait on each other.
        op.execute("CREATE SEQUENCE registry_changes")
        op.execute("CREATE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN PERFORM nextval('registry_changes'); RETURN NULL; END $$")
        for table in WATCHED:
            op.execute(f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION registry_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_changed ON {table}")
        op.execute("DROP FUNCTION registry_changed()")
        op.execute("DROP SEQUENCE registry_changes")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("job")
        batch.drop_column("node")
