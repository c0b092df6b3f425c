-- QA records per category, kind and split.
CREATE OR REPLACE VIEW qa_per_category AS
SELECT c.letter AS category, c.name, s.kind, s.split, count(s.record_id) AS records,
       count(DISTINCT s.source_pmid) AS source_pmids
FROM mesh_categories c
JOIN training_set s ON s.category = c.letter
GROUP BY ALL
ORDER BY category, kind, split;
