"""Bad input through the real assets: every bad file fails naming itself and changes nothing;
odd but valid text is kept; what cannot be used is quarantined with a reason; counts reconcile.

Parser- and loader-level cases live elsewhere and are not repeated here (docs/reliability.md):
tests/unit/test_pubmed_xml.py, tests/unit/test_mesh_xml.py, tests/integration/test_pubmed_updates.py.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from mkailin_assets.partitions import validate_category
from mkailin_assets.settings import SAMPLE_PUBMED_SOURCE
from mkailin_assets.stages.candidates import NO_CONTEXT_ERROR
from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import (
    apply_env,
    copy_project,
    ephemeral_instance,
    load_sources,
    materialize,
    patched_env,
    sample_env,
    step_failure_text,
)
from tests.reliability.helpers import FIXTURES, agent_responder, prompt_text, read_only, snapshot

CRAFTED = FIXTURES / "pubmed00n0004.xml"
INJECTION_MARKER = "PWNED-7731"
INJECTED_PMID = 91000005
LONG_PMID = 91000004


def crafted_source(root: Path) -> Path:
    """The sample release files plus the crafted update file pubmed00n0004.xml.gz."""
    source = root / "pubmed"
    shutil.copytree(SAMPLE_PUBMED_SOURCE, source)
    (source / "updatefiles" / "pubmed00n0004.xml.gz").write_bytes(
        gzip.compress(CRAFTED.read_bytes(), mtime=0)
    )
    return source


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Category C ingested through the assets from the sample plus the crafted file."""
    root = tmp_path_factory.mktemp("ingested")
    env = sample_env(root, MKAILIN_PUBMED_SOURCE=str(crafted_source(root)))
    with patched_env(env):
        load_sources(ephemeral_instance(), ["C"])
    return env


