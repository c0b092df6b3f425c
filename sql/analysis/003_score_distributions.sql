-- MeSH knowledge-hierarchy scores per category: preferred vs other candidates.
CREATE OR REPLACE VIEW score_distributions AS
SELECT category,
       is_preferred,
       count(*) AS candidates,
       count(mesh_score) AS scored,
       round(avg(mesh_score), 4) AS mean_score,
       round(quantile_cont(mesh_score, 0.25), 4) AS p25,
       round(median(mesh_score), 4) AS median,
       round(quantile_cont(mesh_score, 0.75), 4) AS p75,
       histogram(round(mesh_score, 1)) AS histogram_0_1
FROM evaluated_qa
GROUP BY ALL
ORDER BY category, is_preferred DESC;
