-- What training_export removed on top of each category's own filters: question twins of
-- candidates in other categories (each category deduplicates only itself, so its records never
-- depend on which other categories exist). Rewritten whole by every export.
CREATE TABLE IF NOT EXISTS training_export_filtered (
    category    VARCHAR NOT NULL,
    record_id   VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    filter      VARCHAR NOT NULL,        -- exact_dup | near_dup
    reason      VARCHAR NOT NULL,
    twin_id     VARCHAR,
    exported_at TIMESTAMP NOT NULL
);
