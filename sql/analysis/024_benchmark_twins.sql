-- Benchmark twins per release file: every loaded file, the twins its load found (citations
-- carrying a benchmark item's text under another PMID; 0 when none) and each twin with the
-- benchmark, the item it copies, the matched n-grams and the first of them. Twins never reach
-- training data (docs/method.md); the rows themselves are in the `benchmark_twins` table.
CREATE OR REPLACE VIEW benchmark_twin_report AS
SELECT f.file_name,
       count(DISTINCT t.pmid) AS twin_citations,
       count(DISTINCT t.benchmark || ':' || t.item) AS items_copied,
       list({'pmid': t.pmid, 'benchmark': t.benchmark, 'item': t.item,
             'matched_ngrams': t.matched_ngrams, 'first_ngram': t.first_ngram}
            ORDER BY t.benchmark, t.item, t.pmid) FILTER (WHERE t.pmid IS NOT NULL) AS twins
FROM pubmed_files f LEFT JOIN benchmark_twins t ON t.source_file = f.file_name
GROUP BY f.file_name
ORDER BY f.file_name;
