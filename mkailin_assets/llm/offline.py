"""The offline backend: no model, deterministic, marked with its own model names.

Each agent registers what its role does offline (`register_offline("question", fn)`: questions
from titles and stated objectives, answers from conclusion sentences, ...); the backend runs the
implementation registered for the request's role (exact role first, then the part before ':') on
the request's structured inputs, and the result is validated against the response model exactly
like a model's output. Embeddings are hashed bag-of-words vectors.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from mkailin_assets.llm.types import LLMRequest

EMBEDDING_DIMS = 256
_TOKEN = re.compile(r"\w+", re.UNICODE)

OfflineRole = Callable[[dict[str, Any]], dict[str, Any]]
_ROLES: dict[str, OfflineRole] = {}


class OfflineError(ValueError):
    pass


def register_offline(role: str, implementation: OfflineRole) -> OfflineRole:
    """Declare a role's offline implementation (inputs -> dict valid for its response model)."""
    _ROLES[role] = implementation
    return implementation


def offline_implementation(role: str) -> OfflineRole | None:
    return _ROLES.get(role) or _ROLES.get(role.split(":", 1)[0])


def offline_output(request: LLMRequest) -> dict[str, Any]:
    """What the role's offline implementation makes of the request's inputs."""
    implementation = offline_implementation(request.role)
    if implementation is None:
        raise OfflineError(
            f"item {request.item_id!r} role {request.role!r}: no offline implementation"
            " registered for this role and the backend is offline"
        )
    return implementation(dict(request.inputs))


def offline_content(request: LLMRequest) -> tuple[str, BaseModel | None]:
    """Run the role's offline implementation; returns (JSON text, validated model or None)."""
    output = offline_output(request)
    content = json.dumps(output, ensure_ascii=False, sort_keys=True)
    if request.response_model is None:
        return content, None
    try:
        return content, request.response_model.model_validate(output)
    except ValidationError as error:
        raise OfflineError(
            f"item {request.item_id!r} role {request.role!r}: offline output violates"
            f" {request.response_model.__name__}: {error.errors()[:3]}"
        ) from error


def hashed_embedding(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """Signed feature hashing of lower-cased word tokens, L2-normalised (cosine-ready)."""
    vector = [0.0] * dims
    for token in _TOKEN.findall(text.lower()):
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dims
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector
