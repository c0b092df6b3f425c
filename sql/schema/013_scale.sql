-- Corpus scale (issue 13): what lets per-category stages skip corpus-wide work.

-- The digest of everything an IC snapshot is counted from (MeSH file, loaded releases, the
-- vocabulary's tree, the citations' headings): a stored snapshot whose digest matches is reused
-- without recounting the whole corpus (agents/mesh_similarity.py).
ALTER TABLE mesh_ic_snapshots ADD COLUMN IF NOT EXISTS inputs_digest VARCHAR;

-- ANN indexes over stored embeddings (agents/ann_index.py): one row per model, the vectors the
-- index holds (its watermark), beside the BM25 state in retrieval_index_state ('ann:<model>').
CREATE TABLE IF NOT EXISTS ann_index_docs (
    model         VARCHAR NOT NULL,
    pmid          BIGINT NOT NULL,
    content_hash  VARCHAR NOT NULL,
    PRIMARY KEY (model, pmid)
);
