"""Start `dagster dev` on loopback for a test, and stop it completely.

`dagster dev` runs a webserver, a daemon and code servers; started in the background it can
ignore SIGTERM and leave them behind (docs/stack-notes.md). So it gets a session (process group),
and stopping it signals the whole group: SIGTERM, then SIGKILL after a grace period, then a
check that nothing of it is left running or listening."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

DAGSTER = Path(sys.executable).parent / "dagster"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member exists but is not ours to signal
        return True
    return True


class DagsterDevServer:
    """`dagster dev -w workspace.yaml -h 127.0.0.1 -p PORT` as a context manager."""

    def __init__(self, cwd: Path, env: dict[str, str], log_path: Path, port: int | None = None):
        self.cwd = cwd
        self.env = env
        self.log_path = log_path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180.0) -> DagsterDevServer:
        command = [
            str(DAGSTER),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.wait_until_up(timeout_s)
        return self

    def wait_until_up(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"dagster dev exited early; see {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/server_info", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        self.stop()
        raise TimeoutError(f"dagster dev not up after {timeout_s:.0f}s:\n{self.log_tail()}")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30.0
        )
        response.raise_for_status()
        return response.json()["data"]

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the whole group, SIGKILL what is left, then make sure nothing remains."""
        if self.process is None:
            return
        pgid = self.process.pid  # the session leader's pid is the group id
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            if not group_alive(pgid):
                break
            os.killpg(pgid, sig)
            deadline = time.monotonic() + wait_s
            while group_alive(pgid) and time.monotonic() < deadline:
                self.process.poll()  # reap the leader so it does not linger as a zombie
                time.sleep(0.2)
        self.process.poll()
        self.process = None
        if group_alive(pgid):
            raise RuntimeError(f"processes of dagster dev (group {pgid}) survived SIGKILL")
        if is_listening(self.port):
            raise RuntimeError(f"something still listens on 127.0.0.1:{self.port}")

    def __enter__(self) -> DagsterDevServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
