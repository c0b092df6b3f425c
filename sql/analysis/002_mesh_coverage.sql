-- MeSH coverage: of the descriptors at each tree depth, the share that the training set covers
-- (a descriptor is covered when a kept record's source citation is annotated with it).
CREATE OR REPLACE VIEW mesh_coverage AS
WITH covered AS (
    SELECT DISTINCT cm.descriptor_ui
    FROM training_set s JOIN citation_mesh cm ON cm.pmid = s.source_pmid
    WHERE s.kind = 'sft'
),
nodes AS (
    SELECT DISTINCT depth, descriptor_ui FROM mesh_vocabulary
)
SELECT n.depth,
       count(*) AS descriptors,
       count(c.descriptor_ui) AS covered,
       round(count(c.descriptor_ui) / count(*), 4) AS share_covered
FROM nodes n LEFT JOIN covered c USING (descriptor_ui)
GROUP BY n.depth
ORDER BY n.depth;
