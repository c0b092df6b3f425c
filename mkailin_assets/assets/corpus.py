"""Corpus-wide derived data, computed once per corpus change rather than inside a category's run.

- retrieval_index: the BM25 search index beside the DuckDB file, derived from `citations`.
- mesh_ic: the information-content snapshot of every descriptor, counted over the whole corpus.

Each is its own asset so the graph shows it and the corpus-wide work runs once, after the release
files, instead of inside the first category's candidate_qa or evaluated_qa. Those stages still
bring the index in step / look the snapshot up before they use it (a cheap no-op when these
assets ran last), so they stay correct on their own and automation needs no new condition.
"""

import time

import dagster as dg

from mkailin_assets.agents.mesh_similarity import build_ic_snapshot
from mkailin_assets.agents.retrieval import refresh_bm25_index
from mkailin_assets.resources.duckdb_store import DuckDBStore


@dg.asset(
    deps=[dg.AssetDep("pubmed_files", partition_mapping=dg.AllPartitionMapping())],
    pool="duckdb",
    kinds={"duckdb", "tantivy"},
    group_name="ingest",
    owners=["team:mkailin"],
    tags={"stage": "ingest"},
    description=(
        "The on-disk BM25 index (tantivy) of every citation's title and abstract, kept in step with "
        "`citations` incrementally (new, revised, deleted PMIDs); DuckDB records what it holds. "
        "A missing, corrupt or foreign index is rebuilt (see docs/scale-out.md)."
    ),
)
def retrieval_index(context: dg.AssetExecutionContext, duckdb_store: DuckDBStore):
    with duckdb_store.connect() as con:
        report = refresh_bm25_index(con)
    context.log.info("retrieval index: %s", report)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report["documents"],
            "action": report["action"],
            "reason": report.get("reason") or "",
            "indexed_new": report.get("indexed_new", 0),
            "reindexed_changed": report.get("reindexed_changed", 0),
            "removed": report.get("removed", 0),
            "seconds": report["seconds"],
        }
    )


@dg.asset(
    deps=[
        dg.AssetDep("pubmed_files", partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep("mesh_vocabulary"),
    ],
    pool="duckdb",
    kinds={"duckdb"},
    group_name="ingest",
    owners=["team:mkailin"],
    tags={"stage": "ingest"},
    description=(
        "Information content of every MeSH descriptor counted over the whole corpus "
        "(docs/method.md#the-mesh-score), stored as a snapshot with the digest of its inputs; "
        "evaluated_qa reuses the snapshot whose inputs match instead of counting again."
    ),
)
def mesh_ic(context: dg.AssetExecutionContext, duckdb_store: DuckDBStore):
    started = time.perf_counter()
    with duckdb_store.connect() as con:
        known = {
            row[0] for row in con.execute("SELECT snapshot_id FROM mesh_ic_snapshots").fetchall()
        }
        snapshot = build_ic_snapshot(con)
        n_with_mesh, descriptors = con.execute(
            "SELECT citations_with_mesh, descriptors FROM mesh_ic_snapshots WHERE snapshot_id = ?",
            [snapshot],
        ).fetchall()[0]
    return dg.MaterializeResult(
        metadata={
            "ic_snapshot": snapshot,
            "reused": snapshot in known,
            "citations_with_mesh": int(n_with_mesh),
            "descriptors": int(descriptors),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
