"""The contract between agents and the LLM client.

An agent builds `LLMRequest`s (messages for a real model, plus the structured `inputs` the
offline backend reads, see llm/offline.py) and gets back one `LLMResult` per request, in the same order. Every
request, whatever the backend, is cached in `llm_calls` under `LLMResult.call_id`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

OFFLINE_MODEL = "offline-extractive"


@dataclass(frozen=True)
class LLMRequest:
    role: str  # agent role: question:<agent>, judge, answer, embeddings
    item_id: str  # what the caller calls this item (for per-item failures and logs)
    messages: list[dict[str, str]]
    response_model: type[BaseModel] | None  # JSON schema sent as response_format and validated
    prompt_version: str
    # Structured inputs: what the offline backend's role implementation reads, and what the
    # agents check results against.
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class LLMResult:
    item_id: str
    call_id: str  # cache key in llm_calls
    model: str
    ok: bool
    parsed: BaseModel | None = None
    content: str | None = None  # raw text as returned (kept on failures too)
    error: str | None = None
    cached: bool = False
    # The model answered but the answer was rejected for good (invalid after its retries, cut at
    # max_tokens twice): `content` is the model's final word, not a transport failure.
    rejected: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class PreparedCall:
    """A request turned into what is sent and what it is cached under.

    The client prepares it; the paths that answer it (a backend, the Batch API) read it."""

    key: str
    kind: str  # chat | embeddings
    role: str
    item_id: str
    model: str
    prompt_version: str
    body: dict[str, Any]  # the API request body (never holds a secret)
    response_model: type[BaseModel] | None = None
    request: LLMRequest | None = None
