"""candidate_qa: question agents + context retrieval for one category (docs/method.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from mkailin_assets.agents.question_generation import (
    DEFAULT_QUESTION_AGENTS,
    QuestionAgent,
    build_question_requests,
    question_agents,
    questions_from_results,
)
from mkailin_assets.agents.retrieval import (
    contexts_per_query,
    embed_todo,
    embedding_todo,
    refresh_bm25_index,
    retrieve,
    store_embeddings,
)
from mkailin_assets.agents.search_index import query_terms
from mkailin_assets.curation.splits import SplitRule
from mkailin_assets.db import missing_pmids, query_pl, sync_partition
from mkailin_assets.llm.client import LLMFailureRateExceeded
from mkailin_assets.stages.split_retrieval import split_safe_contexts, split_safe_reused
from mkailin_assets.stages.tables import (
    AfterWrite,
    StageResult,
    frame_preview,
    read_after_write,
)


@dataclass
class CandidateReport:
    sources: int = 0
    candidates_ok: int = 0
    candidates_failed: int = 0
    retrieved: int = 0
    contexts_reused: int = 0
    no_indexable_term: int = 0
    no_context: int = 0
    index: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    per_agent: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)  # rows not kept, per reason


# Retrieval methods that need an embedding model (BM25 needs none).
EMBEDDING_METHODS = ("dense", "hybrid")


def candidate_id(source_pmid: int, source_hash: str, agent: str, question_index: int) -> str:
    """Stable id: the same source content, agent and slot always name the same candidate."""
    raw = f"{source_pmid}|{source_hash}|{agent}|{question_index}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def select_sources(con: duckdb.DuckDBPyConnection, category: str, sample: int) -> pl.DataFrame:
    """The category's abstracts (a deterministic sample by PMID hash when `sample` > 0)."""
    limit = "LIMIT $sample" if sample > 0 else ""
    params: dict[str, Any] = {"category": category}
    if sample > 0:
        params["sample"] = sample
    # The sample's PMIDs first: descriptor names are then looked up for the sample only, not for
    # the whole category (which grows with the corpus).
    return query_pl(
        con,
        f"""WITH picked AS MATERIALIZED (
                SELECT pmid FROM raw_abstracts WHERE category = $category
                ORDER BY hash(pmid), pmid {limit})
            SELECT r.pmid, r.title, r.abstract, r.descriptor_uis, r.major_descriptor_uis,
                   (SELECT list(coalesce(d.name, '') ORDER BY u.i)
                    FROM unnest(r.descriptor_uis) WITH ORDINALITY AS u(ui, i)
                    LEFT JOIN mesh_descriptors d ON d.descriptor_ui = u.ui) AS descriptor_names,
                   r.content_hash
            FROM raw_abstracts r JOIN picked USING (pmid) WHERE r.category = $category
            ORDER BY hash(r.pmid), r.pmid""",
        params,
    )


