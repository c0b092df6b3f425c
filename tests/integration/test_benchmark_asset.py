"""benchmark_eval through Dagster for the offline model over the ingested sample corpus: figures
agree with the stored answers, PubMedQA* never retrieves the question's own PMID, a re-run sends
nothing and shows the previous figures, the sensor registers MKAILIN_EVAL_MODELS, the view shows
the latest figures."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from mkailin_assets.automation.benchmark_sensor import benchmark_models_sensor
from mkailin_assets.db import apply_analysis_views, open_connection
from mkailin_assets.evaluation.scoring import score
from tests.harness import (
    BASELINE_FILES,
    check_outcomes,
    materialization_metadata,
    new_pipeline,
    patched_env,
)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> dict:
    pipeline = new_pipeline(tmp_path_factory.mktemp("benchmark"))
    pipeline.materialize(["mesh_vocabulary"])  # the first-run order: MeSH first
    pipeline.load_files(BASELINE_FILES)
    pipeline.instance.add_dynamic_partitions("benchmark_models", ["offline"])
    first = pipeline.materialize(["benchmark_eval"], "offline")
    second = pipeline.materialize(["benchmark_eval"], "offline")
    return {"pipeline": pipeline, "first": first, "second": second}


def test_offline_figures_agree_with_the_stored_answers(evaluated):
    pipeline = evaluated["pipeline"]
    results = pipeline.frame(
        "SELECT * FROM benchmark_results WHERE run_id = ? ORDER BY benchmark, setting, split",
        [evaluated["first"].run_id],
    )
    assert results.height == 6 and not results["partial"].any()
    answers = pipeline.frame("SELECT * FROM benchmark_answers WHERE model = 'offline'")
    assert answers.height == 3000 and set(answers["status"]) == {"answered"}
    for row in results.iter_rows(named=True):
        subset = answers.filter(
            (answers["setting"] == row["setting"])
            & ((answers["split"] == "test") if row["split"] == "test" else True)
        )
        figures = score(subset["gold"].to_list(), subset["answer"].to_list())
        assert (row["n"], row["correct"]) == (figures.n, figures.correct)
        assert row["macro_f1"] == pytest.approx(figures.macro_f1)
    test_baseline = results.filter(results["split"] == "test")["majority_baseline"]
    assert test_baseline.to_list() == [pytest.approx(0.552)] * 3


def test_retrieved_contexts_come_from_the_corpus_never_the_own_pmid(evaluated):
    pipeline = evaluated["pipeline"]
    with_contexts = pipeline.scalar(
        "SELECT count(*) FROM benchmark_answers WHERE setting = 'retrieved' AND len(context_pmids) > 0"
    )
    assert with_contexts > 900  # BM25 finds something for nearly every question
    assert (
        pipeline.scalar(
            "SELECT count(*) FROM benchmark_answers WHERE list_contains(context_pmids, pmid)"
        )
        == 0
    )
    assert (
        pipeline.scalar(
            "SELECT count(*) FROM benchmark_answers a WHERE setting = 'retrieved' AND EXISTS"
            " (SELECT 1 FROM unnest(a.context_pmids) u(p) WHERE p NOT IN (SELECT pmid FROM citations))"
        )
        == 0
    )


def test_rerun_sends_nothing_and_shows_the_previous_run(evaluated):
    first = materialization_metadata(evaluated["first"], "benchmark_eval")
    second = materialization_metadata(evaluated["second"], "benchmark_eval")
    assert first["llm.offline_calls"] == 3000 and first["previous_run"] == "none"
    assert second["llm.offline_calls"] == 0 and second["llm.requests_sent"] == 0
    assert second["llm.cache_hits"] == 3000
    assert second["previous_run"] == evaluated["first"].run_id
    assert "55.2" in second["figures"] and "+0.0" in second["figures"]
    assert second["pubmedqa.reasoning_required.test.accuracy"] == pytest.approx(
        first["pubmedqa.reasoning_required.test.accuracy"]
    )
    outcomes = check_outcomes(evaluated["second"])
    assert outcomes == {
        ("benchmark_eval", "no_drop_beyond_interval"): True,
        ("benchmark_eval", "benchmark_complete"): True,
    }


def test_view_shows_the_latest_figures_per_model(evaluated):
    pipeline = evaluated["pipeline"]
    con = open_connection(pipeline.db_path)
    try:
        apply_analysis_views(con)
        rows = con.execute(
            "SELECT model, run_id, gpt4_medprompt_pct FROM benchmark_latest"
        ).fetchall()
    finally:
        con.close()
    assert len(rows) == 6
    assert {(m, r) for m, r, _ in rows} == {("offline", evaluated["second"].run_id)}
    # The published reference stands beside the one like-with-like figure only.
    assert sorted(float(ref) for _, _, ref in rows if ref is not None) == [82.0]


def test_sensor_registers_configured_models():
    instance = dg.DagsterInstance.ephemeral()
    models = json.dumps([{"name": "local-small", "base_url": "http://127.0.0.1:1/v1"}])
    with patched_env({"MKAILIN_EVAL_MODELS": models}):
        result = benchmark_models_sensor(dg.build_sensor_context(instance=instance))
    (request,) = result.dynamic_partitions_requests
    assert request.partitions_def_name == "benchmark_models"
    assert list(request.partition_keys) == ["offline", "local-small"]
