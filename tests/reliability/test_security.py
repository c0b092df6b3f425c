"""Security: the API key is stored nowhere; SQL never interpolates untrusted strings; hostile
partition keys and file names are refused; downloads are verified; the UI binds to loopback.

Client-level key tests: tests/integration/test_llm_client.py::test_api_key_never_leaks and
tests/integration/test_llm_resource.py. Download tests: tests/unit/test_sources.py.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import re
import shutil
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.ingest.errors import UnsafeFileNameError
from mkailin_assets.ingest.pubmed_loader import load_pubmed_file
from mkailin_assets.ingest.sources import ReleaseFile, fetch_mesh_source, fetch_release_file
from mkailin_assets.partitions import validate_category
from mkailin_assets.settings import REPO_ROOT, SAMPLE_PUBMED_SOURCE
from tests.fakes.openai_server import FakeOpenAIServer, Fault, body_hash
from tests.harness import (
    apply_env,
    ephemeral_instance,
    load_sources,
    materialize,
    sample_env,
    step_failure_text,
)
from tests.reliability.helpers import agent_responder, dump_database, read_only, snapshot

CATEGORY = "C"
HOSTILE_KEYS = ["A'; DROP TABLE citations; --", "../../etc/passwd.xml.gz", "C OR 1=1", "C\x00"]


# ---- the API key --------------------------------------------------------------------------
def _texts_of_exports(folder: Path) -> list[str]:
    texts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        if path.suffix == ".parquet":  # compressed pages could hide the key from a byte search
            texts.append(pl.read_parquet(path).write_ndjson())
    return texts


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_api_key_appears_in_no_log_event_metadata_table_or_export(
    tmp_path, monkeypatch, caplog, capfd, instance
):
    secret = f"sk-mkailin-marker-{uuid.uuid4().hex}"
    env = sample_env(tmp_path)
    with FakeOpenAIServer(responder=agent_responder, seed=2) as server:
        # Some requests are refused with a 401 whose message echoes the key, as OpenAI's does.
        server.add_fault(
            Fault("401", when=lambda body, attempt: int(body_hash(body)[:4], 16) % 25 == 0)
        )
        apply_env(
            monkeypatch,
            env
            | {
                "MKAILIN_LLM_BACKEND": "openai",
                "MKAILIN_LLM_BASE_URL": server.url,
                "MKAILIN_LLM_API_KEY": secret,
                "MKAILIN_LLM_MAX_FAILURE_RATE": "0.5",
            },
        )
        load_sources(instance, [CATEGORY])
        materialize(["candidate_qa", "evaluated_qa", "training_set"], CATEGORY, instance)
        materialize(["training_export"], None, instance)
        haystacks = {"captured logs": caplog.text}
        out, err = capfd.readouterr()
        haystacks["stdout/stderr"] = out + err
        runs = instance.get_runs()
        haystacks["run configs and tags"] = "\n".join(
            f"{run.run_config} {run.tags}" for run in runs
        )
        haystacks["dagster event logs (with metadata)"] = "\n".join(
            dg.serialize_value(record) for run in runs for record in instance.all_logs(run.run_id)
        )
        haystacks["instance storage files"] = "\n".join(
            p.read_bytes().decode("utf-8", errors="replace")
            for p in Path(instance.root_directory).rglob("*")
            if p.is_file()
        )
        # The key did reach the server, and the 401s did echo it: the search below is not vacuous.
        assert f"Bearer {secret}" in server.stats.auth_headers
        assert server.stats.faults["401"] > 0
    haystacks["duckdb tables"] = dump_database(env["MKAILIN_DUCKDB_PATH"])
    haystacks["export files"] = "\n".join(_texts_of_exports(Path(env["MKAILIN_EXPORT_DIR"])))
    assert "training_set" in haystacks["duckdb tables"] and haystacks["export files"]
    with read_only(env["MKAILIN_DUCKDB_PATH"]) as con:
        refused = con.execute(
            "SELECT count(*) FROM llm_calls WHERE status = 'failed' AND error LIKE '%401%'"
        ).fetchone()[0]
    assert refused > 0  # the echoed 401 messages were recorded, redacted
    leaks = [where for where, text in haystacks.items() if secret in text]
    assert leaks == []
    # Nor a recognisable part of it (a truncated echo would still be a leak).
    leaks = [where for where, text in haystacks.items() if secret[-16:] in text]
    assert leaks == []


# ---- SQL is built from code, values are parameters ------------------------------------------
# Calls that take SQL text, by name; their first three arguments are scanned (the SQL of a check
# helper comes after the connection and the check's name).
SQL_METHODS = {
    "execute",
    "executemany",
    "sql",
    "query_pl",
    "fetch_preview",
    "sql_count",
    "count_check",
    "run_query_check",
}
# Every expression interpolated into SQL text, and why it cannot carry input. A new one fails
# this test until someone reviews it and adds it here.
SAFE_INTERPOLATIONS: dict[str, str] = {
    # safe_identifier() results (mkailin_assets.db) and lists of them
    "table": "a table name from code, through safe_identifier or a code constant",
    "column_list": "', '.join(safe_identifier(c) ...)",
    "key_list": "', '.join(safe_identifier(k) ...)",
    "compared": "columns already passed through safe_identifier",
    "columns": "safe_identifier'd frame columns, the cache's constant _COLUMNS, or values of the "
    "constant _CITATION_COLUMNS (db/lookups.py)",
    "source": "a temp table name chosen in code (_sync_frame, _sync_query)",
    "select_sql": "a SELECT from code; its values travel in params",
    "listed": "comma-joined int() of PMIDs (db/lookups.pmid_literal_chunks): integers only",
    "select": "f-string of the module constant CATEGORY_MEMBERS_SQL; values in params",
    "sql": "query text from code (fetch_preview and run_query_check callers pass constants)",
    "int(limit)": "an int",
    "'built_at = excluded.built_at,' if built else ''": "one of two constant SQL fragments",
    "limit": "'LIMIT $sample' or '': the value itself is a parameter",
    "tokens": "SQL expression built by sql_tokens_expression from a literal column name",
    "', '.join(_COLUMNS)": "module constant",
    "', '.join(filtered.columns)": "columns of a frame built in code (stages/training.py)",
    "q.line": "inside a parameter value of executemany, not SQL text",
}


def _interpolations(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in SQL_METHODS:
            continue
        for argument in node.args[:3]:
            for sub in ast.walk(argument):
                if isinstance(sub, ast.FormattedValue):
                    expression = ast.unparse(sub.value)
                    if not re.fullmatch(r"_?[A-Z][A-Z0-9_]*", expression):  # module constants
                        found.append((node.lineno, expression))
                elif (
                    isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Attribute)
                    and sub.func.attr == "format"
                ):
                    found.append((node.lineno, f"str.format: {ast.unparse(sub)[:60]}"))
                elif isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Mod):
                    found.append((node.lineno, f"% formatting: {ast.unparse(sub)[:60]}"))
                elif isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Add):
                    names = [n.id for n in ast.walk(sub) if isinstance(n, ast.Name)]
                    found += [
                        (node.lineno, f"+ {n}")
                        for n in names
                        if not re.fullmatch(r"_?[A-Z_0-9]+", n)
                    ]
    return found


def test_sql_text_interpolates_only_reviewed_names_from_code():
    unreviewed = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {expression}"
        for path in sorted((REPO_ROOT / "mkailin_assets").rglob("*.py"))
        for line, expression in _interpolations(path)
        if expression not in SAFE_INTERPOLATIONS
    ]
    assert unreviewed == []


def test_the_scanner_flags_interpolated_input(tmp_path):
    """The static test above can fail: an interpolated partition key is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(con, key):\n"
        "    con.execute(f\"DELETE FROM t WHERE category = '{key}'\")\n"
        "    con.execute('SELECT * FROM t WHERE c = ' + key)\n"
        "    con.sql('SELECT %s' % key)\n"
        "    count_check(con, 'name', f'SELECT count(*) FROM t WHERE c = {key}', [])\n"
    )
    assert [e for _, e in _interpolations(bad)] == [
        "key",
        "+ key",
        "% formatting: 'SELECT %s' % key",
        "key",
    ]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("security")
    env = sample_env(root)
    with pytest.MonkeyPatch.context() as patch:
        apply_env(patch, env)
        load_sources(ephemeral_instance(), [CATEGORY])
    return env


