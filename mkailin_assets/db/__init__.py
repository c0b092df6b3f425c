"""The project's DuckDB database: connections, transactions, the schema, partition writes.

Plain functions of a DuckDB connection, used by every layer (ingest, agents, stages, assets,
checks, the LLM cache). `resources/duckdb_store.py` wraps them as the Dagster resource.

    open_connection, transaction, query_pl, safe_identifier         (connection)
    apply_schema, schema_files, apply_analysis_views, analysis_files  (schema)
    replace_partition, sync_partition, sync_partition_from_query      (partitions)
    publish_snapshot, snapshot_path                                   (the read snapshot)
    citation_rows, present_pmids, missing_pmids           (a few citations by PMID list)
"""

from mkailin_assets.db.connection import open_connection, query_pl, safe_identifier, transaction
from mkailin_assets.db.lookups import TEXT_SCHEMA, citation_rows, missing_pmids, present_pmids
from mkailin_assets.db.partitions import (
    insert_frame,
    replace_partition,
    sync_partition,
    sync_partition_from_query,
)
from mkailin_assets.db.schema import (
    ANALYSIS_DIR,
    analysis_files,
    apply_analysis_views,
    apply_schema,
    schema_files,
)
from mkailin_assets.db.snapshot import publish_snapshot, snapshot_path

__all__ = [
    "ANALYSIS_DIR",
    "TEXT_SCHEMA",
    "analysis_files",
    "apply_analysis_views",
    "apply_schema",
    "citation_rows",
    "insert_frame",
    "missing_pmids",
    "open_connection",
    "present_pmids",
    "publish_snapshot",
    "query_pl",
    "replace_partition",
    "safe_identifier",
    "schema_files",
    "snapshot_path",
    "sync_partition",
    "sync_partition_from_query",
    "transaction",
]
