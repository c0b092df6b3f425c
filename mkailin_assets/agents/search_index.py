"""The BM25 retrieval index on disk: tantivy segments derived from `citations`, kept in step.

DuckDB stays the source of truth. `retrieval_index_docs` (schema 006) is the watermark: the
(pmid, content_hash) pairs the index holds; `retrieval_index_state` names the index build
(index_uid, also written in the index's marker file) and whether a refresh is under way.

A refresh writes the PMIDs it will touch to `retrieval_index_pending` first, then deletes and
re-adds them in tantivy (one commit: a kill before it leaves the previous commit in place), then
records the new watermark in one DuckDB transaction. A kill between the two commits is repaired by
the next refresh, which re-applies the pending PMIDs. An index that is missing, unreadable, built by
another version or for another database, or out of step with the watermark is rebuilt from scratch
(into a fresh directory, swapped in when complete) with a warning in the log.

Scoring: tantivy's BM25 has k1 = 1.2 fixed and one-byte (lossy) document lengths, so tantivy
only collects a candidate pool (3k, at least MKAILIN_BM25_POOL); the pool is re-scored
exactly with Lucene BM25 (k1 = 1.5, b = 0.75, as bm25s and docs/method.md#context-retrieval), ties by PMID.
The index stores no text (a quarter of the build's CPU and four fifths of its size went to the
document store): the pool's texts are read from `citations` by primary key.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import tantivy

from mkailin_assets import settings
from mkailin_assets.agents.tokenize import STOPWORDS, tokenize
from mkailin_assets.db import transaction
from mkailin_assets.db.lookups import pmid_literal_chunks

LOG = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: the body is no longer stored in the index
MARKER_FILE = "mkailin-index.json"
INDEX_NAME = "bm25"
TOKENIZER = "mkailin"
_WRITER_HEAP = 256_000_000  # bytes over all writer threads; tantivy flushes a segment when full

INDEXABLE = "coalesce(title, '') <> '' OR coalesce(abstract, '') <> ''"
INDEXABLE_SQL = f"SELECT pmid, content_hash FROM citations WHERE {INDEXABLE}"
# One document per citation, its body built in SQL (no per-row work in Python).
_BODY_SQL = "concat_ws(' ', title, abstract)"
_DOCUMENT_COLUMNS = f"pmid::UBIGINT AS pmid, {_BODY_SQL} AS body"
# A plain scan in table order: no join and no sort of the texts (at ~1M abstracts a sort of the
# payload spills past DuckDB's memory limit); the order is fixed, so a rebuild is reproducible.
_ALL_DOCUMENTS_SQL = f"SELECT {_DOCUMENT_COLUMNS} FROM citations WHERE {INDEXABLE}"
_FRESH_DOCUMENTS_SQL = f"""
    SELECT {_DOCUMENT_COLUMNS} FROM citations
    WHERE pmid IN (SELECT pmid FROM _mk_index_fresh) ORDER BY pmid
"""
_BATCH_ROWS = 65_536


class RetrievalIndexError(RuntimeError):
    """The index cannot be brought in step (e.g. the disk is full); the message says why."""


class NoIndexableTermError(ValueError):
    """A question has no term the index can match (empty, or stopwords and punctuation only)."""


def index_dir(con: duckdb.DuckDBPyConnection) -> Path:
    """MKAILIN_RETRIEVAL_INDEX_DIR, else `<duckdb file>.bm25` beside the database; for an
    in-memory database, a directory under the system temp folder named by the index build."""
    configured = settings.get_settings().retrieval_index_dir
    if configured:
        return configured
    (db_file,) = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchall()[0]
    if db_file:
        return Path(f"{db_file}.bm25")
    uid = _memory_uid(con)
    return Path(tempfile.gettempdir()) / f"mkailin-bm25-{uid}"


def _memory_uid(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute(
        "SELECT index_uid FROM retrieval_index_state WHERE name = ?", [INDEX_NAME]
    ).fetchall()
    return row[0][0] if row else uuid.uuid4().hex


def pool_size(k: int) -> int:
    """Depth of tantivy's candidate pool before exact re-scoring: 3k, at least MKAILIN_BM25_POOL
    (default 12). Measured on 4 perturbed copies (500 title queries, against a pool of 200): a
    pool of 3k gives the same top 4 for every query and 0.99+ top-10 overlap; 2k already 0.99."""
    return max(settings.get_settings().bm25_pool, 3 * k, k)


def threads() -> int:
    """Searcher threads (MKAILIN_RETRIEVAL_THREADS, default 2: the machine's cores)."""
    return settings.get_settings().retrieval_threads


# --------------------------------------------------------------------------- schema and opening


def _analyzer() -> tantivy.TextAnalyzer:
    # Splits on non-alphanumerics, lowercases, drops the project's stopwords: on the bundled
    # baseline file it yields exactly tokenize()'s tokens (checked by benchmarks/retrieval.py).
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.custom_stopword(sorted(STOPWORDS)))
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("pmid", indexed=True, stored=False, fast=True)
    # Term frequencies only (BM25 needs no positions), and not stored: re-scoring reads the
    # pool's texts from DuckDB.
    builder.add_text_field("body", stored=False, tokenizer_name=TOKENIZER, index_option="freq")
    return builder.build()


