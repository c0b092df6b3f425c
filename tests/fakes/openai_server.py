"""A local, scriptable OpenAI-compatible server for tests and benchmarks (127.0.0.1 only).

Use it as a context manager (or through the `fake_openai` fixture below)::

    from tests.fakes.openai_server import FakeOpenAIServer, Fault

    with FakeOpenAIServer(latency_s=0.01, seed=1) as server:
        client = openai.OpenAI(base_url=server.url, api_key="sk-test")   # server.url ends in /v1
        server.add_fault(Fault("429", probability=0.1, retry_after="0"))
        server.add_fault(Fault("500", when=lambda body, attempt: attempt == 1))
        ...
        server.stats.total, server.stats.by_path["/v1/chat/completions"], server.stats.max_in_flight

Endpoints: POST /v1/chat/completions, POST /v1/embeddings, POST /v1/files (multipart upload),
GET /v1/files/{id}/content, POST /v1/batches, GET /v1/batches/{id}, and GET /_fake/stats (the
counters as JSON, for a server run in another process: `python -m tests.fakes.openai_server
--port 0 --latency 0.1 --rate-429 0.1` prints its URL on the first line of stdout).

Constructor arguments:
- latency_s, latency_jitter_s: every chat/embeddings answer waits latency_s + U(0, jitter).
- seed: seeds the RNG used for jitter and probabilistic faults.
- responder(request_json) -> str: the assistant content for a chat request. Default: a valid JSON
  object for the requested json_schema (strings, numbers, integers, booleans, arrays, enums,
  nested objects and $refs), or "ok" when no schema was requested.
- hang_s: how long a "hang" fault sleeps (make it longer than the client's timeout).
- structured: what the server does with `response_format`. "json_schema" (default; OpenAI,
  vLLM, llama-server: both json_schema and json_object with a schema are honoured);
  "json_object" (llama-cpp-python: json_schema is answered with HTTP 500 "Input should be 'text'
  or 'json_object'", json_object with a schema is honoured); "ignore" (the format is dropped
  before the responder sees the request: only a schema written in the prompt after "JSON
  schema:" can shape the answer, as a model following its prompt would).
- batch_status: the status a batch reports once retrieved ("completed" by default; "expired" to
  test resubmission; "in_progress" keeps it running until the status is changed; lines whose
  faults apply go to the batch's error file).

Faults (`Fault(kind, probability=0.0, when=None, retry_after=None, paths=(chat path,))`), checked
in the order added; the first that applies wins. `kind` is one of: "429" (with Retry-After when
retry_after is set: seconds or an HTTP date), "500", "503", "401" (echoes the key in its
message, as OpenAI does), "hang", "malformed" (content that is
not JSON), "schema" (JSON that violates the schema), "length" (truncated, finish_reason
"length"). A fault applies when `when(request_json, attempt)` is true (attempt = 1 for the first
time this exact request body was seen) or, without `when`, with `probability`.

Counters (`server.stats`): total, by_path (Counter), by_hash (Counter of request-body sha256),
in_flight, max_in_flight, auth_headers (every Authorization header seen, so a test can prove the
key reached the server), faults (Counter by kind). `server.reset_stats()` zeroes them.
"""

from __future__ import annotations

import argparse
import asyncio
import email.parser
import email.policy
import hashlib
import json
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"


@dataclass
class Fault:
    kind: str  # 429 | 500 | 503 | hang | malformed | schema | length
    probability: float = 0.0
    when: Callable[[dict[str, Any], int], bool] | None = None
    retry_after: str | None = None
    paths: tuple[str, ...] = (CHAT_PATH,)


@dataclass
class Stats:
    total: int = 0
    by_path: Counter = field(default_factory=Counter)
    by_hash: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    auth_headers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_path": dict(self.by_path),
            "faults": dict(self.faults),
            "max_in_flight": self.max_in_flight,
            "distinct_requests": len(self.by_hash),
        }


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


