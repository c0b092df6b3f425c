"""Approximate nearest neighbours (usearch HNSW, cosine) over the stored embeddings of one model.

Dense retrieval scans every vector while the corpus is small; once a model has at least
MKAILIN_ANN_MIN_DOCS vectors (default 50,000) it searches this index instead. The index is a file
beside the DuckDB file (or in MKAILIN_ANN_INDEX_DIR), keyed by PMID, derived from `embeddings`.
DuckDB stays the source of truth: `ann_index_docs` holds the (pmid, content_hash) pairs the index
holds and `retrieval_index_state` (name 'ann:<model>') its build id, which the index's marker file
repeats. A refresh removes and re-adds only changed vectors, writes the index to a temporary file
and renames it into place, then records the new watermark; a refresh killed before its DuckDB
commit leaves the state 'refreshing', and a missing, unreadable, foreign or out-of-step index is
rebuilt from `embeddings` with a warning.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from usearch.index import Index

from mkailin_assets import settings
from mkailin_assets.agents import search_index
from mkailin_assets.db import transaction

LOG = logging.getLogger(__name__)

FORMAT_VERSION = 1
_BATCH = 20_000


def min_docs() -> int:
    """Vectors a model needs before dense retrieval uses the ANN index (MKAILIN_ANN_MIN_DOCS)."""
    return settings.get_settings().ann_min_docs


def state_name(model: str) -> str:
    return f"ann:{model}"


def index_path(con: duckdb.DuckDBPyConnection, model: str) -> Path:
    """<MKAILIN_ANN_INDEX_DIR or the BM25 index's folder>/<BM25 index name>.ann-<model>.usearch."""
    bm25 = search_index.index_dir(con)
    folder = settings.get_settings().ann_index_dir or bm25.parent
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:80]
    return folder / f"{bm25.name}.ann-{slug}.usearch"


