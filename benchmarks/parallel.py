"""Category runs side by side: do their model phases overlap, and is each request paid once?

    .venv/bin/python benchmarks/parallel.py --categories 8 --latency 2 [--sources 20]
        [--instance postgres] [--launch interpreter]
        [--corpus ../shared/data/pubmed/pubmed20n0014.xml.gz
         --mesh ../shared/data/mesh/mesh2024-trees.xml.gz]

Loads the bundled sample (or `--corpus`) into a fresh DuckDB file and Dagster instance (SQLite,
the project's dagster.yaml: the `duckdb` pool has one slot; or `--instance postgres`: a
PostgreSQL server of its own started by scripts/postgres.sh, deploy/dagster-postgres.yaml, the
live store there) with the corpus-wide assets a refresh builds first (retrieval_index, mesh_ic),
starts a local OpenAI-compatible server answering every request after `--latency` seconds, then
runs candidate_qa and evaluated_qa (the LLM stages, after raw_abstracts) for one category alone,
then for N other categories launched together as
separate run processes: by default each launched through the instance's run launcher into the
project's code server (workspace.yaml), from threads at once, as the daemon launches queued runs
(`MKAILIN_RUN_START=spawn` measures Dagster's own start of their processes); `--launch
interpreter` runs each in a fresh interpreter instead. Ends with one JSON line: one_s, together_s, ratio, peak_in_flight,
requests, repeated_requests (requests sent for a call already sent), writer_held_share_run (the
share of a run's LLM-bound time, its LLM stages together, during which it held the DuckDB file:
the issue's measure, the largest over the runs) and writer_held_share (the same per stage, the
largest over every stage of every run: stricter, as a short stage's read and write phases weigh
more); with `--instance postgres`, postgres_cpu_s (the server's CPU, one alone and N together);
gx_service_cpu_s (the GX service's, checks/gx_service.py: the runs' temporary directory is the
benchmark's own, so the service is too; the set-up's checks start it); CPU seconds and peak RSS
of every run process. `MKAILIN_GX_SERVICE=off` in the environment measures runs importing GX.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = "CDEGABFHIJKLMNZ"  # the sample's categories with abstracts (V has none)
LLM_STAGES = ["candidate_qa", "evaluated_qa"]

CHILD = """
import json, sys, time
import dagster as dg
from mkailin_assets.assets.catalog import ASSETS
from mkailin_assets.definitions import build_resources

category, stages = sys.argv[1], sys.argv[2].split(",")
out = {}
with dg.DagsterInstance.get() as instance:
    resources = build_resources()
    for stage in stages:
        started = time.perf_counter()
        result = dg.materialize(ASSETS, selection=[stage], partition_key=category,
                                instance=instance, resources=resources, raise_on_error=False)
        meta = {}
        for event in result.get_asset_materialization_events():
            meta = {k: v.value for k, v in event.materialization.metadata.items()
                    if k.startswith(("writer.", "llm.max", "llm.requests"))}
        out[stage] = {"ok": result.success, "s": round(time.perf_counter() - started, 2), **meta}
