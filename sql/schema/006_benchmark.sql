-- benchmark_eval: PubMedQA / PubMedQA* figures of any model (one row per run, benchmark, setting
-- and split, kept as history) and the answers of each model's latest run.

CREATE TABLE IF NOT EXISTS benchmark_results (
    run_id            VARCHAR NOT NULL,      -- the Dagster run that produced the figures
    model             VARCHAR NOT NULL,      -- benchmark_models partition key
    model_id          VARCHAR NOT NULL,      -- the model at its endpoint
    endpoint          VARCHAR,               -- base URL (never a key), NULL for offline
    benchmark         VARCHAR NOT NULL,      -- pubmedqa | pubmedqa_star
    setting           VARCHAR NOT NULL,      -- reasoning_required | retrieved | no_context
    split             VARCHAR NOT NULL,      -- what was asked: test (every test item) | all (every item) | test_first_<n> | all_first_<n> (a limited run)
    n                 INTEGER NOT NULL,      -- items answered (unparseable answers included)
    n_expected        INTEGER NOT NULL,      -- items asked
    correct           INTEGER NOT NULL,
    accuracy          DOUBLE,
    ci_low            DOUBLE,                -- 95% interval of the accuracy
    ci_high           DOUBLE,
    ci_method         VARCHAR NOT NULL,      -- wilson
    macro_f1          DOUBLE,
    recall_yes        DOUBLE,
    recall_no         DOUBLE,
    recall_maybe      DOUBLE,
    unparseable       INTEGER NOT NULL,
    majority_baseline DOUBLE,
    top_k             INTEGER,               -- retrieved contexts (PubMedQA*)
    prompt_version    VARCHAR NOT NULL,
    partial           BOOLEAN NOT NULL,      -- some items got no answer (budget stop, failures)
    created_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, model, benchmark, setting, split)
);

CREATE TABLE IF NOT EXISTS benchmark_answers (
    run_id          VARCHAR NOT NULL,
    model           VARCHAR NOT NULL,
    benchmark       VARCHAR NOT NULL,
    setting         VARCHAR NOT NULL,
    pmid            BIGINT NOT NULL,         -- the PubMedQA item
    split           VARCHAR NOT NULL,        -- test | train_dev
    gold            VARCHAR NOT NULL,        -- the expert label
    answer          VARCHAR,                 -- parsed label, NULL when unparseable or unanswered
    parse           VARCHAR NOT NULL,        -- how it was parsed (json, marker, ...) or why not
    raw_text        VARCHAR,                 -- the model's text as returned
    context_pmids   BIGINT[] NOT NULL,       -- retrieved contexts (PubMedQA*), rank order
    status          VARCHAR NOT NULL,        -- answered | rejected (scored from its text) | failed | not_sent
    call_id         VARCHAR,                 -- llm_calls key
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (model, setting, pmid)
);
