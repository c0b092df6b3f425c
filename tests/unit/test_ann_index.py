"""ANN dense retrieval (usearch): forced on a small corpus by a tiny MKAILIN_ANN_MIN_DOCS, it must
give the brute-force cosine top k, follow `embeddings` incrementally, and rebuild an index that is
missing, unreadable, foreign or left by an unfinished refresh; hybrid fusion is unchanged."""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import polars as pl
import pytest

from mkailin_assets.agents import ann_index
from mkailin_assets.agents.retrieval import (
    bm25_top_k,
    dense_top_k,
    hybrid_top_k,
    reciprocal_rank_fusion,
    refresh_bm25_index,
    refresh_embeddings,
)
from mkailin_assets.agents.tokenize import tokenize
from tests.unit.test_retrieval import con, upsert_citation  # noqa: F401  (fixture)

MODEL = "hashed-16"
WORDS = ["sepsis", "insulin", "asthma", "lactate", "obesity", "children", "adults", "cohort", "mortality", "shock", "diabetes", "glucose", "lung", "kidney", "heart", "liver"]  # fmt: skip


def hashed_embed(item_ids: list[str], texts: list[str]) -> list[list[float] | None]:
    """16 dimensions from token hashes: deterministic, and ties between documents are rare."""
    vectors: list[list[float] | None] = []
    for text in texts:
        vector = np.zeros(16)
        for token in tokenize(text):
            digest = hashlib.sha256(token.encode()).digest()
            vector[digest[0] % 16] += 1 + digest[1] / 255
        vectors.append(vector.tolist())
    return vectors


def corpus(con, n: int = 300) -> None:  # noqa: F811
    rng = np.random.default_rng(7)
    for pmid in range(1, n + 1):
        words = rng.choice(WORDS, size=int(rng.integers(3, 12)))
        upsert_citation(con, pmid, f"doc {pmid}", " ".join(words))


QUERIES = pl.DataFrame(
    {"query_id": [f"q{i}" for i in range(8)],
     "text": ["sepsis lactate", "insulin obesity adults", "asthma children", "heart kidney",
              "glucose diabetes cohort", "liver", "shock mortality sepsis", "lung asthma"]}
)  # fmt: skip


def brute_force(con, monkeypatch, **kwargs) -> pl.DataFrame:  # noqa: F811
    monkeypatch.setenv("MKAILIN_ANN_MIN_DOCS", str(10**9))
    result = dense_top_k(con, QUERIES, hashed_embed, MODEL, **kwargs)
    monkeypatch.setenv("MKAILIN_ANN_MIN_DOCS", "1")
    return result


def same_ranking(ann: pl.DataFrame, exact: pl.DataFrame) -> None:
    """HNSW is approximate (and its threaded build not deterministic): nearly every exact
    neighbour is found, each with its exact cosine."""
    assert ann.height == exact.height
    joined = ann.join(exact, on=["query_id", "pmid"], suffix="_exact")
    assert joined.height >= 0.9 * exact.height
    assert np.allclose(joined["score"].to_numpy(), joined["score_exact"].to_numpy(), atol=1e-3)


@pytest.fixture
def embedded(con, monkeypatch):  # noqa: F811
    corpus(con)
    refresh_embeddings(con, hashed_embed, MODEL)
    monkeypatch.setenv("MKAILIN_ANN_MIN_DOCS", "1")
    return con


def test_ann_path_gives_the_brute_force_top_k(embedded, monkeypatch):
    ann = dense_top_k(embedded, QUERIES, hashed_embed, MODEL, k=5)
    path = ann_index.index_path(embedded, MODEL)
    assert path.exists()  # the ANN index answered
    state = embedded.execute(
        "SELECT status, documents FROM retrieval_index_state WHERE name = ?", [f"ann:{MODEL}"]
    ).fetchall()
    assert state == [("ok", 300)]
    assert ann.height == 40
    same_ranking(ann, brute_force(embedded, monkeypatch, k=5))
    excluded = pl.DataFrame({"query_id": ["q0", "q0"], "pmid": ann["pmid"][:2].to_list()})
    without = dense_top_k(embedded, QUERIES, hashed_embed, MODEL, k=5, exclude_pmids=excluded)
    assert not set(without.filter(pl.col("query_id") == "q0")["pmid"]) & set(ann["pmid"][:2])
    same_ranking(without, brute_force(embedded, monkeypatch, k=5, exclude_pmids=excluded))


def test_ann_index_follows_new_changed_and_deleted_vectors(embedded, monkeypatch):
    dense_top_k(embedded, QUERIES, hashed_embed, MODEL, k=5)
    assert ann_index.refresh(embedded, MODEL)["action"] == "incremental"
    upsert_citation(embedded, 3, "doc 3", "sepsis lactate sepsis lactate shock")  # changed
    embedded.execute("DELETE FROM citations WHERE pmid IN (4, 5)")  # deleted
    upsert_citation(embedded, 301, "doc 301", "sepsis lactate lactate")  # new
    refresh_embeddings(embedded, hashed_embed, MODEL)
    report = ann_index.refresh(embedded, MODEL)
    assert report["action"] == "incremental"
    assert (report["removed_or_changed"], report["added"], report["documents"]) == (3, 2, 299)
    ann = dense_top_k(embedded, QUERIES, hashed_embed, MODEL, k=5)
    assert not {4, 5} & set(ann["pmid"])
    same_ranking(ann, brute_force(embedded, monkeypatch, k=5))
    assert ann_index.refresh(embedded, MODEL)["added"] == 0  # nothing new: nothing moves


def test_hybrid_fusion_is_unchanged_on_the_ann_path(embedded):
    refresh_bm25_index(embedded)
    hybrid = hybrid_top_k(embedded, QUERIES, hashed_embed, MODEL, k=4)
    lexical = bm25_top_k(embedded, QUERIES, k=50)
    dense = dense_top_k(embedded, QUERIES, hashed_embed, MODEL, k=50)
    assert ann_index.index_path(embedded, MODEL).exists()
    assert hybrid.equals(reciprocal_rank_fusion([lexical, dense], k=4))


@pytest.mark.parametrize("fault", ["missing", "garbage", "foreign", "unfinished"])
def test_faulty_ann_index_is_rebuilt_with_a_warning(embedded, monkeypatch, caplog, fault):
    before = dense_top_k(embedded, QUERIES, hashed_embed, MODEL, k=5)
    path = ann_index.index_path(embedded, MODEL)
    if fault == "missing":
        path.unlink()
    elif fault == "garbage":
        path.write_bytes(b"not an index" * 100)
    elif fault == "foreign":
        marker = path.with_name(path.name + ".json")
        marker.write_text(json.dumps({"format_version": 1, "index_uid": "someone-else"}))
    else:
        embedded.execute(
            "UPDATE retrieval_index_state SET status = 'refreshing' WHERE name = ?",
            [f"ann:{MODEL}"],
        )
    with caplog.at_level(logging.WARNING, logger=ann_index.LOG.name):
        report = ann_index.refresh(embedded, MODEL)
    assert report["action"] == "rebuilt" and report["documents"] == 300
    assert "rebuilding the ANN index" in caplog.text
    same_ranking(dense_top_k(embedded, QUERIES, hashed_embed, MODEL, k=5), before)
