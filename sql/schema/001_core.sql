-- Core tables: MeSH, citations, release ledger, quarantine. Applied idempotently in file order.

CREATE TABLE IF NOT EXISTS mesh_sources (
    source        VARCHAR NOT NULL,
    sha256        VARCHAR PRIMARY KEY,
    mesh_year     INTEGER,
    descriptors   INTEGER NOT NULL,
    tree_numbers  INTEGER NOT NULL,
    loaded_at     TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS mesh_descriptors (
    descriptor_ui    VARCHAR PRIMARY KEY,
    name             VARCHAR NOT NULL,
    descriptor_class VARCHAR,
    tree_numbers     VARCHAR[] NOT NULL,
    mesh_year        INTEGER,
    source_sha256    VARCHAR NOT NULL
);

-- The asset table: one row per tree number; a category partition holds its subtree.
CREATE TABLE IF NOT EXISTS mesh_tree (
    category           VARCHAR NOT NULL,
    tree_number        VARCHAR PRIMARY KEY,
    descriptor_ui      VARCHAR NOT NULL,
    descriptor_name    VARCHAR NOT NULL,
    depth              INTEGER NOT NULL,
    parent_tree_number VARCHAR,
    mesh_year          INTEGER
);

CREATE TABLE IF NOT EXISTS citations (
    pmid              BIGINT PRIMARY KEY,
    version           INTEGER NOT NULL,
    title             VARCHAR,
    abstract          VARCHAR,
    abstract_sections STRUCT(label VARCHAR, nlm_category VARCHAR, text VARCHAR)[],
    languages         VARCHAR[],
    journal           VARCHAR,
    pub_year          INTEGER,
    publication_types VARCHAR[],
    mesh_headings     STRUCT(descriptor_ui VARCHAR, name VARCHAR, major_topic BOOLEAN,
                             qualifiers STRUCT(ui VARCHAR, name VARCHAR, major_topic BOOLEAN)[])[],
    keywords          VARCHAR[],
    doi               VARCHAR,
    date_revised      DATE,
    status            VARCHAR,
    source_file       VARCHAR NOT NULL,
    content_hash      VARCHAR NOT NULL,
    loaded_at         TIMESTAMP NOT NULL
);

-- Normalised MeSH headings of citations, for set-based joins (categories, IC, similarity).
CREATE TABLE IF NOT EXISTS citation_mesh (
    pmid          BIGINT NOT NULL,
    descriptor_ui VARCHAR NOT NULL,
    major_topic   BOOLEAN NOT NULL,
    PRIMARY KEY (pmid, descriptor_ui)
);

CREATE TABLE IF NOT EXISTS deleted_citations (
    pmid       BIGINT PRIMARY KEY,
    file_name  VARCHAR NOT NULL,
    was_known  BOOLEAN NOT NULL,
    deleted_at TIMESTAMP NOT NULL
);

-- The release ledger (asset pubmed_files): one row per loaded file.
CREATE TABLE IF NOT EXISTS pubmed_files (
    file_name          VARCHAR PRIMARY KEY,
    kind               VARCHAR NOT NULL,   -- baseline | update
    source             VARCHAR NOT NULL,
    md5                VARCHAR,
    md5_verified       BOOLEAN NOT NULL,
    sha256             VARCHAR NOT NULL,
    bytes              BIGINT NOT NULL,
    articles_read      INTEGER NOT NULL,
    citations_upserted INTEGER NOT NULL,
    citations_skipped_older INTEGER NOT NULL,
    duplicates_in_file INTEGER NOT NULL,
    deletions          INTEGER NOT NULL,
    quarantined        INTEGER NOT NULL,
    changed_pmids      BIGINT[],
    loaded_at          TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS quarantine (
    asset          VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    position       VARCHAR,
    record_key     VARCHAR,
    reason         VARCHAR NOT NULL,
    raw_excerpt    VARCHAR,
    quarantined_at TIMESTAMP NOT NULL
);
