"""Soak: `dagster dev` on a fresh instance for --minutes (20 by default) while release files
arrive, the model server misbehaves and the whole platform is killed once.

- release files, cut from the bundled sample (its 71 citations split into --files files in NLM's
  order; the last is the sample's update file, with its revisions and deletions), arrive one
  every minute or two;
- the model server is the fake OpenAI server (agent-shaped answers, 1 s a call) with 10% faults
  (429, 500, 503, malformed); it goes away for two minutes at a third of the way;
- halfway, the whole `dagster dev` process group is killed (SIGKILL) and started again at once.

After the last file it waits (up to --settle-minutes) for the platform to converge, then prints
one JSON line: files loaded, categories converged, runs launched (by job) and retried, requests
sent against distinct requests and requests answered twice, the peak RSS of the daemon,
webserver and code server in the first and last quarter. Targets (docs/reliability.md): every
file loaded, every affected category converged, no run in flight, no request answered twice,
runs launched at most 2x what the work needs (reported against two counts: the least possible,
one refresh per affected category for all files together, and the refreshes the files asked
for, one per file and category it changed), end RSS within 20% of the first quarter's peak.

The category refreshes wait --refresh-quiet seconds (150 by default, MKAILIN_REFRESH_QUIET_S)
after the newest file loaded: longer than the 60-120 s between two files here, so a refresh
follows the burst rather than each file; 0 refreshes after each file, as before the setting.

    .venv/bin/python benchmarks/soak.py [--minutes 20] [--files 12] [--refresh-quiet 150]
        [--refresh-max-wait S] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import psutil
from lxml import etree

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import dagster as dg  # noqa: E402

from mkailin_assets import settings  # noqa: E402
from mkailin_assets.automation import retries, staleness  # noqa: E402
from mkailin_assets.automation.sensors import parse_categories  # noqa: E402
from tests.e2e.dagster_server import DagsterDevServer, free_port, group_alive  # noqa: E402
from tests.e2e.small_release import RECORD_TAGS, md5_line  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer, Fault, body_hash  # noqa: E402
from tests.harness import sample_env, subprocess_env  # noqa: E402
from tests.reliability.helpers import agent_responder  # noqa: E402

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# Substrings of the command lines `dagster dev` starts its processes with.
ROLES = {
    "dagster-daemon": "daemon",
    "dagster._daemon": "daemon",
    "dagster-webserver": "webserver",
    "dagster_webserver": "webserver",
    "api grpc": "code_server",
    "code-server": "code_server",
}


# ---- release files ----------------------------------------------------------------------------
def _records(path: Path) -> tuple[etree._ElementTree, list[etree._Element]]:
    with gzip.open(path) as stream:
        tree = etree.parse(stream)
    return tree, [child for child in tree.getroot() if child.tag in RECORD_TAGS]


def cut_release_files(count: int) -> list[tuple[str, str, bytes]]:
    """(kind, name, gzip bytes) in NLM's order: the baseline records in count-1 files, then the
    sample's update file as the last."""
    sample = settings.SAMPLE_PUBMED_SOURCE
    template, _ = _records(sample / "baseline" / "pubmed00n0001.xml.gz")
    records = [
        r
        for f in ("pubmed00n0001.xml.gz", "pubmed00n0002.xml.gz")
        for r in _records(sample / "baseline" / f)[1]
    ]
    chunks = [records[i :: count - 1] for i in range(count - 1)]
    files = []
    for index, chunk in enumerate(chunks, start=1):
        root = template.getroot()
        for child in list(root):
            root.remove(child)
        for record in chunk:
            root.append(record)
        xml = etree.tostring(template, xml_declaration=True, encoding="utf-8")
        kind = "baseline" if index == 1 else "updatefiles"
        files.append((kind, f"pubmed00n{index:04d}.xml.gz", gzip.compress(xml, mtime=0)))
    update = (sample / "updatefiles" / "pubmed00n0003.xml.gz").read_bytes()
    files.append(("updatefiles", f"pubmed00n{count:04d}.xml.gz", update))
    return files


def drop_file(source: Path, kind: str, name: str, data: bytes) -> None:
    folder = source / kind
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md5").write_text(md5_line(name, data))
    staging = folder / f".{name}.tmp"
    staging.write_bytes(data)
    staging.replace(folder / name)


