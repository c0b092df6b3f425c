"""benchmark_eval's stage on a real DuckDB file: PubMedQA* retrieval excludes the question's own
PMID, training retrieval excludes benchmark citations, a re-run sends no request, a budget stop
leaves partial figures marked partial, and the hygiene check finds a benchmark PMID in any field."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from mkailin_assets.agents.retrieval import refresh_bm25_index, retrieve
from mkailin_assets.checks.benchmark_checks import hygiene_hits
from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.evaluation.config import EvalModel
from mkailin_assets.evaluation.hygiene import benchmark_citation_pmids, benchmark_pmid_hits
from mkailin_assets.evaluation.pubmedqa import PubMedQAItem
from mkailin_assets.llm.client import LLMClient
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.stages.benchmark import retrieved_contexts, run_benchmark, write_benchmark
from tests.fakes.openai_server import CHAT_PATH, Fault
from tests.unit.test_retrieval import load_docs, upsert_citation

QUESTION = "Does interleukin-6 predict mortality in septic shock?"
ITEMS = [
    PubMedQAItem(101, QUESTION, ("IL-6 was measured in 80 patients.",), "yes", "test"),
    PubMedQAItem(
        102, "Do inhaled corticosteroids reduce asthma in children?", ("c",), "no", "test"
    ),
    PubMedQAItem(103, "Is insulin resistance linked to obesity?", ("c",), "maybe", "train_dev"),
    PubMedQAItem(104, "Does lactate predict sepsis outcome?", ("c",), "yes", "train_dev"),
]


@pytest.fixture
def con(tmp_db) -> duckdb.DuckDBPyConnection:
    connection = open_connection(tmp_db)
    apply_schema(connection)
    connection.complete()
    load_docs(connection)
    # The benchmark item's own abstract is in the corpus, worded like its question.
    upsert_citation(connection, 101, QUESTION, "Interleukin-6 septic shock mortality predict.")
    yield connection
    connection.close()


def test_pubmedqa_star_excludes_the_questions_own_pmid(con):
    contexts, report = retrieved_contexts(con, ITEMS, k=2)
    first = [pmid for pmid, _ in contexts[101]]
    assert 101 not in first and len(first) == 2 and first[0] in (1, 3)
    assert all(text for _, text in contexts[101])
    # Other benchmark citations stay retrievable on the evaluation path: 101 serves item 104.
    everything = retrieve(
        con, pl.DataFrame({"query_id": ["q"], "text": [QUESTION]}), method="bm25", k=1
    )
    assert everything["pmid"].to_list() == [101]
    assert report["questions_with_contexts"] == 4


def test_training_retrieval_never_returns_an_excluded_pmid(con):
    refresh_bm25_index(con)
    queries = pl.DataFrame({"query_id": ["a", "b"], "text": [QUESTION, "sepsis lactate outcome"]})
    plain = retrieve(con, queries, method="bm25", k=3)
    assert 101 in plain["pmid"].to_list()
    excluded = retrieve(con, queries, method="bm25", k=3, exclude_pmids={101, 3})
    assert not set(excluded["pmid"].to_list()) & {101, 3}
    per_query = excluded.group_by("query_id").agg("rank").sort("query_id")
    assert all(sorted(r) == list(range(1, len(r) + 1)) for r in per_query["rank"].to_list())
    # The rest keeps its order: the plain ranking without the excluded PMIDs.
    for query in ("a", "b"):
        wanted = retrieve(con, queries.filter(pl.col("query_id") == query), method="bm25", k=6)
        wanted = [p for p in wanted["pmid"].to_list() if p not in {101, 3}][:3]
        got = excluded.filter(pl.col("query_id") == query).sort("rank")["pmid"].to_list()
        assert got == wanted


def _client(con, server, **overrides) -> LLMClient:
    config = LLMConfig(
        backend="openai",
        base_url=server.url,
        api_key="sk-eval",
        model="tiny",
        max_tokens=40,
        max_concurrency=1,
        retry_base_delay_s=0.01,
        max_failure_rate=1.0,
        **overrides,
    )
    return LLMClient(config, con)


MODEL = EvalModel(name="tiny", base_url="http://unused/v1")


def test_rerun_sends_no_request_and_figures_match(con, fake_openai):
    fake_openai.responder = lambda body: "The data support it.\nAnswer: Yes."
    run = run_benchmark(con, _client(con, fake_openai), MODEL, ITEMS, run_id="r1", k=2)
    assert fake_openai.stats.by_path[CHAT_PATH] == 3 * len(ITEMS)
    write_benchmark(con, MODEL.name, run)
    fake_openai.reset_stats()
    again = run_benchmark(con, _client(con, fake_openai), MODEL, ITEMS, run_id="r2", k=2)
    assert fake_openai.stats.total == 0
    assert again.answers["answer"].to_list() == ["yes"] * 12
    figures = {(r["setting"], r["split"]): r for r in again.results.iter_rows(named=True)}
    # All "yes": test split 1 of 2 right, all items 2 of 4.
    assert figures[("reasoning_required", "test")]["accuracy"] == 0.5
    assert figures[("no_context", "all")]["correct"] == 2
    assert not again.partial
    retrieved = again.answers.filter(pl.col("setting") == "retrieved")
    assert all(101 not in p for p in retrieved.filter(pl.col("pmid") == 101)["context_pmids"])


def test_an_answer_cut_at_max_tokens_is_scored_from_its_text_not_dropped(con, fake_openai):
    """The model's final word, even truncated, is real output: parsed ("Yes, ..." is yes; a cut
    before any label is unparseable, i.e. wrong), counted in n, and the figures are not partial."""
    fake_openai.responder = lambda body: "Yes, the trial shows a clear benefit in every arm."
    fake_openai.add_fault(Fault("length", probability=1.0))
    run = run_benchmark(con, _client(con, fake_openai), MODEL, ITEMS, run_id="cut", k=2)
    assert set(run.answers["status"]) == {"rejected"}
    assert set(run.answers["answer"]) == {"yes"}  # "Yes, the trial sho" still says yes
    assert run.results["n"].to_list() == run.results["n_expected"].to_list()
    assert not run.partial
    fake_openai.clear_faults()
    fake_openai.reset_stats()
    again = run_benchmark(con, _client(con, fake_openai), MODEL, ITEMS, run_id="cut2", k=2)
    assert fake_openai.stats.total == 0  # a rejected answer is final: nothing sent again
    assert again.answers["answer"].to_list() == run.answers["answer"].to_list()


def test_budget_stop_leaves_partial_results_marked_partial(con, fake_openai):
    fake_openai.responder = lambda body: "Answer: no"
    client = _client(con, fake_openai, budget_tokens=300)
    run = run_benchmark(con, client, MODEL, ITEMS, run_id="budget", k=2)
    assert run.partial and run.stopped and run.stopped.startswith("budget")
    statuses = run.answers["status"].to_list()
    assert "answered" in statuses and "not_sent" in statuses
    answered = statuses.count("answered")
    assert fake_openai.stats.total == answered < 12
    assert int(run.results["n"].sum()) < int(run.results["n_expected"].sum())
    write_benchmark(con, MODEL.name, run)
    stored = con.execute(
        "SELECT bool_or(partial), count(*) FILTER (status = 'not_sent') > 0"
        " FROM benchmark_results JOIN benchmark_answers USING (run_id, model)"
    ).fetchall()[0]
    assert stored == (True, True)


# ---- hygiene ---------------------------------------------------------------------------------

BENCHMARK_PMID = 21645374  # a PQA-L PMID, in the shipped decontamination file
FIELDS = {
    "source_pmid": lambda row: row.update(source_pmid=BENCHMARK_PMID),
    "context_pmids": lambda row: row["context_pmids"].append(BENCHMARK_PMID),
    "record.contexts[].pmid": lambda row: row["record"]["contexts"].append(
        {"pmid": BENCHMARK_PMID, "title": "t", "text": "x"}
    ),
    "record.chosen_context_pmids": lambda row: row["record"]["chosen_context_pmids"].append(
        BENCHMARK_PMID
    ),
    "record.rejected_context_pmids": lambda row: row["record"]["rejected_context_pmids"].append(
        BENCHMARK_PMID
    ),
    "record.chosen (text)": lambda row: row["record"].update(
        chosen=f"[PMID {BENCHMARK_PMID}] Some title\ntext"
    ),
    "provenance.context_pmids": lambda row: row["provenance"]["context_pmids"].append(
        BENCHMARK_PMID
    ),
    "provenance.source_pmid": lambda row: row["provenance"].update(source_pmid=BENCHMARK_PMID),
}


def clean_row() -> dict:
    return {
        "record_id": "sft:K:abc",
        "source_pmid": 1,
        "context_pmids": [2, 3],
        "record": {
            "question": "q",
            "contexts": [{"pmid": 2, "title": "t", "text": "x"}],
            "chosen": "[PMID 2] title",
            "chosen_context_pmids": [2],
            "rejected_context_pmids": [3],
        },
        "provenance": {"source_pmid": 1, "context_pmids": [2, 3]},
    }


def _frame(row: dict) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                **row,
                "record": json.dumps(row["record"]),
                "provenance": json.dumps(row["provenance"]),
            }
        ]
    )


def test_clean_record_has_no_hit():
    pmids = benchmark_citation_pmids()
    assert BENCHMARK_PMID in pmids and len(pmids) == 1000
    assert benchmark_pmid_hits(_frame(clean_row()), pmids).is_empty()


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_hygiene_finds_a_planted_benchmark_pmid_in_each_field(field):
    row = clean_row()
    FIELDS[field](row)
    hits = benchmark_pmid_hits(_frame(row), benchmark_citation_pmids())
    assert hits["pmid"].to_list() == [BENCHMARK_PMID] * hits.height and hits.height >= 1
    assert field in hits["field"].to_list()


def test_hygiene_check_reads_the_category_s_training_rows(con):
    row = clean_row()
    FIELDS["record.rejected_context_pmids"](row)
    con.execute(
        "INSERT INTO training_set VALUES ('K', ?, 'dpo', 'train', 1, [2, 3], 'q', ?, ?, now())",
        [row["record_id"], json.dumps(row["record"]), json.dumps(row["provenance"])],
    )
    assert hygiene_hits(con, benchmark_citation_pmids(), "A").is_empty()  # another category
    hits = hygiene_hits(con, benchmark_citation_pmids(), "K")
    assert hits.equals(hygiene_hits(con, benchmark_citation_pmids()))  # all: the same one hit
    assert hits.to_dicts() == [
        {
            "record_id": "sft:K:abc",
            "field": "record.rejected_context_pmids",
            "pmid": BENCHMARK_PMID,
        }
    ]


def test_exclusion_asks_again_when_many_excluded_pmids_rank_first(con):
    # 12 abstracts on sepsis, the 10 strongest excluded: the first ask (k + 8) comes up short.
    for i in range(12):
        upsert_citation(con, 500 + i, "Sepsis " * (12 - i), "sepsis lactate")
    refresh_bm25_index(con)
    queries = pl.DataFrame({"query_id": ["s"], "text": ["sepsis"]})
    ranking = retrieve(con, queries, method="bm25", k=20)["pmid"].to_list()
    excluded = set(ranking[:10])
    got = retrieve(con, queries, method="bm25", k=2, exclude_pmids=excluded)
    assert got.sort("rank")["pmid"].to_list() == ranking[10:12]
    assert got["rank"].to_list() == [1, 2]
