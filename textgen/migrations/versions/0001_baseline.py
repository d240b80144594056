"""The registry as it stood before Alembic: runs, metrics, samples, experiment results, writers seen.

A registry made before Alembic (SQLite, no alembic_version) already has some of these tables, maybe
without the columns added later; it keeps its rows and gains what it lacks, so it upgrades in place.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _columns() -> dict[str, list[sa.Column]]:
    T, F, I = sa.Text, sa.Float, sa.Integer   # Float: double precision on PostgreSQL, REAL on SQLite
    return {
        "runs": [
            sa.Column("id", T, primary_key=True), sa.Column("label", T, nullable=False),
            sa.Column("status", T, nullable=False), sa.Column("created", F, nullable=False),
            sa.Column("started", F), sa.Column("finished", F), sa.Column("heartbeat", F), sa.Column("pid", I),
            sa.Column("message", T, server_default=""), sa.Column("level", T), sa.Column("cell", T),
            sa.Column("layers", I), sa.Column("units", I), sa.Column("params", sa.BigInteger), sa.Column("corpus", T),
            sa.Column("epoch", I, server_default="0"), sa.Column("epochs", I, server_default="0"),
            sa.Column("step", I, server_default="0"), sa.Column("steps", I, server_default="0"),
            sa.Column("eta", F), sa.Column("chars_per_sec", F), sa.Column("best_val_bpc", F),
            sa.Column("last_val_bpc", F), sa.Column("elapsed", F, server_default="0"),
            sa.Column("args", T, server_default="[]"), sa.Column("cancel", I, server_default="0"),
            sa.Column("owner", T), sa.Column("shared", I, server_default="0"),
        ],
        "metrics": [
            sa.Column("run_id", T, nullable=False), sa.Column("kind", T, nullable=False), sa.Column("epoch", I),
            sa.Column("step", I), sa.Column("elapsed", F), sa.Column("loss", F), sa.Column("val_loss", F),
            sa.Column("bpc", F), sa.Column("val_bpc", F), sa.Column("chars_per_sec", F), sa.Column("lr", F),
            sa.Column("grad_norm", F), sa.Column("clipped", I),
        ],
        "samples": [sa.Column("run_id", T, nullable=False), sa.Column("epoch", I), sa.Column("temperature", F),
                    sa.Column("text", T)],
        "experiment_results": [
            sa.Column("experiment", T, nullable=False), sa.Column("run_id", T), sa.Column("cell", T, nullable=False),
            sa.Column("gap", I, nullable=False), sa.Column("units", I), sa.Column("params", sa.BigInteger),
            sa.Column("accuracy", F), sa.Column("steps", I), sa.Column("seconds", F),
        ],
        "seen": [sa.Column("owner", T, primary_key=True), sa.Column("last", F, nullable=False)],
    }


ORDERED = ("metrics", "experiment_results")   # read back in insertion order: SQLite's rowid, else `seq`
INDEXES = (("metrics_run", "metrics", ["run_id", "kind", "step"]), ("samples_run", "samples", ["run_id", "epoch"]))


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    sqlite = bind.dialect.name == "sqlite"
    have = set(inspector.get_table_names())
    for table, cols in _columns().items():
        if table not in have:
            if table in ORDERED and not sqlite:
                cols = [sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True), *cols]
            op.create_table(table, *cols)
            continue
        present = {c["name"] for c in inspector.get_columns(table)}
        for col in cols:   # an older registry: the columns added since it was made
            if col.name not in present:
                op.add_column(table, col)
    for name, table, cols in INDEXES:
        op.create_index(name, table, cols, if_not_exists=True)


def downgrade() -> None:
    for table in reversed(list(_columns())):
        op.drop_table(table)
