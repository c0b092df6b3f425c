"""GX validations served by one warm process per machine and user, so that run processes need
not import GX.

Importing GX costs a run process 2.5-3 CPU-seconds, a quarter of all the CPU an LLM category run
spends; a validation costs under 0.1. With many category runs on a few cores, that import is
paid as many times as there are runs, and it is what keeps runs side by side from finishing in
the time of one. Here GX is imported once, by a service process that forks a child per request:
the child validates the frame with an ephemeral context exactly as a run process would
(`gx_validation.validate_in_process`) and answers; the service stays as it was after the import.

- **Where.** A Unix socket in a directory only the user can enter (`<temp dir>/mkailin-gx-<uid>`),
  named by a digest of the Python executable, GX's version and the sources of the modules that
  validate: runs of another code version or virtual environment start a service of their own.
  Requests and answers are pickles; only processes of the same user can connect.
- **Started by whoever needs it.** A run that finds no service starts one (a detached process:
  its own session, no inherited descriptors) and waits for it; the service takes an exclusive
  lock before it imports anything, so runs that start one at the same moment leave exactly one.
- **Stopped when idle** (`MKAILIN_GX_SERVICE_IDLE_S`, 300 s), or by SIGTERM.
- **Never in the way.** A run that cannot reach a service in time, whose service dies mid-request
  or fails on a frame validates in its own process instead (`MKAILIN_GX_SERVICE=off`: always),
  so a check's verdict never depends on the service; the fallback is logged.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import gc
import hashlib
import logging
import os
import pickle
import re
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from mkailin_assets.file_locks import lock_state

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("!Q")
START_WAIT_S = 90.0  # a service's start is GX's import: seconds, longer on a loaded machine
ANSWER_WAIT_S = 600.0  # a validation of a large partition
_RESPAWN_AFTER_S = 10.0  # a started service that has not taken its lock by then is started again
_SOURCES = ("gx_validation.py", "gx_service.py", "deferred_modules.py")
_SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL", re.IGNORECASE)


# ---- where ----------------------------------------------------------------------------------
def service_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"mkailin-gx-{os.getuid()}"


@functools.cache
def code_key() -> str:
    """What a service's answers depend on: the interpreter, GX, the code that validates. Once
    per process: a run keeps talking to the service of the code it started with."""
    digest = hashlib.sha256(f"{sys.executable} {sys.version}".encode())
    for package in ("great_expectations", "pandas", "numpy"):  # frames travel as pickles
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{package} {metadata.version(package)}".encode())
    here = Path(__file__).parent
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()[:16]


def socket_path(key: str | None = None) -> Path:
    return service_dir() / f"{key or code_key()}.sock"


def _lock_path(sock: Path) -> Path:
    return sock.with_suffix(".lock")


def _private_dir(directory: Path) -> Path:
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.stat().st_uid != os.getuid() or directory.stat().st_mode & 0o077:
        raise PermissionError(f"{directory} must belong to this user alone (mode 700)")
    return directory


# ---- framing --------------------------------------------------------------------------------
def _send(conn: socket.socket, value: Any) -> None:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    conn.sendall(_LENGTH.pack(len(body)) + body)


def _receive(conn: socket.socket) -> Any:
    (length,) = _LENGTH.unpack(_read_exactly(conn, _LENGTH.size))
    return pickle.loads(_read_exactly(conn, length))  # noqa: S301 - same user only (mode 700)


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = conn.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the GX service closed the connection mid-answer")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---- the client (run processes) -------------------------------------------------------------
def service_alive(sock: Path) -> bool:
    """Whether a service holds the lock of `sock` (starting, or serving)."""
    return lock_state(_lock_path(sock)) == "held"


def start_service(sock: Path, idle_s: float) -> subprocess.Popen:
    _private_dir(sock.parent)
    command = [
        sys.executable, "-m", "mkailin_assets.checks.gx_service",
        "--socket", str(sock), "--idle-exit-s", str(idle_s),
    ]  # fmt: skip
    log_file = open(sock.with_suffix(".log"), "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,  # outlives the run; a Ctrl-C of the run is not its
            close_fds=True,
            env={**_without_secrets(os.environ), "GX_ANALYTICS_ENABLED": "false"},
        )
    finally:
        log_file.close()


def _without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The run's environment less its keys and passwords: the service outlives the run and
    needs none of them."""
    return {name: value for name, value in environ.items() if not _SECRET_NAME.search(name)}


