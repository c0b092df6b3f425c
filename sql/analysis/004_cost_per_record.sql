-- LLM spend and tokens per model, and the cost per exported SFT record.
CREATE OR REPLACE VIEW llm_cost_by_model AS
SELECT model, role, status, count(*) AS calls,
       sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd
FROM llm_calls
GROUP BY ALL
ORDER BY model, role, status;

-- The calls that produced the data (every role but `benchmark`) over the SFT records the export
-- writes: one per source question (the export's membership rule), less the question twins it
-- removed across categories. Evaluation spend (benchmark_eval, role `benchmark`) is shown apart:
-- it is not a cost of the data.
CREATE OR REPLACE VIEW cost_per_kept_record AS
WITH spend AS (
    SELECT coalesce(sum(cost_usd) FILTER (WHERE role <> 'benchmark'), 0) AS data_cost,
           count(*) FILTER (WHERE role <> 'benchmark') AS data_calls,
           coalesce(sum(cost_usd) FILTER (WHERE role = 'benchmark'), 0) AS evaluation_cost,
           count(*) FILTER (WHERE role = 'benchmark') AS evaluation_calls
    FROM llm_calls
), exported AS (
    SELECT (SELECT count(DISTINCT split_part(record_id, ':', 3)) FROM training_set WHERE kind = 'sft')
         - (SELECT count(DISTINCT split_part(record_id, ':', 3)) FROM training_export_filtered
            WHERE kind = 'sft') AS records
)
SELECT round(data_cost, 6) AS data_cost_usd,
       data_calls,
       records AS exported_sft_records,
       round(data_cost / nullif(records, 0), 8) AS cost_per_exported_record_usd,
       round(evaluation_cost, 6) AS evaluation_cost_usd,
       evaluation_calls
FROM spend, exported;
