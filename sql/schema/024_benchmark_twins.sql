-- Benchmark twins: citations whose title or abstract shares a decontamination n-gram with a
-- benchmark item under another PMID (curation/twins.py). Found as release files load, for the
-- file's new and revised citations only; excluded from training like the benchmark's own PMIDs.
CREATE TABLE IF NOT EXISTS benchmark_twins (
    pmid            BIGINT NOT NULL,         -- the twin citation
    benchmark       VARCHAR NOT NULL,        -- the benchmark file's name (its stem)
    item            VARCHAR NOT NULL,        -- the item it copies: its PMID (or "line <n>")
    matched_ngrams  INTEGER NOT NULL,        -- distinct n-grams of the citation in that item
    first_ngram     VARCHAR NOT NULL,        -- the first of them, normalised
    ngram           INTEGER NOT NULL,        -- the n-gram length compared
    source_file     VARCHAR NOT NULL,        -- the release file whose load found it
    found_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (pmid, benchmark, item)
);

-- Which benchmark (by content digest and n-gram length) the whole corpus has been compared
-- with: a benchmark not listed here (new, edited, or present before twins were recorded) is
-- compared with every citation once; after that only each file's changed citations are.
CREATE TABLE IF NOT EXISTS benchmark_twin_scans (
    benchmark       VARCHAR NOT NULL,
    digest          VARCHAR NOT NULL,        -- SHA-256 of the benchmark's items and texts
    ngram           INTEGER NOT NULL,
    citations       BIGINT NOT NULL,         -- citations compared by that whole-corpus scan
    scanned_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (benchmark, digest, ngram)
);
