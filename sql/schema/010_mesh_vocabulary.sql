-- The whole MeSH vocabulary as a tree (asset mesh_vocabulary): one row per tree number of every
-- descriptor in the loaded file, whatever mesh_tree partitions exist. Everything that needs the
-- whole vocabulary (IC, LCA and similarity, descriptor validation, affected categories, coverage)
-- reads this table; mesh_tree partitions are slices of it. See docs/method.md#the-mesh-score.
CREATE TABLE IF NOT EXISTS mesh_vocabulary (
    category           VARCHAR NOT NULL,
    tree_number        VARCHAR PRIMARY KEY,
    descriptor_ui      VARCHAR NOT NULL,
    descriptor_name    VARCHAR NOT NULL,
    depth              INTEGER NOT NULL,
    parent_tree_number VARCHAR,
    mesh_year          INTEGER
);

-- A database whose descriptors were loaded before this table existed gets its vocabulary now.
INSERT OR IGNORE INTO mesh_vocabulary
SELECT left(tree_number, 1), tree_number, descriptor_ui, name,
       len(string_split(tree_number, '.'))::INTEGER,
       CASE WHEN contains(tree_number, '.')
            THEN left(tree_number, length(tree_number) - strpos(reverse(tree_number), '.'))
       END,
       mesh_year
FROM (SELECT descriptor_ui, name, mesh_year, unnest(tree_numbers) AS tree_number
      FROM mesh_descriptors);

-- An IC snapshot says what it was computed from: the MeSH file (by sha256, with its year) and the
-- corpus (the loaded release files, fingerprinted). Rows from before this version have NULLs.
ALTER TABLE mesh_ic_snapshots ADD COLUMN IF NOT EXISTS mesh_sha256 VARCHAR;
ALTER TABLE mesh_ic_snapshots ADD COLUMN IF NOT EXISTS mesh_year INTEGER;
ALTER TABLE mesh_ic_snapshots ADD COLUMN IF NOT EXISTS corpus_files INTEGER;
ALTER TABLE mesh_ic_snapshots ADD COLUMN IF NOT EXISTS corpus_fingerprint VARCHAR;
