-- The digest of `citations` (indexable PMIDs and their content hashes) an index was last brought in
-- step with: a refresh whose digest matches skips the corpus-wide diff (agents/search_index.py).
ALTER TABLE retrieval_index_state ADD COLUMN IF NOT EXISTS content_digest VARCHAR;
