-- The on-disk retrieval index (tantivy BM25, and ANN vector indexes) beside the DuckDB file.
-- DuckDB stays the source of truth: these tables record what each index holds (its watermark).

-- One row per index: which directory, which build (index_uid, also written into the index's
-- own marker file), which format, and whether a refresh is under way (a crash leaves 'refreshing').
CREATE TABLE IF NOT EXISTS retrieval_index_state (
    name            VARCHAR PRIMARY KEY,        -- 'bm25', or 'ann:<embedding model>'
    index_uid       VARCHAR NOT NULL,
    format_version  INTEGER NOT NULL,
    status          VARCHAR NOT NULL,           -- 'ok' or 'refreshing'
    documents       BIGINT NOT NULL,
    deletions       BIGINT NOT NULL,            -- deletes since the last full build
    built_at        TIMESTAMP NOT NULL,
    refreshed_at    TIMESTAMP NOT NULL
);

-- The BM25 watermark: every citation the index holds, with the content it was indexed from.
CREATE TABLE IF NOT EXISTS retrieval_index_docs (
    pmid          BIGINT PRIMARY KEY,
    content_hash  VARCHAR NOT NULL
);

-- PMIDs a refresh is about to change in the index, written before the index is touched: a refresh
-- killed after the index committed but before this database did is repaired from this list.
CREATE TABLE IF NOT EXISTS retrieval_index_pending (
    pmid BIGINT PRIMARY KEY
);