def connect(sock: Path, idle_s: float, wait_s: float = START_WAIT_S) -> socket.socket | None:
    """A connection to the service of `sock`, starting it if none runs; None if none answers
    within `wait_s` or the one started here exits."""
    deadline = time.monotonic() + wait_s
    started: subprocess.Popen | None = None
    started_at = 0.0
    pause = 0.02
    while True:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(str(sock))
            return conn
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
        now = time.monotonic()
        if now >= deadline:
            return None
        if started is not None and started.poll() not in (None, 0):
            return None  # it failed to start (its log says why): validate here
        if not service_alive(sock) and (started is None or now - started_at > _RESPAWN_AFTER_S):
            started, started_at = start_service(sock, idle_s), now
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def validate(
    suite_name: str, frame: Any, expectations: Any, idle_s: float, wait_s: float = START_WAIT_S
) -> dict[str, Any] | None:
    """GX's describe_dict for `frame` from the service; None when the service cannot answer
    (the caller validates in its own process)."""
    sock = socket_path()
    try:
        conn = connect(sock, idle_s, wait_s)
    except OSError as error:
        log.warning(f"GX service at {sock} unavailable ({error}); validating in this process")
        return None
    if conn is None:
        log.warning(f"GX service at {sock} did not answer in {wait_s:.0f} s; validating here")
        return None
    with conn:
        conn.settimeout(ANSWER_WAIT_S)
        try:
            _send(conn, (suite_name, frame, list(expectations)))
            status, value = _receive(conn)
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            log.warning(f"GX service at {sock} failed mid-request ({error}); validating here")
            return None
    if status != "ok":
        log.warning(f"GX service could not validate {suite_name!r}: {value}; validating here")
        return None
    return value


def ensure_running(idle_s: float) -> bool:
    """Start the service if none runs and wait until it answers (run beside the model calls,
    so that the checks find it warm)."""
    sock = socket_path()
    if sock.exists() and service_alive(sock):
        return True  # serving: the socket is made after GX's import, the lock is held
    conn = connect(sock, idle_s)
    if conn is None:
        return False
    conn.close()
    return True


def stop(sock: Path | None = None, wait_s: float = 10.0) -> bool:
    """SIGTERM the service of `sock` (this code version's by default); True if one was stopped."""
    sock = sock or socket_path()
    try:
        pid = int(_lock_path(sock).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return False
    if not pid or not service_alive(sock):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while service_alive(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not service_alive(sock)


# ---- the service ----------------------------------------------------------------------------
class _ValidationHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:  # in a child forked for this request
        from mkailin_assets.checks.gx_validation import validate_in_process

        # The child lives for one validation: a collection would only touch (and so copy) the
        # service's pages.
        gc.disable()
        try:
            suite_name, frame, expectations = _receive(self.request)
        except (OSError, EOFError, pickle.UnpicklingError):
            return
        try:
            answer = ("ok", validate_in_process(suite_name, frame, expectations))
        except Exception as error:  # noqa: BLE001 - reported; the run validates itself
            answer = ("error", f"{type(error).__name__}: {error}")
        with contextlib.suppress(OSError):
            _send(self.request, answer)


class _Server(socketserver.ForkingMixIn, socketserver.UnixStreamServer):
    requests_started = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.requests_started += 1
        super().process_request(request, client_address)


def serve(sock: Path, idle_exit_s: float) -> int:
    """Take the lock (or leave: another service has it), import GX, serve until idle."""
    _private_dir(sock.parent)
    lock = os.open(_lock_path(sock), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # started by another run at the same moment: that one serves
    os.ftruncate(lock, 0)
    os.write(lock, str(os.getpid()).encode())

    from mkailin_assets.checks.gx_validation import warm_up_gx

    warm_up_gx()  # before the socket exists: a client that connects is answered at once
    gc.freeze()  # what the children share is never walked by their collector (copy on write)
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()  # a dead service's
    server = _Server(str(sock), _ValidationHandler)
    os.chmod(sock, 0o600)
    server.timeout = 1.0
    # SIGTERM ends the loop within a second; the requests being served finish (their children
    # are waited for by server_close).
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    last_request = time.monotonic()
    try:
        while not stopping:
            seen = server.requests_started
            server.handle_request()
            server.collect_children()
            now = time.monotonic()
            if server.requests_started != seen or server.active_children:
                last_request = now
            elif now - last_request >= idle_exit_s:
                break
        return 0
    finally:
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve GX validations to run processes.")
    parser.add_argument("--socket", type=Path, default=None)
    parser.add_argument("--idle-exit-s", type=float, default=300.0)
    parser.add_argument("--stop", action="store_true", help="stop the running service and exit")
    args = parser.parse_args(argv)
    sock = args.socket or socket_path()
    if args.stop:
        print(f"GX service at {sock}: {'stopped' if stop(sock) else 'not running'}")
        return 0
    return serve(sock, args.idle_exit_s)


if __name__ == "__main__":
    sys.exit(main())
