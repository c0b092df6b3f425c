-- What each filter removed, per category: deduplication, decontamination, flagged answers, quarantine,
-- and what the export removed across categories (filter 'export:...'), including the rows it
-- leaves out by its membership rule: a record of several categories is written once, under the
-- alphabetically first ('export:written_under_first_category', counted in the other categories).
CREATE OR REPLACE VIEW filter_report AS
SELECT category, filter, count(*) AS removed
FROM training_filtered
GROUP BY ALL
UNION ALL
SELECT category, 'export:' || filter, count(*)
FROM training_export_filtered
GROUP BY ALL
UNION ALL
SELECT category, 'export:written_under_first_category:' || kind, count(*)
FROM (SELECT category, kind,
             row_number() OVER (PARTITION BY kind, split_part(record_id, ':', 3) ORDER BY category) AS n
      FROM training_set)
WHERE n > 1
GROUP BY ALL
UNION ALL
SELECT category, 'answer_flag:' || answer_flag, count(*)
FROM evaluated_qa WHERE is_preferred AND answer_flag IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT asset, 'quarantine:' || split_part(reason, ' ', 1), count(*)
FROM quarantine
GROUP BY ALL
ORDER BY 1, 2;
