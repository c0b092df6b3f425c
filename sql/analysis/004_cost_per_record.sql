-- LLM spend and tokens per model, and the cost per kept SFT record.
CREATE OR REPLACE VIEW llm_cost_by_model AS
SELECT model, role, status, count(*) AS calls,
       sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd
FROM llm_calls
GROUP BY ALL
ORDER BY model, role, status;

CREATE OR REPLACE VIEW cost_per_kept_record AS
SELECT round(sum(cost_usd), 6) AS total_cost_usd,
       (SELECT count(*) FROM training_set WHERE kind = 'sft') AS kept_sft_records,
       round(sum(cost_usd) / nullif((SELECT count(*) FROM training_set WHERE kind = 'sft'), 0), 8)
           AS cost_per_kept_record_usd
FROM llm_calls;
