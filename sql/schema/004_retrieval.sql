-- Retrieval agent: the BM25 index (tables + SQL, built incrementally), dense vectors,
-- and the MeSH information-content snapshots used by the knowledge-hierarchy score.

-- What is indexed: one row per citation with a title or abstract, with the content_hash indexed.
CREATE TABLE IF NOT EXISTS bm25_docs (
    pmid         BIGINT PRIMARY KEY,
    content_hash VARCHAR NOT NULL,
    doc_len      INTEGER NOT NULL,     -- tokens after stopword removal
    indexed_at   TIMESTAMP NOT NULL
);

-- Term postings: term frequency of each term in each indexed citation; the document length is
-- repeated here so scoring needs no join to bm25_docs.
CREATE TABLE IF NOT EXISTS bm25_postings (
    term     VARCHAR NOT NULL,
    pmid     BIGINT NOT NULL,
    tf       INTEGER NOT NULL,
    doc_len  INTEGER NOT NULL
);

-- Document frequency per term over bm25_docs.
CREATE TABLE IF NOT EXISTS bm25_terms (
    term VARCHAR PRIMARY KEY,
    df   INTEGER NOT NULL
);

-- Dense vectors per (citation, embedding model), kept for the content_hash they embed.
CREATE TABLE IF NOT EXISTS embeddings (
    pmid         BIGINT NOT NULL,
    model        VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    vector       FLOAT[] NOT NULL,
    embedded_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (pmid, model)
);

-- Descriptors' information content, from the corpus (docs/method.md#the-mesh-score), a snapshot per
-- distinct set of counts; scores record the snapshot they used.
CREATE TABLE IF NOT EXISTS mesh_ic_snapshots (
    snapshot_id          VARCHAR PRIMARY KEY,
    citations_with_mesh  BIGINT NOT NULL,   -- N
    ic_max               DOUBLE NOT NULL,   -- ln(N + 1)
    descriptors          INTEGER NOT NULL,
    created_at           TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS mesh_ic (
    snapshot_id   VARCHAR NOT NULL,
    descriptor_ui VARCHAR NOT NULL,
    n_citations   BIGINT NOT NULL,   -- citations annotated with it or any descendant
    p             DOUBLE NOT NULL,   -- (n_citations + 1) / (N + 1)
    ic_raw        DOUBLE NOT NULL,   -- IC = -ln(p)
    ic            DOUBLE NOT NULL,   -- IC / ln(N + 1), normalised to [0, 1]
    PRIMARY KEY (snapshot_id, descriptor_ui)
);
