"""What each evaluation setting asks a model, and which benchmark it belongs to.

- reasoning_required (PubMedQA): question + the abstract's own contexts, without its conclusion.
- retrieved (PubMedQA*, MIRAGE): question + the top-k abstracts our retrieval finds in the
  ingested corpus, the question's own PMID excluded.
- no_context (PubMedQA*): the question alone.
Plain text is asked for (no response_format), so any endpoint answers; parsing.py reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

PROMPT_VERSION = "pubmedqa-eval-v1"
ROLE = "benchmark"

REASONING_REQUIRED = "reasoning_required"
RETRIEVED = "retrieved"
NO_CONTEXT = "no_context"
SETTINGS = (REASONING_REQUIRED, RETRIEVED, NO_CONTEXT)
BENCHMARK_OF = {
    REASONING_REQUIRED: "pubmedqa",
    RETRIEVED: "pubmedqa_star",
    NO_CONTEXT: "pubmedqa_star",
}

SYSTEM = (
    "You are a biomedical expert answering research questions. Answer each question with yes, "
    "no or maybe. Reason briefly, then end with one line: 'Answer: yes', 'Answer: no' or "
    "'Answer: maybe'."
)


def user_message(question: str, contexts: Sequence[str], setting: str) -> str:
    if setting == NO_CONTEXT:
        return f"Question: {question}\n\nAnswer from your own knowledge."
    if not contexts:
        body = "(no relevant context was found)"
    else:
        body = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(contexts, start=1))
    return f"Context:\n{body}\n\nQuestion: {question}"


def messages(question: str, contexts: Sequence[str], setting: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user_message(question, contexts, setting)},
    ]