import resource
usage = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
out["rss_mb"] = round(usage.ru_maxrss / 1024)
print(json.dumps(out, default=str))
"""


def corpus_source(workdir: Path, corpus: Path | None) -> Path:
    """The bundled sample, or one release file (e.g. NLM's 2020 baseline file) as baseline/."""
    if corpus is None:
        return REPO_ROOT / "data" / "sample" / "pubmed"
    baseline = workdir / "pubmed" / "baseline"
    baseline.mkdir(parents=True)
    (baseline / corpus.name).symlink_to(corpus.resolve())
    return baseline.parent


def project_env(
    workdir: Path,
    server_url: str,
    sources: int,
    postgres: dict[str, str] | None,
    corpus: Path | None = None,
    mesh: Path | None = None,
) -> dict[str, str]:
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    (workdir / "tmp").mkdir()
    yaml = "deploy/dagster-postgres.yaml" if postgres else "dagster.yaml"
    shutil.copy(REPO_ROOT / yaml, home / "dagster.yaml")
    return {
        **os.environ,
        **(postgres or {}),
        "PYTHONPATH": str(REPO_ROOT),
        # The runs' temporary files, and their GX service (checks/gx_service.py): one of the
        # benchmark's own, started by the one-alone run, stopped at the end.
        "TMPDIR": str(workdir / "tmp"),
        "DAGSTER_HOME": str(home),
        "MKAILIN_DUCKDB_PATH": str(workdir / "mkailin.duckdb"),
        "MKAILIN_READ_SNAPSHOT": "off",
        "MKAILIN_PUBMED_SOURCE": str(corpus_source(workdir, corpus)),
        "MKAILIN_MESH_SOURCE": str(
            mesh.resolve() if mesh else REPO_ROOT / "data" / "sample" / "mesh" / "desc_sample.xml"
        ),
        "MKAILIN_SAMPLE_PER_CATEGORY": str(sources),
        "MKAILIN_LLM_BACKEND": "openai",
        "MKAILIN_LLM_BASE_URL": server_url,
        "MKAILIN_LLM_API_KEY": "sk-parallel-benchmark",
        "MKAILIN_LLM_STRUCTURED_OUTPUT": "json_schema",
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        # The code server's threads, as scripts/_env.sh sets them for `dagster dev`.
        "DAGSTER_GRPC_MAX_WORKERS": os.environ.get("DAGSTER_GRPC_MAX_WORKERS", "16"),
    }


def run_python(
    env: dict[str, str], code: str, *args: str, profile: Path | None = None
) -> subprocess.Popen:
    """`code` in a fresh interpreter; with `profile`, sampled by py-spy (collapsed stacks)."""
    command = [sys.executable, "-c", code, *args]
    if profile is not None:
        spy = Path(sys.executable).with_name("py-spy")
        command = [str(spy), "record", "--native", "--format", "raw", "--rate", "200",
                   "-o", str(profile), "--", *command]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> dict[str, Any]:
    out, err = process.communicate(timeout=3600)
    if process.returncode != 0:
        raise SystemExit(f"a run process failed:\n{err[-3000:]}")
    # The run's JSON line is its last (py-spy, when profiling, may print after it).
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def setup(env: dict[str, str], categories: list[str]) -> None:
    """Vocabulary, release files, the corpus-wide index and IC snapshot, and raw_abstracts of
    every category used (no model calls)."""
    code = """
import sys
import dagster as dg
from mkailin_assets.assets.catalog import ASSETS
from mkailin_assets.definitions import build_resources
from mkailin_assets.ingest.sources import list_release_files
from mkailin_assets import settings
categories = sys.argv[1]
with dg.DagsterInstance.get() as instance:
    resources = build_resources()
    dg.materialize(ASSETS, selection=["mesh_vocabulary"], instance=instance, resources=resources)
    files = [f.name for f in list_release_files(settings.get_settings().pubmed_source)]
    instance.add_dynamic_partitions("pubmed_files", files)
    for name in files:
        dg.materialize(ASSETS, selection=["pubmed_files"], partition_key=name,
                       instance=instance, resources=resources)
    # The corpus-wide assets a refresh builds after the release files, before any category.
    dg.materialize(ASSETS, selection=["retrieval_index", "mesh_ic"], instance=instance,
                   resources=resources)
    for category in categories:
        for stage in ("mesh_tree", "raw_abstracts"):
            dg.materialize(ASSETS, selection=[stage], partition_key=category,
                           instance=instance, resources=resources)
print("{}")
"""
    subprocess.run([sys.executable, "-m", "mkailin_assets.automation.pools"], env=env, check=True)
    finish(run_python(env, code, "".join(categories)))


def postgres_cpu_s(postgres: dict[str, str] | None) -> float:
    """CPU seconds of the benchmark's PostgreSQL server so far: the postmaster, its finished
    backends (reaped: in its children's times) and the live ones."""
    if postgres is None:
        return 0.0
    pid_file = Path(postgres["DAGSTER_PG_DATA"]) / "cluster" / "postmaster.pid"
    postmaster = int(pid_file.read_text().split()[0])
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a backend that ended meanwhile
        pid, parent = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        elif parent == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def runs_gx_socket(env: dict[str, str]) -> Path:
    """The socket of the GX service the runs of `env` start (in their temporary directory)."""
    from mkailin_assets.checks import gx_service

    return Path(env["TMPDIR"]) / f"mkailin-gx-{os.getuid()}" / f"{gx_service.code_key()}.sock"


def gx_service_cpu_s(env: dict[str, str]) -> float:
    """CPU seconds of the runs' GX service so far: its own and its finished request children."""
    try:
        pid = int(runs_gx_socket(env).with_suffix(".lock").read_text().strip())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def stop_gx_service(env: dict[str, str]) -> None:
    from mkailin_assets.checks import gx_service

    gx_service.stop(runs_gx_socket(env))


def llm_calls_summary(env: dict[str, str]) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(env["MKAILIN_DUCKDB_PATH"], read_only=True)
    sent, distinct = con.execute(
        "SELECT coalesce(sum(attempts), 0), count(*) FROM llm_calls WHERE via = 'request'"
    ).fetchall()[0]
    con.close()
    return int(sent), int(distinct)


class InterpreterRuns:
    """Each run a fresh interpreter materializing the stages (`--launch interpreter`)."""

    def __init__(self, env: dict[str, str], profile: Path | None = None) -> None:
        self.env, self.profile = env, profile

    def run(self, categories: list[str]) -> list[dict[str, Any]]:
        stages = ",".join(LLM_STAGES)
        processes = [
            run_python(self.env, CHILD, category, stages, profile=self.profile)
            for category in categories
        ]
        return [finish(process) for process in processes]


class LaunchedRuns:
    """Each run launched through the instance's run launcher into the project's code server,
    which starts its process (`--launch code-server`, tests/launched_runs.py)."""

    def __init__(self, env: dict[str, str], stack: contextlib.ExitStack) -> None:
        import dagster as dg

        from tests.launched_runs import code_server

        os.environ.update(env)  # the code server and the run processes inherit it
        self.instance = stack.enter_context(dg.DagsterInstance.get())
        self.workspace = stack.enter_context(
            code_server(self.instance, str(REPO_ROOT / "workspace.yaml"))
        )
        # The code server's first run starts what later runs start from (the forkserver): a
        # run of an asset already built, so the measured runs find it as a running server does.
        self.run([CATEGORIES[0]], ["mesh_tree"])

    def run(self, categories: list[str], assets: list[str] = LLM_STAGES) -> list[dict[str, Any]]:
        from tests.launched_runs import RunProcessMeter, launch_run, step_figures, wait_for_runs

        # Launched at once, as the daemon's threaded dequeue (dagster.yaml) launches queued runs:
        # each launch returns once the code server has started the run's process.
        with ThreadPoolExecutor(len(categories)) as pool:
            run_ids = list(
                pool.map(lambda c: launch_run(self.instance, self.workspace, assets, c), categories)
            )
        meter = RunProcessMeter(self.instance, run_ids)
        try:
            wait_for_runs(self.instance, run_ids)
        finally:
            meter.stop()
        out = []
        for run_id in run_ids:
            steps = step_figures(self.instance, run_id)
            out.append(
                {
                    **{asset: steps.get(asset, {"ok": False, "s": 0.0}) for asset in assets},
                    "cpu_s": meter.cpu_s.get(run_id),
                    "rss_mb": meter.rss_mb.get(run_id),
                    "started_by": meter.started_by.get(run_id),
                }
            )
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", type=int, default=8)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--instance", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--launch",
        choices=["code-server", "interpreter"],
        default="code-server",
        help="how runs start: launched into the code server, as the UI and sensors launch them "
        "(default), or each a fresh interpreter materializing the stages",
    )
    parser.add_argument("--corpus", type=Path, help="a PubMed release file (default: the sample)")
    parser.add_argument("--mesh", type=Path, help="a MeSH descriptor file (with --corpus)")
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample the one-alone run with py-spy into this file (collapsed stacks) and stop "
        "(with --launch interpreter)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    # The JSON line is the last on stdout: the code server and the runs it starts write their
    # logs to stdout (and go on writing while they shut down), so they get stderr instead.
    result_out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from tests.fakes.openai_server import CHAT_PATH, FakeOpenAIServer

    alone, together = CATEGORIES[0], list(CATEGORIES[1 : 1 + args.categories])
    workdir = Path(tempfile.mkdtemp(prefix="mkailin-parallel-"))
    postgres = None
    if args.instance == "postgres":
        from postgres_instance import SCRIPT, start_server  # benchmarks/, this script's folder

        os.chmod(workdir, 0o711)  # the server's user reaches its data directory through it
        postgres = start_server(workdir / "pgdata")
    try:
        with (
            FakeOpenAIServer(latency_s=args.latency, seed=7) as server,
            contextlib.ExitStack() as stack,
        ):
            env = project_env(workdir, server.url, args.sources, postgres, args.corpus, args.mesh)
            setup(env, [alone, *together])
            runner: InterpreterRuns | LaunchedRuns = (
                LaunchedRuns(env, stack)
                if args.launch == "code-server" and args.profile is None
                else InterpreterRuns(env, args.profile)
            )
            server.reset_stats()
            started, server_cpu = time.perf_counter(), postgres_cpu_s(postgres)
            gx_cpu = gx_service_cpu_s(env)
            [one] = runner.run([alone])
            one_s = time.perf_counter() - started
            one_server_cpu = postgres_cpu_s(postgres) - server_cpu
            one_gx_cpu = gx_service_cpu_s(env) - gx_cpu
            if args.profile is not None:
                print(json.dumps({"one_s": round(one_s, 2), "one_run": one}), file=result_out)
                return
            one_peak = server.stats.max_in_flight
            server.reset_stats()
            started, server_cpu = time.perf_counter(), postgres_cpu_s(postgres)
            runs = runner.run(together)
            together_s = time.perf_counter() - started
            together_server_cpu = postgres_cpu_s(postgres) - server_cpu
            together_gx_cpu = gx_service_cpu_s(env) - gx_cpu - one_gx_cpu
            peak, requests = server.stats.max_in_flight, server.stats.by_path[CHAT_PATH]
        sent, distinct = llm_calls_summary(env)
        held = [
            (float(run[stage].get("writer.held_share", 0.0)), stage, run[stage])
            for run in [one, *runs]
            for stage in LLM_STAGES
            if stage in run
        ]
        shares = [share for share, _, _ in held]
        per_run = [
            sum(float(run[stage].get("writer.held_s", 0.0)) for stage in LLM_STAGES if stage in run)
            / max(sum(float(run[stage]["s"]) for stage in LLM_STAGES if stage in run), 1e-9)
            for run in [one, *runs]
        ]
        _, worst_stage, worst = max(held, key=lambda item: item[0])
        failed = [
            s for run in [one, *runs] for s, r in run.items() if isinstance(r, dict) and not r["ok"]
        ]
        result = {
            "instance": args.instance,
            "launch": args.launch,
            "run_start": os.environ.get("MKAILIN_RUN_START", "forkserver"),
            "corpus": args.corpus.name if args.corpus else "sample",
            "categories": args.categories,
            "latency_s": args.latency,
            "sources_per_category": args.sources,
            "one_s": round(one_s, 2),
            "one_peak_in_flight": one_peak,
            "together_s": round(together_s, 2),
            "ratio": round(together_s / one_s, 2),
            "peak_in_flight": peak,
            "requests": requests,
            "repeated_requests": sent - distinct,
            "writer_held_share_run": round(max(per_run), 4),
            "writer_held_share_run_alone": round(per_run[0], 4),
            "writer_held_share": round(max(shares), 4),
            # The phases behind the largest share: which phase grows when runs compete.
            "writer_held_worst": {
                "stage": worst_stage,
                "s": worst.get("s"),
                "phases": worst.get("writer.phases"),
            },
            "failed_steps": failed,
            "cpu_s_per_run": [run["cpu_s"] for run in [one, *runs]],
            "peak_rss_mb_per_run": [run["rss_mb"] for run in [one, *runs]],
            "run_process_started_by": sorted({str(run.get("started_by")) for run in [one, *runs]}),
            # PostgreSQL's own CPU (its backends included), one alone and the N together.
            "postgres_cpu_s": [round(one_server_cpu, 2), round(together_server_cpu, 2)]
            if postgres
            else None,
            # The GX service's CPU (its start and every validation), one alone and N together;
            # 0 with MKAILIN_GX_SERVICE=off, where each run imports GX itself.
            "gx_service_cpu_s": [round(one_gx_cpu, 2), round(together_gx_cpu, 2)],
            "one_run": one,
            # Every run's stages: how long, and the writer's phases (held, waited).
            "runs": {
                category: {
                    stage: f"{run[stage]['s']}s: {run[stage].get('writer.phases', '')}"
                    for stage in LLM_STAGES
                    if stage in run
                }
                for category, run in zip([alone, *together], [one, *runs], strict=True)
            },
        }
        print(json.dumps(result), file=result_out, flush=True)
    finally:
        if "env" in locals():
            stop_gx_service(env)
        if postgres is not None:
            stop_env = {**os.environ, "DAGSTER_PG_DATA": str(workdir / "pgdata")}
            subprocess.run(["bash", str(SCRIPT), "stop"], env=stop_env, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
