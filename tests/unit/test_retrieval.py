"""Retrieval agent: tokenizer, incremental BM25 index in DuckDB, BM25 scores, dense and hybrid."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import duckdb
import polars as pl
import pytest

from mkailin_assets.agents.retrieval import (
    bm25_sql_top_k,
    bm25_top_k,
    dense_top_k,
    hybrid_top_k,
    reciprocal_rank_fusion,
    refresh_bm25_index,
    refresh_bm25_sql_index,
    refresh_embeddings,
    retrieve,
)
from mkailin_assets.agents.search_index import NoIndexableTermError
from mkailin_assets.agents.tokenize import STOPWORDS, sql_tokens_expression, tokenize
from mkailin_assets.db import apply_schema, open_connection

DOCS = {
    1: ("Interleukin-6 in sepsis", "Interleukin-6 levels rise in septic shock patients."),
    2: ("Insulin resistance", "Insulin resistance and obesity in adolescents."),
    3: ("Sepsis outcomes", "Mortality of sepsis in intensive care; lactate predicts outcome."),
    4: ("Asthma in children", "Inhaled corticosteroids reduce asthma exacerbations in children."),
    5: (None, "Obesity, insulin and type 2 diabetes: a cohort of adults."),
    6: ("A title only about lactate", None),
}


@pytest.fixture
def con(tmp_db) -> duckdb.DuckDBPyConnection:
    connection = open_connection(tmp_db)
    apply_schema(connection)
    connection.complete()  # apply_schema ends on fetchone(); finish that result
    yield connection
    connection.close()


def _hash(title: str | None, abstract: str | None) -> str:
    return hashlib.sha256(f"{title}\x1f{abstract}".encode()).hexdigest()


def upsert_citation(con, pmid: int, title: str | None, abstract: str | None) -> None:
    con.execute("DELETE FROM citations WHERE pmid = ?", [pmid])
    con.execute(
        "INSERT INTO citations (pmid, version, title, abstract, source_file, content_hash,"
        " loaded_at) VALUES (?, 1, ?, ?, 'test.xml', ?, now())",
        [pmid, title, abstract, _hash(title, abstract)],
    )


def load_docs(con, docs=DOCS) -> None:
    for pmid, (title, abstract) in docs.items():
        upsert_citation(con, pmid, title, abstract)


def queries(*texts: str) -> pl.DataFrame:
    return pl.DataFrame({"query_id": [f"q{i}" for i in range(len(texts))], "text": list(texts)})


def reference_bm25(docs: dict[int, list[str]], query: list[str], k1=1.5, b=0.75) -> dict:
    """Textbook Lucene BM25, written independently of the SQL."""
    n = len(docs)
    avgdl = sum(len(t) for t in docs.values()) / n
    df = Counter(term for tokens in docs.values() for term in set(tokens))
    scores = {}
    for pmid, tokens in docs.items():
        tf = Counter(tokens)
        score = 0.0
        for term in query:
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf[term] / (tf[term] + k1 * (1 - b + b * len(tokens) / avgdl))
        if score:
            scores[pmid] = score
    return scores


def index_tokens(con) -> dict[int, list[str]]:
    rows = con.execute(
        "SELECT pmid, concat_ws(' ', title, abstract) FROM citations"
        " WHERE coalesce(title, '') <> '' OR coalesce(abstract, '') <> ''"
    ).fetchall()
    return {pmid: tokenize(text) for pmid, text in rows}


# ------------------------------------------------------------------ tokenizer


def test_tokenize_lowercases_splits_on_non_word_and_drops_stopwords():
    assert tokenize("The IL-6 level of TNF-α in β-cells, 5.3%!") == [
        "il", "6", "level", "tnf", "α", "β", "cells", "5", "3",
    ]  # fmt: skip
    assert tokenize(None) == [] and tokenize("") == [] and tokenize("of the and") == []


def test_sql_tokenizer_gives_the_python_tokens():
    texts = ["Naïve Müller’s straße 日本語 x_y", "Insulin-resistance (IR), HbA1c ≥ 6.5%"]
    con = duckdb.connect()
    for text in texts:
        (tokens,) = con.execute(f"SELECT {sql_tokens_expression('?')}", [text]).fetchall()[0]
        assert [t for t in tokens if t not in STOPWORDS] == tokenize(text)


# ------------------------------------------------------------------ BM25

# Both engines must give the same BM25: the on-disk index (default) and the SQL tables.
ENGINES = {
    "index": (refresh_bm25_index, bm25_top_k),
    "sql": (refresh_bm25_sql_index, bm25_sql_top_k),
}


@pytest.fixture(params=sorted(ENGINES))
def engine(request):
    return ENGINES[request.param]


def test_bm25_scores_equal_textbook_lucene_bm25(con, engine):
    load_docs(con)
    refresh, top_k = engine
    refresh(con)
    result = top_k(con, queries("insulin obesity adolescents", "sepsis lactate"), k=10)
    docs = index_tokens(con)
    for query_id, text in (("q0", "insulin obesity adolescents"), ("q1", "sepsis lactate")):
        expected = reference_bm25(docs, tokenize(text))
        got = result.filter(pl.col("query_id") == query_id)
        assert dict(zip(got["pmid"], got["score"], strict=True)) == pytest.approx(expected)
        assert got["rank"].to_list() == list(range(1, len(expected) + 1))
        assert got["score"].is_sorted(descending=True)


def test_bm25_top_k_cuts_at_k_and_breaks_ties_by_pmid(con, engine):
    twins = {10: ("asthma", None), 11: ("asthma", None), 12: ("asthma", None), 13: ("x", "y")}
    load_docs(con, twins)
    refresh, top_k = engine
    refresh(con)
    result = top_k(con, queries("asthma"), k=2)
    assert result["pmid"].to_list() == [10, 11]
    assert result["rank"].to_list() == [1, 2]
    assert result.schema == {
        "query_id": pl.String, "rank": pl.Int64, "pmid": pl.Int64, "score": pl.Float64,
    }  # fmt: skip


def test_bm25_query_with_no_known_term_or_empty_batch_gives_no_rows(con):
    load_docs(con)
    refresh_bm25_sql_index(con)
    assert bm25_sql_top_k(con, queries("zebrafish", "of the"), k=4).is_empty()
    assert bm25_sql_top_k(con, queries(), k=4).is_empty()
    refresh_bm25_index(con)
    assert bm25_top_k(con, queries("zebrafish"), k=4).is_empty()
    assert bm25_top_k(con, queries(), k=4).is_empty()
    # A question the index cannot match at all is an error, never silently empty contexts.
    with pytest.raises(NoIndexableTermError, match="no indexable term"):
        bm25_top_k(con, queries("sepsis", "Of the -- (and)?"), k=4)


def test_bm25_exclusions_global_and_per_query(con, engine):
    load_docs(con)
    refresh, top_k = engine
    refresh(con)
    batch = queries("sepsis", "sepsis")
    everywhere = top_k(con, batch, k=4, exclude_pmids=[3])
    assert 3 not in everywhere["pmid"].to_list() and everywhere.height == 2
    per_query = top_k(
        con, batch, k=4, exclude_pmids=pl.DataFrame({"query_id": ["q0"], "pmid": [3]})
    )
    assert per_query.filter(pl.col("query_id") == "q0")["pmid"].to_list() == [1]
    assert sorted(per_query.filter(pl.col("query_id") == "q1")["pmid"].to_list()) == [1, 3]


def index_state(con):
    postings = con.execute(
        "SELECT term, pmid, tf, doc_len FROM bm25_postings ORDER BY ALL"
    ).fetchall()
    terms = con.execute("SELECT term, df FROM bm25_terms ORDER BY ALL").fetchall()
    docs = con.execute("SELECT pmid, content_hash, doc_len FROM bm25_docs ORDER BY ALL").fetchall()
    return postings, terms, docs


def test_incremental_refresh_matches_a_rebuild_from_scratch(con, tmp_path):
    load_docs(con)
    first = refresh_bm25_sql_index(con)
    assert first["indexed_new"] == 6 and first["documents"] == 6
    assert refresh_bm25_sql_index(con) | {"seconds": 0} == {
        "indexed_new": 0, "reindexed_changed": 0, "removed": 0, "documents": 6,
        "terms": first["terms"], "seconds": 0,
    }  # fmt: skip

    upsert_citation(con, 2, "Insulin resistance", "Now about asthma and sepsis instead.")
    con.execute("DELETE FROM citations WHERE pmid = 4")
    upsert_citation(con, 7, "Zebrafish sepsis model", "A new zebrafish model.")
    upsert_citation(con, 6, None, None)  # emptied: leaves the index
    report = refresh_bm25_sql_index(con)
    assert (report["indexed_new"], report["reindexed_changed"], report["removed"]) == (1, 1, 2)
    incremental = index_state(con)

    fresh = open_connection(tmp_path / "fresh.duckdb")
    apply_schema(fresh)
    fresh.complete()
    load_docs(fresh, {p: DOCS[p] for p in (1, 3, 5)})
    upsert_citation(fresh, 2, "Insulin resistance", "Now about asthma and sepsis instead.")
    upsert_citation(fresh, 7, "Zebrafish sepsis model", "A new zebrafish model.")
    refresh_bm25_sql_index(fresh)
    assert incremental == index_state(fresh)
    fresh.close()
    # terms of deleted documents only are gone (df never 0)
    assert con.execute("SELECT count(*) FROM bm25_terms WHERE df <= 0").fetchall()[0][0] == 0
    assert (
        con.execute("SELECT count(*) FROM bm25_terms WHERE term = 'corticosteroids'").fetchall()[0][
            0
        ]
        == 0
    )


def test_refresh_is_one_transaction(con, monkeypatch):
    load_docs(con)
    refresh_bm25_sql_index(con)
    before = index_state(con)
    upsert_citation(con, 8, "New asthma paper", "More asthma.")
    import mkailin_assets.agents.retrieval as retrieval

    def broken(connection):
        connection.execute("DELETE FROM bm25_postings")
        raise RuntimeError("crash in the middle")

    monkeypatch.setattr(retrieval, "_refresh_bm25_in_transaction", broken)
    with pytest.raises(RuntimeError):
        retrieval.refresh_bm25_sql_index(con)
    assert index_state(con) == before


# ------------------------------------------------------------------ dense and hybrid

VOCAB = ["sepsis", "insulin", "asthma", "lactate", "obesity", "zebrafish"]


class ToyEmbed:
    """Deterministic bag-of-words embedding over a tiny vocabulary; records calls."""

    def __init__(self, fail: set[str] = frozenset()):
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, item_ids: list[str], texts: list[str]) -> list[list[float] | None]:
        self.calls.append(list(item_ids))
        vectors: list[list[float] | None] = []
        for item_id, text in zip(item_ids, texts, strict=True):
            counts = Counter(tokenize(text))
            vectors.append(None if item_id in self.fail else [float(counts[w]) for w in VOCAB])
        return vectors


def test_refresh_embeddings_is_incremental_and_retries_failures(con):
    load_docs(con)
    embed = ToyEmbed(fail={"5"})
    first = refresh_embeddings(con, embed, "toy")
    assert (first["embedded"], first["failed"]) == (5, 1)
    embed.fail = set()
    second = refresh_embeddings(con, embed, "toy")
    assert embed.calls[-1] == ["5"] and second["embedded"] == 1
    upsert_citation(con, 3, "Sepsis outcomes", "Changed text about lactate.")
    con.execute("DELETE FROM citations WHERE pmid = 4")
    third = refresh_embeddings(con, embed, "toy")
    assert embed.calls[-1] == ["3"] and third["removed"] == 2 and third["embedded"] == 1
    stored = con.execute("SELECT pmid FROM embeddings WHERE model = 'toy' ORDER BY 1").fetchall()
    assert [p for (p,) in stored] == [1, 2, 3, 5, 6]
    refresh_embeddings(con, embed, "toy")
    assert len(embed.calls) == 3  # nothing new: embed is not called


def test_dense_top_k_ranks_by_cosine(con):
    load_docs(con)
    embed = ToyEmbed()
    refresh_embeddings(con, embed, "toy")
    result = dense_top_k(con, queries("lactate"), embed, "toy", k=2)
    # pmid 6 is "lactate" alone (cosine 1); pmid 3 mentions sepsis twice and lactate once
    assert result["pmid"].to_list() == [6, 3]
    assert result["score"][0] == pytest.approx(1.0)
    assert result["score"][1] == pytest.approx(1 / math.sqrt(5))
    excluded = dense_top_k(con, queries("lactate"), embed, "toy", k=2, exclude_pmids=[6])
    assert excluded["pmid"][0] == 3


def test_reciprocal_rank_fusion():
    a = pl.DataFrame({"query_id": ["q"] * 3, "rank": [1, 2, 3], "pmid": [1, 2, 3], "score": 0.0})
    b = pl.DataFrame({"query_id": ["q"] * 2, "rank": [1, 2], "pmid": [3, 4], "score": 0.0})
    fused = reciprocal_rank_fusion([a, b], k=3, k_rrf=60)
    assert fused["pmid"].to_list() == [3, 1, 2]  # 1/63 + 1/61 > 1/61 > 1/62 == 1/62: pmid 2 < 4
    assert fused["score"][0] == pytest.approx(1 / 63 + 1 / 61)


def test_hybrid_and_dispatcher(con):
    load_docs(con)
    refresh_bm25_index(con)
    embed = ToyEmbed()
    refresh_embeddings(con, embed, "toy")
    batch = queries("sepsis lactate")
    hybrid = hybrid_top_k(con, batch, embed, "toy", k=2)
    lexical = bm25_top_k(con, batch, k=50)
    dense = dense_top_k(con, batch, embed, "toy", k=50)
    assert lexical["pmid"][0] == dense["pmid"][0] == 3 == hybrid["pmid"][0]
    assert hybrid.equals(reciprocal_rank_fusion([lexical, dense], k=2))
    assert retrieve(con, batch, "hybrid", k=2, embed=embed, model_name="toy").equals(hybrid)
    assert retrieve(con, batch, "bm25", k=2).equals(bm25_top_k(con, batch, k=2))
    with pytest.raises(ValueError, match="needs an embed"):
        retrieve(con, batch, "dense")
    with pytest.raises(ValueError, match="unknown retrieval method"):
        retrieve(con, batch, "fts")  # type: ignore[arg-type]


def test_bm25_batches_give_the_same_result_as_one_batch(con):
    load_docs(con)
    refresh_bm25_sql_index(con)
    batch = queries("sepsis lactate", "insulin", "asthma children", "obesity adults", "zebrafish")
    whole = bm25_sql_top_k(con, batch, k=3, exclude_pmids=[3])
    assert bm25_sql_top_k(con, batch, k=3, exclude_pmids=[3], batch_size=2).equals(whole)
    assert whole["query_id"].unique().len() == 4