# ---- content built from a JSON schema --------------------------------------------------------
def example_for_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    root = root or schema
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return example_for_schema(node, root)
    if schema.get("type") == "string" and ("pattern" in schema or "minLength" in schema):
        return _string_for(schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"] or [{}]
            return example_for_schema(options[0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        return {
            name: example_for_schema(sub, root)
            for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [example_for_schema(schema.get("items", {}), root) for _ in range(count)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 0.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example text"


def _string_for(schema: dict[str, Any]) -> str:
    """A string that meets the schema's pattern and length (the shapes our schemas use)."""
    pattern = schema.get("pattern")
    for candidate in ("D000001", "What does this example describe in full?", "example text"):
        if pattern is not None and not re.search(pattern, candidate):
            continue
        if len(candidate) >= schema.get("minLength", 0):
            return candidate
    return "x" * schema.get("minLength", 1)


def prompt_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema written into the latest user message that has one after "JSON schema:"
    (a repair turn refers back to it), if any."""
    users = [m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user"]
    for content in reversed(users):
        if "JSON schema:" in content:
            return json.loads(content.rsplit("JSON schema:", 1)[1].strip())
    return None


def default_responder(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return json.dumps(example_for_schema(fmt["json_schema"]["schema"]))
    schema = fmt.get("schema") if fmt.get("type") == "json_object" else None
    schema = schema or prompt_schema(body)
    if schema is not None:
        return json.dumps(example_for_schema(schema))
    if fmt.get("type") == "json_object":
        return "{}"
    return "ok"


def _violating(body: dict[str, Any]) -> str:
    """JSON that parses but breaks the schema: every field has the wrong type."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    names = list(schema.get("properties", {})) or ["unexpected"]
    return json.dumps({name: {"wrong": ["type"]} for name in names})


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


# ---- the server ------------------------------------------------------------------------------
class FakeOpenAIServer:
    def __init__(
        self,
        latency_s: float = 0.0,
        latency_jitter_s: float = 0.0,
        seed: int = 0,
        responder: Callable[[dict[str, Any]], str] | None = None,
        hang_s: float = 30.0,
        batch_status: str = "completed",
        port: int = 0,
        structured: str = "json_schema",
        serial: bool = False,
    ) -> None:
        """`serial`: answer one request at a time, the others queueing (as llama-cpp-python's
        server, Ollama and llama-server with one slot do): latency then grows with the queue."""
        if structured not in ("json_schema", "json_object", "ignore"):
            raise ValueError(f"structured={structured!r}")
        self.structured = structured
        self.serial = serial
        self._serial_lock: asyncio.Lock | None = None
        self.latency_s = latency_s
        self.latency_jitter_s = latency_jitter_s
        self.responder = responder or default_responder
        self.hang_s = hang_s
        self.batch_status = batch_status
        self.faults: list[Fault] = []
        self.stats = Stats()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- scripting ----
    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset_stats(self) -> None:
        self.stats = Stats()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    # ---- lifecycle ----
    def start(self) -> FakeOpenAIServer:
        if self._port == 0:
            self._port = _free_port()
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self._port, log_level="warning",
            access_log=False, timeout_keep_alive=30, backlog=4096, lifespan="off",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the app ----
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(CHAT_PATH, self._chat, methods=["POST"]),
                Route(EMBEDDINGS_PATH, self._embeddings, methods=["POST"]),
                Route("/v1/files", self._upload, methods=["POST"]),
                Route("/v1/files/{file_id}/content", self._file_content, methods=["GET"]),
                Route("/v1/batches", self._create_batch, methods=["POST"]),
                Route("/v1/batches/{batch_id}", self._retrieve_batch, methods=["GET"]),
                Route("/_fake/stats", self._stats, methods=["GET"]),
            ]
        )

    def _enter(self, request: Request, body: Any) -> int:
        """Count the request; returns how many times this exact body has been seen."""
        with self._lock:
            stats = self.stats
            stats.total += 1
            stats.by_path[request.url.path] += 1
            auth = request.headers.get("authorization")
            if auth is not None:
                stats.auth_headers.append(auth)
            digest = body_hash(body) if isinstance(body, dict) else "-"
            stats.by_hash[digest] += 1
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            return stats.by_hash[digest]

    def _leave(self) -> None:
        with self._lock:
            self.stats.in_flight -= 1

    def _fault_for(self, path: str, body: dict[str, Any], attempt: int) -> Fault | None:
        for fault in self.faults:
            if path not in fault.paths:
                continue
            if fault.when is not None:
                if fault.when(body, attempt):
                    return fault
            elif fault.probability and self._random() < fault.probability:
                return fault
        return None

    def _random(self) -> float:
        with self._lock:
            return self._rng.random()

    async def _latency(self) -> None:
        delay = self.latency_s
        if self.latency_jitter_s:
            delay += self._random() * self.latency_jitter_s
        if self.serial:
            if self._serial_lock is None:
                self._serial_lock = asyncio.Lock()
            async with self._serial_lock:
                await asyncio.sleep(delay)
        elif delay:
            await asyncio.sleep(delay)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        attempt = self._enter(request, body)
        try:
            await self._latency()
            fmt_type = (body.get("response_format") or {}).get("type")
            if self.structured == "json_object" and fmt_type == "json_schema":
                with self._lock:
                    self.stats.faults["json_schema_refused"] += 1
                return JSONResponse(  # what llama-cpp-python 0.3.36 answers
                    {
                        "error": {
                            "message": "[{'type': 'literal_error', 'loc': ('body',"
                            " 'response_format', 'type'), 'msg': \"Input should be 'text' or"
                            " 'json_object'\", 'input': 'json_schema'}]",
                            "type": "internal_server_error",
                        }
                    },
                    status_code=500,
                )
            if self.structured == "ignore":
                body = {key: value for key, value in body.items() if key != "response_format"}
            fault = self._fault_for(CHAT_PATH, body, attempt)
            if fault is not None:
                with self._lock:
                    self.stats.faults[fault.kind] += 1
                auth = request.headers.get("authorization", "").removeprefix("Bearer ")
                early = await self._fault_response(fault, auth)
                if early is not None:
                    return early
            return JSONResponse(self.chat_completion(body, fault))
        finally:
            self._leave()

    async def _fault_response(self, fault: Fault, auth: str = "") -> Response | None:
        if fault.kind in ("429", "500", "503"):
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
            message = {"429": "rate limited", "500": "server error", "503": "overloaded"}
            return JSONResponse(
                {"error": {"message": message[fault.kind], "type": fault.kind, "code": None}},
                status_code=int(fault.kind),
                headers=headers,
            )
        if fault.kind == "401":
            # Like OpenAI, echo (part of) the key: the client must never repeat it.
            return JSONResponse(
                {
                    "error": {
                        "message": f"Incorrect API key provided: {auth}",
                        "code": "invalid_api_key",
                    }
                },
                status_code=401,
            )
        if fault.kind == "hang":
            await asyncio.sleep(self.hang_s)
            return PlainTextResponse("too late", status_code=504)
        return None

    def chat_completion(self, body: dict[str, Any], fault: Fault | None = None) -> dict[str, Any]:
        kind = fault.kind if fault is not None else None
        finish_reason = "stop"
        if kind == "malformed":
            content = '{"this is": not json'
        elif kind == "schema":
            content = _violating(body)
        elif kind == "length":
            content = self.responder(body)[: max(1, len(self.responder(body)) // 2)]
            finish_reason = "length"
        else:
            content = self.responder(body)
        prompt_tokens = _tokens(json.dumps(body.get("messages", [])))
        completion_tokens = _tokens(content)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        }

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        attempt = self._enter(request, body)
        try:
            await self._latency()
            fault = self._fault_for(EMBEDDINGS_PATH, body, attempt)
            if fault is not None:
                early = await self._fault_response(fault)
                if early is not None:
                    return early
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            dims = int(body.get("dimensions") or 8)
            data = [
                {"object": "embedding", "index": i, "embedding": _vector(text, dims)}
                for i, text in enumerate(inputs)
            ]
            tokens = sum(_tokens(str(text)) for text in inputs)
            return JSONResponse(
                {
                    "object": "list",
                    "data": data,
                    "model": body.get("model"),
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                }
            )
        finally:
            self._leave()

    async def _upload(self, request: Request) -> Response:
        raw = await request.body()
        self._enter(request, None)
        try:
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + raw
            )
            content, purpose = b"", "batch"
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name == "file":
                    content = part.get_payload(decode=True)
                elif name == "purpose":
                    purpose = part.get_payload(decode=True).decode()
            file_id = f"file-{uuid.uuid4().hex[:16]}"
            self.files[file_id] = content
            return JSONResponse(_file_object(file_id, len(content), purpose))
        finally:
            self._leave()

    async def _file_content(self, request: Request) -> Response:
        self._enter(request, None)
        try:
            file_id = request.path_params["file_id"]
            if file_id not in self.files:
                return JSONResponse({"error": {"message": "no such file"}}, status_code=404)
            return Response(self.files[file_id], media_type="application/octet-stream")
        finally:
            self._leave()

    async def _create_batch(self, request: Request) -> Response:
        body = await request.json()
        self._enter(request, body)
        try:
            batch_id = f"batch_{uuid.uuid4().hex[:16]}"
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "completion_window": body.get("completion_window", "24h"),
                "status": "in_progress",
                "created_at": int(time.time()),
                "output_file_id": None,
                "error_file_id": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            return JSONResponse(self.batches[batch_id])
        finally:
            self._leave()

    async def _retrieve_batch(self, request: Request) -> Response:
        self._enter(request, None)
        try:
            batch = self.batches.get(request.path_params["batch_id"])
            if batch is None:
                return JSONResponse({"error": {"message": "no such batch"}}, status_code=404)
            if batch["status"] == "in_progress" and self.batch_status != "in_progress":
                self._run_batch(batch)
            return JSONResponse(batch)
        finally:
            self._leave()

    def _run_batch(self, batch: dict[str, Any]) -> None:
        """Answer every line at once (on first retrieval), faults going to the error file."""
        lines = [
            json.loads(line) for line in self.files[batch["input_file_id"]].splitlines() if line
        ]
        outputs, errors = [], []
        if self.batch_status == "completed":
            for line in lines:
                with self._lock:
                    self.stats.by_hash[body_hash(line["body"])] += 1
                    attempt = self.stats.by_hash[body_hash(line["body"])]
                fault = self._fault_for(CHAT_PATH, line["body"], attempt)
                if fault is not None and fault.kind in ("429", "500", "503", "hang"):
                    errors.append(
                        {
                            "id": f"batch_req_{uuid.uuid4().hex[:8]}",
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {"code": "server_error", "message": f"fault {fault.kind}"},
                        }
                    )
                    continue
                outputs.append(
                    {
                        "id": f"batch_req_{uuid.uuid4().hex[:8]}",
                        "custom_id": line["custom_id"],
                        "response": {
                            "status_code": 200,
                            "request_id": uuid.uuid4().hex[:8],
                            "body": self.chat_completion(line["body"], fault),
                        },
                        "error": None,
                    }
                )
        for kind, records in (("output_file_id", outputs), ("error_file_id", errors)):
            if records:
                file_id = f"file-{uuid.uuid4().hex[:16]}"
                self.files[file_id] = "\n".join(json.dumps(r) for r in records).encode() + b"\n"
                batch[kind] = file_id
        batch["status"] = self.batch_status
        batch["request_counts"] = {
            "total": len(lines),
            "completed": len(outputs),
            "failed": len(errors),
        }

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.as_dict())


def _file_object(file_id: str, size: int, purpose: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": "input.jsonl",
        "purpose": purpose,
        "status": "processed",
    }


def _vector(text: str, dims: int) -> list[float]:
    digest = hashlib.sha256(str(text).encode()).digest()
    return [(digest[i % len(digest)] - 128) / 128 for i in range(dims)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A running fake server with no latency and no faults (script it in the test)."""
    with FakeOpenAIServer(seed=0) as server:
        yield server


def main() -> None:
    """Run the server in its own process (benchmarks): prints the base URL, then serves."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-429", type=float, default=0.0)
    parser.add_argument("--retry-after", default="0")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = FakeOpenAIServer(latency_s=args.latency, seed=args.seed, port=args.port)
    if args.rate_429:
        # The first attempt of a request gets 429 with that probability; retries succeed.
        rng = random.Random(args.seed)
        server.add_fault(
            Fault("429", retry_after=args.retry_after,
                  when=lambda body, attempt: attempt == 1 and rng.random() < args.rate_429)
        )  # fmt: skip
    server.start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
