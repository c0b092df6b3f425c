"""retrieval_index: the BM25 search index beside the DuckDB file, derived from `citations`.

Its own asset so the graph shows it and a corpus-wide (re)build runs once, after the release files,
rather than inside the first category's candidate_qa. candidate_qa still brings the index in step
before it retrieves (a no-op when this asset ran last), so automation needs no new condition.
"""

import dagster as dg

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