TABLES = ["citations", "raw_abstracts", "pubmed_files", "mesh_tree"]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_category_keys_are_refused_and_change_nothing(key, ingested, monkeypatch):
    apply_env(monkeypatch, ingested)
    db = ingested["MKAILIN_DUCKDB_PATH"]
    before = {t: snapshot(db, t, with_clock=True) for t in TABLES}
    with pytest.raises(ValueError, match="unknown MeSH category partition"):
        validate_category(key)
    with pytest.raises(dg.DagsterError, match="Could not find a partition"):
        materialize(["raw_abstracts"], key)
    assert {t: snapshot(db, t, with_clock=True) for t in TABLES} == before


@pytest.mark.parametrize("name", HOSTILE_KEYS)
def test_hostile_release_file_partitions_are_refused_and_change_nothing(
    name, ingested, monkeypatch, tmp_path
):
    apply_env(monkeypatch, ingested)
    db = ingested["MKAILIN_DUCKDB_PATH"]
    before = {t: snapshot(db, t, with_clock=True) for t in TABLES}
    instance = ephemeral_instance([name])
    result = materialize(["pubmed_files"], name, instance, raise_on_error=False)
    assert not result.success
    assert "is not listed in" in step_failure_text(result)
    assert {t: snapshot(db, t, with_clock=True) for t in TABLES} == before
    with pytest.raises(UnsafeFileNameError):
        fetch_release_file(
            ReleaseFile(name, "update", "http://127.0.0.1:9/x.xml.gz", None), tmp_path
        )
    assert list(tmp_path.iterdir()) == []


