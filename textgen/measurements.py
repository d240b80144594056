"""What runs record as they go: metric rows and samples, and the experiments' measurements.

A part of the Registry (textgen.runs), which gives it its connections: connect() for a read or a single
write, _locked() for a transaction under the registry's lock.
"""
from __future__ import annotations

from .errors import RunError
from .workspace import check_run_id

# The schema lives in textgen/migrations (Alembic); these are the columns the registry reads back in order.
METRIC_COLUMNS = ("run_id", "kind", "epoch", "step", "elapsed", "loss", "val_loss", "bpc", "val_bpc", "chars_per_sec",
                  "lr", "grad_norm", "clipped")
EXPERIMENT_COLUMNS = ("experiment", "run_id", "cell", "gap", "units", "params", "accuracy", "steps", "seconds")


class Measurements:
    """The registry's metrics, samples and experiment_results tables."""

    # -- metrics and samples --------------------------------------------------------------
    def add_metrics(self, run_id: str, rows: list[dict], **run_fields) -> None:
        """Append metric rows and update the run's progress in one transaction (one lock, one fsync)."""
        if "status" in run_fields:
            raise RunError("A run's status changes only through the registry's transitions (start, finish, ...).")
        with self._locked() as db:
            for r in rows:
                db.execute(f"INSERT INTO metrics ({', '.join(METRIC_COLUMNS)}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (run_id, r.get("kind", "batch"), r.get("epoch"), r.get("step"), r.get("elapsed"),
                            r.get("loss"), r.get("val_loss"), r.get("bpc"), r.get("val_bpc"),
                            r.get("chars_per_sec"), r.get("lr"), r.get("grad_norm"), r.get("clipped")))
            if run_fields:
                db.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in run_fields)} WHERE id=?",
                           [*run_fields.values(), run_id])

    def metrics(self, run_id: str, kind: str | None = None, after_step: int = -1) -> list[dict]:
        q = f"SELECT {', '.join(METRIC_COLUMNS)} FROM metrics WHERE run_id=? AND (step IS NULL OR step>?)"
        args: list = [check_run_id(run_id), after_step]
        if kind:
            q += " AND kind=?"
            args.append(kind)
        with self.connect() as db:
            return [dict(r) for r in db.execute(q + f" ORDER BY {self.db.order}", args).fetchall()]

    def add_sample(self, run_id: str, epoch: int, temperature: float, text: str) -> None:
        with self.connect() as db:
            db.execute("INSERT INTO samples (run_id, epoch, temperature, text) VALUES (?,?,?,?)",
                       (run_id, epoch, temperature, text))

    def samples(self, run_id: str) -> list[dict]:
        with self.connect() as db:
            rows = db.execute("SELECT run_id, epoch, temperature, text FROM samples WHERE run_id=?"
                              " ORDER BY epoch, temperature", (check_run_id(run_id),)).fetchall()
        return [dict(r) for r in rows]

    def clear_metrics_after(self, run_id: str, step: int, epochs_done: int) -> None:
        """On resume, drop rows logged after the checkpoint, and the validation and samples of an epoch it stopped
        inside (labelled with its progress, past epochs_done): the resumed run writes them again."""
        with self._locked() as db:
            db.execute("DELETE FROM metrics WHERE run_id=? AND step>?", (run_id, step))
            db.execute("DELETE FROM metrics WHERE run_id=? AND kind='epoch' AND epoch>?", (run_id, epochs_done))
            db.execute("DELETE FROM samples WHERE run_id=? AND epoch>?", (run_id, epochs_done))

    # -- experiments' measurements (their configs and results also live as JSON under experiments/) ----------
    def add_experiment_result(self, experiment: str, run_id: str | None, r: dict) -> None:
        with self.connect() as db:
            db.execute(f"INSERT INTO experiment_results ({', '.join(EXPERIMENT_COLUMNS)}) VALUES (?,?,?,?,?,?,?,?,?)",
                       (experiment, run_id, r["cell"], r["gap"], r["units"], r["params"], r["accuracy"], r["steps"],
                        r["seconds"]))

    def experiment_results(self, experiment: str) -> list[dict]:
        with self.connect() as db:
            rows = db.execute(f"SELECT {', '.join(EXPERIMENT_COLUMNS)} FROM experiment_results WHERE experiment=?"
                              f" ORDER BY {self.db.order}",
                              (experiment,)).fetchall()
        return [dict(r) for r in rows]