# ---- the model server -------------------------------------------------------------------------
class CountingResponder:
    """agent_responder, counting the requests answered (paid) per request body."""

    def __init__(self) -> None:
        self.answered: Counter[str] = Counter()

    def __call__(self, body: dict) -> str:
        self.answered[body_hash(body)] += 1
        return agent_responder(body)


def model_server(port: int, responder: CountingResponder) -> FakeOpenAIServer:
    server = FakeOpenAIServer(responder=responder, latency_s=1.0, seed=23, port=port)
    for kind, share in (("429", 0.03), ("500", 0.03), ("503", 0.02), ("malformed", 0.02)):
        server.add_fault(Fault(kind, probability=share, retry_after="1" if kind == "429" else None))
    return server.start()


# ---- memory ------------------------------------------------------------------------------------
def rss_by_role(server: DagsterDevServer) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    if server.process is None:
        return {}
    try:
        children = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return {}
    for child in children:
        try:
            command = " ".join(child.cmdline())
            rss = child.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for marker, role in ROLES.items():
            if marker in command:
                found[role] = max(found[role], rss)
    return dict(found)


# ---- the run ------------------------------------------------------------------------------------
def settled(instance: dg.DagsterInstance) -> bool:
    if instance.get_runs_count(dg.RunsFilter(statuses=IN_FLIGHT)):
        return False
    return all(row.ok for row in staleness.freshness_table(instance))


def refreshes_asked(instance: dg.DagsterInstance) -> int:
    """Category refreshes the loaded files asked for: the sum of their affected categories."""
    records = instance.fetch_materializations(dg.AssetKey("pubmed_files"), limit=10_000).records
    return sum(
        len(parse_categories(record.asset_materialization.metadata.get("affected_categories")))
        for record in records
        if record.asset_materialization is not None
    )


