"""What the Dagster instance on PostgreSQL costs the server: connections and time for N category
runs launched together, each its own process, as launched runs are.

Starts its own server (scripts/postgres.sh, a temporary data directory, a free port), builds the
instance from deploy/dagster-postgres.yaml, loads the bundled sample in this process, then runs
`dagster asset materialize --select <stages> --partition <category>` for N categories at once
with the offline backend, sampling `pg_stat_activity` every 50 ms. Prints one JSON line:
runs, wall_s, peak_connections (all client connections to the instance's database, the
sampler's own excluded), peak_per_run, and the same with SQLite storage for comparison of time.

    .venv/bin/python benchmarks/postgres_instance.py [--runs 4] [--stages raw_abstracts,candidate_qa] [--instance sqlite]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import dagster as dg  # noqa: E402
import psycopg2  # noqa: E402

from mkailin_assets import settings  # noqa: E402
from mkailin_assets.automation.pools import initialize_pools  # noqa: E402
from mkailin_assets.definitions import ASSETS, build_resources  # noqa: E402
from mkailin_assets.ingest.sources import list_release_files  # noqa: E402

CATEGORIES = ["C", "D", "G", "H", "J", "K", "E", "F"]
DAGSTER = Path(sys.executable).parent / "dagster"
SCRIPT = REPO_ROOT / "scripts" / "postgres.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "DAGSTER_PG_DATA": str(data_dir), "DAGSTER_PG_PORT": str(free_port())}
    subprocess.run(["bash", str(SCRIPT), "start"], env=env, check=True, capture_output=True)
    out = subprocess.run(["bash", str(SCRIPT), "env"], env=env, check=True, capture_output=True)
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in out.stdout.decode().splitlines()
        if line.startswith("export ")
    )
    return {**exports, "DAGSTER_PG_DATA": str(data_dir)}


def project_env(root: Path) -> dict[str, str]:
    return {
        "MKAILIN_DUCKDB_PATH": str(root / "mkailin.duckdb"),
        "MKAILIN_EXPORT_DIR": str(root / "exports"),
        "MKAILIN_DOWNLOAD_DIR": str(root / "downloads"),
        "MKAILIN_MESH_SOURCE": str(settings.SAMPLE_MESH_SOURCE),
        "MKAILIN_PUBMED_SOURCE": str(settings.SAMPLE_PUBMED_SOURCE),
        "MKAILIN_LLM_BACKEND": "offline",
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def load_inputs(instance: dg.DagsterInstance, categories: list[str]) -> None:
    def run(selection: list[str], partition: str | None = None) -> None:
        result = dg.materialize(
            ASSETS,
            selection=selection,
            partition_key=partition,
            instance=instance,
            resources=build_resources(),
        )
        assert result.success, selection

    run(["mesh_vocabulary"])
    for category in categories:
        run(["mesh_tree"], category)
    names = [r.name for r in list_release_files(str(settings.SAMPLE_PUBMED_SOURCE))]
    instance.add_dynamic_partitions("pubmed_files", names)
    for name in names:
        run(["pubmed_files"], name)


def sample_connections(dsn: str, db: str, stop: threading.Event, peak: list[int]) -> None:
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        while not stop.is_set():
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (db,),
            )
            peak[0] = max(peak[0], cursor.fetchone()[0])
            time.sleep(0.05)
    connection.close()


def launch(categories: list[str], stages: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    runs = [
        subprocess.Popen(
            [str(DAGSTER), "asset", "materialize", "-m", "mkailin_assets.definitions"]
            + ["--select", stages, "--partition", category],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for category in categories
    ]
    for category, run in zip(categories, runs, strict=True):
        output = run.communicate(timeout=900)[0]
        if run.returncode != 0:
            raise SystemExit(f"run for {category} failed:\n{output[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, choices=range(1, len(CATEGORIES) + 1))
    parser.add_argument("--stages", default="raw_abstracts")
    parser.add_argument(
        "--instance",
        choices=["postgres", "sqlite"],
        default="postgres",
        help="sqlite: the project's dagster.yaml, for comparing times (no connections to count)",
    )
    args = parser.parse_args()
    categories = CATEGORIES[: args.runs]
    root = Path(tempfile.mkdtemp(prefix="mkailin-pg-bench-"))
    os.chmod(root, 0o711)  # the server's user reaches its data directory through it
    pg = start_server(root / "pgdata")
    try:
        home = root / "home"
        home.mkdir()
        yaml = "deploy/dagster-postgres.yaml" if args.instance == "postgres" else "dagster.yaml"
        shutil.copy(REPO_ROOT / yaml, home / "dagster.yaml")
        env = {**project_env(root / "project"), **pg, "DAGSTER_HOME": str(home)}
        os.environ.update(env)
        with dg.DagsterInstance.get() as instance:
            initialize_pools(instance)
            load_inputs(instance, categories)
        dsn = (
            f"postgresql://{pg['DAGSTER_PG_USER']}:{pg['DAGSTER_PG_PASSWORD']}@127.0.0.1:"
            f"{pg['DAGSTER_PG_PORT']}/{pg['DAGSTER_PG_DB']}"
        )
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(
            target=sample_connections, args=(dsn, pg["DAGSTER_PG_DB"], stop, peak)
        )
        sampler.start()
        wall = launch(categories, args.stages, {**os.environ, **env})
        stop.set()
        sampler.join()
    finally:
        subprocess.run(
            ["bash", str(SCRIPT), "stop"],
            env={**os.environ, "DAGSTER_PG_DATA": str(root / "pgdata")},
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
    print(
        json.dumps(
            {
                "instance": args.instance,
                "runs": args.runs,
                "stages": args.stages,
                "wall_s": round(wall, 1),
                "peak_connections": peak[0],
                "peak_per_run": round(peak[0] / args.runs, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