def _open_tantivy(path: Path) -> tantivy.Index:
    index = tantivy.Index.open(str(path))
    index.register_tokenizer(TOKENIZER, _analyzer())
    return index


@dataclass
class State:
    index_uid: str
    format_version: int
    status: str
    documents: int
    deletions: int


def read_state(con: duckdb.DuckDBPyConnection) -> State | None:
    rows = con.execute(
        "SELECT index_uid, format_version, status, documents, deletions"
        " FROM retrieval_index_state WHERE name = ?",
        [INDEX_NAME],
    ).fetchall()
    return State(*rows[0]) if rows else None


# The reason of a normal first build: said at INFO, not as a warning (nothing is wrong).
FIRST_BUILD = "first build (DuckDB records no index yet)"


def _marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return None


def why_rebuild(path: Path, state: State | None) -> str | None:
    """None when the index at `path` is the one DuckDB records; else the reason to rebuild."""
    if state is None:
        return FIRST_BUILD
    if not path.exists():
        return f"index directory {path} is missing"
    marker = _marker(path)
    if marker is None:
        return f"no readable {MARKER_FILE} (half-written, or not an mkailin index)"
    if marker.get("format_version") != FORMAT_VERSION or state.format_version != FORMAT_VERSION:
        return (
            f"index format {marker.get('format_version')} (recorded {state.format_version}) "
            f"differs from this version's {FORMAT_VERSION}"
        )
    if marker.get("index_uid") != state.index_uid:
        return "index belongs to another database (index_uid differs from DuckDB's record)"
    try:
        index = _open_tantivy(path)
        index.reload()
        alive = index.searcher().num_docs
    except (ValueError, OSError, RuntimeError) as error:
        return f"index unreadable ({type(error).__name__}: {error})"
    if state.status == "ok" and alive != state.documents:
        return f"index holds {alive} documents, DuckDB records {state.documents}"
    return None


# --------------------------------------------------------------------------- refresh


def _disk_error(path: Path, error: BaseException) -> RetrievalIndexError:
    full = isinstance(error, OSError) and error.errno == errno.ENOSPC
    full = full or "No space left" in str(error)
    what = "the disk is full" if full else f"{type(error).__name__}: {error}"
    return RetrievalIndexError(
        f"retrieval index refresh at {path} failed: {what}. The previous index and its DuckDB "
        "watermark are unchanged; free space (or set MKAILIN_RETRIEVAL_INDEX_DIR) and rerun."
    )


def _add_documents(
    con: duckdb.DuckDBPyConnection, writer: tantivy.IndexWriter, schema: tantivy.Schema, sql: str
) -> int:
    """Add the (pmid, body) rows `sql` selects, read as Arrow batches; returns how many."""
    added = 0
    make, add = tantivy.Document.from_dict, writer.add_document
    # The reader holds the connection until it is drained or closed.
    with con.sql(sql).to_arrow_reader(_BATCH_ROWS) as reader:
        for batch in reader:
            pmids, bodies = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            for pmid, body in zip(pmids, bodies, strict=True):
                add(make({"pmid": pmid, "body": body}, schema))
            added += len(pmids)
    return added


def _write_marker(path: Path, uid: str) -> None:
    marker = {"format_version": FORMAT_VERSION, "index_uid": uid, "engine": "tantivy"}
    tmp = path / f"{MARKER_FILE}.tmp"
    tmp.write_text(json.dumps(marker))
    tmp.replace(path / MARKER_FILE)


