-- The LLM response cache and the Batch API ledger. Every LLM call, whatever the backend or path
-- (per request, batch, offline), lands in llm_calls under its cache key; no secret is stored.

CREATE TABLE IF NOT EXISTS llm_calls (
    call_id           VARCHAR PRIMARY KEY,   -- sha256 of the canonical request (see llm/cache.py)
    kind              VARCHAR NOT NULL,      -- chat | embeddings
    role              VARCHAR NOT NULL,
    item_id           VARCHAR,
    model             VARCHAR NOT NULL,
    prompt_version    VARCHAR NOT NULL,
    request           JSON NOT NULL,         -- model, messages, sampling, response_format
    response_content  VARCHAR,               -- raw text as returned (kept on failures)
    response_json     JSON,                  -- parsed and validated output
    embedding         FLOAT[],
    status            VARCHAR NOT NULL,      -- ok | failed (sent again) | rejected (final)
    error             VARCHAR,
    finish_reason     VARCHAR,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    cost_usd          DOUBLE NOT NULL,
    latency_ms        DOUBLE,
    attempts          INTEGER NOT NULL,
    via               VARCHAR NOT NULL,      -- request | batch | offline
    batch_id          VARCHAR,
    created_at        TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS llm_batches (
    batch_id        VARCHAR PRIMARY KEY,
    input_file_id   VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,        -- submitted | collected (results are in llm_calls)
    server_status   VARCHAR,                 -- the server's last word: in_progress, completed, expired...
    output_file_id  VARCHAR,
    error_file_id   VARCHAR,
    items           INTEGER NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS llm_batch_items (
    batch_id        VARCHAR NOT NULL,
    call_id         VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    role            VARCHAR NOT NULL,
    item_id         VARCHAR,
    model           VARCHAR NOT NULL,
    prompt_version  VARCHAR NOT NULL,
    request         JSON NOT NULL,
    response_schema JSON,                   -- validated on collection, as on the request path
    PRIMARY KEY (batch_id, call_id)
);
