-- What each category's latest refresh covered: the newest release file loaded when raw_abstracts
-- read the citations, and which file training_set was built from (written in the same transaction
-- as the partition). The category_freshness view (sql/analysis) compares it with the ledger.
CREATE TABLE IF NOT EXISTS category_refreshes (
    category      VARCHAR NOT NULL,
    stage         VARCHAR NOT NULL,    -- raw_abstracts | training_set
    covered_file  VARCHAR,             -- NULL: no release file was loaded yet
    refreshed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (category, stage)
);
