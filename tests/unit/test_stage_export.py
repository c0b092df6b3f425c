"""training_export's stage: a record in two categories is exported once, with both categories."""

from __future__ import annotations

import json

import duckdb
import polars as pl

from mkailin_assets.stages.candidates import embed_with, vectors_by_text
from mkailin_assets.stages.evaluation import score_band
from mkailin_assets.stages.export import read_export, write_export

FILTERS = {"dedup_threshold": 0.8, "ngram": 13}


def _record(
    con: duckdb.DuckDBPyConnection, category: str, candidate: str, split: str, question: str
) -> None:
    con.execute(
        """INSERT INTO training_set VALUES (?, ?, 'sft', ?, 1, [2], ?, ?, ?, now())""",
        [
            category,
            f"sft:{category}:{candidate}",
            split,
            question,
            json.dumps({"question": question, "answer": "Because."}),
            json.dumps({"source_pmid": 1}),
        ],
    )


def test_records_in_several_categories_are_exported_once(schema_con, tmp_path):
    _record(schema_con, "K", "c1", "train", "Why does the drug work?")
    _record(schema_con, "H", "c1", "train", "Why does the drug work?")
    _record(schema_con, "K", "c2", "test", "How long does the effect last?")
    schema_con.execute(
        "INSERT INTO training_filtered VALUES ('K', 'sft:K:c3', 'sft', 'exact_dup', 'r', 'c1', now())"
    )
    export = read_export(schema_con, FILTERS, dedup_threshold=0.8)
    assert export.training["record_id"].to_list() == ["sft:H:c1", "sft:K:c2"]
    provenance = [json.loads(p) for p in export.training["provenance"]]
    assert [p["categories"] for p in provenance] == [["H", "K"], ["K"]]
    assert export.meta["filters"] == FILTERS and "prompts" in export.meta

    summary = write_export(export, tmp_path / "exports")
    assert (summary.records, summary.filtered, summary.kinds) == (2, 1, ["sft"])
    assert summary.by_category == {"H": 1, "K": 1}
    assert summary.counts == {"sft": {"train": 1, "test": 1}}
    assert pl.read_parquet(tmp_path / "exports" / "sft" / "train.parquet").height == 1
    written = [p for p in (tmp_path / "exports").rglob("*") if p.is_file()]
    assert summary.files == len(written) == 6  # parquet + jsonl per split, card, manifest


def test_a_question_twin_in_another_category_is_removed_at_export(schema_con):
    _record(schema_con, "K", "c1", "train", "Why does the drug work?")
    _record(schema_con, "H", "c7", "train", "why does the DRUG work?")
    export = read_export(schema_con, FILTERS, dedup_threshold=0.8)
    assert export.training["record_id"].to_list() == ["sft:K:c1"]
    removed = export.filtered.select("category", "record_id", "filter", "twin_id").rows()
    assert removed == [("H", "sft:H:c7", "exact_dup", "c1")]
    assert "category K" in export.filtered["reason"][0]


def test_an_empty_training_set_exports_an_empty_summary(schema_con, tmp_path):
    summary = write_export(
        read_export(schema_con, FILTERS, dedup_threshold=0.8), tmp_path / "exports"
    )
    assert (summary.records, summary.by_category, summary.kinds) == (0, {}, [])


class _RecordingClient:
    """Stands in for the LLM client's embed(texts, item_ids) and its config."""

    class config:  # noqa: N801 - mirrors the client's attribute
        @staticmethod
        def model_for(role: str) -> str:
            return f"model-for-{role}"

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []

    def embed(self, texts: list[str], item_ids: list[str]) -> list[None]:
        self.calls.append((texts, item_ids))
        return [None] * len(texts)


def test_embed_with_passes_arguments_in_the_client_order():
    client = _RecordingClient()
    embed = embed_with(client)
    embed(["id1"], ["text one"])  # retrieval calls embed(item_ids, texts)
    assert client.calls == [(["text one"], ["id1"])]


def test_vectors_computed_earlier_answer_retrieval_without_a_call():
    embed = vectors_by_text(["q1", "q2"], [[1.0, 0.0], None])
    assert embed(["a", "b", "c"], ["q2", "q1", "unknown"]) == [None, [1.0, 0.0], None]


def test_score_band_is_off_unless_an_end_is_set():
    assert score_band(None, None) is None
    assert score_band(0.2, None) == (0.2, None)
