-- Category-partitioned asset tables downstream of ingestion.

CREATE TABLE IF NOT EXISTS raw_abstracts (
    category        VARCHAR NOT NULL,
    pmid            BIGINT NOT NULL,
    title           VARCHAR,
    abstract        VARCHAR NOT NULL,
    descriptor_uis  VARCHAR[] NOT NULL,
    major_descriptor_uis VARCHAR[] NOT NULL,
    tree_numbers    VARCHAR[] NOT NULL,
    content_hash    VARCHAR NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (category, pmid)
);

CREATE TABLE IF NOT EXISTS candidate_qa (
    category          VARCHAR NOT NULL,
    candidate_id      VARCHAR NOT NULL,
    source_pmid       BIGINT NOT NULL,
    source_hash       VARCHAR NOT NULL,
    agent             VARCHAR NOT NULL,
    model             VARCHAR NOT NULL,
    prompt_version    VARCHAR NOT NULL,
    question_index    INTEGER NOT NULL,
    question          VARCHAR,
    question_descriptors VARCHAR[],
    dropped_descriptors  INTEGER NOT NULL,
    context_pmids     BIGINT[],
    context_scores    DOUBLE[],
    retrieval_method  VARCHAR NOT NULL,
    llm_call_id       VARCHAR,
    status            VARCHAR NOT NULL,   -- ok | failed
    error             VARCHAR,
    created_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (category, candidate_id)
);

CREATE TABLE IF NOT EXISTS evaluated_qa (
    category          VARCHAR NOT NULL,
    candidate_id      VARCHAR NOT NULL,
    source_pmid       BIGINT NOT NULL,
    question          VARCHAR NOT NULL,
    agent             VARCHAR NOT NULL,
    model             VARCHAR NOT NULL,
    prompt_version    VARCHAR NOT NULL,
    question_descriptors VARCHAR[],
    context_pmids     BIGINT[] NOT NULL,
    mesh_score        DOUBLE,
    contexts_with_mesh INTEGER NOT NULL,
    contexts_without_mesh INTEGER NOT NULL,
    ic_snapshot       VARCHAR,
    is_preferred      BOOLEAN NOT NULL,
    preference_source VARCHAR,            -- judge | cold_start | single | tie
    answer            VARCHAR,
    final_decision    VARCHAR,            -- yes | no | maybe | NULL
    cited_pmids       BIGINT[],
    answer_flag       VARCHAR,            -- NULL when kept; else why it is flagged
    answer_model      VARCHAR,
    answer_call_id    VARCHAR,
    question_call_id  VARCHAR,
    source_hash       VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (category, candidate_id)
);

CREATE TABLE IF NOT EXISTS preference_pairs (
    category        VARCHAR NOT NULL,
    source_pmid     BIGINT NOT NULL,
    chosen_id       VARCHAR NOT NULL,
    rejected_id     VARCHAR NOT NULL,
    chosen_score    DOUBLE,
    rejected_score  DOUBLE,
    margin          DOUBLE,
    cold_start_label VARCHAR,            -- chosen id by MeSH score, NULL when under the margin
    judge_verdict   VARCHAR,             -- chosen id by the judge when both orders agree, else NULL
    judge_consistent BOOLEAN,
    label_source    VARCHAR NOT NULL,    -- judge | cold_start
    judge_call_ids  VARCHAR[],
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (category, source_pmid, chosen_id, rejected_id)
);

CREATE TABLE IF NOT EXISTS training_set (
    category       VARCHAR NOT NULL,
    record_id      VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,     -- sft | dpo | evaluator | pretrain
    split          VARCHAR NOT NULL,     -- train | validation | test
    source_pmid    BIGINT NOT NULL,
    context_pmids  BIGINT[] NOT NULL,
    question       VARCHAR,
    record         JSON NOT NULL,        -- the record in its training layout
    provenance     JSON NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (category, record_id)
);

-- What each training_set filter removed, with the reason and the twin it duplicated.
CREATE TABLE IF NOT EXISTS training_filtered (
    category    VARCHAR NOT NULL,
    record_id   VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    filter      VARCHAR NOT NULL,        -- exact_dup | near_dup | decontamination:<benchmark> | ...
    reason      VARCHAR NOT NULL,
    twin_id     VARCHAR,
    created_at  TIMESTAMP NOT NULL
);
