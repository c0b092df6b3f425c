"""Every setting checked before any work, in one pass: each problem one line naming the variable,
its value and what is expected; command lines exit 2 with no traceback; runs fail before their
first step."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mkailin_assets import preflight, settings
from tests.harness import apply_env, materialize, sample_env

PYTHON = sys.executable


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A clean environment of good settings (the sample), no MKAILIN_* inherited."""
    return {k: v for k, v in sample_env(tmp_path).items() if v is not None}


def _one(env: dict[str, str], **bad: str) -> list[str]:
    return preflight.problems({**env, **bad})


def test_good_settings_have_no_problem(env) -> None:
    assert preflight.problems(env) == []


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MKAILIN_DUCKDB_MEMORY_LIMIT", "lots", "a size DuckDB accepts"),
        ("MKAILIN_PUBMED_SOURCE", "/no/such/folder", "does not exist"),
        ("MKAILIN_MESH_SOURCE", "/no/such/desc.xml", "MeSH descriptor file"),
        ("MKAILIN_DECONTAMINATION", "/no/such/bench.jsonl", "benchmark file"),
        ("MKAILIN_EVAL_PUBMEDQA", "/no/such/pqal.jsonl", "PQA-L"),
        ("MKAILIN_LLM_MAX_RETRIES", "many", "valid integer"),
        ("MKAILIN_RETRIEVAL", "grep", "'bm25', 'dense' or 'hybrid'"),
    ],
)
def test_each_bad_setting_is_one_line_naming_variable_value_and_expectation(
    env, variable, value, expected
) -> None:
    (problem,) = _one(env, **{variable: value})
    assert problem.startswith(f"{variable}={value!r}")
    assert expected in problem
    assert "\n" not in problem


def test_an_empty_source_folder_is_a_problem(env, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (problem,) = _one(env, MKAILIN_PUBMED_SOURCE=str(empty))
    assert "holds no release file" in problem and "baseline/" in problem
    (empty / "baseline").mkdir()
    assert _one(env, MKAILIN_PUBMED_SOURCE=str(empty)) != []  # a folder, still no file
    (empty / "baseline" / "pubmed24n0001.xml.gz").write_bytes(b"")
    assert _one(env, MKAILIN_PUBMED_SOURCE=str(empty)) == []


def test_every_bad_setting_together_in_one_pass(env) -> None:
    found = _one(
        env,
        MKAILIN_DUCKDB_MEMORY_LIMIT="lots",
        MKAILIN_PUBMED_SOURCE="/no/such/folder",
        MKAILIN_DECONTAMINATION="/no/a.jsonl,/no/b.jsonl",
        MKAILIN_LLM_MAX_RETRIES="many",
        MKAILIN_AUTOMATION="sometimes",
    )
    named = sorted(problem.split("=", 1)[0] for problem in found)
    assert named == sorted(
        [
            "MKAILIN_AUTOMATION",
            "MKAILIN_LLM_MAX_RETRIES",
            "MKAILIN_DUCKDB_MEMORY_LIMIT",
            "MKAILIN_PUBMED_SOURCE",
            "MKAILIN_DECONTAMINATION",
            "MKAILIN_DECONTAMINATION",
        ]
    )


def test_an_unreachable_source_names_the_url_and_the_setting(env) -> None:
    url = "http://127.0.0.1:9/pubmed/"  # the discard port: nothing listens
    (problem,) = preflight.problems({**env, "MKAILIN_PUBMED_SOURCE": url}, network=True)
    assert problem.startswith(f"MKAILIN_PUBMED_SOURCE={url!r}: cannot reach it")
    assert "local copy" in problem
    assert preflight.problems({**env, "MKAILIN_PUBMED_SOURCE": url}) == []  # local facts only


def _run(args: list[str], env: dict[str, str], cwd=settings.REPO_ROOT):
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _process_env(env: dict[str, str]) -> dict[str, str]:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(settings.ENV_PREFIX)}
    return {**base, **env}


@pytest.mark.parametrize(
    "command",
    [
        [PYTHON, "-m", "mkailin_assets.demo"],
        [PYTHON, "scripts/evaluate.py"],
        [PYTHON, "-m", "mkailin_assets.automation.check_releases", "--dry-run"],
        [PYTHON, "-m", "mkailin_assets.preflight"],
    ],
    ids=["demo", "evaluate", "check-now", "preflight"],
)
def test_command_lines_exit_2_with_every_problem_and_no_traceback(env, tmp_path, command) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = {**env, "MKAILIN_PUBMED_SOURCE": str(empty), "MKAILIN_DUCKDB_MEMORY_LIMIT": "lots"}
    bad["DAGSTER_HOME"] = str(tmp_path / "home")
    result = _run(command, _process_env(bad))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "mkailin: 2 setting(s) to fix" in result.stderr
    assert f"MKAILIN_PUBMED_SOURCE={str(empty)!r}: holds no release file" in result.stderr
    assert "MKAILIN_DUCKDB_MEMORY_LIMIT='lots'" in result.stderr


def test_an_asset_run_fails_before_its_step_naming_the_variable(env, monkeypatch) -> None:
    """The duckdb_store resource checks the settings when a run sets it up."""
    apply_env(monkeypatch, {**env, "MKAILIN_DUCKDB_MEMORY_LIMIT": "lots"})
    result = materialize(["mesh_vocabulary"], raise_on_error=False)
    assert not result.success
    assert (
        "SettingsProblem: mkailin: 1 setting(s) to fix before anything runs:\n"
        "  MKAILIN_DUCKDB_MEMORY_LIMIT='lots': expected a size DuckDB accepts"
    ) in _errors(result)
    assert not result.asset_materializations_for_node("mesh_vocabulary")


def _errors(result) -> str:
    """Every error of the run's events (resource init failures included), causes too."""
    parts = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            parts.append(f"{error.cls_name}: {error.message}")
            error = error.cause
    return "\n".join(parts)


def test_dev_sh_checks_the_settings_before_the_ui_starts() -> None:
    """Running dev.sh here would install the venv's plain extra: read the script instead."""
    script = (settings.REPO_ROOT / "scripts" / "dev.sh").read_text()
    check = script.index('"$VENV/bin/python" -m mkailin_assets.preflight --network')
    assert check < script.index('"$VENV/bin/dagster" dev')
