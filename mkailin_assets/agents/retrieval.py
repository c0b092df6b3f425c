"""Retrieval agent (docs/method.md#context-retrieval): top-k citations for a batch of questions.

BM25 (the default, no model) is served by an on-disk tantivy index derived from `citations`
(agents/search_index.py), re-scored exactly as Lucene BM25 (k1 = 1.5, b = 0.75). The former
set-wise SQL BM25 over DuckDB tables stays as `bm25_sql_top_k` for comparison in the benchmarks. Dense retrieval stores vectors from a
caller-supplied embedding function; hybrid fuses both by reciprocal rank fusion.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

import duckdb
import numpy as np
import polars as pl

from mkailin_assets.agents import ann_index, search_index
from mkailin_assets.agents.tokenize import sql_tokens_expression, stopword_frame
from mkailin_assets.db import present_pmids, transaction

# embed(item_ids, texts) -> one vector per text, or None where the embedding failed.
EmbedFn = Callable[[list[str], list[str]], list[list[float] | None]]
Method = Literal["bm25", "dense", "hybrid"]

DEFAULT_K = 4
K_RRF = 60
RESULT_SCHEMA = {"query_id": pl.String, "rank": pl.Int64, "pmid": pl.Int64, "score": pl.Float64}

# Citations the index covers: those with a title or an abstract.
_INDEXABLE_SQL = """
    SELECT pmid, content_hash, concat_ws(' ', title, abstract) AS text
    FROM citations
    WHERE coalesce(title, '') <> '' OR coalesce(abstract, '') <> ''
