-- The latest PubMedQA / PubMedQA* figures of each model, per benchmark, setting and split,
-- beside the majority-class baseline and the published references (accuracy, %). A split is
-- what was asked: test / all only when complete, test_first_<n> / all_first_<n> for a limited
-- run, so a subset never stands for the whole benchmark; the published references are
-- reasoning-required accuracies on all 500 test items and are shown only beside that figure.
CREATE OR REPLACE VIEW benchmark_latest AS
WITH ranked AS (
    SELECT *, row_number() OVER (PARTITION BY model, benchmark, setting, split
                                 ORDER BY created_at DESC, run_id DESC) AS age,
           benchmark = 'pubmedqa' AND setting = 'reasoning_required' AND split = 'test'
               AS comparable
    FROM benchmark_results
)
SELECT model, model_id, benchmark, setting, split, n, n_expected,
       round(100 * accuracy, 1) AS accuracy_pct,
       round(100 * ci_low, 1) AS ci_low_pct, round(100 * ci_high, 1) AS ci_high_pct, ci_method,
       round(100 * macro_f1, 1) AS macro_f1_pct,
       round(100 * recall_yes, 1) AS recall_yes_pct, round(100 * recall_no, 1) AS recall_no_pct,
       round(100 * recall_maybe, 1) AS recall_maybe_pct,
       unparseable, round(100 * majority_baseline, 1) AS majority_baseline_pct,
       CASE WHEN comparable THEN 82.0 END AS gpt4_medprompt_pct,
       CASE WHEN comparable THEN 81.8 END AS med_palm2_pct,
       partial, run_id, created_at
FROM ranked
WHERE age = 1
ORDER BY model, benchmark, setting, split;
