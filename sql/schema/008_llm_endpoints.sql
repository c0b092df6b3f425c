-- Structured-output modes that work per model server: probed once per (endpoint, model) in
-- auto mode and reused (see llm/structured.py). The endpoint is the base URL without any user
-- info, or local:<model file> for the local backend; no secret is stored.

CREATE TABLE IF NOT EXISTS llm_endpoints (
    endpoint   VARCHAR NOT NULL,
    model      VARCHAR NOT NULL,
    mode       VARCHAR NOT NULL,   -- json_schema | json_object | prompt
    detail     VARCHAR,            -- why the modes tried before it were refused
    probed_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (endpoint, model)
);
