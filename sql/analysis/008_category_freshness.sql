-- Freshness per category: the latest release file loaded, the file its last complete refresh
-- (training_set) covered, and the later files that changed it (a refresh is due). Whether a
-- refresh is running or failed lives in the Dagster instance: the UI's `<letter>_up_to_date`
-- checks and the table `./scripts/dev.sh` prints show it.
CREATE OR REPLACE VIEW category_freshness AS
WITH covered AS (
    SELECT category, covered_file, refreshed_at
    FROM category_refreshes WHERE stage = 'training_set'
),
later_pmids AS (  -- changed citations of the files no refreshed category has covered yet
    SELECT file_name, unnest(changed_pmids) AS pmid
    FROM pubmed_files
    WHERE file_name > (SELECT coalesce(min(coalesce(covered_file, '')), '') FROM covered)
),
heads AS (
    SELECT l.file_name, cm.pmid, cm.descriptor_ui, cm.major_topic,
           bool_or(cm.major_topic) OVER (PARTITION BY l.file_name, cm.pmid) AS has_major
    FROM later_pmids l JOIN citation_mesh cm USING (pmid)
),
file_categories AS (  -- as pubmed_files' affected_categories: where they belong, or belonged
    SELECT DISTINCT h.file_name, v.category
    FROM heads h JOIN mesh_vocabulary v USING (descriptor_ui)
    WHERE h.major_topic OR NOT h.has_major
    UNION
    SELECT DISTINCT l.file_name, r.category FROM later_pmids l JOIN raw_abstracts r USING (pmid)
),
pending AS (
    SELECT c.category, count(*) AS files_pending, min(f.file_name) AS first_pending_file
    FROM covered c JOIN file_categories f
      ON f.category = c.category AND f.file_name > coalesce(c.covered_file, '')
    GROUP BY c.category
)
SELECT m.letter AS category, m.name,
       (SELECT max(file_name) FROM pubmed_files) AS latest_file,
       c.covered_file, c.refreshed_at,
       coalesce(p.files_pending, 0) AS files_pending, p.first_pending_file,
       CASE WHEN c.category IS NULL THEN 'no refresh recorded'
            WHEN coalesce(p.files_pending, 0) > 0 THEN 'due'
            ELSE 'up to date' END AS state
FROM mesh_categories m
LEFT JOIN covered c ON c.category = m.letter
LEFT JOIN pending p ON p.category = m.letter
ORDER BY m.letter;