def figures(instance, written, responder, server, peaks, started) -> dict:
    runs = instance.get_runs()
    by_job = Counter(run.job_name for run in runs)
    rows = staleness.freshness_table(instance)
    affected = [row for row in rows if row.covered_file or row.state != "no data"]
    stats = server.stats.as_dict()
    quarter = {role: (peaks[0].get(role, 0), peaks[3].get(role, 0)) for role in ROLES.values()}
    loaded = set(instance.get_materialized_partitions(dg.AssetKey("pubmed_files")))
    needed = 1 + len(written) + sum(1 for _ in affected) + 1  # vocabulary, files, refreshes, export
    # Each file asks for a refresh of every category it changed; the platform may coalesce them.
    asked = refreshes_asked(instance)
    return {
        "benchmark": "soak",
        "minutes": round((time.monotonic() - started) / 60, 1),
        "files_written": len(written),
        "files_loaded": len(loaded & set(written)),
        "categories_affected": len(affected),
        "categories_converged": sum(1 for row in affected if row.ok),
        "not_converged": {
            row.category: f"{row.state}: {row.reason}" for row in affected if not row.ok
        },
        "runs_launched": len(runs),
        "runs_by_job": dict(by_job),
        "runs_retried": sum(1 for run in runs if run.tags.get(retries.RETRY_OF_TAG)),
        "runs_in_flight": instance.get_runs_count(dg.RunsFilter(statuses=IN_FLIGHT)),
        "runs_failed": sum(1 for run in runs if run.status == dg.DagsterRunStatus.FAILURE),
        "work_runs_min": needed,
        "runs_per_work_min": round(len(runs) / needed, 2),
        "category_refreshes_asked": asked,
        "category_runs": by_job.get("category_pipeline_job", 0),
        "runs_per_work_asked": round(len(runs) / (1 + len(written) + asked + 1), 2),
        "requests_sent": stats["total"],
        "requests_distinct": stats["distinct_requests"],
        "requests_answered_twice": sum(1 for n in responder.answered.values() if n > 1),
        "faults": stats["faults"],
        "rss_mb_first_quarter_peak": {r: round(v[0] / 2**20) for r, v in quarter.items()},
        "rss_mb_last_quarter_peak": {r: round(v[1] / 2**20) for r, v in quarter.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--settle-minutes", type=float, default=15.0)
    parser.add_argument(
        "--refresh-quiet",
        type=int,
        default=150,
        help="seconds without a new file before the category refreshes (MKAILIN_REFRESH_QUIET_S)",
    )
    parser.add_argument(
        "--refresh-max-wait",
        type=int,
        default=None,
        help="refresh anyway this long after the first waiting file (MKAILIN_REFRESH_MAX_WAIT_S;"
        " default: the setting's, 1800 s, longer than the soak: one refresh after the burst)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mkailin-soak-"))
    home, source, mesh = root / "dagster_home", root / "pubmed", root / "mesh" / "desc.xml"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    mesh.parent.mkdir()
    shutil.copy(settings.SAMPLE_MESH_SOURCE, mesh)
    files = cut_release_files(args.files)
    duration = args.minutes * 60
    arrivals = [duration * 0.9 * i / len(files) for i in range(len(files))]
    outage = (duration / 3, duration / 3 + 120)
    kill_at = duration / 2
    responder = CountingResponder()
    port = free_port()
    server = model_server(port, responder)
    env = subprocess_env(
        sample_env(
            root,
            DAGSTER_HOME=str(home),
            MKAILIN_PUBMED_SOURCE=str(source),
            MKAILIN_MESH_SOURCE=str(mesh),
            MKAILIN_LLM_BACKEND="openai",
            MKAILIN_LLM_BASE_URL=server.url,
            MKAILIN_LLM_API_KEY="sk-soak",
            MKAILIN_LLM_MODEL="soak-model",
            MKAILIN_LLM_TIMEOUT_S="10",
            MKAILIN_RELEASE_CHECK_INTERVAL="15",
            MKAILIN_AUTOMATION_INTERVAL="15",
            MKAILIN_DEAD_RUN_CHECK_INTERVAL="15",
            MKAILIN_RUN_RETRY_DELAY="30",
            MKAILIN_REFRESH_QUIET_S=str(args.refresh_quiet),
            MKAILIN_REFRESH_MAX_WAIT_S=None
            if args.refresh_max_wait is None
            else str(args.refresh_max_wait),
            MKAILIN_EXPORT_DIR=None,
        )
    )
    settings.get_settings(env)  # a bad value stops here, not in the code location it would break
    platform = DagsterDevServer(REPO_ROOT, env, root / "dagster-dev.log").start()
    started = time.monotonic()
    peaks: list[dict[str, int]] = [defaultdict(int) for _ in range(4)]
    written: list[str] = []
    killed = server_down = False
    events: list[str] = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        try:
            while True:
                elapsed = time.monotonic() - started
                while len(written) < len(files) and arrivals[len(written)] <= elapsed:
                    kind, name, data = files[len(written)]
                    drop_file(source, kind, name, data)
                    written.append(name)
                    events.append(f"{elapsed:.0f}s file {name}")
                if not server_down and outage[0] <= elapsed < outage[1]:
                    server.stop()
                    server_down = True
                    events.append(f"{elapsed:.0f}s model server gone")
                elif server_down and elapsed >= outage[1]:
                    server.start()  # the same server (faults, counters) on the same port
                    server_down = False
                    events.append(f"{elapsed:.0f}s model server back")
                if not killed and elapsed >= kill_at:
                    _kill(platform)
                    events.append(f"{elapsed:.0f}s dagster dev killed (SIGKILL to its group)")
                    platform = DagsterDevServer(REPO_ROOT, env, root / "dagster-dev-2.log").start()
                    killed = True
                quarter = min(int(4 * elapsed / duration), 3)
                for role, rss in rss_by_role(platform).items():
                    peaks[quarter][role] = max(peaks[quarter][role], rss)
                all_out = elapsed >= duration and len(written) == len(files)
                late = elapsed >= duration + args.settle_minutes * 60
                if all_out and (late or settled(instance)):
                    break
                time.sleep(5)
            result = figures(instance, written, responder, server, peaks, started)
        finally:
            platform.stop()
            server.stop()
    result["refresh_quiet_s"] = args.refresh_quiet
    result["refresh_max_wait_s"] = settings.get_settings(env).refresh_max_wait_s
    result["events"] = events
    result["folder"] = str(root) if args.keep else None
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result))
    return 0


def _kill(platform: DagsterDevServer) -> None:
    assert platform.process is not None
    pgid = platform.process.pid
    os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while group_alive(pgid) and time.monotonic() < deadline:
        platform.process.poll()
        time.sleep(0.2)
    platform.process = None


if __name__ == "__main__":
    sys.exit(main())
