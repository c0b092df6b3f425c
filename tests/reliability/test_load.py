"""Load: concurrent category runs, and real-size release files with bounded memory.

Concurrent runs under the project's `duckdb` pool with the multiprocess executor (`dagster asset
materialize` processes, dagster.yaml copied into DAGSTER_HOME) are proved by
tests/integration/test_concurrent_runs.py; here the runs have no pool at all (plain
dg.materialize in separate processes, as a user script would do) and must still all succeed,
waiting on DuckDB's file lock instead of failing on it.
"""

from __future__ import annotations

import pytest

from tests.conftest import BASELINE_FILE, require_shared
from tests.harness import apply_env, ephemeral_instance, materialize, patched_env, sample_env
from tests.reliability.helpers import PeakRSS, read_only, start_child

CATEGORIES = ["A", "C", "D", "G"]
LOCK_ERRORS = ("Could not set lock", "Conflicting lock", "database is locked")
MEMORY_LIMIT = 1 << 30


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_concurrent_category_runs_without_a_pool_wait_for_the_lock_and_all_succeed(
    tmp_path, monkeypatch
):
    env = sample_env(tmp_path)
    apply_env(monkeypatch, env)
    instance = ephemeral_instance()
    materialize(["mesh_vocabulary"], None, instance)
    for category in CATEGORIES:
        materialize(["mesh_tree"], category, instance)
    from mkailin_assets.ingest.sources import list_release_files

    names = [r.name for r in list_release_files(env["MKAILIN_PUBMED_SOURCE"])]
    instance.add_dynamic_partitions("pubmed_files", names)
    for name in names:
        materialize(["pubmed_files"], name, instance)

    children = [
        start_child(env, ["raw_abstracts", "candidate_qa"], category) for category in CATEGORIES
    ]
    outputs = [child.communicate(timeout=480) for child in children]
    for category, child, (out, err) in zip(CATEGORIES, children, outputs, strict=True):
        assert child.returncode == 0, f"{category} failed:\n{err[-3000:]}"
        assert "materialized" in out
        assert not any(error in err for error in LOCK_ERRORS), err[-3000:]
    with read_only(env["MKAILIN_DUCKDB_PATH"]) as con:
        counts = dict(
            con.execute("SELECT category, count(*) FROM raw_abstracts GROUP BY category").fetchall()
        )
        questions = dict(
            con.execute(
                "SELECT category, count(*) FROM candidate_qa WHERE status = 'ok' GROUP BY category"
            ).fetchall()
        )
    # data/sample/README.md: abstracts per category after the update file.
    assert counts == {"A": 7, "C": 25, "D": 19, "G": 21}
    assert set(questions) == set(CATEGORIES) and all(n > 0 for n in questions.values())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_real_size_release_files_load_with_peak_memory_under_1_gib(tmp_path, capsys):
    """The real 30,000-record baseline file, under two release names (the second a later
    baseline carrying the same citations): stream parsing keeps memory bounded."""
    baseline = require_shared(BASELINE_FILE)
    source = tmp_path / "release"
    source.mkdir()
    names = ["pubmed20n0014.xml.gz", "pubmed20n0015.xml.gz"]
    for name in names:
        (source / name).symlink_to(baseline)
    env = sample_env(tmp_path, MKAILIN_PUBMED_SOURCE=str(source))
    with patched_env(env):  # the first-run order: MeSH first
        materialize(["mesh_vocabulary"], None, ephemeral_instance())
    peaks = []
    for name in names:
        child = start_child(env, ["pubmed_files"], name)
        with PeakRSS(child.pid) as peak:
            out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-3000:]
        peaks.append(peak.peak_bytes)
    with read_only(env["MKAILIN_DUCKDB_PATH"]) as con:
        ledger = con.execute(
            "SELECT file_name, articles_read, citations_upserted, len(changed_pmids)"
            " FROM pubmed_files ORDER BY file_name"
        ).fetchall()
        citations = con.execute("SELECT count(*) FROM citations").fetchone()[0]
    with capsys.disabled():
        print(f"\npeak RSS per 30,000-record file load (MiB): {[p >> 20 for p in peaks]}")
    assert all(0 < p < MEMORY_LIMIT for p in peaks), peaks
    assert ledger[0][1] == ledger[1][1] == 30_000
    assert ledger[1][3] == 0  # the second copy changes nothing
    assert citations == ledger[0][2]
