"""Training records in the layouts the training tools read, each with its provenance.

Row functions take plain values and return plain dicts; the `build_*` functions apply them to
the evaluated_qa / preference_pairs frames (joined with citations and the sources' MeSH) and
return training_set rows: category, record_id, kind, source_pmid, context_pmids, question,
record (JSON text), provenance (JSON text). Splits and timestamps are added by the caller.

Record ids are "<kind>:<category>:<candidate id(s)>", unique across categories, so one frame of
all categories can be deduplicated and the smallest id kept deterministically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import polars as pl

SFT_SYSTEM_PROMPT = (
    "You are a biomedical research assistant. Answer the question using only the PubMed "
    "abstracts given, and cite the PMIDs you rely on."
)
GENERATOR_PROMPT = (
    "Read the following PubMed abstract and, as a researcher in biomedicine, ask one "
    "scientific question that the study addresses.\n\nTitle: {title}\nAbstract: {abstract}"
)
EVALUATOR_INSTRUCTION = (
    "Given the source abstract, judge the question and its retrieved contexts as a training "
    "example: fit to the source's knowledge, specificity, and answerability from the contexts."
)

TRAINING_ROW_SCHEMA: dict[str, pl.DataType] = {
    "category": pl.String(),
    "record_id": pl.String(),
    "kind": pl.String(),
    "source_pmid": pl.Int64(),
    "context_pmids": pl.List(pl.Int64()),
    "question": pl.String(),
    "record": pl.String(),
    "provenance": pl.String(),
}

Citations = Mapping[int, Mapping[str, Any]]  # pmid -> {"title", "abstract"}
Mesh = Mapping[int, Mapping[str, Any]]  # pmid -> {"descriptor_uis", "tree_numbers"}


# --- row functions -------------------------------------------------------------------------


def context_entries(context_pmids: Iterable[int], citations: Citations) -> list[dict[str, Any]]:
    """[{pmid, title, text}] in rank order; PMIDs without a citation are left out."""
    entries = []
    for pmid in context_pmids:
        citation = citations.get(int(pmid))
        if citation is not None:
            entries.append(
                {
                    "pmid": int(pmid),
                    "title": citation.get("title"),
                    "text": citation.get("abstract"),
                }
            )
    return entries


def render_contexts(contexts: list[dict[str, Any]]) -> str:
    """Contexts for a prompt, each headed by its PMID."""
    return "\n\n".join(
        f"[PMID {c['pmid']}] {c.get('title') or ''}\n{c.get('text') or ''}".strip()
        for c in contexts
    )


def sft_user_message(question: str, contexts: list[dict[str, Any]]) -> str:
    return f"Question: {question}\n\nContexts:\n{render_contexts(contexts)}"


def sft_record(
    question: str,
    contexts: list[dict[str, Any]],
    answer: str,
    final_decision: str | None,
    system_prompt: str = SFT_SYSTEM_PROMPT,
) -> dict[str, Any]:
    """Chat messages (system, user = question + contexts with PMIDs, assistant = answer) plus
    the flat fields question, contexts [{pmid, title, text}], answer, final_decision."""
    return {
        "messages": [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": sft_user_message(question, contexts)},
            {"role": "assistant", "content": answer},
        ],
        "question": question,
        "contexts": contexts,
        "answer": answer,
        "final_decision": final_decision,
    }


def generator_prompt(title: str | None, abstract: str, template: str = GENERATOR_PROMPT) -> str:
    """The question generator's prompt with the source abstract, as the generator saw it."""
    return template.format(title=title or "", abstract=abstract)


def dpo_record(
    prompt: str,
    chosen: str,
    rejected: str,
    margin: float | None,
    label_source: str,
    chosen_context_pmids: list[int] | None = None,
    rejected_context_pmids: list[int] | None = None,
) -> dict[str, Any]:
    """TRL's standard preference layout (prompt, chosen, rejected) plus margin and label source."""
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "margin": margin,
        "label_source": label_source,
        "chosen_context_pmids": list(chosen_context_pmids or []),
        "rejected_context_pmids": list(rejected_context_pmids or []),
    }


def evaluator_candidate(question: str, contexts: list[dict[str, Any]]) -> str:
    return f"Question: {question}\nContexts:\n{render_contexts(contexts)}"


