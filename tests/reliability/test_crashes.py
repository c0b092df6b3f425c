"""Crashes: SIGKILL a real materialization in a child process, then re-run.

Each partition is either entirely as before or entirely as after (table snapshots compared, clock
columns aside), and no LLM request that completed before the kill is sent again.

Kill points: just before COMMIT of each asset's partition write (every statement done, nothing
committed: the hardest moment for atomicity), in the middle of parsing the real 30,000-record
baseline file, and in the middle of candidate_qa's LLM calls (a slow fake server in its own process).
"""

from __future__ import annotations

import gzip
import shutil
import time

import psutil
import pytest

from mkailin_assets.llm.spool import read_spool, spool_dir_for
from mkailin_assets.settings import SAMPLE_PUBMED_SOURCE
from mkailin_assets.stages.candidates import NO_CONTEXT_ERROR
from tests.conftest import BASELINE_FILE, require_shared
from tests.harness import (
    apply_env,
    copy_project,
    ephemeral_instance,
    load_sources,
    materialize,
    patched_env,
    sample_env,
)
from tests.reliability.helpers import (
    FIXTURES,
    chat_requests,
    fake_server_process,
    kill_when,
    read_only,
    row_diff,
    snapshot,
    start_child,
)

CATEGORY = "C"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Category C through training_set with the offline backend: the 'after' of every asset."""
    root = tmp_path_factory.mktemp("pipeline")
    env = sample_env(root)
    with patched_env(env):
        instance = ephemeral_instance()
        load_sources(instance, [CATEGORY])
        materialize(["candidate_qa", "evaluated_qa", "training_set"], CATEGORY, instance)
    return env


def tamper(db: str, statements: list[str]) -> None:
    """Make the stored partition differ from what a run will write, so 'before' != 'after'."""
    import duckdb

    with duckdb.connect(db) as con:
        for statement in statements:
            con.execute(statement, [CATEGORY])


# asset, module whose transaction() writes the partition, tables of the partition, tampering
CASES = [
    (
        "mesh_tree",
        "mkailin_assets.ingest.mesh_xml",
        ["mesh_tree"],
        [
            "DELETE FROM mesh_tree WHERE category = ? AND depth > 2",
            "UPDATE mesh_tree SET descriptor_name = 'stale' WHERE category = ?",
        ],
    ),
    (
        "raw_abstracts",
        "mkailin_assets.stages.abstracts",
        ["raw_abstracts"],
        [
            "DELETE FROM raw_abstracts WHERE category = ? AND pmid % 3 = 0",
            "UPDATE raw_abstracts SET title = 'stale' WHERE category = ?",
        ],
    ),
    (
        "candidate_qa",
        "mkailin_assets.db.partitions",
        ["candidate_qa"],
        [
            "DELETE FROM candidate_qa WHERE category = ? AND source_pmid % 3 = 0",
            "UPDATE candidate_qa SET question = question || ' (stale)' WHERE category = ?",
        ],
    ),
    (
        "evaluated_qa",
        "mkailin_assets.stages.evaluation",
        ["evaluated_qa", "preference_pairs"],
        [
            "DELETE FROM evaluated_qa WHERE category = ? AND source_pmid % 3 = 0",
            "UPDATE evaluated_qa SET answer = 'stale' WHERE category = ?",
            "DELETE FROM preference_pairs WHERE category = ? AND source_pmid % 2 = 0",
        ],
    ),
    (
        "training_set",
        "mkailin_assets.stages.training",
        ["training_set", "training_filtered"],
        [
            "DELETE FROM training_set WHERE category = ? AND source_pmid % 3 = 0",
            "UPDATE training_set SET question = 'stale' WHERE category = ?",
        ],
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("asset", "module", "tables", "statements"), CASES, ids=[c[0] for c in CASES]
)
def test_sigkill_before_commit_leaves_the_partition_as_before_and_rerun_completes_it(
    asset, module, tables, statements, pipeline, tmp_path, monkeypatch
):
    after = {t: snapshot(pipeline["MKAILIN_DUCKDB_PATH"], t, CATEGORY) for t in tables}
    env = copy_project(pipeline, tmp_path)
    db = env["MKAILIN_DUCKDB_PATH"]
    tamper(db, statements)
    before = {t: snapshot(db, t, CATEGORY) for t in tables}
    assert before != after
    marker = tmp_path / "holding"

    child = start_child(
        env,
        [asset],
        CATEGORY,
        RELIABILITY_HOLD_MODULE=module,
        RELIABILITY_MARKER=str(marker),
    )
    kill_when(child, marker.exists, 120, f"{asset} to reach its COMMIT")

    assert {t: snapshot(db, t, CATEGORY) for t in tables} == before
    apply_env(monkeypatch, env)
    materialize([asset], CATEGORY)
    rerun = {t: snapshot(db, t, CATEGORY) for t in tables}
    assert rerun == after, row_diff(rerun, after)


INGEST_TABLES = ["citations", "citation_mesh", "deleted_citations", "pubmed_files", "quarantine"]


def ledger_row(db: str, file_name: str) -> tuple:
    with read_only(db) as con:
        return con.execute(
            "SELECT articles_read, citations_upserted, citations_skipped_older,"
            " duplicates_in_file, quarantined FROM pubmed_files WHERE file_name = ?",
            [file_name],
        ).fetchone()


def parser_workers() -> list[int]:
    return [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if "mkailin_assets.ingest.parse_workers" in " ".join(process.info["cmdline"] or [])
    ]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_while_parsing_the_real_baseline_leaves_nothing_and_rerun_loads_it_all(
    pipeline, tmp_path, monkeypatch
):
    baseline = require_shared(BASELINE_FILE)
    source = tmp_path / "release"
    source.mkdir()
    (source / baseline.name).symlink_to(baseline)
    env = copy_project(pipeline, tmp_path) | {"MKAILIN_PUBMED_SOURCE": str(source)}
    db = env["MKAILIN_DUCKDB_PATH"]
    before = {t: snapshot(db, t, with_clock=True) for t in INGEST_TABLES}
    marker = tmp_path / "marker"

    # Killed once the second batch of 5,000 records is staged: mid-file, mid-transaction.
    child = start_child(
        env,
        ["pubmed_files"],
        baseline.name,
        RELIABILITY_MARKER=str(marker),
        RELIABILITY_MARK_CALL="mkailin_assets.ingest.pubmed_loader:_stage_batch:2",
    )
    kill_when(child, marker.exists, 300, "two batches to be staged")
    # Its parser processes read EOF (or a broken pipe) and exit: none outlives the run.
    deadline = time.monotonic() + 30
    while parser_workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert parser_workers() == []

    assert {t: snapshot(db, t, with_clock=True) for t in INGEST_TABLES} == before
    apply_env(monkeypatch, env)
    instance = ephemeral_instance([baseline.name])
    materialize(["pubmed_files"], baseline.name, instance)
    read, upserted, skipped, duplicates, quarantined = ledger_row(db, baseline.name)
    with read_only(db) as con:
        stored = con.execute(
            "SELECT count(*) FROM citations WHERE source_file = ?", [baseline.name]
        ).fetchone()[0]
    assert read == 30_000
    assert read == upserted + skipped + duplicates + quarantined
    assert stored == upserted


@pytest.mark.slow
def test_sigkill_before_an_update_file_commits_leaves_the_tables_as_before(
    pipeline, tmp_path, monkeypatch
):
    source = tmp_path / "pubmed"
    shutil.copytree(SAMPLE_PUBMED_SOURCE, source)
    update = source / "updatefiles" / "pubmed00n0004.xml.gz"
    update.write_bytes(gzip.compress((FIXTURES / "pubmed00n0004.xml").read_bytes(), mtime=0))
    env = copy_project(pipeline, tmp_path) | {"MKAILIN_PUBMED_SOURCE": str(source)}
    db = env["MKAILIN_DUCKDB_PATH"]
    before = {t: snapshot(db, t, with_clock=True) for t in INGEST_TABLES}
    marker = tmp_path / "marker"

    child = start_child(
        env,
        ["pubmed_files"],
        update.name,
        RELIABILITY_MARKER=str(marker),
        RELIABILITY_HOLD_MODULE="mkailin_assets.ingest.pubmed_loader",
    )
    kill_when(child, marker.exists, 120, "the load to reach its COMMIT")

    assert {t: snapshot(db, t, with_clock=True) for t in INGEST_TABLES} == before
    apply_env(monkeypatch, env)
    instance = ephemeral_instance([update.name])
    materialize(["pubmed_files"], update.name, instance)
    assert ledger_row(db, update.name) == (7, 7, 0, 0, 0)
    after = {t: snapshot(db, t, with_clock=True) for t in INGEST_TABLES}
    assert len(after["citations"]) == len(before["citations"]) + 7


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_during_llm_calls_keeps_the_partition_and_never_resends_a_completed_call(
    pipeline, tmp_path, monkeypatch
):
    env = copy_project(pipeline, tmp_path)
    db = env["MKAILIN_DUCKDB_PATH"]
    before = snapshot(db, "candidate_qa", CATEGORY)
    with read_only(db) as con:
        calls_before = con.execute("SELECT count(*) FROM llm_calls").fetchone()[0]
    with fake_server_process(latency_s=0.3, seed=3) as url:
        env |= {
            "MKAILIN_LLM_BACKEND": "openai",
            "MKAILIN_LLM_BASE_URL": url,
            "MKAILIN_LLM_API_KEY": "sk-crash-test",
            "MKAILIN_LLM_MAX_CONCURRENCY": "2",
        }
        child = start_child(env, ["candidate_qa"], CATEGORY)
        kill_when(child, lambda: chat_requests(url) >= 8, 120, "eight LLM requests")
        sent_before_kill = chat_requests(url)

        assert snapshot(db, "candidate_qa", CATEGORY) == before
        # Paid answers are in the killed run's spool (its model phase holds no DuckDB file).
        completed = {
            row["call_id"]
            for path in spool_dir_for(db).glob("*.jsonl")
            for row in read_spool(path).rows
            if row["status"] == "ok" and row["via"] == "request"
        }
        assert len(completed) >= 4, "the kill came before any answer was spooled"
        assert sent_before_kill - len(completed) <= 2  # only the requests in flight

        apply_env(monkeypatch, env)
        materialize(["candidate_qa"], CATEGORY)
        resent = chat_requests(url) - sent_before_kill
    with read_only(db) as con:
        requested = con.execute("SELECT count(*) FROM llm_calls WHERE via = 'request'").fetchone()[
            0
        ]
        calls_after = con.execute("SELECT count(*) FROM llm_calls").fetchone()[0]
        statuses = con.execute(
            # Every question answered; a held-out one whose split offers no context is failed
            # with that reason (retrieval's rule), not by the crash.
            "SELECT DISTINCT status FROM candidate_qa WHERE category = ?"
            " AND error IS DISTINCT FROM ?",
            [CATEGORY, NO_CONTEXT_ERROR],
        ).fetchall()
    # The re-run sent exactly the requests that had no committed answer, nothing completed twice.
    assert resent == requested - len(completed)
    assert calls_after == calls_before + requested
    assert statuses == [("ok",)]
    assert snapshot(db, "candidate_qa", CATEGORY) != before


def test_crash_hooks_name_functions_that_exist():
    """The child runner patches these names; a rename must fail here, not silently never crash."""
    import importlib

    for _, module, _, _ in CASES:
        assert callable(importlib.import_module(module).transaction), module
    loader = importlib.import_module("mkailin_assets.ingest.pubmed_loader")
    assert callable(loader._stage_batch) and callable(loader.transaction)


@pytest.mark.slow
def test_raw_abstracts_partition_and_its_quarantine_change_together(pipeline, tmp_path):
    env = copy_project(pipeline, tmp_path)
    db = env["MKAILIN_DUCKDB_PATH"]
    tamper(
        db,
        [
            "DELETE FROM raw_abstracts WHERE category = ? AND pmid % 3 = 0",
            "INSERT INTO quarantine VALUES ('raw_abstracts', 'category:' || ?, NULL, '1',"
            " 'left by an earlier run', NULL, now())",
        ],
    )
    quarantine_sql = (
        "SELECT * EXCLUDE (quarantined_at) FROM quarantine WHERE source = 'category:C' ORDER BY ALL"
    )
    with read_only(db) as con:
        before = con.execute(quarantine_sql).fetchall()
    marker = tmp_path / "holding"
    child = start_child(
        env,
        ["raw_abstracts"],
        CATEGORY,
        # The partition and its quarantine rows share the asset module's one transaction.
        RELIABILITY_HOLD_MODULE="mkailin_assets.stages.abstracts",
        RELIABILITY_MARKER=str(marker),
    )
    kill_when(child, marker.exists, 120, "raw_abstracts to reach its COMMIT")
    with read_only(db) as con:
        assert con.execute(quarantine_sql).fetchall() == before
