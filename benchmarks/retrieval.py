"""BM25 retrieval benchmark: our DuckDB-SQL BM25 against the bm25s package, same corpus and tokens.

Corpus: the real 2020 PubMed baseline file (title + abstract of every citation that has one).
Queries: 1,000 titles of a deterministic sample of abstracts. Figures: index build time of both,
query throughput of both (and the ratio), mean top-10 overlap, and how often our SQL tokenizer
agrees with the Python one. Ends with one JSON line.

    .venv/bin/python benchmarks/retrieval.py [--queries 1000] [--k 10]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from lxml import etree

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from mkailin_assets.agents.retrieval import bm25_top_k, refresh_bm25_index  # noqa: E402
from mkailin_assets.agents.tokenize import (  # noqa: E402
    sql_tokens_expression,
    stopword_frame,
    tokenize,
)
from mkailin_assets.db import apply_schema, open_connection  # noqa: E402

BASELINE_FILE = REPO_ROOT.parent / "shared" / "data" / "pubmed" / "pubmed20n0014.xml.gz"


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    text = " ".join("".join(element.itertext()).split())
    return text or None


def parse_baseline(path: Path = BASELINE_FILE) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(citations: pmid, title, abstract; mesh: pmid, descriptor_ui, major_topic), streamed."""
    citations: dict[int, tuple[str | None, str | None]] = {}
    mesh: dict[int, list[tuple[str, bool]]] = {}
    with gzip.open(path, "rb") as handle:
        for _, article in etree.iterparse(handle, tag="PubmedArticle"):
            pmid = int(article.findtext("MedlineCitation/PMID"))
            title = _text(article.find("MedlineCitation/Article/ArticleTitle"))
            parts = [
                _text(a) for a in article.iterfind("MedlineCitation/Article/Abstract/AbstractText")
            ]
            abstract = " ".join(p for p in parts if p) or None
            citations[pmid] = (title, abstract)
            headings = []
            for heading in article.iterfind("MedlineCitation/MeshHeadingList/MeshHeading"):
                descriptor = heading.find("DescriptorName")
                major = descriptor.get("MajorTopicYN") == "Y" or any(
                    q.get("MajorTopicYN") == "Y" for q in heading.iterfind("QualifierName")
                )
                headings.append((descriptor.get("UI"), major))
            mesh[pmid] = headings
            article.clear()
            while article.getprevious() is not None:
                del article.getparent()[0]
    cites = pl.DataFrame(
        [(p, t, a) for p, (t, a) in citations.items()],
        schema={"pmid": pl.Int64, "title": pl.String, "abstract": pl.String},
        orient="row",
    )
    rows = {(p, ui): major for p, hs in mesh.items() for ui, major in hs}
    mesh_frame = pl.DataFrame(
        [(p, ui, m) for (p, ui), m in rows.items()],
        schema={"pmid": pl.Int64, "descriptor_ui": pl.String, "major_topic": pl.Boolean},
        orient="row",
    )
    return cites, mesh_frame


def load_corpus(con: duckdb.DuckDBPyConnection, cites: pl.DataFrame, mesh: pl.DataFrame) -> None:
    """Fill citations and citation_mesh of a fresh database (only the columns we read)."""
    hashed = cites.with_columns(
        pl.struct("title", "abstract")
        .map_elements(
            lambda r: hashlib.sha256(f"{r['title']}\x1f{r['abstract']}".encode()).hexdigest(),
            return_dtype=pl.String,
        )
        .alias("content_hash")
    )
    con.register("_cites", hashed)
    con.register("_mesh", mesh)
    con.execute(
        "INSERT INTO citations (pmid, version, title, abstract, source_file, content_hash, loaded_at)"
        " SELECT pmid, 1, title, abstract, 'pubmed20n0014.xml.gz', content_hash, now() FROM _cites"
    )
    con.execute("INSERT INTO citation_mesh SELECT pmid, descriptor_ui, major_topic FROM _mesh")
    con.unregister("_cites")
    con.unregister("_mesh")


def sample_queries(con: duckdb.DuckDBPyConnection, n: int) -> pl.DataFrame:
    """Titles of a deterministic sample of citations that have an abstract."""
    return con.sql(
        """
        SELECT pmid::VARCHAR AS query_id, title AS text, pmid AS source_pmid
        FROM citations WHERE abstract IS NOT NULL AND title IS NOT NULL
        ORDER BY hash(pmid), pmid LIMIT $n
        """,
        params={"n": n},
    ).pl()


def tokenizer_agreement(con: duckdb.DuckDBPyConnection, corpus: pl.DataFrame) -> float:
    """Share of documents whose SQL token list equals the Python one."""
    con.register("_docs", corpus)
    con.register("_sw", stopword_frame())
    tokens = sql_tokens_expression("text")
    sql_tokens = con.sql(
        f"""
        WITH t AS (SELECT pmid, unnest({tokens}) AS term,
                          generate_subscripts({tokens}, 1) AS pos FROM _docs)
        SELECT pmid, list(term ORDER BY pos) AS tokens
        FROM t ANTI JOIN _sw ON _sw.word = t.term GROUP BY pmid
        """
    ).pl()
    con.unregister("_docs")
    con.unregister("_sw")
    ours = dict(zip(sql_tokens["pmid"], sql_tokens["tokens"].to_list(), strict=True))
    same = sum(
        ours.get(p, []) == tokenize(t) for p, t in zip(corpus["pmid"], corpus["text"], strict=True)
    )
    return same / corpus.height


