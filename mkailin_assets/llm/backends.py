"""Backends: where a prepared request is answered. One class per backend, chosen by
MKAILIN_LLM_BACKEND (`make_backend`), as distilabel and Curator do with their LLM classes.

    class Backend(Protocol):
        name: str
        def model_for(role) -> str                  # the model name requests and records carry
        def key_extra(request) -> dict | None       # what besides the request changes the answer
        async def complete(client, calls) -> dict[str, CallRecord]   # keyed by cache key
        def close() -> None

The client does everything around it (cache lookups, budget, accounting, durable writes);
`complete` answers only what the cache did not.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from mkailin_assets.llm.cache import CallRecord
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.llm.offline import OfflineError, hashed_embedding, offline_content
from mkailin_assets.llm.structured import endpoint_id
from mkailin_assets.llm.types import LLMRequest, PreparedCall


class LLMClient(Protocol):
    """What a backend uses of the client (llm/client.py), so backends never import it."""

    def new_record(self, call: PreparedCall, via: str) -> CallRecord: ...

    def record_failure(self, message: str) -> None: ...

    def record_offline(self, model: str) -> None: ...

    def write_records(self, records: list[CallRecord]) -> None: ...

    async def send_http(self, calls: list[PreparedCall], backend: Any) -> dict[str, CallRecord]: ...


class Backend(Protocol):
    name: str

    def model_for(self, role: str) -> str: ...

    def key_extra(self, request: LLMRequest) -> dict[str, Any] | None: ...

    async def complete(
        self, client: LLMClient, calls: list[PreparedCall]
    ) -> dict[str, CallRecord]: ...

    def close(self) -> None: ...


class OfflineBackend:
    """Deterministic role implementations registered by the agents (llm/offline.py)."""

    name = "offline"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    def model_for(self, role: str) -> str:
        return self.config.model_for(role)

    def key_extra(self, request: LLMRequest) -> dict[str, Any] | None:
        return {"inputs": request.inputs}  # offline output is a function of the inputs

    async def complete(self, client: LLMClient, calls: list[PreparedCall]) -> dict[str, CallRecord]:
        records = {}
        for call in calls:
            record = client.new_record(call, via="offline")
            record.attempts = 1
            try:
                if call.kind == "embeddings":
                    record.embedding = hashed_embedding(call.body["input"])
                else:
                    content, parsed = offline_content(call.request)
                    record.response_content = content
                    record.response_json = None if parsed is None else json.loads(content)
                    record.finish_reason = "stop"
                record.status = "ok"
            except OfflineError as error:
                record.error = str(error)
                client.record_failure(str(error))
            client.record_offline(call.model)
            records[call.key] = record
        client.write_records(list(records.values()))
        return records

    def close(self) -> None:
        pass


class OpenAIBackend:
    """Any OpenAI-compatible HTTP server (OpenAI, vLLM, llama-server, Ollama, LM Studio, TGI)."""

    name = "openai"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    def model_for(self, role: str) -> str:
        return self.config.model_for(role)

    def key_extra(self, request: LLMRequest) -> dict[str, Any] | None:
        return None

    def base_url(self) -> str | None:
        return self.config.base_url

    def endpoint(self) -> str:
        """Where probed structured-output modes are recorded (never a secret)."""
        return endpoint_id(self.config.base_url)

    def max_concurrency(self) -> int:
        return self.config.max_concurrency

    async def complete(self, client: LLMClient, calls: list[PreparedCall]) -> dict[str, CallRecord]:
        return await client.send_http(calls, self)

    def close(self) -> None:
        pass


class LocalBackend(OpenAIBackend):
    """A GGUF model served by llama-cpp-python on this machine, started on first use."""

    name = "local"

    def __init__(self, config: LLMConfig) -> None:
        super().__init__(config)
        from mkailin_assets.llm.local_server import model_path

        self._path = model_path(config.local)  # fails at once when there is no model

    def model_for(self, role: str) -> str:
        return self._path.stem

    def base_url(self) -> str | None:
        from mkailin_assets.llm.local_server import shared_server

        return shared_server(self.config.local).url

    def endpoint(self) -> str:
        return f"local:{self._path.name}"  # the port changes per run, the model does not

    def max_concurrency(self) -> int:
        return 1  # the server answers one request at a time; more would only queue and time out


BACKENDS: dict[str, type[OfflineBackend] | type[OpenAIBackend]] = {
    "offline": OfflineBackend,
    "openai": OpenAIBackend,
    "local": LocalBackend,
}


def make_backend(config: LLMConfig) -> Backend:
    return BACKENDS[config.backend](config)