"""


def empty_result() -> pl.DataFrame:
    return pl.DataFrame(schema=RESULT_SCHEMA)


# --------------------------------------------------------------------------- BM25 index


def refresh_bm25_sql_index(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Bring the SQL BM25 tables in line with `citations`, touching only what changed.

    New citations and those whose content_hash changed are (re)tokenized; deleted ones, and the
    old postings of changed ones, are removed; document frequencies move by the difference.
    One transaction. Returns counts and the time taken."""
    started = time.perf_counter()
    con.register("_mk_stopwords", stopword_frame())
    try:
        with transaction(con):
            report = _refresh_bm25_in_transaction(con)
    finally:
        con.unregister("_mk_stopwords")
        for table in ("_bm25_wanted", "_bm25_stale", "_bm25_fresh", "_bm25_new_postings"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _refresh_bm25_in_transaction(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    # Only hashes are compared; text is built for the fresh citations alone.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bm25_wanted AS SELECT pmid, content_hash FROM ({_INDEXABLE_SQL})"
    )
    # Stale: indexed under another hash, or no longer indexable (deleted / emptied).
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _bm25_stale AS
        SELECT d.pmid, w.pmid IS NOT NULL AS changed
        FROM bm25_docs d LEFT JOIN _bm25_wanted w USING (pmid)
        WHERE w.pmid IS NULL OR w.content_hash <> d.content_hash
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _bm25_fresh AS
        SELECT c.pmid, c.content_hash, concat_ws(' ', c.title, c.abstract) AS text
        FROM _bm25_wanted w JOIN citations c USING (pmid)
        WHERE NOT EXISTS (SELECT 1 FROM bm25_docs d
                          WHERE d.pmid = w.pmid AND d.content_hash = w.content_hash)
    """)
    tokens = sql_tokens_expression("text")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _bm25_new_postings AS
        WITH tokens AS (SELECT pmid, unnest({tokens}) AS term FROM _bm25_fresh),
        counted AS (
            SELECT term, pmid, count(*)::INTEGER AS tf
            FROM tokens ANTI JOIN _mk_stopwords s ON s.word = tokens.term
            GROUP BY term, pmid
        )
        SELECT term, pmid, tf, (sum(tf) OVER (PARTITION BY pmid))::INTEGER AS doc_len
        FROM counted
    """)
    # Document frequencies move by (+1 per new posting) - (1 per removed posting).
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _bm25_df_delta AS
        SELECT term, sum(delta)::INTEGER AS delta FROM (
            SELECT term, -1 AS delta FROM bm25_postings
            WHERE pmid IN (SELECT pmid FROM _bm25_stale)
            UNION ALL
            SELECT term, 1 AS delta FROM _bm25_new_postings
        ) GROUP BY term HAVING sum(delta) <> 0
    """)
    con.execute("DELETE FROM bm25_postings WHERE pmid IN (SELECT pmid FROM _bm25_stale)")
    con.execute("DELETE FROM bm25_docs WHERE pmid IN (SELECT pmid FROM _bm25_stale)")
    con.execute("INSERT INTO bm25_postings SELECT term, pmid, tf, doc_len FROM _bm25_new_postings")
    con.execute("""
        INSERT INTO bm25_docs
        SELECT f.pmid, f.content_hash, coalesce(l.doc_len, 0), now()
        FROM _bm25_fresh f
        LEFT JOIN (SELECT pmid, any_value(doc_len) AS doc_len
                   FROM _bm25_new_postings GROUP BY pmid) l USING (pmid)
    """)
    con.execute("""
        INSERT INTO bm25_terms SELECT term, delta FROM _bm25_df_delta
        ON CONFLICT (term) DO UPDATE SET df = bm25_terms.df + excluded.df
    """)
    con.execute("DELETE FROM bm25_terms WHERE df <= 0")
    con.execute("DROP TABLE IF EXISTS _bm25_df_delta")
    stale_changed, stale_removed = con.execute(
        "SELECT count(*) FILTER (changed), count(*) FILTER (NOT changed) FROM _bm25_stale"
    ).fetchall()[0]
    fresh = con.execute("SELECT count(*) FROM _bm25_fresh").fetchall()[0][0]
    documents, terms = con.execute(
        "SELECT (SELECT count(*) FROM bm25_docs), (SELECT count(*) FROM bm25_terms)"
    ).fetchall()[0]
    return {
        "indexed_new": int(fresh - stale_changed),
        "reindexed_changed": int(stale_changed),
        "removed": int(stale_removed),
        "documents": int(documents),
        "terms": int(terms),
    }


# --------------------------------------------------------------------------- BM25 queries


def contexts_per_query(hits: pl.DataFrame) -> pl.DataFrame:
    """Retrieval hits (query_id, rank, pmid, score) as one row per query: candidate_id,
    context_pmids and context_scores in rank order."""
    return (
        hits.sort(["query_id", "rank"])
        .group_by("query_id", maintain_order=True)
        .agg(
            pl.col("pmid").cast(pl.Int64).alias("context_pmids"),
            pl.col("score").cast(pl.Float64).alias("context_scores"),
        )
        .rename({"query_id": "candidate_id"})
    )


def _exclusion_frame(queries: pl.DataFrame, exclude_pmids: Any) -> pl.DataFrame:
    """Exclusions as (query_id, pmid): a frame with those columns is per query; any other
    iterable of PMIDs applies to every query."""
    schema = {"query_id": pl.String, "pmid": pl.Int64}
    if exclude_pmids is None:
        return pl.DataFrame(schema=schema)
    if isinstance(exclude_pmids, pl.DataFrame):
        return exclude_pmids.select(
            pl.col("query_id").cast(pl.String), pl.col("pmid").cast(pl.Int64)
        )
    pmids = pl.DataFrame({"pmid": list(exclude_pmids)}, schema={"pmid": pl.Int64})
    return queries.select(pl.col("query_id").cast(pl.String)).unique().join(pmids, how="cross")


def _query_frame(queries: pl.DataFrame) -> pl.DataFrame:
    missing = {"query_id", "text"} - set(queries.columns)
    if missing:
        raise ValueError(f"queries frame lacks columns {sorted(missing)}")
    return queries.select(pl.col("query_id").cast(pl.String), pl.col("text").cast(pl.String))


def refresh_bm25_index(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Bring the on-disk BM25 index in step with `citations` (rebuilt when missing or foreign)."""
    return search_index.refresh_index(con)