def run(n_queries: int, k: int) -> dict[str, object]:
    import bm25s

    started = time.perf_counter()
    cites, mesh = parse_baseline()
    parse_s = time.perf_counter() - started
    con = open_connection(":memory:")
    apply_schema(con)
    con.complete()  # apply_schema ends on fetchone(), which leaves a result open in DuckDB 2.0
    load_corpus(con, cites, mesh)

    started = time.perf_counter()
    report = refresh_bm25_index(con)
    ours_index_s = time.perf_counter() - started
    second = refresh_bm25_index(con)

    corpus = con.sql(
        "SELECT pmid, concat_ws(' ', title, abstract) AS text FROM citations"
        " WHERE coalesce(title, '') <> '' OR coalesce(abstract, '') <> '' ORDER BY pmid"
    ).pl()
    queries = sample_queries(con, n_queries)

    started = time.perf_counter()
    corpus_tokens = [tokenize(t) for t in corpus["text"]]
    tokenize_s = time.perf_counter() - started
    started = time.perf_counter()
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index(corpus_tokens, show_progress=False)
    bm25s_index_s = time.perf_counter() - started

    started = time.perf_counter()
    ours = bm25_top_k(con, queries.select("query_id", "text"), k=k)
    ours_query_s = time.perf_counter() - started

    query_tokens = [tokenize(t) for t in queries["text"]]
    started = time.perf_counter()
    docs, scores = retriever.retrieve(query_tokens, k=k, show_progress=False, n_threads=1)
    bm25s_query_s = time.perf_counter() - started
    # DuckDB uses both cores; give bm25s both too, for a fair second figure.
    started = time.perf_counter()
    retriever.retrieve(query_tokens, k=k, show_progress=False, n_threads=2)
    bm25s_query_2_threads_s = time.perf_counter() - started

    pmids = corpus["pmid"].to_numpy()
    ours_by_query = {q: set(p) for q, p in ours.group_by("query_id").agg("pmid").iter_rows()}
    overlaps = [
        len(ours_by_query.get(q, set()) & set(pmids[docs[i]].tolist())) / k
        for i, q in enumerate(queries["query_id"])
    ]
    ours_top1 = dict(ours.filter(pl.col("rank") == 1).select("query_id", "score").iter_rows())
    top1_gaps = [
        abs(ours_top1[q] - float(scores[i, 0]))
        for i, q in enumerate(queries["query_id"])
        if q in ours_top1
    ]
    source_in_top = ours.join(queries.select("query_id", "source_pmid"), on="query_id").filter(
        pl.col("pmid") == pl.col("source_pmid")
    )
    agreement = tokenizer_agreement(con, corpus)

    # An update-file-sized change: 1,000 citations revised, 100 deleted.
    con.execute(
        "UPDATE citations SET abstract = abstract || ' revised erratum',"
        " content_hash = content_hash || 'r' WHERE pmid IN"
        " (SELECT pmid FROM citations WHERE abstract IS NOT NULL ORDER BY pmid LIMIT 1000)"
    )
    con.execute(
        "DELETE FROM citations WHERE pmid IN (SELECT pmid FROM citations ORDER BY pmid DESC LIMIT 100)"
    )
    update = refresh_bm25_index(con)

    figures: dict[str, object] = {
        "benchmark": "retrieval",
        "documents": corpus.height,
        "terms": report["terms"],
        "queries": queries.height,
        "k": k,
        "parse_s": round(parse_s, 2),
        "ours_index_s": round(ours_index_s, 3),
        "ours_refresh_nothing_new_s": second["seconds"],
        "ours_refresh_1000_changed_100_deleted_s": update["seconds"],
        "bm25s_tokenize_s": round(tokenize_s, 3),
        "bm25s_index_s": round(bm25s_index_s, 3),
        "ours_query_s": round(ours_query_s, 3),
        "bm25s_query_s": round(bm25s_query_s, 3),
        "bm25s_query_2_threads_s": round(bm25s_query_2_threads_s, 3),
        "ours_qps": round(queries.height / ours_query_s, 1),
        "bm25s_qps": round(queries.height / bm25s_query_s, 1),
        "throughput_ratio_ours_over_bm25s": round(bm25s_query_s / ours_query_s, 3),
        "throughput_ratio_ours_over_bm25s_2_threads": round(
            bm25s_query_2_threads_s / ours_query_s, 3
        ),
        "mean_top_k_overlap": round(float(np.mean(overlaps)), 4),
        "min_top_k_overlap": round(float(np.min(overlaps)), 2),
        "max_top1_score_difference": float(f"{max(top1_gaps):.2e}"),
        "source_in_top_k": round(source_in_top.height / queries.height, 4),
        "tokenizer_agreement": round(agreement, 5),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    if not BASELINE_FILE.exists():
        sys.exit(f"real baseline file absent: {BASELINE_FILE} (see ../shared/data/README.md)")
    figures = run(args.queries, args.k)
    for name, value in figures.items():
        print(f"{name:>36}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
