"""Reading a few citations by PMID (db/lookups.py) and what the stages build from it."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from mkailin_assets.db import citation_rows, lookups, present_pmids
from mkailin_assets.stages.evaluation import candidate_contexts, candidate_sources

TEXTS = {"pmid": pl.Int64, "title": pl.String, "abstract": pl.String}


@pytest.fixture
def con(schema_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    schema_con.execute(
        """INSERT INTO citations (pmid, version, title, abstract, source_file, content_hash,
                                  loaded_at)
           SELECT p, 1, CASE WHEN p = 30 THEN NULL ELSE 'title ' || p END, 'abstract ' || p,
                  'f', 'h' || p, now()
           FROM range(10, 60, 10) r(p)"""
    )
    return schema_con


def test_rows_of_the_pmids_that_exist_in_pmid_order_across_chunks(con, monkeypatch):
    monkeypatch.setattr(lookups, "LOOKUP_CHUNK", 2)  # 5 PMIDs asked: three statements
    rows = citation_rows(con, [50, 10, 999, 30, 10, 20], TEXTS)
    assert rows.schema == pl.Schema(TEXTS)
    assert rows["pmid"].to_list() == [10, 20, 30, 50]
    assert rows.filter(pl.col("pmid") == 30)["title"].to_list() == [None]
    assert citation_rows(con, [], TEXTS).schema == pl.Schema(TEXTS)
    assert present_pmids(con, [10, 11, 50, 50]) == {10, 50}
    assert present_pmids(con, []) == set()


def test_an_unknown_column_is_refused_not_interpolated(con):
    with pytest.raises(KeyError):
        citation_rows(con, [10], {"pmid": pl.Int64, "title; DROP TABLE citations": pl.String})


def test_contexts_keep_their_rank_order_and_drop_a_deleted_citation(con):
    candidates = pl.DataFrame(
        {
            "candidate_id": ["a", "b", "c"],
            "source_pmid": [10, 20, 10],
            "context_pmids": [[50, 30, 999, 20], [10], []],
        }
    )
    contexts = candidate_contexts(con, candidates).sort("candidate_id")
    assert contexts["candidate_id"].to_list() == ["a", "b"]  # c has no context to read
    first = contexts["contexts"][0].to_list()
    assert [c["pmid"] for c in first] == [50, 30, 20]  # rank order, 999 is not a citation
    assert first[1] == {"pmid": 30, "title": "", "abstract": "abstract 30"}
    sources = candidate_sources(con, candidates)
    assert sources.columns == ["source_pmid", "source_title", "source_abstract"]
    assert sources["source_pmid"].to_list() == [10, 20]