def bm25_top_k(
    con: duckdb.DuckDBPyConnection,
    queries: pl.DataFrame,
    k: int = DEFAULT_K,
    k1: float = 1.5,
    b: float = 0.75,
    exclude_pmids: pl.DataFrame | Iterable[int] | None = None,
) -> pl.DataFrame:
    """Top-k citations per query by Lucene BM25 from the on-disk index (refresh it first).

    Returns (query_id, rank, pmid, score), rank from 1, ties broken by pmid ascending; a query
    with no indexable term raises search_index.NoIndexableTermError."""
    frame = _query_frame(queries)
    if frame.is_empty():
        return empty_result()
    excluded = _exclusion_frame(frame, exclude_pmids).group_by("query_id").agg("pmid")
    by_query = {q: set(p) for q, p in excluded.iter_rows()}
    index = search_index.open_searchable(con)
    rows = search_index.search(con, index, frame, k, k1=k1, b=b, excluded=by_query)
    return pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row").sort("query_id", "rank")


def bm25_sql_top_k(
    con: duckdb.DuckDBPyConnection,
    queries: pl.DataFrame,
    k: int = DEFAULT_K,
    k1: float = 1.5,
    b: float = 0.75,
    exclude_pmids: pl.DataFrame | Iterable[int] | None = None,
    batch_size: int = 2000,
) -> pl.DataFrame:
    """Top-k citations per query by BM25 (Lucene idf, as bm25s's default), set-wise in SQL.

    Returns (query_id, rank, pmid, score), rank from 1, ties broken by pmid ascending; a query
    with no indexed term gets no rows. Queries run `batch_size` at a time, which bounds the
    memory of the (query, citation) aggregation. Run refresh_bm25_sql_index first."""
    frame = _query_frame(queries)
    if frame.is_empty():
        return empty_result()
    excluded = _exclusion_frame(frame, exclude_pmids)
    parts = [
        _bm25_batch(con, chunk, excluded, k, k1, b)
        for chunk in frame.iter_slices(max(1, batch_size))
    ]
    return pl.concat(parts).sort("query_id", "rank")


def _bm25_batch(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    exclusions: pl.DataFrame,
    k: int,
    k1: float,
    b: float,
) -> pl.DataFrame:
    # Integer query keys keep the big (query, pmid) aggregation cheap.
    indexed = frame.with_row_index("qidx")
    excluded = exclusions.join(indexed.select("query_id", "qidx"), on="query_id")
    tokens = sql_tokens_expression("text")
    sql = f"""
        WITH stats AS (SELECT count(*)::DOUBLE AS n, avg(doc_len)::DOUBLE AS avgdl FROM bm25_docs),
        qtokens AS (SELECT qidx, unnest({tokens}) AS term FROM _bm25_queries),
        qterms AS (
            SELECT qidx, term, count(*) AS qtf
            FROM qtokens ANTI JOIN _mk_stopwords s ON s.word = qtokens.term
            GROUP BY qidx, term
        ),
        weighted AS (
            SELECT q.qidx, q.term,
                   q.qtf * ln(1 + (s.n - t.df + 0.5) / (t.df + 0.5)) AS idf
            FROM qterms q JOIN bm25_terms t USING (term) CROSS JOIN stats s
        ),
        scored AS (
            SELECT w.qidx, p.pmid,
                   sum(w.idf * p.tf / (p.tf + $k1 * (1 - $b + $b * p.doc_len / s.avgdl))) AS score
            FROM weighted w JOIN bm25_postings p USING (term) CROSS JOIN stats s
            GROUP BY w.qidx, p.pmid
        ),
        kept AS (
            SELECT * FROM scored ANTI JOIN _bm25_exclude e
            ON e.qidx = scored.qidx AND e.pmid = scored.pmid
        ),
        -- top k per query, best score first, ties to the lower pmid (hence -pmid in the key)
        best AS (
            SELECT qidx, max_by({{'score': score, 'neg_pmid': -pmid}},
                                {{'score': score, 'neg_pmid': -pmid}}, $k) AS top
            FROM kept GROUP BY qidx
        )
        SELECT q.query_id, r.rank, -r.hit.neg_pmid AS pmid, r.hit.score AS score
        FROM (SELECT qidx, unnest(top) AS hit, generate_subscripts(top, 1) AS rank FROM best) r
        JOIN _bm25_queries q USING (qidx)
        ORDER BY q.query_id, r.rank
    """
    con.register("_bm25_queries", indexed)
    con.register("_bm25_exclude", excluded)
    con.register("_mk_stopwords", stopword_frame())
    try:
        result = con.sql(sql, params={"k1": float(k1), "b": float(b), "k": int(k)}).pl()
    finally:
        for name in ("_bm25_queries", "_bm25_exclude", "_mk_stopwords"):
            con.unregister(name)
    return result.cast(RESULT_SCHEMA)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- dense


