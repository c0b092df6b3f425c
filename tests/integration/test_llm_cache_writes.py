"""The llm_calls write path on a real DuckDB file: new rows take the plain INSERT, a batch that
meets a stored key (a failed call now answered) replaces it, and nothing else in the batch is
lost or duplicated."""

from __future__ import annotations

import duckdb

from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.llm.cache import CallRecord, LLMCache


def _record(key: str, status: str, content: str | None = None) -> CallRecord:
    return CallRecord(
        call_id=key,
        kind="chat",
        role="answer",
        item_id=key,
        model="m",
        prompt_version="v1",
        request={"model": "m", "messages": [{"role": "user", "content": key}]},
        status=status,
        response_content=content,
        response_json=None if content is None else {"answer": content},
        error=None if status == "ok" else "HTTP 500: boom",
        attempts=1,
    )


def _rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    rows = con.execute(
        "SELECT call_id, status, response_content, response_json, request FROM llm_calls"
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_new_rows_insert_and_a_stored_key_is_replaced(tmp_path):
    con = open_connection(tmp_path / "cache.duckdb")
    apply_schema(con)
    cache = LLMCache(con)
    cache.write_many([_record("a", "failed"), _record("b", "ok", "B")])

    # One batch mixing a new key with a key already stored as failed.
    cache.write_many([_record("a", "ok", "A"), _record("c", "ok", "C")])

    rows = _rows(con)
    assert sorted(rows) == ["a", "b", "c"]
    assert rows["a"][:3] == ("ok", "A", '{"answer":"A"}')
    assert rows["b"][:2] == ("ok", "B")
    assert rows["c"][:2] == ("ok", "C")
    assert rows["a"][3] == '{"messages":[{"content":"a","role":"user"}],"model":"m"}'
    assert set(cache.lookup_final(["a", "b", "c", "zzz"])) == {"a", "b", "c"}
    cache.close()
    con.close()