def known_descriptors(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Descriptors that sit in the MeSH tree (all categories, whichever mesh_tree partitions exist)."""
    rows = con.execute(
        "SELECT descriptor_ui FROM mesh_descriptors WHERE len(tree_numbers) > 0"
    ).fetchall()
    return {row[0] for row in rows}


def reusable_contexts(
    con: duckdb.DuckDBPyConnection, category: str, exclude_pmids: Iterable[int] = ()
) -> pl.DataFrame:
    """Contexts already retrieved for a candidate stay as they were (so downstream answers are not
    re-bought as the corpus grows), unless one of them was deleted since or is now excluded."""
    reused = query_pl(
        con,
        """SELECT q.candidate_id, q.question, q.context_pmids, q.context_scores, q.retrieval_method
           FROM candidate_qa q
           WHERE q.category = ? AND q.status = 'ok'""",
        [category],
    )
    # Contexts deleted since, looked up by PMID (a join would read every citation).
    gone = missing_pmids(con, reused["context_pmids"].explode().drop_nulls())
    listed = pl.Series(sorted(gone | set(exclude_pmids)), dtype=pl.Int64).implode()
    return reused.filter(~pl.col("context_pmids").list.eval(pl.element().is_in(listed)).list.any())


def retrieve_contexts(
    con: duckdb.DuckDBPyConnection,
    questions: pl.DataFrame,
    method: str,
    k: int,
    embedding: tuple[Any, str | None] = (None, None),
    exclude_pmids: Iterable[int] | None = None,
) -> pl.DataFrame:
    """Top-k contexts per candidate as lists: candidate_id, context_pmids, context_scores.
    `exclude_pmids` (benchmark citations) never become a context."""
    if questions.is_empty():
        return pl.DataFrame(
            schema={
                "candidate_id": pl.String,
                "context_pmids": pl.List(pl.Int64),
                "context_scores": pl.List(pl.Float64),
            }
        )
    queries = questions.select(
        pl.col("candidate_id").alias("query_id"), pl.col("question").alias("text")
    )
    embed, model_name = embedding
    hits = retrieve(
        con,
        queries,
        method=method,
        k=k,
        embed=embed,
        model_name=model_name,
        exclude_pmids=exclude_pmids,
    )
    return contexts_per_query(hits)


NO_TERM_ERROR = "question has no indexable term (only stopwords or punctuation): no BM25 contexts"


def reject_termless(frame: pl.DataFrame, method: str) -> tuple[pl.DataFrame, int]:
    """A question BM25 cannot match is recorded as failed with the reason, never given empty
    contexts; dense retrieval needs no terms."""
    if method == "dense" or frame.is_empty():
        return frame, 0
    termless = pl.col("question").map_elements(
        lambda q: not query_terms(q), return_dtype=pl.Boolean
    ) & (pl.col("status") == "ok")
    flagged = frame.with_columns(termless.alias("_termless"))
    count = int(flagged["_termless"].sum())
    if not count:
        return frame, 0
    flagged = flagged.with_columns(
        pl.when("_termless").then(pl.lit("failed")).otherwise("status").alias("status"),
        pl.when("_termless").then(pl.lit(NO_TERM_ERROR)).otherwise("error").alias("error"),
    )
    return flagged.drop("_termless"), count


def _run_recording_failures(client: Any, requests: list) -> list:
    """Every result, also when too many failed: the failed rows are written with their reasons
    and candidate_qa's blocking failure-rate check stops the partition, so the run page shows
    why (the client's own exception would leave no rows to look at)."""
    if not requests:
        return []
    try:
        return client.run(requests)
    except LLMFailureRateExceeded as error:
        return error.results


def plan_questions(
    con: duckdb.DuckDBPyConnection,
    category: str,
    *,
    sample: int = 0,
    agents: tuple[QuestionAgent, ...] = DEFAULT_QUESTION_AGENTS,
    questions_per_agent: int | None = None,
) -> tuple[pl.DataFrame, list]:
    """Read phase: the category's sources and the question requests they make.

    `questions_per_agent` (None: as each agent says) sets how many questions every agent
    writes per abstract."""
    if questions_per_agent is not None:
        agents = question_agents(questions_per_agent, agents)
    sources = select_sources(con, category, sample)
    return sources, build_question_requests(sources, agents)


@dataclass
class AnsweredCandidates:
    """The answered questions before retrieval: every row, what still needs contexts, what
    keeps the contexts it had."""

    frame: pl.DataFrame
    todo: pl.DataFrame
    reused: pl.DataFrame
    report: CandidateReport


def candidates_from_answers(
    con: duckdb.DuckDBPyConnection,
    category: str,
    sources: pl.DataFrame,
    requests: list,
    results: list,
    *,
    method: str = "bm25",
    exclude_pmids: Iterable[int] | None = None,
    split_rule: SplitRule | None = None,
) -> AnsweredCandidates:
    """Write phase, first half: the answered questions as candidate rows, and which of them
    need retrieval (unchanged candidates keep their contexts, unless one is now excluded or,
    with `split_rule`, from another split)."""
    report = CandidateReport()
    report.sources = sources.height
    rows = questions_from_results(requests, results, known_uis=known_descriptors(con))
    for row in rows:
        reason = row.pop("reject_reason", None)
        if reason is not None:
            report.rejected[reason] = report.rejected.get(reason, 0) + 1
    hashes = dict(zip(sources["pmid"].to_list(), sources["content_hash"].to_list(), strict=True))
    now = datetime.now()
    for row in rows:
        row["source_hash"] = hashes[row["source_pmid"]]
        row["candidate_id"] = candidate_id(
            row["source_pmid"], row["source_hash"], row["agent"], row["question_index"]
        )
        row["category"] = category
        row["created_at"] = now
    frame = (
        pl.DataFrame(rows, infer_schema_length=None)
        .rename({"descriptor_uis": "question_descriptors"})
        # All rows rejected leaves columns of nulls: give them their types for the joins below.
        .cast(
            {"question": pl.String, "error": pl.String, "question_descriptors": pl.List(pl.String)}
        )
        if rows
        else _empty_candidates()
    )
    frame, report.no_indexable_term = reject_termless(frame, method)
    ok = frame.filter(pl.col("status") == "ok")
    reused = reusable_contexts(con, category, exclude_pmids or ()).join(
        ok.select("candidate_id", "question"), on=["candidate_id", "question"]
    )
    if split_rule is not None:  # held-out splits: contexts only from the record's own split
        reused = split_safe_reused(reused, ok, split_rule)
    todo = ok.join(reused.select("candidate_id"), on="candidate_id", how="anti")
    report.candidates_ok = ok.height
    report.candidates_failed = frame.height - ok.height
    report.per_agent = dict(ok.group_by("agent").len().iter_rows()) if ok.height else {}
    report.errors = frame.filter(pl.col("status") != "ok")["error"].drop_nulls().head(5).to_list()
    return AnsweredCandidates(frame, todo, reused, report)


def attach_contexts(
    con: duckdb.DuckDBPyConnection,
    answered: AnsweredCandidates,
    *,
    method: str = "bm25",
    k: int = 4,
    embedding: tuple[Any, str | None] = (None, None),
    exclude_pmids: Iterable[int] | None = None,
    split_rule: SplitRule | None = None,
) -> tuple[pl.DataFrame, CandidateReport]:
    """Write phase, second half: contexts for the candidates that need them (BM25 from the
    index brought in step first; dense from the stored vectors, the questions' vectors given
    by `embedding`, computed while the writer was free); with `split_rule`, each record's
    contexts come only from citations of its own split."""
    report, todo, reused = answered.report, answered.todo, answered.reused
    if not todo.is_empty() and method in ("bm25", "hybrid"):
        report.index = refresh_bm25_index(con)
    fresh = (
        retrieve_contexts(
            con, todo.select("candidate_id", "question"), method, k, embedding, exclude_pmids
        )
        if split_rule is None
        else split_safe_contexts(
            con,
            todo.select("candidate_id", "question", "source_pmid"),
            split_rule,
            method,
            k,
            embedding,
            exclude_pmids,
        )  # fmt: skip
    ).with_columns(pl.lit(method).alias("retrieval_method"))
    contexts = pl.concat(
        [
            reused.select("candidate_id", "context_pmids", "context_scores", "retrieval_method"),
            fresh,
        ],
        how="vertical_relaxed",
    )
    frame = answered.frame.join(contexts, on="candidate_id", how="left").with_columns(
        pl.col("retrieval_method").fill_null(method)
    )
    frame, report.no_context = reject_contextless(frame)
    report.candidates_ok -= report.no_context
    report.candidates_failed += report.no_context
    report.retrieved = fresh.height
    report.contexts_reused = reused.height
    return frame.select(CANDIDATE_COLUMNS), report


NO_CONTEXT_ERROR = (
    "retrieval found no context the question may use (none matched, or none in its own split)"
)


def reject_contextless(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """A question retrieval found nothing for is recorded as failed with the reason, never kept
    with empty contexts (a held-out question sees only its own split, which may be small)."""
    empty = (pl.col("status") == "ok") & (
        pl.col("context_pmids").is_null() | (pl.col("context_pmids").list.len() == 0)
    )
    flagged = frame.with_columns(empty.alias("_empty"))
    count = int(flagged["_empty"].sum())
    if not count:
        return frame, 0
    return flagged.with_columns(
        pl.when("_empty").then(pl.lit("failed")).otherwise("status").alias("status"),
        pl.when("_empty").then(pl.lit(NO_CONTEXT_ERROR)).otherwise("error").alias("error"),
    ).drop("_empty"), count


def vectors_by_text(texts: list[str], vectors: list[Any]) -> Callable[[list[str], list[str]], Any]:
    """An embed function answering from vectors computed earlier (no model call)."""
    known = dict(zip(texts, vectors, strict=True))
    return lambda _ids, asked: [known.get(text) for text in asked]


CANDIDATE_COLUMNS = [
    "category",
    "candidate_id",
    "source_pmid",
    "source_hash",
    "agent",
    "model",
    "prompt_version",
    "question_index",
    "question",
    "question_descriptors",
    "dropped_descriptors",
    "context_pmids",
    "context_scores",
    "retrieval_method",
    "llm_call_id",
    "status",
    "error",
    "created_at",
]


def _empty_candidates() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "source_pmid": pl.Int64,
            "agent": pl.String,
            "model": pl.String,
            "prompt_version": pl.String,
            "question_index": pl.Int32,
            "question": pl.String,
            "question_descriptors": pl.List(pl.String),
            "dropped_descriptors": pl.Int32,
            "llm_call_id": pl.String,
            "status": pl.String,
            "error": pl.String,
            "source_hash": pl.String,
            "candidate_id": pl.String,
            "category": pl.String,
            "created_at": pl.Datetime("us"),
        }
    )


def write_candidates(
    con: duckdb.DuckDBPyConnection, category: str, frame: pl.DataFrame
) -> dict[str, int]:
    return sync_partition(con, "candidate_qa", category, frame, key=("candidate_id",))


def distill_candidates(
    gate: Any,
    client: Any,
    category: str,
    *,
    sample: int,
    method: str,
    k: int,
    exclude_pmids: Iterable[int] | Callable[[duckdb.DuckDBPyConnection], Iterable[int]] = (),
    questions_per_agent: int | None = None,
    split_rule: SplitRule | None = None,
    then: AfterWrite = None,
) -> StageResult[CandidateReport]:
    """Questions and their contexts for the category, written where they changed; PMIDs in
    `exclude_pmids` (benchmark citations and their twins; a set, or a function of the database
    read in the read phase) are never retrieved as contexts; with `split_rule`,
    a record's contexts come only from its own split. `then(con)` runs in the last write phase,
    after the partition is written (its value is the result's `after_write`).

    Phases: read (sources, requests, cache rows, the corpus vectors to compute) and write
    (spools into llm_calls, retrieval, the partition) each hold the writer (`gate.hold`,
    resources/writer.py); the model calls between them (questions; for dense and hybrid
    retrieval the corpus's new vectors, then the new questions' vectors) hold nothing."""
    dense = method in EMBEDDING_METHODS
    model_name = client.config.model_for("embeddings") if dense else None
    with gate.hold("read") as con:
        # A function of the database (benchmark twins are a table): read with the sources.
        excluded = frozenset(exclude_pmids(con) if callable(exclude_pmids) else exclude_pmids)
        held_out = {"exclude_pmids": excluded, "split_rule": split_rule}
        sources, requests = plan_questions(
            con, category, sample=sample, questions_per_agent=questions_per_agent
        )
        client.prefetch(con, requests)
        corpus = embedding_todo(con, model_name) if dense else None
        if corpus is not None:
            client.prefetch_embeddings(con, corpus["text"].to_list())
    results = _run_recording_failures(client, requests)  # model phase: no DuckDB
    corpus_vectors = embed_todo(corpus, embed_with(client)) if corpus is not None else []
    with gate.hold("write") as con:
        client.commit(con)
        if corpus is not None:
            store_embeddings(con, model_name, corpus, corpus_vectors)
        answered = candidates_from_answers(
            con, category, sources, requests, results, method=method, **held_out
        )
        questions = answered.todo["question"].to_list()
        if not dense or not questions:
            written = _written(con, category, answered, method, k, (None, None), held_out)
            return read_after_write(con, written, then)
        client.prefetch_embeddings(con, questions)
    vectors = client.embed(questions, answered.todo["candidate_id"].to_list())  # model phase
    embedding = (vectors_by_text(questions, vectors), model_name)
    with gate.hold("write") as con:
        client.commit(con)
        written = _written(con, category, answered, method, k, embedding, held_out)
        return read_after_write(con, written, then)


def embed_with(client: Any) -> Callable[[list[str], list[str]], Any]:
    return lambda item_ids, texts: client.embed(texts, item_ids)


def _written(
    con: duckdb.DuckDBPyConnection,
    category: str,
    answered: AnsweredCandidates,
    method: str,
    k: int,
    embedding: tuple[Any, str | None],
    held_out: dict[str, Any],
) -> StageResult[CandidateReport]:
    frame, report = attach_contexts(
        con, answered, method=method, k=k, embedding=embedding, **held_out
    )
    changes = write_candidates(con, category, frame)
    return StageResult(
        rows=frame.height,
        report=report,
        changes=changes,
        preview=frame_preview(
            frame.filter(pl.col("status") == "ok").head(5),
            ["source_pmid", "agent", "question", "context_pmids"],
            ["source_pmid", "agent", "question", "contexts"],
        ),
    )