def embedding_todo(con: duckdb.DuckDBPyConnection, model_name: str) -> pl.DataFrame:
    """Citations new or changed for `model_name` (pmid, content_hash, text): what to embed."""
    return con.sql(
        f"""
        SELECT w.pmid, w.content_hash, w.text FROM ({_INDEXABLE_SQL}) w
        WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = $model
                          AND e.pmid = w.pmid AND e.content_hash = w.content_hash)
        ORDER BY w.pmid
        """,
        params={"model": model_name},
    ).pl()


def embed_todo(
    todo: pl.DataFrame, embed: EmbedFn, batch_size: int = 256
) -> list[list[float] | None]:
    """The vectors of `embed_todo`'s rows, in order (None where an item failed). No DuckDB."""
    vectors: list[list[float] | None] = []
    for start in range(0, todo.height, batch_size):
        chunk = todo.slice(start, batch_size)
        got = embed([str(p) for p in chunk["pmid"]], chunk["text"].to_list())
        if len(got) != chunk.height:
            raise ValueError(f"embed returned {len(got)} vectors for {chunk.height} texts")
        vectors.extend(got)
    return vectors


def store_embeddings(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    todo: pl.DataFrame,
    vectors: list[list[float] | None],
) -> dict[str, int]:
    """Store the vectors that came back; drop vectors of deleted or changed citations."""
    embedded = todo.select("pmid", "content_hash").with_columns(
        pl.Series("vector", vectors, dtype=pl.List(pl.Float32))
    )
    stored = embedded.filter(pl.col("vector").is_not_null())
    with transaction(con):
        removed = con.execute(
            f"""
            DELETE FROM embeddings e WHERE e.model = $model AND NOT EXISTS (
                SELECT 1 FROM ({_INDEXABLE_SQL}) w
                WHERE w.pmid = e.pmid AND w.content_hash = e.content_hash)
            """,
            {"model": model_name},
        ).fetchall()[0][0]
        con.register("_embedded", stored)
        try:
            con.execute(
                "INSERT INTO embeddings SELECT pmid, $model, content_hash, vector, now() FROM _embedded"
                " ON CONFLICT DO NOTHING",
                {"model": model_name},
            )
        finally:
            con.unregister("_embedded")
    return {
        "embedded": stored.height,
        "failed": embedded.height - stored.height,
        "removed": int(removed),
    }