def evaluator_record(
    source_title: str | None,
    source_abstract: str,
    chosen: tuple[str, list[dict[str, Any]]],
    rejected: tuple[str, list[dict[str, Any]]],
    margin: float | None,
    label_source: str = "cold_start",
) -> dict[str, Any]:
    """Pairwise evaluator example (TRL reward/preference layout): the prompt holds the source
    abstract and the instruction; chosen/rejected are question + contexts."""
    prompt = (
        f"{EVALUATOR_INSTRUCTION}\n\nSource abstract:\n{source_title or ''}\n{source_abstract}"
    ).strip()
    return {
        "prompt": prompt,
        "chosen": evaluator_candidate(*chosen),
        "rejected": evaluator_candidate(*rejected),
        "margin": margin,
        "label_source": label_source,
    }


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def pretrain_text(
    title: str | None, abstract: str, contexts: list[dict[str, Any]], question: str
) -> str:
    """The authors' corpus line (docs/method.md#outputs), one line; contexts "title: abstract"."""
    rendered = " ".join(f"{c.get('title') or ''}: {c.get('text') or ''}" for c in contexts)
    line = (
        f"After reading the paper ```{title or ''}: {abstract}```, I searched for related "
        f"materials ```{rendered}``` and pondered the following scientific question "
        f"```{question}```."
    )
    return _one_line(line)


