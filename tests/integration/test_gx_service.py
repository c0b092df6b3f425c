"""The GX service (checks/gx_service.py): one warm GX process per machine and user validates the
checks' frames, so run processes never import GX; any trouble with it and the run validates in
its own process, with the same verdict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from mkailin_assets.checks import gx_runner, gx_service, gx_validation
from tests.conftest import REPO_ROOT
from tests.harness import python_json

FRAME = pd.DataFrame(
    {
        "pmid": [1, 2, 3, None],
        "category": ["C", "C", "D", "X"],
        "score": [0.1, 0.5, 0.9, 1.7],
        "question": ["Is it?", "Does it?", "", None],
    }
)
EXPECTATIONS = [
    ("ExpectColumnValuesToNotBeNull", {"column": "pmid"}),
    ("ExpectColumnValuesToBeInSet", {"column": "category", "value_set": ["C", "D"]}),
    ("ExpectColumnValuesToBeBetween", {"column": "score", "min_value": 0, "max_value": 1}),
    ("ExpectColumnValueLengthsToBeBetween", {"column": "question", "min_value": 1}),
    ("ExpectTableRowCountToBeBetween", {"min_value": 1, "max_value": 10}),
]


@pytest.fixture
def service_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary directory of this test's own for the service's socket (short: a Unix socket
    path has at most 107 bytes), for this process and the processes it starts."""
    directory = Path(tempfile.mkdtemp(prefix="gxs-", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    monkeypatch.setenv("MKAILIN_GX_SERVICE", "auto")
    monkeypatch.setattr(gx_runner, "_in_process_only", False)  # as in a run process
    yield directory
    gx_service.stop(gx_service.socket_path())
    subprocess.run(["rm", "-rf", str(directory)], check=False)


def comparable(described: dict) -> str:
    return json.dumps(described, sort_keys=True, default=str)


def service_pids(sock: Path) -> list[int]:
    """The live services of `sock` (not their request children, which share the command)."""
    parents: dict[int, int] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
            stat = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ours = b"mkailin_assets.checks.gx_service" in argv and str(sock).encode() in argv
        if ours and stat[0] != "Z":
            parents[int(cmdline.parent.name)] = int(stat[1])
    return [pid for pid, parent in parents.items() if parent not in parents]


CLIENT = """
    import json, sys
    import pandas as pd
    from mkailin_assets.checks import gx_runner
    frame = pd.DataFrame({"pmid": [1, 2, None]})
    described = gx_runner.validate_frame(
        "client", frame, [("ExpectColumnValuesToNotBeNull", {"column": "pmid"})]
    )
    print(json.dumps({
        "success": described["success"],
        "unexpected": described["expectations"][0]["result"]["unexpected_count"],
        "gx_imported_here": "great_expectations" in sys.modules,
    }))
"""


def test_the_service_answers_as_the_run_process_would(service_tmp: Path) -> None:
    through_service = gx_service.validate("suite", FRAME, EXPECTATIONS, idle_s=60)
    assert through_service is not None
    in_process = gx_runner.validate_in_process("suite", FRAME, EXPECTATIONS)
    assert comparable(through_service) == comparable(in_process)
    assert through_service["success"] is False
    outcomes = [e["success"] for e in through_service["expectations"]]
    assert outcomes.count(False) == 4 and len(outcomes) == 5


def test_a_run_process_validates_without_importing_gx(service_tmp: Path) -> None:
    env = {**os.environ, "TMPDIR": str(service_tmp), "MKAILIN_GX_SERVICE": "auto"}
    first = python_json(CLIENT, env)  # starts the service
    second = python_json(CLIENT, env)  # finds it warm
    expected = {"success": False, "unexpected": 1, "gx_imported_here": False}
    assert first == expected and second == expected
    assert len(service_pids(gx_service.socket_path())) == 1
    off = python_json(CLIENT, {**env, "MKAILIN_GX_SERVICE": "off"})
    assert off == {**expected, "gx_imported_here": True}


def test_runs_starting_the_service_at_once_leave_exactly_one(service_tmp: Path) -> None:
    code = """
        import json
        from mkailin_assets.checks import gx_service
        print(json.dumps({"up": gx_service.ensure_running(idle_s=60)}))
    """
    env = {**os.environ, "TMPDIR": str(service_tmp)}
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    answers = [json.loads(client.communicate(timeout=300)[0].strip()) for client in clients]
    assert answers == [{"up": True}] * 6
    time.sleep(0.5)  # the services that lost the lock race have left
    assert len(service_pids(gx_service.socket_path())) == 1


def test_a_killed_service_is_replaced_and_its_socket_reused(service_tmp: Path) -> None:
    assert gx_service.ensure_running(idle_s=60)
    sock = gx_service.socket_path()
    (pid,) = service_pids(sock)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while gx_service.service_alive(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists()  # left behind by the killed service
    described = gx_service.validate("again", FRAME, EXPECTATIONS, idle_s=60)
    assert described is not None and described["success"] is False
    (new_pid,) = service_pids(sock)
    assert new_pid != pid


def test_an_idle_service_exits_and_removes_its_socket(service_tmp: Path) -> None:
    assert gx_service.ensure_running(idle_s=1.0)
    sock = gx_service.socket_path()
    deadline = time.monotonic() + 30
    while service_pids(sock) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert service_pids(sock) == [] and not sock.exists()
    assert not gx_service.service_alive(sock)


def test_sigterm_stops_the_service(service_tmp: Path) -> None:
    assert gx_service.ensure_running(idle_s=60)
    assert gx_service.stop()
    assert service_pids(gx_service.socket_path()) == []
    assert not gx_service.stop()  # nothing left to stop


def test_a_service_that_cannot_start_leaves_the_run_validating_itself(
    service_tmp: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sock: Path, idle_s: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    monkeypatch.setattr(gx_service, "start_service", broken)
    monkeypatch.setattr(gx_validation, "_gx_imported", False)
    started = time.monotonic()
    described = gx_runner.validate_frame("fallback", FRAME, EXPECTATIONS)
    assert time.monotonic() - started < 60  # it does not wait the whole start timeout
    assert comparable(described) == comparable(
        gx_runner.validate_in_process("fallback", FRAME, EXPECTATIONS)
    )
    assert "validating here" in caplog.text


def test_a_request_the_service_cannot_validate_fails_in_the_run_as_without_it(
    service_tmp: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [("ExpectNoSuchThing", {"column": "pmid"})]
    assert gx_service.validate("bad", FRAME, bad, idle_s=60) is None
    assert "could not validate 'bad': AttributeError" in caplog.text
    monkeypatch.setattr(gx_validation, "_gx_imported", False)
    with pytest.raises(AttributeError, match="ExpectNoSuchThing"):
        gx_runner.validate_frame("bad", FRAME, bad)  # the run's own error, not the service's


def test_a_directory_others_can_enter_is_refused(service_tmp: Path) -> None:
    directory = gx_service.service_dir()
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    assert gx_service.validate("open", FRAME, EXPECTATIONS, idle_s=60, wait_s=5) is None
    assert service_pids(gx_service.socket_path()) == []


def test_the_service_gets_no_secret_of_the_run(
    service_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MKAILIN_LLM_API_KEY", "sk-never-in-the-service")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "never-either")
    assert gx_service.ensure_running(idle_s=60)
    (pid,) = service_pids(gx_service.socket_path())
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"sk-never-in-the-service" not in environ and b"never-either" not in environ
    assert f"TMPDIR={service_tmp}".encode() in environ  # the rest is the run's


def test_the_stop_command_stops_the_service(service_tmp: Path) -> None:
    assert gx_service.ensure_running(idle_s=60)
    command = [sys.executable, "-m", "mkailin_assets.checks.gx_service", "--stop"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert "stopped" in out.stdout
    assert service_pids(gx_service.socket_path()) == []


BACKGROUND = """
    import json, sys, time
    from mkailin_assets.checks import gx_runner, gx_service, gx_validation
    thread = gx_runner.import_gx_in_background()  # as a read phase does when it lets go
    started = time.monotonic()
    gx_runner.finish_background_gx_import()  # as the next phase does before it claims
    waited = time.monotonic() - started
    alive_then = thread.is_alive()
    thread.join(120)
    sock = gx_service.socket_path()
    print(json.dumps({
        "thread": thread.name, "waited_s": waited, "starting_then": alive_then,
        "serving": sock.exists() and gx_service.service_alive(sock),
        "gx_imported_here": "great_expectations" in sys.modules,
    }))
"""


def test_a_read_phase_starts_the_service_and_the_next_phase_does_not_wait_for_it(
    service_tmp: Path,
) -> None:
    env = {**os.environ, "TMPDIR": str(service_tmp), "MKAILIN_GX_SERVICE": "auto"}
    probe = python_json(BACKGROUND, env)
    assert probe["thread"] == "mkailin-gx-service"
    assert probe["starting_then"] and probe["waited_s"] < 0.5  # another process's import
    assert probe["serving"] and not probe["gx_imported_here"]