def rebuild(con: duckdb.DuckDBPyConnection, path: Path, reason: str) -> dict[str, Any]:
    """Build the whole index from `citations` in a fresh directory, then swap it in."""
    if reason == FIRST_BUILD:
        LOG.info("building the retrieval index at %s: %s", path, reason)
    else:
        LOG.warning("rebuilding the retrieval index at %s: %s", path, reason)
    started = time.perf_counter()
    uid = uuid.uuid4().hex
    building = path.with_name(f"{path.name}.building-{uid[:8]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        building.mkdir()
        index = tantivy.Index(_schema(), path=str(building), reuse=False)
        index.register_tokenizer(TOKENIZER, _analyzer())
        writer = index.writer(heap_size=_WRITER_HEAP, num_threads=2)
        # One snapshot of `citations` for the documents and the watermark: they cannot differ.
        with transaction(con):
            con.execute(f"CREATE OR REPLACE TEMP TABLE _mk_index_wanted AS {INDEXABLE_SQL}")
            documents = _add_documents(con, writer, index.schema, _ALL_DOCUMENTS_SQL)
        writer.commit()
        writer.wait_merging_threads()
        _write_marker(building, uid)
    except (OSError, ValueError, RuntimeError) as error:
        shutil.rmtree(building, ignore_errors=True)
        raise _disk_error(path, error) from error
    with transaction(con):
        con.execute("DELETE FROM retrieval_index_docs")
        con.execute(
            "INSERT INTO retrieval_index_docs SELECT pmid, content_hash FROM _mk_index_wanted"
        )
        con.execute("DELETE FROM retrieval_index_pending")
        _record_state(con, uid, "ok", documents, deletions=0, built=True)
    # The swap: the old directory goes aside first, so a kill in between leaves no index (rebuilt
    # next time) rather than a mixed one.
    if path.exists():
        old = path.with_name(f"{path.name}.old-{uid[:8]}")
        path.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    building.rename(path)
    _OPEN.clear()
    con.execute("DROP TABLE IF EXISTS _mk_index_wanted")
    return {
        "action": "rebuilt",
        "reason": reason,
        "documents": int(documents),
        "indexed_new": int(documents),
        "reindexed_changed": 0,
        "removed": 0,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _record_state(
    con: duckdb.DuckDBPyConnection,
    uid: str,
    status: str,
    documents: int,
    deletions: int,
    built: bool = False,
) -> None:
    con.execute(
        f"""INSERT INTO retrieval_index_state (name, index_uid, format_version, status,
              documents, deletions, built_at, refreshed_at) VALUES (?, ?, ?, ?, ?, ?, now(), now())
            ON CONFLICT (name) DO UPDATE SET index_uid = excluded.index_uid,
              format_version = excluded.format_version, status = excluded.status,
              documents = excluded.documents, deletions = excluded.deletions,
              {"built_at = excluded.built_at," if built else ""} refreshed_at = now()""",
        [INDEX_NAME, uid, FORMAT_VERSION, status, int(documents), int(deletions)],
    )


def _diff(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables: _mk_index_wanted (indexable now), _mk_index_touch (PMIDs to delete from the
    index: stale, gone, or pending from an interrupted refresh), _mk_index_fresh (to add)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _mk_index_wanted AS {INDEXABLE_SQL}")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _mk_index_fresh AS
        SELECT w.pmid, w.content_hash FROM _mk_index_wanted w
        LEFT JOIN retrieval_index_docs d USING (pmid)
        WHERE d.pmid IS NULL OR d.content_hash <> w.content_hash
           OR w.pmid IN (SELECT pmid FROM retrieval_index_pending)
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _mk_index_touch AS
        SELECT pmid FROM retrieval_index_docs d
        WHERE NOT EXISTS (SELECT 1 FROM _mk_index_wanted w
                          WHERE w.pmid = d.pmid AND w.content_hash = d.content_hash)
        UNION SELECT pmid FROM retrieval_index_pending
        UNION SELECT pmid FROM _mk_index_fresh
    """)


_DIGEST_SQL = f"""
    SELECT count(*) || ':' || coalesce(sum(hash(pmid, content_hash)), 0) FROM ({INDEXABLE_SQL})
"""


def content_digest(con: duckdb.DuckDBPyConnection) -> str:
    """One aggregate over the indexable PMIDs and content hashes: changes with any of them."""
    return con.execute(_DIGEST_SQL).fetchall()[0][0]


def _in_step(con: duckdb.DuckDBPyConnection, state: State, digest: str) -> bool:
    """The last refresh finished on these very citations: nothing to diff."""
    row = con.execute(
        """SELECT content_digest = ? AND NOT EXISTS (SELECT 1 FROM retrieval_index_pending)
           FROM retrieval_index_state WHERE name = ?""",
        [digest, INDEX_NAME],
    ).fetchall()
    return state.status == "ok" and bool(row and row[0][0])


def refresh_index(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> dict[str, Any]:
    """Bring the index in line with `citations`: rebuild when needed, else apply only changes
    (nothing at all when the citations' digest equals the one of the last finished refresh)."""
    path = path or index_dir(con)
    digest = content_digest(con)
    report = _refresh(con, path, digest)
    con.execute(
        "UPDATE retrieval_index_state SET content_digest = ? WHERE name = ?", [digest, INDEX_NAME]
    )
    return report


def _refresh(con: duckdb.DuckDBPyConnection, path: Path, digest: str) -> dict[str, Any]:
    state = read_state(con)
    reason = why_rebuild(path, state)
    if reason is not None:
        return rebuild(con, path, reason)
    assert state is not None
    started = time.perf_counter()
    if _in_step(con, state, digest):
        return {"action": "incremental", "reason": None, "unchanged": True,
                "documents": int(state.documents), "indexed_new": 0, "touched": 0, "removed": 0,
                "reindexed_changed": 0, "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
    _diff(con)
    touched, fresh, removed = con.execute(
        """SELECT (SELECT count(*) FROM _mk_index_touch), (SELECT count(*) FROM _mk_index_fresh),
                  (SELECT count(*) FROM _mk_index_touch t
                   WHERE t.pmid IN (SELECT pmid FROM retrieval_index_docs)
                     AND t.pmid NOT IN (SELECT pmid FROM _mk_index_wanted))"""
    ).fetchall()[0]
    report: dict[str, Any] = {"action": "incremental", "reason": None}
    if touched:
        _apply_changes(con, path, state)
    documents = con.execute("SELECT count(*) FROM retrieval_index_docs").fetchall()[0][0]
    changed = con.execute(
        "SELECT count(*) FROM _mk_index_fresh WHERE pmid IN"
        " (SELECT pmid FROM _mk_index_touch) AND pmid IN (SELECT pmid FROM _mk_index_wanted)"
    ).fetchall()[0][0]
    for table in ("_mk_index_wanted", "_mk_index_fresh", "_mk_index_touch"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    report.update(
        documents=int(documents),
        indexed_new=int(fresh),
        touched=int(touched),
        removed=int(removed),
        seconds=round(time.perf_counter() - started, 3),
    )
    report["reindexed_changed"] = int(min(changed, touched - removed))
    return report


def _commit(writer: tantivy.IndexWriter) -> None:
    writer.commit()


def _release(writer: tantivy.IndexWriter) -> None:
    """Drop uncommitted work and the writer lock (the next refresh needs it)."""
    with contextlib.suppress(Exception):
        writer.rollback()
    with contextlib.suppress(Exception):
        writer.wait_merging_threads()


def _apply_changes(con: duckdb.DuckDBPyConnection, path: Path, state: State) -> None:
    with transaction(con):
        con.execute(
            "INSERT OR IGNORE INTO retrieval_index_pending SELECT pmid FROM _mk_index_touch"
        )
        con.execute(
            "UPDATE retrieval_index_state SET status = 'refreshing' WHERE name = ?", [INDEX_NAME]
        )
    try:
        index = _open_tantivy(path)
        writer = index.writer(heap_size=_WRITER_HEAP, num_threads=2)
    except (OSError, ValueError, RuntimeError) as error:
        raise _disk_error(path, error) from error
    deletions = 0
    try:
        for (pmid,) in con.execute("SELECT pmid FROM _mk_index_touch").fetchall():
            # A term query built from the schema carries the field's type (u64).
            writer.delete_documents_by_query(
                tantivy.Query.term_query(index.schema, "pmid", int(pmid))
            )
            deletions += 1
        _add_documents(con, writer, index.schema, _FRESH_DOCUMENTS_SQL)
        _commit(writer)
    except BaseException as error:
        _release(writer)
        if isinstance(error, (OSError, ValueError, RuntimeError)):
            raise _disk_error(path, error) from error
        raise
    with contextlib.suppress(Exception):
        writer.wait_merging_threads()
    _OPEN.clear()
    with transaction(con):
        con.execute(
            "DELETE FROM retrieval_index_docs WHERE pmid IN (SELECT pmid FROM _mk_index_touch)"
        )
        con.execute(
            "INSERT INTO retrieval_index_docs SELECT pmid, content_hash FROM _mk_index_fresh"
        )
        con.execute("DELETE FROM retrieval_index_pending")
        documents = con.execute("SELECT count(*) FROM retrieval_index_docs").fetchall()[0][0]
        _record_state(con, state.index_uid, "ok", documents, state.deletions + deletions)


# --------------------------------------------------------------------------- search


_OPEN: dict[str, Searchable] = {}


@dataclass
class Searchable:
    """An opened index with what exact re-scoring needs: N, avgdl, and cached idf per term."""

    index: tantivy.Index
    searcher: tantivy.Searcher
    schema: tantivy.Schema
    n_docs: int
    avgdl: float
    exact_df: bool  # deletions not yet merged away: count live documents per term
    idf_cache: dict[str, float] = field(default_factory=dict)

    def idf(self, term: str) -> float:
        cached = self.idf_cache.get(term)
        if cached is None:
            if self.exact_df:
                query = tantivy.Query.term_query(self.schema, "body", term)
                df = self.searcher.search(query, 1, count=True).count
            else:
                df = self.searcher.doc_freq("body", term)
            cached = math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)) if df else 0.0
            self.idf_cache[term] = cached
        return cached


def open_searchable(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> Searchable:
    """The index, refreshed by the caller beforehand; opened once per process and commit."""
    path = path or index_dir(con)
    state = read_state(con)
    reason = why_rebuild(path, state)
    if reason is not None:
        raise RetrievalIndexError(f"retrieval index at {path} is not usable: {reason}; refresh it")
    assert state is not None
    # Keyed by the commit (tantivy rewrites meta.json on every commit), so another process's
    # refresh is seen too.
    key = f"{path}|{state.index_uid}|{(path / 'meta.json').stat().st_mtime_ns}"
    cached = _OPEN.get(key)
    if cached is not None:
        return cached
    index = _open_tantivy(path)
    index.reload()
    searcher = index.searcher()
    searchable = Searchable(
        index=index,
        searcher=searcher,
        schema=index.schema,
        n_docs=searcher.num_docs,
        avgdl=_average_length(index, searcher),
        exact_df=state.deletions > 0,
    )
    _OPEN.clear()
    _OPEN[key] = searchable
    return searchable


def _average_length(index: tantivy.Index, searcher: tantivy.Searcher) -> float:
    """tantivy's own average field length (exact token totals), read from a score explanation."""
    if searcher.num_docs == 0:
        return 1.0
    hits = searcher.search(tantivy.Query.all_query(), 1, count=False).hits
    for term in ("cell", "patients", "study", "1"):
        query = tantivy.Query.term_query(index.schema, "body", term)
        found = searcher.search(query, 1, count=False).hits
        if found:
            hits = found
            break
    else:
        # Any term of the dictionary with a live document gives a term query to explain.
        for term, _ in searcher.terms_with_prefix("body", "", limit=64):
            query = tantivy.Query.term_query(index.schema, "body", term)
            hits = searcher.search(query, 1, count=False).hits
            if hits:
                break
    explanation = json.loads(query.explain(searcher, hits[0][1]).to_json())
    return _find_avgdl(explanation)


def _find_avgdl(node: dict[str, Any]) -> float:
    if node.get("description", "").startswith("avgdl"):
        return float(node["value"])
    for child in node.get("details", []):
        with contextlib.suppress(LookupError):
            return _find_avgdl(child)
    raise LookupError("no avgdl in tantivy's score explanation")


def query_terms(text: str | None) -> list[str]:
    """The question's index terms (project tokenizer); never interpreted as query syntax."""
    return tokenize(text)


_LOCAL = threading.local()


def _thread_analyzer() -> tantivy.TextAnalyzer:
    """The index's own analyzer, one per thread: re-scoring tokenizes the pool's texts in Rust
    (about half the cost of the Python tokenizer) with the very tokens tantivy indexed, so
    document lengths agree with tantivy's average length."""
    analyzer = getattr(_LOCAL, "analyzer", None)
    if analyzer is None:
        analyzer = _LOCAL.analyzer = _analyzer()
    return analyzer


def _candidates(index: Searchable, terms: list[str], pool: int, exclude: set[int]) -> list[int]:
    """PMIDs of tantivy's top-`pool` documents for the terms (an OR query), minus `exclude`."""
    clauses = [
        (tantivy.Occur.Should, tantivy.Query.term_query(index.schema, "body", term))
        for term in dict.fromkeys(terms)
    ]
    hits = index.searcher.search(
        tantivy.Query.boolean_query(clauses), pool + len(exclude), count=False
    ).hits
    if not hits:
        return []
    pmids = index.searcher.fast_field_values("pmid", [address for _, address in hits])
    return [int(pmid) for pmid in pmids if pmid not in exclude]


def pool_texts(con: duckdb.DuckDBPyConnection, pmids: set[int]) -> dict[int, str]:
    """The indexed body (title and abstract) of each PMID, read from `citations` by PMID (a
    literal list: its cost follows the pool, not the corpus; see db/lookups.py)."""
    texts: dict[int, str] = {}
    for listed in pmid_literal_chunks(pmids):
        rows = con.execute(
            f"SELECT pmid, {_BODY_SQL} FROM citations WHERE pmid IN ({listed})"
        ).fetchall()
        texts.update(rows)
    return texts


def _rescore(
    index: Searchable,
    terms: list[str],
    candidates: list[int],
    texts: dict[int, str],
    k: int,
    k1: float,
    b: float,
) -> list[tuple[int, float]]:
    """Exact Lucene BM25 top-k (score desc, pmid asc) of the candidates, from their texts."""
    qtf = Counter(terms)
    weights = {term: count * index.idf(term) for term, count in qtf.items()}
    analyzer = _thread_analyzer()
    scored: list[tuple[float, int]] = []
    for pmid in candidates:
        text = texts.get(pmid)
        if text is None:  # deleted from citations since the last refresh
            continue
        tokens = analyzer.analyze(text)
        norm = k1 * (1 - b + b * len(tokens) / index.avgdl)
        counts = Counter(token for token in tokens if token in weights)
        score = sum(weights[t] * tf / (tf + norm) for t, tf in counts.items())
        scored.append((-score, pmid))
    scored.sort()
    return [(pmid, -neg) for neg, pmid in scored[:k]]


def search(
    con: duckdb.DuckDBPyConnection,
    index: Searchable,
    queries: pl.DataFrame,
    k: int,
    k1: float = 1.5,
    b: float = 0.75,
    excluded: dict[str, set[int]] | None = None,
    n_threads: int | None = None,
) -> list[tuple[str, int, int, float]]:
    """(query_id, rank, pmid, score) rows; raises NoIndexableTermError for a term-less query.

    Three passes: tantivy's candidate pools (threads; tantivy releases the GIL), one read of all
    the pools' texts from DuckDB, then exact re-scoring (threads)."""
    excluded = excluded or {}
    query_ids = queries["query_id"].to_list()
    terms = {
        query_id: query_terms(text)
        for query_id, text in zip(query_ids, queries["text"], strict=True)
    }
    empty = [query_id for query_id, found in terms.items() if not found]
    if empty:
        raise NoIndexableTermError(
            f"{len(empty)} question(s) have no indexable term (empty, or only stopwords and "
            f"punctuation), e.g. query_id {empty[0]!r}"
        )
    pool = pool_size(k)

    def collect(query_id: str) -> list[int]:
        return _candidates(index, terms[query_id], pool, excluded.get(query_id, set()))

    def score(item: tuple[str, list[int]]) -> list[tuple[str, int, int, float]]:
        query_id, candidates = item
        top = _rescore(index, terms[query_id], candidates, texts, k, k1, b)
        return [(query_id, rank, pmid, value) for rank, (pmid, value) in enumerate(top, start=1)]

    workers = n_threads or threads()
    if workers == 1 or len(query_ids) < 2:
        pools = [collect(query_id) for query_id in query_ids]
        texts = pool_texts(con, {pmid for found in pools for pmid in found})
        return [row for item in zip(query_ids, pools, strict=True) for row in score(item)]
    with ThreadPoolExecutor(workers) as executor:
        pools = list(executor.map(collect, query_ids))
        texts = pool_texts(con, {pmid for found in pools for pmid in found})
        return [
            row for rows in executor.map(score, zip(query_ids, pools, strict=True)) for row in rows
        ]
