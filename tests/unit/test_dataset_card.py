"""A card ready to publish: file names instead of local paths, a plain warning on offline
records, sections that point the right way, and benchmark figures that follow benchmark_eval."""

from __future__ import annotations

import json

import polars as pl
import pytest

from mkailin_assets.curation.export import (
    OFFLINE_WARNING,
    export_training_set,
    made_offline,
    with_benchmark_section,
)
from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.stages.export import refresh_benchmark_figures

ROW = {"category": "C", "record_id": "pretrain:C:x", "kind": "pretrain", "split": "train",
       "source_pmid": 1, "record": json.dumps({"text": "line"}), "provenance": "{}"}  # fmt: skip
EMPTY = pl.DataFrame(schema={"filter": pl.String, "kind": pl.String})


def _meta(tmp_path, model: str) -> dict:
    return {
        "name": "t",
        "models": {"answer": model, "judge": model},
        "prompts": {"answer": "answer-grounded-v1", "judge": "judge-pairwise-v1"},
        "filters": {"decontamination": [str(tmp_path / "bench" / "pubmedqa_pqal.jsonl")]},
    }


def test_card_and_manifest_carry_no_local_path(tmp_path) -> None:
    out = tmp_path / "export"
    export_training_set(pl.DataFrame([ROW]), EMPTY, out, _meta(tmp_path, "gpt-4o-mini"))
    card = (out / "README.md").read_text()
    manifest = (out / "manifest.json").read_text()
    for text in (card, manifest):
        assert str(tmp_path) not in text
        assert "pubmedqa_pqal.jsonl" in text  # the file's name stays
    assert json.loads(manifest)["meta"]["filters"]["decontamination"] == ["pubmedqa_pqal.jsonl"]


def test_offline_records_carry_a_plain_warning(tmp_path) -> None:
    offline = _meta(tmp_path, "offline-extractive")
    assert made_offline(offline) and not made_offline(_meta(tmp_path, "gpt-4o-mini"))
    assert made_offline({"models": {"answer": "gpt-4o-mini, offline-extractive"}})
    out = tmp_path / "export"
    export_training_set(pl.DataFrame([ROW]), EMPTY, out, offline)
    card = (out / "README.md").read_text()
    assert OFFLINE_WARNING in card and "do not train on these records" in card
    assert card.index(OFFLINE_WARNING) < card.index("## Records per kind")  # at the top
    export_training_set(pl.DataFrame([ROW]), EMPTY, out, _meta(tmp_path, "gpt-4o-mini"))
    assert "Not training data" not in (out / "README.md").read_text()


def test_sections_point_the_right_way_and_prompts_are_role_and_version(tmp_path) -> None:
    out = tmp_path / "export"
    export_training_set(pl.DataFrame([ROW]), EMPTY, out, _meta(tmp_path, "gpt-4o-mini"))
    card = (out / "README.md").read_text()
    assert "see the models below" not in card
    assert card.index("## Models") < card.index("the Models section above")
    assert "| agent role | prompt version |" in card
    assert "| answer | answer-grounded-v1 |" in card


def test_benchmark_section_is_replaced_in_place() -> None:
    card = "# t\n\n## Benchmark results\n\nNo model evaluated yet.\n\n## Loading\n\nx\n"
    rows = [{"model": "m", "benchmark": "pubmedqa", "setting": "reasoning_required",
             "split": "test", "n": 10, "accuracy_pct": 60.0, "ci_low_pct": 30.0,
             "ci_high_pct": 85.0, "macro_f1_pct": 40.0}]  # fmt: skip
    updated = with_benchmark_section(card, rows)
    assert "No model evaluated yet" not in updated
    assert "| m | pubmedqa | reasoning_required | test | 10 | 60.0 |" in updated
    assert updated.endswith("## Loading\n\nx\n")
    assert with_benchmark_section("no such section", rows) == "no such section"


@pytest.fixture
def con(tmp_path):
    con = open_connection(str(tmp_path / "card.duckdb"))
    apply_schema(con)
    yield con
    con.close()


def test_benchmark_eval_refreshes_an_existing_card(con, tmp_path) -> None:
    out = tmp_path / "export"
    assert not refresh_benchmark_figures(con, out)  # no export yet: nothing to do
    export_training_set(pl.DataFrame([ROW]), EMPTY, out, _meta(tmp_path, "gpt-4o-mini"))
    assert "No model evaluated yet" in (out / "README.md").read_text()
    con.execute(
        """INSERT INTO benchmark_results (run_id, model, model_id, benchmark, setting, split, n,
               n_expected, correct, accuracy, ci_low, ci_high, ci_method, macro_f1, unparseable,
               prompt_version, partial, created_at)
           VALUES ('r1', 'offline', 'offline-rule', 'pubmedqa', 'reasoning_required', 'test', 4,
                   4, 3, 0.75, 0.3, 0.95, 'wilson', 0.5, 0, 'v1', false, now())"""
    )
    assert refresh_benchmark_figures(con, out)
    card = (out / "README.md").read_text()
    assert "No model evaluated yet" not in card and "| offline | pubmedqa |" in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["meta"]["benchmark"][0]["model"] == "offline"
    assert not list(out.glob(".*.tmp"))


def test_an_unchanged_export_is_not_rewritten(tmp_path) -> None:
    out = tmp_path / "export"
    meta = _meta(tmp_path, "gpt-4o-mini")
    export_training_set(pl.DataFrame([ROW]), EMPTY, out, meta)
    times = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    export_training_set(pl.DataFrame([ROW]), EMPTY, out, meta)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == times
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging left behind
    changed = {**ROW, "record": json.dumps({"text": "other line"})}
    export_training_set(pl.DataFrame([changed]), EMPTY, out, meta)
    assert (out / "pretrain" / "train.txt").read_text() == "other line\n"
