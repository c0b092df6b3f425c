"""Parser worker processes for big PubMed files: chunks of whole records in, parsed batches out.

Extracting a citation holds the GIL (the compiled scanner builds Python objects, ~15 us per record;
the lxml fallback is Python, ~110 us), so threads cannot spread it over cores. Each worker is a fresh interpreter started as
`python -m mkailin_assets.ingest.parse_workers`: nothing is forked from a process that runs
DuckDB or Dagster threads, and the caller's `__main__` is never re-imported (multiprocessing's
spawn would do both wrong in a notebook or a script read from stdin). A worker reads frames from
stdin and answers each with one pickled `ParsedBatch` (Arrow tables inside) or the exception.
When the caller dies, the worker reads EOF (or a broken pipe) and exits.

Frame in:  8-byte little-endian header (chunk index, first line), 8-byte length, the chunk;
           the file name travels once, as the first frame's chunk.
Frame out: 1 status byte (0 ok, 1 error), 8-byte length, a pickle.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.abc
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import traceback
from concurrent.futures import Future
from typing import IO, Any

_HEADER = struct.Struct("<iiq")  # index, first line, payload length
_ANSWER = struct.Struct("<bq")  # status, payload length
_OK, _ERROR = 0, 1


class WorkerCrashed(RuntimeError):
    """A parser process exited or broke its pipe without answering."""


# ---- the worker side -------------------------------------------------------------------------
def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    if len(data) < size:
        return None  # EOF: the caller closed our stdin or died
    return data


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes `import pandas` fail fast in a parser process (pyarrow then skips its pandas hooks)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"{name} is not loaded in parser processes", name=name)
        return None


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Answer frames until EOF."""
    # pyarrow's first pa.array() looks for pandas (to recognise its arrays) and imports it:
    # 0.2 s per worker on the way to the first batch. A worker never sees pandas objects.
    sys.meta_path.insert(0, _WithoutPandas())
    from mkailin_assets.ingest.pubmed_chunks import parse_chunk

    # A worker's objects live for one chunk; the cyclic collector only re-walks them (~20% of
    # the parse time) and finds nothing, so it stays off.
    gc.disable()
    header = _read_exact(stdin, _HEADER.size)
    if header is None:
        return
    name = (_read_exact(stdin, _HEADER.unpack(header)[2]) or b"").decode()
    while (header := _read_exact(stdin, _HEADER.size)) is not None:
        index, first_line, length = _HEADER.unpack(header)
        chunk = _read_exact(stdin, length)
        if chunk is None:
            return
        try:
            status, payload = _OK, parse_chunk(chunk, first_line, index, name)
        except Exception as error:  # sent back and raised by the caller, with its type
            error.add_note(f"in parser process {os.getpid()}:\n{traceback.format_exc()}")
            status, payload = _ERROR, error
        try:
            data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that cannot travel still reaches the caller as text
            failure = RuntimeError(f"parser process {os.getpid()}: {payload!r}")
            status, data = _ERROR, pickle.dumps(failure)
        stdout.write(_ANSWER.pack(status, len(data)))
        stdout.write(data)
        stdout.flush()


# ---- the caller side -------------------------------------------------------------------------
class ParserProcessPool:
    """`workers` parser processes behind a `submit(chunk, first_line, index) -> Future` API.

    One feeder thread per process sends a job and waits for its answer (pipe I/O releases the
    GIL); the jobs queue is shared, so a free process takes the next chunk."""

    def __init__(self, workers: int, file_name: str) -> None:
        self._jobs: queue.Queue[tuple[bytes, int, int, Future[Any]] | None] = queue.Queue()
        self._processes = [_start_worker() for _ in range(workers)]
        self._threads = []
        for number, process in enumerate(self._processes):
            _send(process, 0, 0, file_name.encode())
            thread = threading.Thread(
                target=self._feed, args=(process,), name=f"pubmed-parse-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, chunk: bytes, first_line: int, index: int) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((chunk, first_line, index, future))
        return future

    def _feed(self, process: subprocess.Popen[bytes]) -> None:
        while (job := self._jobs.get()) is not None:
            chunk, first_line, index, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                _send(process, index, first_line, chunk)
                status, payload = _receive(process)
            except Exception as error:  # a broken pipe, a dead process, an unreadable answer
                future.set_exception(WorkerCrashed(f"parser process failed: {error!r}"))
                continue
            if status == _OK:
                future.set_result(payload)
            else:
                future.set_exception(payload)

    def close(self, *, kill: bool = False) -> None:
        """Stop the processes: EOF on stdin (or SIGKILL) and reap them."""
        for _ in self._threads:
            self._jobs.put(None)
        for process in self._processes:
            if kill:
                process.kill()
            with contextlib.suppress(OSError):
                process.stdin.close()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> ParserProcessPool:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.close(kill=exc_type is not None)


def _start_worker() -> subprocess.Popen[bytes]:
    # The worker must import this package whether it was installed or put on sys.path by hand.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(
        [sys.executable, "-m", __name__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        close_fds=True,
    )


def _send(process: subprocess.Popen[bytes], index: int, first_line: int, data: bytes) -> None:
    process.stdin.write(_HEADER.pack(index, first_line, len(data)))
    process.stdin.write(data)
    process.stdin.flush()


def _receive(process: subprocess.Popen[bytes]) -> tuple[int, Any]:
    header = _read_exact(process.stdout, _ANSWER.size)
    if header is None:
        raise WorkerCrashed(f"pid {process.pid} exited with {process.poll()}")
    status, length = _ANSWER.unpack(header)
    data = _read_exact(process.stdout, length)
    if data is None:
        raise WorkerCrashed(f"pid {process.pid} exited mid-answer with {process.poll()}")
    return status, pickle.loads(data)


if __name__ == "__main__":
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the answer stream
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the caller went away
        serve(sys.stdin.buffer, answers)