def provenance(
    source_pmid: int,
    context_pmids: list[int],
    mesh: Mapping[str, Any] | None,
    agent: str | list[str],
    model: str | list[str],
    prompt_version: str | list[str],
    llm_call_ids: list[str | None],
    scores: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """Where a record comes from: PMIDs, the source's MeSH, agent, model, prompt, calls, scores."""
    mesh = mesh or {}
    return {
        "source_pmid": int(source_pmid),
        "context_pmids": [int(p) for p in context_pmids],
        "mesh": {
            "descriptor_uis": list(mesh.get("descriptor_uis") or []),
            "tree_numbers": list(mesh.get("tree_numbers") or []),
        },
        "agent": agent,
        "model": model,
        "prompt_version": prompt_version,
        "llm_call_ids": [c for c in llm_call_ids if c],
        "scores": dict(scores),
        **extra,
    }


# --- frame builders -----------------------------------------------------------------------


def citations_lookup(citations: pl.DataFrame) -> dict[int, dict[str, Any]]:
    """pmid -> {title, abstract} from a frame with those columns."""
    return {
        int(row["pmid"]): {"title": row["title"], "abstract": row["abstract"]}
        for row in citations.select("pmid", "title", "abstract").iter_rows(named=True)
    }


def mesh_lookup(mesh: pl.DataFrame | None) -> dict[int, dict[str, Any]]:
    """pmid -> {descriptor_uis, tree_numbers} (e.g. raw_abstracts' columns); empty when None."""
    if mesh is None:
        return {}
    return {
        int(row["pmid"]): {
            "descriptor_uis": row["descriptor_uis"],
            "tree_numbers": row["tree_numbers"],
        }
        for row in mesh.select("pmid", "descriptor_uis", "tree_numbers")
        .unique("pmid", keep="first", maintain_order=True)
        .iter_rows(named=True)
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _row(
    category: str,
    record_id: str,
    kind: str,
    source_pmid: int,
    context_pmids: list[int],
    question: str | None,
    record: dict[str, Any],
    prov: dict[str, Any],
) -> dict[str, Any]:
    return {
        "category": category,
        "record_id": record_id,
        "kind": kind,
        "source_pmid": int(source_pmid),
        "context_pmids": [int(p) for p in context_pmids],
        "question": question,
        "record": _dumps(record),
        "provenance": _dumps(prov),
    }


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=TRAINING_ROW_SCHEMA)


def _candidate_scores(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "mesh_score": row.get("mesh_score"),
        "contexts_with_mesh": row.get("contexts_with_mesh"),
        "contexts_without_mesh": row.get("contexts_without_mesh"),
        "ic_snapshot": row.get("ic_snapshot"),
        "preference_source": row.get("preference_source"),
    }


def _missing(context_pmids: list[int], contexts: list[dict[str, Any]]) -> list[int]:
    present = {c["pmid"] for c in contexts}
    return [int(p) for p in context_pmids if int(p) not in present]


def build_sft_records(
    evaluated: pl.DataFrame,
    citations: Citations,
    mesh: Mesh | None = None,
    system_prompt: str = SFT_SYSTEM_PROMPT,
) -> pl.DataFrame:
    """SFT rows from evaluated_qa: preferred candidates with an answer that is not flagged."""
    mesh = mesh or {}
    kept = evaluated.filter(
        pl.col("is_preferred") & pl.col("answer").is_not_null() & pl.col("answer_flag").is_null()
    )
    rows = []
    for qa in kept.iter_rows(named=True):
        pmids = list(qa["context_pmids"])
        contexts = context_entries(pmids, citations)
        record = sft_record(
            qa["question"], contexts, qa["answer"], qa["final_decision"], system_prompt
        )
        prov = provenance(
            qa["source_pmid"],
            pmids,
            mesh.get(int(qa["source_pmid"])),
            qa["agent"],
            {"question": qa["model"], "answer": qa.get("answer_model")},
            qa["prompt_version"],
            [qa.get("question_call_id"), qa.get("answer_call_id")],
            _candidate_scores(qa),
            candidate_id=qa["candidate_id"],
            question_descriptors=list(qa.get("question_descriptors") or []),
            cited_pmids=list(qa.get("cited_pmids") or []),
            missing_context_pmids=_missing(pmids, contexts),
        )
        record_id = f"sft:{qa['category']}:{qa['candidate_id']}"
        rows.append(
            _row(
                qa["category"],
                record_id,
                "sft",
                qa["source_pmid"],
                pmids,
                qa["question"],
                record,
                prov,
            )
        )
    return _frame(rows)


def build_pretrain_records(
    evaluated: pl.DataFrame, citations: Citations, mesh: Mesh | None = None
) -> pl.DataFrame:
    """One pre-training line per preferred candidate (one per source and category)."""
    mesh = mesh or {}
    rows = []
    for qa in evaluated.filter(pl.col("is_preferred")).iter_rows(named=True):
        source = citations.get(int(qa["source_pmid"]))
        if source is None or not source.get("abstract"):
            continue  # nothing to read: the source was deleted after evaluation
        pmids = list(qa["context_pmids"])
        contexts = context_entries(pmids, citations)
        text = pretrain_text(source.get("title"), source["abstract"], contexts, qa["question"])
        prov = provenance(
            qa["source_pmid"],
            pmids,
            mesh.get(int(qa["source_pmid"])),
            qa["agent"],
            qa["model"],
            qa["prompt_version"],
            [qa.get("question_call_id")],
            _candidate_scores(qa),
            candidate_id=qa["candidate_id"],
        )
        record_id = f"pretrain:{qa['category']}:{qa['candidate_id']}"
        rows.append(
            _row(
                qa["category"],
                record_id,
                "pretrain",
                qa["source_pmid"],
                pmids,
                qa["question"],
                {"text": text},
                prov,
            )
        )
    return _frame(rows)


def _pairs_with_candidates(pairs: pl.DataFrame, evaluated: pl.DataFrame) -> pl.DataFrame:
    candidate_columns = [
        "candidate_id", "question", "context_pmids", "agent", "model", "prompt_version",
        "question_call_id", "mesh_score",
    ]  # fmt: skip
    candidates = evaluated.select("category", *candidate_columns)
    chosen = candidates.rename({c: f"chosen_{c}" for c in candidate_columns})
    rejected = candidates.rename({c: f"rejected_{c}" for c in candidate_columns})
    return pairs.join(
        chosen, left_on=["category", "chosen_id"], right_on=["category", "chosen_candidate_id"]
    ).join(
        rejected,
        left_on=["category", "rejected_id"],
        right_on=["category", "rejected_candidate_id"],
    )


def _pair_provenance(pair: Mapping[str, Any], mesh: Mesh, extra_calls: list[str | None]) -> dict:
    return provenance(
        pair["source_pmid"],
        list(pair["chosen_context_pmids"]),
        mesh.get(int(pair["source_pmid"])),
        [pair["chosen_agent"], pair["rejected_agent"]],
        [pair["chosen_model"], pair["rejected_model"]],
        [pair["chosen_prompt_version"], pair["rejected_prompt_version"]],
        [pair["chosen_question_call_id"], pair["rejected_question_call_id"], *extra_calls],
        {
            "chosen_score": pair.get("chosen_score"),
            "rejected_score": pair.get("rejected_score"),
            "margin": pair.get("margin"),
            "judge_consistent": pair.get("judge_consistent"),
        },
        chosen_id=pair["chosen_id"],
        rejected_id=pair["rejected_id"],
        rejected_context_pmids=[int(p) for p in pair["rejected_context_pmids"]],
        label_source=pair["label_source"],
    )


def build_dpo_records(
    pairs: pl.DataFrame,
    evaluated: pl.DataFrame,
    citations: Citations,
    mesh: Mesh | None = None,
    prompt_for: Callable[[Mapping[str, Any], Mapping[str, Any]], str] | None = None,
) -> pl.DataFrame:
    """DPO rows for the question generator from preference_pairs (+ evaluated_qa candidates).

    `prompt_for(pair, source)` renders the generator's prompt for a pair (pair fields include
    chosen_agent and chosen_prompt_version; source is {title, abstract}); by default
    `generator_prompt` with the source abstract.
    """
    mesh = mesh or {}
    rows = []
    for pair in _pairs_with_candidates(pairs, evaluated).iter_rows(named=True):
        source = citations.get(int(pair["source_pmid"]))
        if source is None or not source.get("abstract"):
            continue
        prompt = (
            prompt_for(pair, source)
            if prompt_for
            else generator_prompt(source.get("title"), source["abstract"])
        )
        record = dpo_record(
            prompt,
            pair["chosen_question"],
            pair["rejected_question"],
            pair.get("margin"),
            pair["label_source"],
            list(pair["chosen_context_pmids"]),
            list(pair["rejected_context_pmids"]),
        )
        prov = _pair_provenance(pair, mesh, list(pair.get("judge_call_ids") or []))
        record_id = f"dpo:{pair['category']}:{pair['chosen_id']}>{pair['rejected_id']}"
        rows.append(
            _row(
                pair["category"],
                record_id,
                "dpo",
                pair["source_pmid"],
                list(pair["chosen_context_pmids"]),
                pair["chosen_question"],
                record,
                prov,
            )
        )
    return _frame(rows)


def build_evaluator_records(
    pairs: pl.DataFrame,
    evaluated: pl.DataFrame,
    citations: Citations,
    mesh: Mesh | None = None,
) -> pl.DataFrame:
    """Evaluator (pairwise) rows from the cold-start labels: the MeSH-preferred candidate is
    chosen whatever the judge said, so the evaluator learns the cold-start signal (step 5a)."""
    mesh = mesh or {}
    labelled = pairs.filter(pl.col("cold_start_label").is_not_null())
    # Orient every pair by the cold-start label.
    flipped = labelled.filter(pl.col("cold_start_label") == pl.col("rejected_id")).with_columns(
        pl.col("rejected_id").alias("chosen_id"),
        pl.col("chosen_id").alias("rejected_id"),
        pl.col("rejected_score").alias("chosen_score"),
        pl.col("chosen_score").alias("rejected_score"),
    )
    oriented = pl.concat(
        [labelled.filter(pl.col("cold_start_label") == pl.col("chosen_id")), flipped]
    ).with_columns(pl.lit("cold_start").alias("label_source"))
    rows = []
    for pair in _pairs_with_candidates(oriented, evaluated).iter_rows(named=True):
        source = citations.get(int(pair["source_pmid"]))
        if source is None or not source.get("abstract"):
            continue
        chosen_contexts = context_entries(pair["chosen_context_pmids"], citations)
        rejected_contexts = context_entries(pair["rejected_context_pmids"], citations)
        record = evaluator_record(
            source.get("title"),
            source["abstract"],
            (pair["chosen_question"], chosen_contexts),
            (pair["rejected_question"], rejected_contexts),
            pair.get("margin"),
        )
        prov = _pair_provenance(pair, mesh, [])
        record_id = f"evaluator:{pair['category']}:{pair['chosen_id']}>{pair['rejected_id']}"
        rows.append(
            _row(
                pair["category"],
                record_id,
                "evaluator",
                pair["source_pmid"],
                list(pair["chosen_context_pmids"]),
                pair["chosen_question"],
                record,
                prov,
            )
        )
    return _frame(rows)