def _marker_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def use_ann(con: duckdb.DuckDBPyConnection, model: str) -> bool:
    (count,) = con.execute("SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchall()[0]
    return count > 0 and count >= min_docs()


# --------------------------------------------------------------------------- state


def _state(con: duckdb.DuckDBPyConnection, model: str) -> search_index.State | None:
    rows = con.execute(
        "SELECT index_uid, format_version, status, documents, deletions"
        " FROM retrieval_index_state WHERE name = ?",
        [state_name(model)],
    ).fetchall()
    return search_index.State(*rows[0]) if rows else None


def _record(con: duckdb.DuckDBPyConnection, model: str, uid: str, status: str, docs: int) -> None:
    con.execute(
        """INSERT INTO retrieval_index_state (name, index_uid, format_version, status,
              documents, deletions, built_at, refreshed_at) VALUES (?, ?, ?, ?, ?, 0, now(), now())
           ON CONFLICT (name) DO UPDATE SET index_uid = excluded.index_uid,
             format_version = excluded.format_version, status = excluded.status,
             documents = excluded.documents, refreshed_at = now()""",
        [state_name(model), uid, FORMAT_VERSION, status, int(docs)],
    )


def _open(path: Path) -> Index:
    index = Index.restore(str(path))
    if index is None:
        raise ValueError(f"{path} is not a usearch index")
    return index


def why_rebuild(path: Path, state: search_index.State | None) -> str | None:
    """None when the file at `path` is the index DuckDB records; else the reason to rebuild."""
    if state is None:
        return "DuckDB records no ANN index for this model yet"
    if state.status != "ok":
        return f"the last refresh did not finish (status {state.status!r})"
    if not path.exists():
        return f"ANN index file {path} is missing"
    try:
        marker = json.loads(_marker_path(path).read_text())
    except (OSError, ValueError):
        return "no readable marker file (half-written, or not an mkailin index)"
    if marker.get("format_version") != FORMAT_VERSION or state.format_version != FORMAT_VERSION:
        return f"index format {marker.get('format_version')} differs from {FORMAT_VERSION}"
    if marker.get("index_uid") != state.index_uid:
        return "index belongs to another database (index_uid differs from DuckDB's record)"
    try:
        size = len(_open(path))
    except (OSError, ValueError, RuntimeError) as error:
        return f"index unreadable ({type(error).__name__}: {error})"
    if size != state.documents:
        return f"index holds {size} vectors, DuckDB records {state.documents}"
    return None


# --------------------------------------------------------------------------- refresh


def _unit(rows: list[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray]:
    """PMIDs (uint64 keys) and unit-length float32 vectors of (pmid, vector) rows."""
    keys = np.asarray([row[0] for row in rows], dtype=np.uint64)
    matrix = np.asarray([row[1] for row in rows], dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return keys, matrix / np.where(norms == 0, 1.0, norms)


def _batches(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]):
    """(keys, unit vectors) batches for the embeddings `sql` selects (columns pmid, vector)."""
    cursor = con.execute(sql, params)
    while rows := cursor.fetchmany(_BATCH):
        yield _unit(rows)


def _write(index: Index, path: Path, uid: str) -> None:
    """Save to a temporary file, then rename: a kill leaves the previous file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{uid[:8]}")
    try:
        index.save(str(tmp))
        marker = _marker_path(path)
        marker_tmp = marker.with_name(f"{marker.name}.tmp")
        marker_tmp.write_text(json.dumps({"format_version": FORMAT_VERSION, "index_uid": uid}))
        tmp.replace(path)
        marker_tmp.replace(marker)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise search_index.RetrievalIndexError(
            f"ANN index write to {path} failed ({error}); the previous index and its DuckDB "
            "watermark are unchanged"
        ) from error


def _rebuild(con: duckdb.DuckDBPyConnection, model: str, path: Path, reason: str) -> dict:
    LOG.warning("rebuilding the ANN index for %s at %s: %s", model, path, reason)
    uid = uuid.uuid4().hex
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _mk_ann_wanted AS"
        " SELECT pmid, content_hash FROM embeddings WHERE model = ?",
        [model],
    )
    index: Index | None = None
    for keys, matrix in _batches(
        con, "SELECT pmid, vector FROM embeddings WHERE model = $m ORDER BY pmid", {"m": model}
    ):
        if index is None:
            index = Index(ndim=matrix.shape[1], metric="cos", dtype="f32")  # exact scores
        index.add(keys, matrix)
    if index is None:
        index = Index(ndim=1, metric="cos", dtype="f32")
    _write(index, path, uid)
    with transaction(con):
        con.execute("DELETE FROM ann_index_docs WHERE model = ?", [model])
        con.execute(
            "INSERT INTO ann_index_docs SELECT ?, pmid, content_hash FROM _mk_ann_wanted", [model]
        )
        _record(con, model, uid, "ok", len(index))
    con.execute("DROP TABLE IF EXISTS _mk_ann_wanted")
    _OPEN.clear()
    return {"action": "rebuilt", "reason": reason, "documents": len(index)}


# Vectors of model $m the index does not hold yet (new, or re-embedded after a text change).
_FRESH_SQL = """SELECT e.pmid, e.vector FROM embeddings e WHERE e.model = $m
                AND NOT EXISTS (SELECT 1 FROM ann_index_docs d WHERE d.model = $m
                                AND d.pmid = e.pmid AND d.content_hash = e.content_hash)"""


def refresh(con: duckdb.DuckDBPyConnection, model: str) -> dict[str, Any]:
    """Bring the model's ANN index in step with `embeddings`: only changed vectors move."""
    started = time.perf_counter()
    path = index_path(con, model)
    state = _state(con, model)
    reason = why_rebuild(path, state)
    if reason is not None:
        report = _rebuild(con, model, path, reason)
        return report | {"seconds": round(time.perf_counter() - started, 3)}
    assert state is not None
    stale = con.execute(
        """SELECT d.pmid FROM ann_index_docs d
           WHERE d.model = $m AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = $m
                 AND e.pmid = d.pmid AND e.content_hash = d.content_hash)""",
        {"m": model},
    ).fetchall()
    (fresh,) = con.execute(f"SELECT count(*) FROM ({_FRESH_SQL})", {"m": model}).fetchall()[0]
    report = {"action": "incremental", "reason": None, "removed_or_changed": len(stale),
              "added": int(fresh)}  # fmt: skip
    if stale or fresh:
        with transaction(con):
            _record(con, model, state.index_uid, "refreshing", state.documents)
        index = _open(path)
        if stale:
            index.remove(np.asarray([row[0] for row in stale], dtype=np.uint64))
        for keys, matrix in _batches(con, _FRESH_SQL, {"m": model}):
            index.add(keys, matrix)
        _write(index, path, state.index_uid)
        with transaction(con):
            con.execute(
                """DELETE FROM ann_index_docs d WHERE d.model = $m AND NOT EXISTS (
                       SELECT 1 FROM embeddings e WHERE e.model = $m AND e.pmid = d.pmid
                       AND e.content_hash = d.content_hash)""",
                {"m": model},
            )
            con.execute(
                """INSERT INTO ann_index_docs SELECT $m, e.pmid, e.content_hash FROM embeddings e
                   WHERE e.model = $m AND NOT EXISTS (SELECT 1 FROM ann_index_docs d
                         WHERE d.model = $m AND d.pmid = e.pmid)""",
                {"m": model},
            )
            _record(con, model, state.index_uid, "ok", len(index))
        _OPEN.clear()
    report["documents"] = int(
        con.execute("SELECT count(*) FROM ann_index_docs WHERE model = ?", [model]).fetchall()[0][0]
    )
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


# --------------------------------------------------------------------------- search


_OPEN: dict[str, Index] = {}


@dataclass
class Hit:
    pmid: int
    score: float


def _loaded(path: Path) -> Index:
    key = f"{path}|{path.stat().st_mtime_ns}"
    index = _OPEN.get(key)
    if index is None:
        _OPEN.clear()
        index = _OPEN[key] = _open(path)
    return index


def search(
    con: duckdb.DuckDBPyConnection,
    model: str,
    vectors: list[np.ndarray],
    k: int,
    excluded: list[set[int]],
) -> list[list[Hit]]:
    """Top-k by cosine for each query vector (refresh first), score desc then pmid asc; the
    excluded PMIDs of each query are asked for on top of k and dropped."""
    index = _loaded(index_path(con, model))
    if not vectors or len(index) == 0:
        return [[] for _ in vectors]
    results: list[list[Hit]] = []
    for vector, skip in zip(vectors, excluded, strict=True):
        count = min(len(index), k + len(skip))
        index.expansion_search = max(64, 2 * count)
        matches = index.search(vector.astype(np.float32), count)
        hits = [
            Hit(int(key), 1.0 - float(distance))
            for key, distance in zip(matches.keys, matches.distances, strict=True)
            if int(key) not in skip
        ]
        hits.sort(key=lambda hit: (-hit.score, hit.pmid))
        results.append(hits[:k])
    return results