# ---- unreadable release files -----------------------------------------------------------------
def _truncated_gzip(good: bytes) -> bytes:
    return good[: len(good) // 2]


def _corrupt_gzip(good: bytes) -> bytes:
    middle = len(good) // 2
    return good[:middle] + bytes(b ^ 0xFF for b in good[middle : middle + 64]) + good[middle + 64 :]


def _malformed_xml(good: bytes) -> bytes:
    text = gzip.decompress(good).replace(b"</ArticleTitle>", b"</ArticleTitl>", 1)
    return gzip.compress(text)


def _not_pubmed(good: bytes) -> bytes:
    return gzip.compress(
        b'<?xml version="1.0"?><DescriptorRecordSet LanguageCode="eng">'
        b"<DescriptorRecord><DescriptorUI>D000001</DescriptorUI></DescriptorRecord>"
        b"</DescriptorRecordSet>"
    )


def _empty(good: bytes) -> bytes:
    return b""


@pytest.mark.parametrize(
    "damage", [_truncated_gzip, _corrupt_gzip, _malformed_xml, _not_pubmed, _empty]
)
def test_unreadable_release_file_fails_its_partition_by_name_and_changes_nothing(
    damage, tmp_path, monkeypatch
):
    source = tmp_path / "pubmed" / "baseline"
    source.mkdir(parents=True)
    baseline = SAMPLE_PUBMED_SOURCE / "baseline"
    shutil.copy(baseline / "pubmed00n0001.xml.gz", source)
    bad_name = "pubmed00n0002.xml.gz"
    (source / bad_name).write_bytes(damage((baseline / bad_name).read_bytes()))
    env = sample_env(tmp_path, MKAILIN_PUBMED_SOURCE=str(source.parent))
    apply_env(monkeypatch, env)
    instance = ephemeral_instance(["pubmed00n0001.xml.gz", bad_name])
    materialize(["mesh_vocabulary"], None, instance)  # the first-run order: MeSH first
    materialize(["pubmed_files"], "pubmed00n0001.xml.gz", instance)
    db = env["MKAILIN_DUCKDB_PATH"]
    before = {t: snapshot(db, t, with_clock=True) for t in ("citations", "pubmed_files")}

    result = materialize(["pubmed_files"], bad_name, instance, raise_on_error=False)

    assert not result.success
    message = step_failure_text(result)
    assert f"PubMedFormatError: {bad_name}" in message, message
    assert {t: snapshot(db, t, with_clock=True) for t in before} == before


# ---- the sample's own hard cases, through the assets, reconciled from the ledger ----------------
def test_ledger_reconciles_duplicates_revisions_and_unknown_deletions(ingested):
    db = ingested["MKAILIN_DUCKDB_PATH"]
    with read_only(db) as con:
        ledger = con.execute(
            "SELECT file_name, articles_read, citations_upserted, citations_skipped_older,"
            " duplicates_in_file, quarantined, deletions FROM pubmed_files ORDER BY file_name"
        ).fetchall()
        quarantine = dict(
            con.execute(
                "SELECT source, count(*) FROM quarantine WHERE asset = 'pubmed_files' GROUP BY source"
            ).fetchall()
        )
        duplicate = con.execute("SELECT count(*) FROM citations WHERE pmid = 90000003").fetchone()
        revised = con.execute(
            "SELECT version, source_file FROM citations WHERE pmid = 90000010"
        ).fetchone()
        unknown_deletion = con.execute(
            "SELECT was_known, file_name FROM deleted_citations WHERE pmid = 90000999"
        ).fetchone()
        stored = con.execute("SELECT count(*) FROM citations").fetchone()[0]
        deleted_known = con.execute(
            "SELECT count(*) FROM deleted_citations WHERE was_known"
        ).fetchone()[0]
    assert [row[0] for row in ledger] == [f"pubmed00n000{i}.xml.gz" for i in (1, 2, 3, 4)]
    for name, read, upserted, skipped, duplicates, quarantined, _ in ledger:
        # read = loaded + skipped (older than stored) + duplicates + quarantined
        assert read == upserted + skipped + duplicates + quarantined, name
        assert quarantine.get(name, 0) == quarantined, name
    assert ledger[0][4] == 1  # 90000003 twice in file 1: the later record won, stored once
    assert duplicate == (1,)
    assert revised == (2, "pubmed00n0003.xml.gz")
    assert unknown_deletion == (False, "pubmed00n0003.xml.gz")
    # Every distinct PMID ever loaded is either stored now or deleted after being known.
    with read_only(db) as con:
        distinct_loaded = con.execute(
            "SELECT count(DISTINCT pmid) FROM (SELECT unnest(changed_pmids) AS pmid FROM pubmed_files)"
        ).fetchone()[0]
    assert distinct_loaded == stored + deleted_known


def test_raw_abstracts_reconcile_with_category_members_and_quarantine(ingested):
    db = ingested["MKAILIN_DUCKDB_PATH"]
    with read_only(db) as con:
        # Members written independently of the asset's SQL: citations with an abstract and a
        # major heading in C, or no major heading and any heading in C.
        members = con.execute(
            """SELECT count(*) FROM citations c
               WHERE coalesce(trim(c.abstract), '') <> '' AND EXISTS (
                   SELECT 1 FROM citation_mesh m JOIN mesh_tree t USING (descriptor_ui)
                   WHERE m.pmid = c.pmid AND t.category = 'C' AND (m.major_topic OR NOT EXISTS (
                       SELECT 1 FROM citation_mesh x WHERE x.pmid = c.pmid AND x.major_topic)))"""
        ).fetchone()[0]
        kept = con.execute("SELECT count(*) FROM raw_abstracts WHERE category = 'C'").fetchone()[0]
        quarantined = con.execute(
            "SELECT record_key, reason FROM quarantine WHERE asset = 'raw_abstracts' AND source = 'category:C'"
        ).fetchall()
    assert members == kept + len(quarantined)
    assert quarantined == [(str(LONG_PMID), "abstract length 26249 outside [50, 20000] characters")]


def test_mathml_entities_and_right_to_left_text_are_kept_as_text(ingested):
    with read_only(ingested["MKAILIN_DUCKDB_PATH"]) as con:
        abstracts = dict(
            con.execute(
                "SELECT pmid, abstract FROM raw_abstracts WHERE category = 'C' AND pmid IN (91000001, 91000002, 91000003)"
            ).fetchall()
        )
    assert "C=140-age" in abstracts[91000001] and "mml" not in abstracts[91000001]
    assert "β2-microglobulin & cystatin C rose >2-fold (p < 0.01)" in abstracts[91000002]
    assert "<i>escaped markup</i>" in abstracts[91000002]  # escaped markup stays literal text
    assert "الفشل الكلوي الحاد" in abstracts[91000003]
    assert "פגיעה כלייתית חריפה" in abstracts[91000003]


def test_descriptors_missing_from_the_tree_place_nothing_and_are_never_guessed(ingested):
    with read_only(ingested["MKAILIN_DUCKDB_PATH"]) as con:
        descriptor_uis, tree_numbers = con.execute(
            "SELECT descriptor_uis, tree_numbers FROM raw_abstracts WHERE pmid = 91000006"
        ).fetchone()
        known_trees = con.execute(
            "SELECT list_sort(flatten(list(tree_numbers))) FROM mesh_descriptors"
            " WHERE list_contains(?, descriptor_ui)",
            [descriptor_uis],
        ).fetchone()[0]
        orphan_stored = con.execute(
            "SELECT count(*) FROM citation_mesh WHERE pmid = 91000007 AND descriptor_ui = 'D999998'"
        ).fetchone()[0]
        orphan_placed = con.execute(
            "SELECT count(*) FROM raw_abstracts WHERE pmid = 91000007"
        ).fetchone()[0]
    assert "D999999" in descriptor_uis  # kept as indexed, for provenance
    assert sorted(tree_numbers) == known_trees  # only known descriptors contribute tree numbers
    # Indexed only with an unknown descriptor: stored, but in no category (like Male/Female).
    assert (orphan_stored, orphan_placed) == (1, 0)


@pytest.mark.parametrize("key", ["X", "a", "AB", "", "A "])
def test_partition_keys_outside_the_16_letters_are_refused(key, tmp_path, monkeypatch):
    apply_env(monkeypatch, sample_env(tmp_path))
    with pytest.raises(ValueError, match="unknown MeSH category partition"):
        validate_category(key)
    with pytest.raises(dg.DagsterError, match="Could not find a partition|non-partitioned run"):
        materialize(["raw_abstracts"], key)
    assert not Path(tmp_path / "mkailin.duckdb").exists()  # refused before any write


# ---- prompt injection, through candidate_qa and evaluated_qa ----------------------------------
def _texts_outside(db: str, table: str, column: str, pmid_column: str) -> list[str]:
    with read_only(db) as con:
        rows = con.execute(
            f"SELECT CAST({column} AS VARCHAR) FROM {table} WHERE {pmid_column} <> ?",
            [INJECTED_PMID],
        ).fetchall()
    return [row[0] for row in rows if row[0]]


@pytest.mark.slow
def test_prompt_injection_offline_keeps_format_and_stays_in_its_record(
    ingested, tmp_path, monkeypatch
):
    env = copy_project(ingested, tmp_path)
    apply_env(monkeypatch, env)
    materialize(["candidate_qa", "evaluated_qa"], "C")
    db = env["MKAILIN_DUCKDB_PATH"]
    with read_only(db) as con:
        own = con.execute(
            "SELECT question, status FROM candidate_qa WHERE source_pmid = ?", [INJECTED_PMID]
        ).fetchall()
        answers = con.execute(
            "SELECT answer FROM evaluated_qa WHERE source_pmid = ? AND answer IS NOT NULL",
            [INJECTED_PMID],
        ).fetchall()
    assert own and all(status == "ok" and q.endswith("?") for q, status in own)
    assert all(INJECTION_MARKER not in q for q, _ in own)
    assert all(INJECTION_MARKER not in a for (a,) in answers)
    for table, column, pmid in [
        ("candidate_qa", "question", "source_pmid"),
        ("evaluated_qa", "question", "source_pmid"),
        ("evaluated_qa", "answer", "source_pmid"),
    ]:
        assert not [t for t in _texts_outside(db, table, column, pmid) if INJECTION_MARKER in t]


def _obeying_model(mode: str):
    """A model that obeys the injected text: plain text, or JSON whose question is the payload."""

    def respond(body: dict) -> str:
        if INJECTION_MARKER not in prompt_text(body):
            return agent_responder(body)
        if mode == "plain":
            return f"{INJECTION_MARKER}"
        return json.dumps({"questions": [{"question": INJECTION_MARKER, "descriptor_uis": []}]})

    return respond


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["plain", "json"])
def test_injected_model_output_is_rejected_and_never_reaches_other_records(
    mode, ingested, tmp_path, monkeypatch
):
    env = copy_project(ingested, tmp_path)
    with FakeOpenAIServer(responder=_obeying_model(mode)) as server:
        env |= {
            "MKAILIN_LLM_BACKEND": "openai",
            "MKAILIN_LLM_BASE_URL": server.url,
            "MKAILIN_LLM_API_KEY": "sk-injection-test",
            "MKAILIN_LLM_MAX_RETRIES": "0",
            "MKAILIN_LLM_MAX_SCHEMA_RETRIES": "0",
        }
        apply_env(monkeypatch, env)
        materialize(["candidate_qa"], "C")
    db = env["MKAILIN_DUCKDB_PATH"]
    with read_only(db) as con:
        own = con.execute(
            "SELECT status, error, question FROM candidate_qa WHERE source_pmid = ?",
            [INJECTED_PMID],
        ).fetchall()
        # Every other source's questions are ok (a held-out question whose own split offers no
        # context is failed with that reason: retrieval's rule, not the injection's doing).
        others = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'ok' OR error = ?) FROM candidate_qa"
            " WHERE source_pmid <> ?",
            [NO_CONTEXT_ERROR, INJECTED_PMID],
        ).fetchone()
    assert own and all(status == "failed" and error for status, error, _ in own), own
    assert others[0] > 0 and others[0] == others[1]
    assert not [
        t
        for t in _texts_outside(db, "candidate_qa", "question", "source_pmid")
        if INJECTION_MARKER in t
    ]
