"""The settings model: every MKAILIN_* variable, read when needed, documented in the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mkailin_assets import settings
from mkailin_assets.llm.config import LLMConfig
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig
from mkailin_assets.settings import REPO_ROOT, Settings, get_settings, markdown_table

PACKAGE = REPO_ROOT / "mkailin_assets"
KEY = "sk-settings-LEAKCANARY-4f1e"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MKAILIN_* or OpenAI key from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("MKAILIN_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    return monkeypatch


def model_variables() -> set[str]:
    names = {settings.variable_name(name) for name in Settings.model_fields}
    return names | set(settings.API_KEY_VARIABLES)


def test_readme_table_is_the_generated_one() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert settings.readme_with_table(readme) == readme, (
        "the README's configuration table is stale: run "
        "`python -m mkailin_assets.settings --write README.md`"
    )


def test_table_lists_every_variable_with_default_and_meaning() -> None:
    table = markdown_table()
    rows = table.splitlines()[2:]
    assert len(rows) == len(Settings.model_fields)
    for variable in model_variables():
        assert f"`{variable}`" in table
    for row in rows:
        variable, default, meaning = (cell.strip() for cell in row.strip("| ").split(" | "))
        assert variable and default and meaning, row
    assert str(REPO_ROOT) not in table  # machine-independent: repository paths are relative


def test_every_variable_the_package_names_is_in_the_model() -> None:
    """A variable named anywhere in the package (code, docstrings, descriptions) is a setting."""
    known = model_variables()
    named: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        named |= set(re.findall(r"\bMKAILIN_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    role_prefix = settings.ROLE_MODEL_PREFIX
    unknown = {
        name
        for name in named - known
        if not name.startswith(role_prefix) and name != role_prefix.rstrip("_")
    }
    assert not unknown, f"read outside the settings model or undocumented: {sorted(unknown)}"


def test_no_module_reads_mkailin_variables_by_hand() -> None:
    pattern = re.compile(r"""(getenv|environ\.get|settings\.env)\(\s*["']MKAILIN_""")
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in PACKAGE.rglob("*.py")
        if path.name != "settings.py" and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_settings_are_read_from_the_environment_at_each_call(clean_env) -> None:
    assert get_settings().duckdb_path == str(REPO_ROOT / "data" / "mkailin.duckdb")
    clean_env.setenv("MKAILIN_DUCKDB_PATH", "/tmp/elsewhere.duckdb")
    clean_env.setenv("MKAILIN_DECONTAMINATION", " a.jsonl, b.json ,")
    clean_env.setenv("MKAILIN_PUBMED_SCANNER", "LXML")
    clean_env.setenv("MKAILIN_LLM_MODEL_QUESTION__CLINICAL", "clinical-model")
    current = get_settings()
    assert current.duckdb_path == "/tmp/elsewhere.duckdb"
    assert current.decontamination == ["a.jsonl", "b.json"]
    assert current.pubmed_scanner == "off"
    assert current.llm_model_roles == {"question:clinical": "clinical-model"}
    clean_env.setenv("MKAILIN_DUCKDB_PATH", "")  # empty means the default, as before
    assert get_settings().duckdb_path == str(REPO_ROOT / "data" / "mkailin.duckdb")


def test_a_subprocess_sees_the_inherited_environment(clean_env) -> None:
    env = {**os.environ, "MKAILIN_QUESTIONS_PER_AGENT": "3", "MKAILIN_LLM_BACKEND": "openai"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mkailin_assets.settings import get_settings as g; s = g(); "
            "print(s.questions_per_agent, s.llm_backend)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    assert out.stdout.split() == ["3", "openai"]


def test_bad_values_name_the_variable(clean_env) -> None:
    clean_env.setenv("MKAILIN_AUTOMATION", "sometimes")
    clean_env.setenv("MKAILIN_LLM_MAX_CONCURRENCY", "0")
    with pytest.raises(ValueError) as raised:
        get_settings()
    message = str(raised.value)
    assert "MKAILIN_AUTOMATION='sometimes'" in message
    assert "MKAILIN_LLM_MAX_CONCURRENCY='0'" in message


def test_the_refresh_quiet_period_and_its_cap_are_checked(clean_env) -> None:
    current = get_settings()
    assert (current.refresh_quiet_s, current.refresh_max_wait_s) == (300, 1800)
    assert get_settings({"MKAILIN_REFRESH_QUIET_S": "0"}).refresh_quiet_s == 0  # off
    with pytest.raises(ValueError, match=r"MKAILIN_REFRESH_QUIET_S='-1': .*greater than"):
        get_settings({"MKAILIN_REFRESH_QUIET_S": "-1"})
    with pytest.raises(ValueError, match=r"MKAILIN_REFRESH_MAX_WAIT_S='-5': .*greater than"):
        get_settings({"MKAILIN_REFRESH_MAX_WAIT_S": "-5"})
    below = {"MKAILIN_REFRESH_QUIET_S": "600", "MKAILIN_REFRESH_MAX_WAIT_S": "60"}
    with pytest.raises(ValueError) as raised:
        get_settings(below)
    assert "MKAILIN_REFRESH_MAX_WAIT_S='60'" in str(raised.value)
    assert "at least MKAILIN_REFRESH_QUIET_S (600 s)" in str(raised.value)
    # A quiet period above the cap's default is caught too (the default is checked).
    with pytest.raises(ValueError, match="MKAILIN_REFRESH_MAX_WAIT_S=1800"):
        get_settings({"MKAILIN_REFRESH_QUIET_S": "3600"})
    assert get_settings({**below, "MKAILIN_REFRESH_MAX_WAIT_S": "600"}).refresh_max_wait_s == 600


def test_api_key_falls_back_to_openai_and_is_never_shown(clean_env) -> None:
    clean_env.setenv("OPENAI_API_KEY", KEY)
    current = get_settings()
    assert current.llm_api_key is not None
    assert current.llm_api_key.get_secret_value() == KEY
    for text in (repr(current), str(current), current.model_dump_json(), markdown_table()):
        assert "LEAKCANARY" not in text
    clean_env.setenv("MKAILIN_LLM_API_KEY", "sk-mkailin")
    assert get_settings().llm_api_key.get_secret_value() == "sk-mkailin"


def test_resources_take_their_defaults_from_the_settings(clean_env, tmp_path: Path) -> None:
    clean_env.setenv("MKAILIN_DUCKDB_PATH", str(tmp_path / "x.duckdb"))
    clean_env.setenv("MKAILIN_QUESTIONS_PER_AGENT", "2")
    clean_env.setenv("MKAILIN_RETRIEVAL", "hybrid")
    clean_env.setenv("MKAILIN_MIN_RECORDS", "7")
    clean_env.setenv("MKAILIN_LLM_MODEL", "settings-model")
    clean_env.setenv("MKAILIN_LLM_MAX_CONCURRENCY", "3")
    assert DuckDBStore().path == str(tmp_path / "x.duckdb")
    method = MethodConfig()
    assert (method.questions_per_agent, method.retrieval_method) == (2, "hybrid")
    assert method.min_records_per_category == 7
    assert MethodConfig(questions_per_agent=4).questions_per_agent == 4  # run config still wins
    llm = LLMResource()
    assert (llm.model, llm.max_concurrency) == ("settings-model", 3)
    assert llm.llm_config().model == "settings-model"


def test_llm_config_defaults_are_the_settings_defaults(clean_env) -> None:
    assert LLMConfig.from_env({}) == LLMConfig()
