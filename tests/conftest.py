import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture()
def workspace(tmp_path, monkeypatch):
    """Every test that touches runs gets its own empty workspace."""
    home = tmp_path / "workspace"
    monkeypatch.setenv("INKWELL_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sample_text() -> str:
    return (ROOT / "assets" / "sample.txt").read_text("utf-8")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, sample_text):
    """One tiny trained character-level run shared by the tests that only read it: (workspace, run_id)."""
    from textgen import ModelConfig, TrainConfig, load_corpus
    from textgen.train import train

    home = tmp_path_factory.mktemp("shared-workspace")
    result = train(load_corpus(sample_text[:4000]), ModelConfig(cell="lstm", layers=2, units=16, embedding=8),
                   TrainConfig(seq_len=16, batch_size=8, epochs=1, seed=5, sample_length=10),
                   label="tiny shared", workspace=home)
    return home, result.run_id


# -- the registry on both databases ----------------------------------------------------------------------
def _pg_bin(name: str) -> str | None:
    import glob
    import shutil

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster (initdb + pg_ctl in a temp dir, a unix socket only, no TCP port), stopped
    afterwards: its base URL. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user."""
    import pwd
    import shutil
    import subprocess
    import tempfile

    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql): the PostgreSQL cases skip.")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]'): the PostgreSQL cases skip.")
    root = Path(tempfile.mkdtemp(prefix="inkwell-pg-"))
    prefix = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("Running as root without a `postgres` user to run PostgreSQL as: the PostgreSQL cases skip.")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log = root / "data", root / "server.log"
    opts = f"-k {root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c max_connections=300"
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "inkwell", "-E", "UTF8", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts, "start"],
                       check=True, capture_output=True, timeout=90)
    except (subprocess.SubprocessError, OSError) as e:
        detail = getattr(e, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"A throwaway PostgreSQL could not start here ({e}; {detail.decode(errors='replace')[-300:]}).")
    try:
        yield f"postgresql://inkwell@/postgres?host={root}"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_db(request, monkeypatch):
    """The registry's database for one test: SQLite in the workspace (INKWELL_DB unset), or an empty schema of
    its own in the throwaway PostgreSQL (INKWELL_DB set, so worker processes the test starts use it too)."""
    if request.param == "sqlite":
        monkeypatch.delenv("INKWELL_DB", raising=False)
        yield None
        return
    import secrets

    import psycopg

    base = request.getfixturevalue("postgres_server")
    schema = "t_" + secrets.token_hex(6)
    conninfo = base   # psycopg reads the same URL (the socket directory is its host)
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    url = f"{base}&options=-csearch_path%3D{schema}"
    monkeypatch.setenv("INKWELL_DB", url)
    yield url
    from textgen import db

    db.dispose()
    with psycopg.connect(conninfo, autocommit=True) as c:
        c.execute(f"DROP SCHEMA {schema} CASCADE")


# -- a local Ray cluster of two nodes -------------------------------------------------------------------
RAY_DASHBOARD = "http://127.0.0.1:8265"


def _ray_answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/api/version", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def ray_cluster():
    """The Jobs API address of a local Ray cluster with two nodes of one CPU each (the head bound to 127.0.0.1
    with its dashboard). One already running (`make test` starts it) is used and left running; otherwise it is
    started here and stopped afterwards. Skips when Ray is not installed (it is an optional extra)."""
    import subprocess

    pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-cluster.txt)")
    ray = str(Path(sys.executable).with_name("ray"))
    if _ray_answers(RAY_DASHBOARD):
        yield RAY_DASHBOARD
        return
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1",
                        "--dashboard-port", "8265", "--num-cpus", "1", "--disable-usage-stats"],
                       check=True, capture_output=True, timeout=180, env=env)
        subprocess.run([ray, "start", "--address", "127.0.0.1:6379", "--node-ip-address", "127.0.0.1",
                        "--num-cpus", "1", "--disable-usage-stats"], check=True, capture_output=True, timeout=180,
                       env=env)
    except (subprocess.SubprocessError, OSError) as e:
        subprocess.run([ray, "stop"], capture_output=True, timeout=120)
        pytest.skip(f"A local Ray cluster could not start here ({e}).")
    try:
        yield RAY_DASHBOARD
    finally:
        subprocess.run([ray, "stop"], capture_output=True, timeout=120)


@pytest.fixture()
def v2_pages(monkeypatch):
    """AppTest re-detects the pages/ folder on every run and then runs the old (v1) multipage mode, which
    skips app.py from the second run on. A real server detects it once and st.navigation switches it off
    for good; this keeps AppTest in that state so reruns go through app.py like a browser's do."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