def test_hostile_file_names_reach_sql_only_as_values(tmp_path):
    """The loader stores whatever name it is given as data; it never becomes SQL."""
    con = open_connection(tmp_path / "db.duckdb")
    apply_schema(con)
    name = "pubmed00n0001'); DROP TABLE citations; --.xml.gz"
    report = load_pubmed_file(
        con, SAMPLE_PUBMED_SOURCE / "baseline" / "pubmed00n0001.xml.gz", file_name=name
    )
    ledger = con.execute("SELECT file_name FROM pubmed_files").fetchall()
    sources = con.execute("SELECT DISTINCT source_file FROM citations").fetchall()
    con.close()
    assert report.citations_upserted == 36
    assert ledger == [(name,)] and sources == [(name,)]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/mesh/..%2F..%2Fetc%2Fpasswd",
        "http://127.0.0.1:9/mesh/.hidden.xml",
        "http://127.0.0.1:9/mesh/desc%00.xml",
    ],
)
def test_mesh_downloads_with_unsafe_names_are_refused_before_any_request(url, tmp_path):
    with pytest.raises(UnsafeFileNameError):
        fetch_mesh_source(url, tmp_path / "downloads")
    assert not (tmp_path / "downloads").exists()


def test_release_file_with_a_wrong_md5_is_refused_by_the_asset(tmp_path, monkeypatch):
    source = tmp_path / "pubmed" / "baseline"
    source.mkdir(parents=True)
    good = SAMPLE_PUBMED_SOURCE / "baseline" / "pubmed00n0001.xml.gz"
    shutil.copy(good, source)
    tampered = gzip.compress(
        gzip.decompress(good.read_bytes()).replace(b"Vancomycin", b"Vancomicin")
    )
    (source / good.name).write_bytes(tampered)
    shutil.copy(f"{good}.md5", source)  # NLM's md5 of the original bytes
    assert hashlib.md5(tampered).hexdigest() not in (source / f"{good.name}.md5").read_text()
    env = sample_env(tmp_path, MKAILIN_PUBMED_SOURCE=str(source.parent))
    apply_env(monkeypatch, env)
    instance = ephemeral_instance([good.name])
    result = materialize(["pubmed_files"], good.name, instance, raise_on_error=False)
    assert not result.success
    assert "ChecksumMismatchError" in step_failure_text(result)
    with read_only(env["MKAILIN_DUCKDB_PATH"]) as con:
        assert con.execute("SELECT count(*) FROM citations").fetchone() == (0,)


# ---- the webserver --------------------------------------------------------------------------
def test_the_ui_binds_to_loopback_by_default():
    dev = (REPO_ROOT / "scripts" / "dev.sh").read_text()
    hosts = re.findall(r'-h\s+"?\$\{MKAILIN_HOST:-([^}]+)\}"?', dev)
    assert hosts == ["127.0.0.1"], dev
    for script in sorted((REPO_ROOT / "scripts").glob("*.sh")):
        assert "0.0.0.0" not in script.read_text(), script
    for config in ("dagster.yaml", "workspace.yaml"):
        path = REPO_ROOT / config
        if path.exists():
            assert "0.0.0.0" not in path.read_text(), config