def refresh_embeddings(
    con: duckdb.DuckDBPyConnection,
    embed: EmbedFn,
    model_name: str,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Embed citations that are new or changed for `model_name`; drop vectors of deleted ones.

    Failed items (None) are not stored and are retried on the next refresh. Returns counts.
    (Phased stages call the three parts themselves, the embedding calls holding no file.)"""
    started = time.perf_counter()
    todo = embedding_todo(con, model_name)
    vectors = embed_todo(todo, embed, batch_size)
    counts = store_embeddings(con, model_name, todo, vectors)
    return {"model": model_name, **counts, "seconds": round(time.perf_counter() - started, 3)}


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _top_k_row(scores: np.ndarray, pmids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best, score descending then pmid ascending."""
    finite = np.isfinite(scores)
    if k < finite.sum():
        threshold = np.partition(scores[finite], -k)[-k]
        candidates = np.flatnonzero(finite & (scores >= threshold))
    else:
        candidates = np.flatnonzero(finite)
    order = np.lexsort((pmids[candidates], -scores[candidates]))[:k]
    chosen = candidates[order]
    return chosen, scores[chosen]


def dense_top_k(
    con: duckdb.DuckDBPyConnection,
    queries: pl.DataFrame,
    embed: EmbedFn,
    model_name: str,
    k: int = DEFAULT_K,
    exclude_pmids: pl.DataFrame | Iterable[int] | None = None,
) -> pl.DataFrame:
    """Top-k citations per query by cosine similarity to the stored vectors of `model_name`.

    Returns (query_id, rank, pmid, score); a query whose embedding failed gets no rows. From
    MKAILIN_ANN_MIN_DOCS stored vectors on, an ANN index answers instead of a full scan."""
    frame = _query_frame(queries)
    if not frame.is_empty() and ann_index.use_ann(con, model_name):
        return _dense_ann_top_k(con, frame, embed, model_name, k, exclude_pmids)
    docs = con.sql(
        "SELECT pmid, vector FROM embeddings WHERE model = $model ORDER BY pmid",
        params={"model": model_name},
    ).pl()
    if frame.is_empty() or docs.is_empty():
        return empty_result()
    pmids = docs["pmid"].to_numpy()
    matrix = _unit_rows(np.vstack(docs["vector"].to_list()).astype(np.float32))
    query_vectors = embed(frame["query_id"].to_list(), frame["text"].to_list())
    excluded = _exclusion_frame(frame, exclude_pmids).group_by("query_id").agg("pmid")
    excluded_by_query = dict(zip(excluded["query_id"], excluded["pmid"], strict=True))
    rows: list[tuple[str, int, int, float]] = []
    for query_id, vector in zip(frame["query_id"], query_vectors, strict=True):
        if vector is None:
            continue
        query = _unit_rows(np.asarray(vector, dtype=np.float32)[None, :])[0]
        scores = (matrix @ query).astype(np.float64)
        if query_id in excluded_by_query:
            scores[np.isin(pmids, excluded_by_query[query_id])] = -np.inf
        chosen, best = _top_k_row(scores, pmids, k)
        rows.extend(
            (query_id, rank, int(pmids[i]), float(s))
            for rank, (i, s) in enumerate(zip(chosen, best, strict=True), start=1)
        )
    return pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")


def _dense_ann_top_k(
    con: duckdb.DuckDBPyConnection,
    frame: pl.DataFrame,
    embed: EmbedFn,
    model_name: str,
    k: int,
    exclude_pmids: pl.DataFrame | Iterable[int] | None,
) -> pl.DataFrame:
    """dense_top_k through the model's ANN index, brought in step with `embeddings` first."""
    ann_index.refresh(con, model_name)
    query_vectors = embed(frame["query_id"].to_list(), frame["text"].to_list())
    excluded = _exclusion_frame(frame, exclude_pmids).group_by("query_id").agg("pmid")
    excluded_by_query = {q: set(p) for q, p in excluded.iter_rows()}
    kept = [
        (query_id, np.asarray(vector, dtype=np.float32))
        for query_id, vector in zip(frame["query_id"], query_vectors, strict=True)
        if vector is not None
    ]
    found = ann_index.search(
        con,
        model_name,
        [vector for _, vector in kept],
        k,
        [excluded_by_query.get(query_id, set()) for query_id, _ in kept],
    )
    rows = [
        (query_id, rank, hit.pmid, hit.score)
        for (query_id, _), hits in zip(kept, found, strict=True)
        for rank, hit in enumerate(hits, start=1)
    ]
    return pl.DataFrame(rows, schema=RESULT_SCHEMA, orient="row")


def reciprocal_rank_fusion(
    rankings: list[pl.DataFrame], k: int = DEFAULT_K, k_rrf: int = K_RRF
) -> pl.DataFrame:
    """Fuse ranked lists: score = sum of 1 / (k_rrf + rank); top k, ties by pmid ascending."""
    frames = [r.select("query_id", "pmid", "rank") for r in rankings if not r.is_empty()]
    if not frames:
        return empty_result()
    fused = (
        pl.concat(frames)
        .group_by("query_id", "pmid")
        .agg((1.0 / (k_rrf + pl.col("rank"))).sum().alias("score"))
        .sort(["query_id", "score", "pmid"], descending=[False, True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("query_id").alias("rank"))
        .filter(pl.col("rank") <= k)
    )
    return fused.select(RESULT_SCHEMA.keys()).cast(RESULT_SCHEMA)  # type: ignore[arg-type]


def hybrid_top_k(
    con: duckdb.DuckDBPyConnection,
    queries: pl.DataFrame,
    embed: EmbedFn,
    model_name: str,
    k: int = DEFAULT_K,
    depth: int = 50,
    k_rrf: int = K_RRF,
    exclude_pmids: pl.DataFrame | Iterable[int] | None = None,
) -> pl.DataFrame:
    """Reciprocal rank fusion of the BM25 and dense top-`depth` lists, cut to k."""
    depth = max(depth, k)
    lexical = bm25_top_k(con, queries, k=depth, exclude_pmids=exclude_pmids)
    dense = dense_top_k(con, queries, embed, model_name, k=depth, exclude_pmids=exclude_pmids)
    return reciprocal_rank_fusion([lexical, dense], k=k, k_rrf=k_rrf)


def retrieve(
    con: duckdb.DuckDBPyConnection,
    queries: pl.DataFrame,
    method: Method = "bm25",
    k: int = DEFAULT_K,
    embed: EmbedFn | None = None,
    model_name: str | None = None,
    exclude_pmids: pl.DataFrame | Iterable[int] | None = None,
) -> pl.DataFrame:
    """Dispatch to bm25_top_k, dense_top_k or hybrid_top_k; same result layout for all.

    `exclude_pmids` as a (query_id, pmid) frame excludes per query; any other iterable of PMIDs
    (e.g. benchmark citations) is excluded from every query's top k."""
    if exclude_pmids is not None and not isinstance(exclude_pmids, pl.DataFrame):
        search = functools.partial(retrieve, con, method=method, embed=embed, model_name=model_name)
        return _top_k_excluding(con, queries, k, set(map(int, exclude_pmids)), search)
    if method == "bm25":
        return bm25_top_k(con, queries, k=k, exclude_pmids=exclude_pmids)
    if method not in ("dense", "hybrid"):
        raise ValueError(f"unknown retrieval method {method!r} (bm25, dense or hybrid)")
    if embed is None or not model_name:
        raise ValueError(f"retrieval method {method!r} needs an embed function and a model name")
    if method == "dense":
        return dense_top_k(con, queries, embed, model_name, k=k, exclude_pmids=exclude_pmids)
    return hybrid_top_k(con, queries, embed, model_name, k=k, exclude_pmids=exclude_pmids)


def _top_k_excluding(
    con: duckdb.DuckDBPyConnection,
    queries: pl.DataFrame,
    k: int,
    excluded: set[int],
    search: Callable[..., pl.DataFrame],
) -> pl.DataFrame:
    """Top k without the excluded PMIDs, whatever the engine: ask for k + a few more, drop the
    excluded, and ask again for k + every excluded PMID the corpus holds only for the queries
    that came up short (most queries meet no excluded PMID at all)."""
    present = len(present_pmids(con, excluded))
    if present == 0:
        return search(queries, k=k)
    extra = min(present, max(k, 8))
    hits = search(queries, k=k + extra)
    kept = _drop_and_rerank(hits, excluded, k)
    if present > extra:
        raw = hits.group_by("query_id").len()
        short = raw.filter(pl.col("len") == k + extra).join(
            kept.group_by("query_id").len(), on="query_id", how="left"
        )
        short = short.filter(pl.col("len_right").fill_null(0) < k)["query_id"]
        if short.len():
            again = search(
                queries.filter(pl.col("query_id").cast(pl.String).is_in(short.implode())),
                k=k + present,
            )
            kept = pl.concat(
                [
                    kept.filter(~pl.col("query_id").is_in(short.implode())),
                    _drop_and_rerank(again, excluded, k),
                ]
            )
    return kept.sort("query_id", "rank")


def _drop_and_rerank(hits: pl.DataFrame, excluded: set[int], k: int) -> pl.DataFrame:
    listed = pl.Series(sorted(excluded), dtype=pl.Int64).implode()
    return (
        hits.filter(~pl.col("pmid").is_in(listed))
        .sort("query_id", "rank")
        .with_columns(pl.int_range(1, pl.len() + 1).over("query_id").cast(pl.Int64).alias("rank"))
        .filter(pl.col("rank") <= k)
        .select(RESULT_SCHEMA.keys())
        .cast(RESULT_SCHEMA)  # type: ignore[arg-type]
    )
