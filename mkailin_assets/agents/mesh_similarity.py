"""MeSH knowledge-hierarchy similarity (docs/method.md#the-mesh-score), set-wise in DuckDB SQL.

- Information content from our own corpus: p(m) = (citations annotated with m or any descendant
  of m, through any of its tree numbers, + 1) / (citations with MeSH + 1); IC = -ln p;
  ic = IC / ln(N + 1). Stored as a snapshot whose id is a hash of the counts, the MeSH file
  and the corpus (loaded release files); the snapshot row records both.
- sim(a, b): 1 when a = b; else the LCA is the descriptor at the longest common dotted prefix
  over all pairs of their tree numbers (only the letter in common: 0). `ic_mean` = mean of Lin,
  Jiang-Conrath and Rel, each clipped to [0, 1]; `wu_palmer` = 2 depth(lca) / (depth(a) + depth(b)),
  depths (number of dotted segments) of the tree numbers realising the LCA.
- The tree is the whole vocabulary (table mesh_vocabulary), never the mesh_tree partitions that
  happen to exist: a descriptor outside the category still has its ancestors, LCA and IC.
- A candidate (question, contexts) scores the mean over contexts with MeSH of setsim(M(source),
  M(context)); `best_match` (default) or `all_pairs` (the authors' code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import polars as pl

from mkailin_assets.db import transaction

Measure = Literal["ic_mean", "wu_palmer"]
SetSim = Literal["best_match", "all_pairs"]

SIMILARITY_SCHEMA = {"a": pl.String, "b": pl.String, "lca": pl.String, "sim": pl.Float64}
SCORE_SCHEMA = {
    "candidate_id": pl.String,
    "mesh_score": pl.Float64,
    "contexts_with_mesh": pl.Int32,
    "contexts_without_mesh": pl.Int32,
    "ic_snapshot": pl.String,
}


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")


# --------------------------------------------------------------------------- IC snapshot

# Every descriptor owning a prefix of one of m's tree numbers is an ancestor of m (m included);
# only annotated descriptors (CTE `annotated`) need their ancestors.
_ANCESTOR_DESCRIPTORS_SQL = """
    SELECT DISTINCT t.ui, m.descriptor_ui AS ancestor_ui
    FROM (
        SELECT descriptor_ui AS ui, string_split(tree_number, '.') AS parts,
               unnest(generate_series(1, len(string_split(tree_number, '.')))) AS depth
        FROM mesh_vocabulary
        WHERE descriptor_ui IN (SELECT descriptor_ui FROM annotated)
    ) t
    JOIN mesh_vocabulary m ON m.tree_number = array_to_string(t.parts[1:t.depth], '.')
"""

_IC_COUNTS_SQL = f"""
    CREATE OR REPLACE TEMP TABLE _mesh_ic_counts AS
    WITH annotated AS (
        SELECT DISTINCT cm.pmid, cm.descriptor_ui FROM citation_mesh cm
        WHERE cm.pmid IN (SELECT pmid FROM citations)
    ),
    ancestors AS (
        {_ANCESTOR_DESCRIPTORS_SQL}
        UNION  -- descriptors without tree numbers (Male, Female) still count for themselves
        SELECT DISTINCT descriptor_ui, descriptor_ui FROM annotated
    ),
    covered AS (
        SELECT DISTINCT a.pmid, an.ancestor_ui AS descriptor_ui
        FROM annotated a JOIN ancestors an ON an.ui = a.descriptor_ui
    ),
    counts AS (SELECT descriptor_ui, count(*) AS n FROM covered GROUP BY descriptor_ui),
    universe AS (
        SELECT descriptor_ui FROM mesh_vocabulary UNION SELECT descriptor_ui FROM annotated
    )
    SELECT u.descriptor_ui, coalesce(c.n, 0)::BIGINT AS n_citations
    FROM universe u LEFT JOIN counts c USING (descriptor_ui)
"""


# What a snapshot was computed from: the MeSH file the vocabulary holds, the loaded releases, the
# tree, and the corpus's state. Only the release loader changes citations and their headings, and
# it does so in the transaction that rewrites the file's pubmed_files row (its loaded_at): the load
# times with the tables' row counts identify the corpus, at a cost that does not grow with it. An
# aggregate over citation_mesh (the digest before) took 0.3-0.8 s at 1.9M citations, about 15 s
# at NLM's 37M, in every evaluated_qa run while it held the writer (benchmarks/ic_digest.py).
_SNAPSHOT_INPUTS_SQL = """
SELECT (SELECT string_agg(DISTINCT source_sha256, ',') FROM mesh_descriptors) AS mesh_sha256,
       (SELECT max(mesh_year) FROM mesh_descriptors) AS mesh_year,
       (SELECT count(*) FROM pubmed_files)::INTEGER AS corpus_files,
       (SELECT 'files-' || sha256(coalesce(string_agg(file_name || ':' || sha256, ','
                                                      ORDER BY file_name), ''))[:16]
        FROM pubmed_files) AS corpus_fingerprint,
       (SELECT 'loads-' || sha256(coalesce(string_agg(file_name || '@' || loaded_at::VARCHAR, ','
                                                      ORDER BY file_name), ''))[:16]
        FROM pubmed_files)
       || '|' || (SELECT count(*) FROM citations) || ':' || (SELECT count(*) FROM citation_mesh)
       || '|' ||
       (SELECT count(*) || ':' || coalesce(sum(hash(tree_number, descriptor_ui)), 0)
        FROM mesh_vocabulary) AS content
"""


@dataclass(frozen=True)
class SnapshotInputs:
    """The inputs of an IC snapshot: recorded on its row, hashed into its id, and (as `digest`)
    the key under which a later run finds it again without recounting."""

    mesh_sha256: str | None
    mesh_year: int | None
    corpus_files: int
    corpus_fingerprint: str
    content: str  # the corpus's loads and row counts, the tree: see _SNAPSHOT_INPUTS_SQL

    @property
    def key(self) -> str:
        """The part hashed into the snapshot id (with N and the counts)."""
        return f"{self.mesh_sha256}|{self.corpus_fingerprint}"

    @property
    def digest(self) -> str:
        """Everything the counts depend on, as one string (column inputs_digest)."""
        return f"{self.key}|{self.content}"


def snapshot_inputs(con: duckdb.DuckDBPyConnection) -> SnapshotInputs:
    return SnapshotInputs(*con.execute(_SNAPSHOT_INPUTS_SQL).fetchall()[0])


def build_ic_snapshot(con: duckdb.DuckDBPyConnection) -> str:
    """Compute p, IC and normalised ic of every descriptor from the corpus; store and return the
    snapshot id (a hash of N, the counts, the MeSH file and the corpus). An identical snapshot is
    reused, not rewritten; a stored snapshot counted from the same inputs (SnapshotInputs.digest)
    is returned without recounting, so a per-category run does not count the whole corpus again."""
    inputs = snapshot_inputs(con)
    stored = con.execute(
        "SELECT snapshot_id FROM mesh_ic_snapshots WHERE inputs_digest = ?"
        " ORDER BY created_at DESC, snapshot_id LIMIT 1",
        [inputs.digest],
    ).fetchall()
    if stored:
        return stored[0][0]
    con.execute(_IC_COUNTS_SQL)
    try:
        n_with_mesh, snapshot_id, descriptors = con.execute(
            """
            WITH n AS (SELECT count(DISTINCT pmid) AS n FROM citation_mesh
                       WHERE pmid IN (SELECT pmid FROM citations))
            SELECT n.n,
                   'ic-' || sha256($inputs || '|' || n.n::VARCHAR || '|' || coalesce(string_agg(
                       descriptor_ui || ':' || n_citations, ',' ORDER BY descriptor_ui), ''))[:16],
                   count(c.descriptor_ui)
            FROM n LEFT JOIN _mesh_ic_counts c ON true GROUP BY n.n
            """,
            {"inputs": inputs.key},  # a parameter, not SQL text
        ).fetchall()[0]
        exists = con.execute(
            "SELECT count(*) FROM mesh_ic_snapshots WHERE snapshot_id = ?", [snapshot_id]
        ).fetchall()[0][0]
        if not exists:
            _store_snapshot(con, snapshot_id, int(n_with_mesh), int(descriptors), inputs)
        else:
            con.execute(
                "UPDATE mesh_ic_snapshots SET inputs_digest = ? WHERE snapshot_id = ?",
                [inputs.digest, snapshot_id],
            )
    finally:
        con.execute("DROP TABLE IF EXISTS _mesh_ic_counts")
    return snapshot_id


def _store_snapshot(
    con: duckdb.DuckDBPyConnection,
    snapshot_id: str,
    n_with_mesh: int,
    descriptors: int,
    inputs: SnapshotInputs,
) -> None:
    with transaction(con):
        con.execute(
            """INSERT INTO mesh_ic_snapshots (snapshot_id, citations_with_mesh, ic_max, descriptors,
                   created_at, mesh_sha256, mesh_year, corpus_files, corpus_fingerprint,
                   inputs_digest)
               VALUES ($id, $n, ln($n + 1), $d, now(), $sha, $year, $files, $corpus, $digest)""",
            {
                "id": snapshot_id, "n": n_with_mesh, "d": descriptors,
                "sha": inputs.mesh_sha256, "year": inputs.mesh_year,
                "files": inputs.corpus_files, "corpus": inputs.corpus_fingerprint,
                "digest": inputs.digest,
            },
        )  # fmt: skip
        # With no citation carrying MeSH, IC_max is 0: every ic is 0 (no information).
        con.execute(
            """
            INSERT INTO mesh_ic
            SELECT $id, descriptor_ui, n_citations, p, -ln(p),
                   CASE WHEN $n > 0 THEN -ln(p) / ln($n + 1) ELSE 0 END
            FROM (SELECT descriptor_ui, n_citations,
                         (n_citations + 1)::DOUBLE / ($n + 1) AS p FROM _mesh_ic_counts)
            """,
            {"id": snapshot_id, "n": n_with_mesh},
        )


def latest_ic_snapshot(con: duckdb.DuckDBPyConnection) -> str | None:
    """Id of the most recently stored snapshot, or None."""
    rows = con.execute(
        "SELECT snapshot_id FROM mesh_ic_snapshots ORDER BY created_at DESC, snapshot_id LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


# --------------------------------------------------------------------------- descriptor pairs


def _similarity_sql(pairs: str, measure: Measure) -> str:
    """SELECT a, b, lca, sim for the distinct pairs of relation `pairs` (columns a, b).

    `pairs` is a relation name written by our code; the IC snapshot is the parameter $snapshot."""
    ancestors = f"""
        tree_numbers AS (
            SELECT descriptor_ui AS ui, string_split(tree_number, '.') AS parts
            FROM mesh_vocabulary
            WHERE descriptor_ui IN (SELECT a FROM {pairs} UNION SELECT b FROM {pairs})
        ),
        prefixes AS (
            SELECT ui, len(parts) AS own_depth, unnest(generate_series(1, len(parts))) AS depth,
                   parts
            FROM tree_numbers
        ),
        ancestors AS (
            SELECT ui, own_depth, depth, array_to_string(parts[1:depth], '.') AS prefix
            FROM prefixes
        ),
        distinct_pairs AS (SELECT DISTINCT a, b FROM {pairs} WHERE a <> b),
        -- Join a's prefixes first, then b's on (b, prefix): joining the two prefix sets on
        -- prefix alone would pair every descriptor under the same top-level heading.
        a_prefixes AS MATERIALIZED (
            SELECT p.a, p.b, x.prefix, x.depth, x.own_depth AS depth_a
            FROM distinct_pairs p JOIN ancestors x ON x.ui = p.a
        ),
        common AS (
            SELECT x.a, x.b, x.prefix, x.depth, x.depth_a, y.own_depth AS depth_b
            FROM a_prefixes x JOIN ancestors y ON y.ui = x.b AND y.prefix = x.prefix
        )"""
    if measure == "wu_palmer":
        chosen = """
        lca AS (
            SELECT c.a, c.b, t.descriptor_ui AS lca,
                   2.0 * c.depth / (c.depth_a + c.depth_b) AS sim
            FROM common c JOIN mesh_vocabulary t ON t.tree_number = c.prefix
            QUALIFY row_number() OVER (PARTITION BY c.a, c.b
                ORDER BY c.depth DESC, c.depth_a + c.depth_b, t.descriptor_ui) = 1
        )"""
    else:
        chosen = """
        ic AS MATERIALIZED (
            SELECT descriptor_ui, ic, p FROM mesh_ic WHERE snapshot_id = $snapshot
        ),
        lca_ic AS (
            SELECT c.a, c.b, t.descriptor_ui AS lca, i.ic AS ic_lca, i.p AS p_lca
            FROM common c
            JOIN mesh_vocabulary t ON t.tree_number = c.prefix
            JOIN ic i ON i.descriptor_ui = t.descriptor_ui
            QUALIFY row_number() OVER (PARTITION BY c.a, c.b
                ORDER BY c.depth DESC, i.ic DESC, t.descriptor_ui) = 1
        ),
        measured AS (
            SELECT l.a, l.b, l.lca, l.ic_lca, l.p_lca, ia.ic AS ic_a, ib.ic AS ic_b,
                   -- ic(a) + ic(b) = 0 only when both cover every citation: no information
                   CASE WHEN ia.ic + ib.ic > 0 THEN 2 * l.ic_lca / (ia.ic + ib.ic) ELSE 0 END
                       AS lin
            FROM lca_ic l
            JOIN ic ia ON ia.descriptor_ui = l.a
            JOIN ic ib ON ib.descriptor_ui = l.b
        ),
        lca AS (
            SELECT a, b, lca,
                   (greatest(0, least(1, lin))
                    + greatest(0, least(1, 1 - least(1, ic_a + ic_b - 2 * ic_lca)))
                    + greatest(0, least(1, lin * (1 - p_lca)))) / 3 AS sim
            FROM measured
        )"""
    return f"""
        WITH {ancestors},
        {chosen}
        SELECT p.a, p.b,
               CASE WHEN p.a = p.b THEN p.a ELSE l.lca END AS lca,
               CASE WHEN p.a = p.b THEN 1.0 ELSE coalesce(l.sim, 0.0) END::DOUBLE AS sim
        FROM (SELECT DISTINCT a, b FROM {pairs}) p LEFT JOIN lca l USING (a, b)
    """


def _resolve_snapshot(
    con: duckdb.DuckDBPyConnection, measure: Measure, snapshot_id: str | None
) -> str | None:
    if measure == "wu_palmer":
        return None
    if snapshot_id is None:
        return build_ic_snapshot(con)
    known = con.execute(
        "SELECT count(*) FROM mesh_ic_snapshots WHERE snapshot_id = ?", [snapshot_id]
    ).fetchall()[0][0]
    if not known:
        raise ValueError(f"unknown IC snapshot {snapshot_id!r}")
    return snapshot_id


def descriptor_similarity(
    con: duckdb.DuckDBPyConnection,
    pairs: pl.DataFrame,
    measure: Measure = "ic_mean",
    snapshot_id: str | None = None,
) -> pl.DataFrame:
    """sim of each (a, b) descriptor pair: (a, b, lca, sim), in the order of `pairs`.

    snapshot_id None builds (or reuses) the snapshot of the current corpus (ic_mean only)."""
    _check_choice("measure", measure, ("ic_mean", "wu_palmer"))
    snapshot = _resolve_snapshot(con, measure, snapshot_id)
    frame = pairs.select(pl.col("a").cast(pl.String), pl.col("b").cast(pl.String))
    if frame.is_empty():
        return pl.DataFrame(schema=SIMILARITY_SCHEMA)
    con.register("_mesh_pairs", frame)
    try:
        params = {"snapshot": snapshot} if snapshot else None
        sims = con.sql(_similarity_sql("_mesh_pairs", measure), params=params).pl()
    finally:
        con.unregister("_mesh_pairs")
    ordered = frame.join(sims, on=["a", "b"], how="left", maintain_order="left")
    return ordered.cast(SIMILARITY_SCHEMA)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- candidates

_DOC_SIMILARITY = {
    # Pairs absent from _mesh_pair_sims have sim 0: they add nothing to a sum, and a descriptor
    # with no such pair has max 0. So sums over the kept pairs, divided by set sizes, suffice.
    "best_match": """
        SELECT d.s, d.c,
               (coalesce(fwd.total, 0) / ns.n + coalesce(bwd.total, 0) / nc.n) / 2 AS sim
        FROM _mesh_docs d
        JOIN _mesh_set_sizes ns ON ns.pmid = d.s
        JOIN _mesh_set_sizes nc ON nc.pmid = d.c
        LEFT JOIN (SELECT s, c, sum(best) AS total FROM (
                       SELECT s, c, a, max(sim) AS best FROM _mesh_pair_sims GROUP BY s, c, a)
                   GROUP BY s, c) fwd ON fwd.s = d.s AND fwd.c = d.c
        LEFT JOIN (SELECT s, c, sum(best) AS total FROM (
                       SELECT s, c, b, max(sim) AS best FROM _mesh_pair_sims GROUP BY s, c, b)
                   GROUP BY s, c) bwd ON bwd.s = d.s AND bwd.c = d.c""",
    "all_pairs": """
        SELECT d.s, d.c, coalesce(t.total, 0) / (ns.n * nc.n) AS sim
        FROM _mesh_docs d
        JOIN _mesh_set_sizes ns ON ns.pmid = d.s
        JOIN _mesh_set_sizes nc ON nc.pmid = d.c
        LEFT JOIN (SELECT s, c, sum(sim) AS total FROM _mesh_pair_sims GROUP BY s, c) t
               ON t.s = d.s AND t.c = d.c""",
}

_SCORE_TEMP_TABLES = (
    "_mesh_has", "_mesh_docs", "_mesh_sets", "_mesh_set_sizes", "_mesh_doc_keys", "_mesh_doc_pairs",
    "_mesh_distinct_pairs", "_mesh_pair_sims", "_mesh_doc_sims",
)  # fmt: skip


def _score_statements(setsim: SetSim, measure: Measure) -> list[str]:
    """Temp-table steps from _mesh_candidates to _mesh_doc_sims(s, c, sim)."""
    return [
        # The MeSH of the batch's PMIDs (sources and contexts), read in one pass: citation_mesh
        # is probed with this small set, never the reverse (`x IN (SELECT pmid FROM
        # citation_mesh)` hashes every PMID of the corpus: 1.2 s at 1.9M citations for 80
        # questions).
        """CREATE OR REPLACE TEMP TABLE _mesh_has AS
        SELECT DISTINCT pmid, descriptor_ui AS ui FROM citation_mesh
        WHERE pmid IN (SELECT source_pmid FROM _mesh_candidates
                       UNION SELECT unnest(context_pmids) FROM _mesh_candidates)""",
        # (source, context) document pairs where both sides have MeSH
        """CREATE OR REPLACE TEMP TABLE _mesh_docs AS
        SELECT DISTINCT pc.s, pc.c FROM (
            SELECT source_pmid AS s, unnest(context_pmids) AS c FROM _mesh_candidates) pc
        WHERE pc.s IN (SELECT pmid FROM _mesh_has) AND pc.c IN (SELECT pmid FROM _mesh_has)""",
        """CREATE OR REPLACE TEMP TABLE _mesh_sets AS
        SELECT pmid, ui FROM _mesh_has
        WHERE pmid IN (SELECT s FROM _mesh_docs UNION SELECT c FROM _mesh_docs)""",
        """CREATE OR REPLACE TEMP TABLE _mesh_set_sizes AS
        SELECT pmid, count(*)::DOUBLE AS n FROM _mesh_sets GROUP BY pmid""",
        # Only pairs sharing a top-level tree number can have sim > 0 (and a = b has 1): key
        # each descriptor by its first segments and by itself, and pair documents on those keys.
        """CREATE OR REPLACE TEMP TABLE _mesh_doc_keys AS
        SELECT DISTINCT s.pmid, s.ui, split_part(t.tree_number, '.', 1) AS key
        FROM _mesh_sets s JOIN mesh_vocabulary t ON t.descriptor_ui = s.ui
        UNION ALL
        SELECT pmid, ui, '=' || ui FROM _mesh_sets""",
        """CREATE OR REPLACE TEMP TABLE _mesh_doc_pairs AS
        SELECT DISTINCT d.s, d.c, x.ui AS a, y.ui AS b
        FROM _mesh_docs d
        JOIN _mesh_doc_keys x ON x.pmid = d.s
        JOIN _mesh_doc_keys y ON y.pmid = d.c AND y.key = x.key""",
        """CREATE OR REPLACE TEMP TABLE _mesh_distinct_pairs AS
        SELECT DISTINCT a, b FROM _mesh_doc_pairs""",
        f"""CREATE OR REPLACE TEMP TABLE _mesh_pair_sims AS
        WITH descriptor_sims AS ({_similarity_sql("_mesh_distinct_pairs", measure)})
        SELECT d.s, d.c, d.a, d.b, x.sim
        FROM _mesh_doc_pairs d JOIN descriptor_sims x USING (a, b)
        WHERE x.sim > 0""",
        f"CREATE OR REPLACE TEMP TABLE _mesh_doc_sims AS {_DOC_SIMILARITY[setsim]}",
    ]


_CANDIDATE_SCORES_SQL = """
    WITH contexts AS (
        SELECT candidate_id, source_pmid, unnest(context_pmids) AS context FROM _mesh_candidates
    ),
    per_candidate AS (
        SELECT x.candidate_id,
               avg(d.sim) AS mesh_score,
               count(*) FILTER (x.context IN (SELECT pmid FROM _mesh_has)) AS with_mesh,
               count(*) FILTER (x.context NOT IN (SELECT pmid FROM _mesh_has)) AS without_mesh
        FROM contexts x LEFT JOIN _mesh_doc_sims d ON d.s = x.source_pmid AND d.c = x.context
        GROUP BY x.candidate_id
    )
    SELECT c.candidate_id, p.mesh_score,
           coalesce(p.with_mesh, 0)::INTEGER AS contexts_with_mesh,
           coalesce(p.without_mesh, 0)::INTEGER AS contexts_without_mesh,
           $snapshot::VARCHAR AS ic_snapshot
    FROM _mesh_candidates c LEFT JOIN per_candidate p USING (candidate_id)
"""


def score_candidates(
    con: duckdb.DuckDBPyConnection,
    candidates: pl.DataFrame,
    setsim: SetSim = "best_match",
    measure: Measure = "ic_mean",
    snapshot_id: str | None = None,
) -> pl.DataFrame:
    """Knowledge-hierarchy score of each (question, contexts) candidate, for the whole batch.

    `candidates` has candidate_id, source_pmid, context_pmids (list of PMIDs). Returns
    (candidate_id, mesh_score, contexts_with_mesh, contexts_without_mesh, ic_snapshot) in input
    order: mesh_score is the mean over contexts with MeSH of setsim(M(source), M(context)), null
    when the source or every context lacks MeSH; ic_snapshot is null for wu_palmer."""
    _check_choice("setsim", setsim, ("best_match", "all_pairs"))
    _check_choice("measure", measure, ("ic_mean", "wu_palmer"))
    snapshot = _resolve_snapshot(con, measure, snapshot_id)
    frame = candidates.select(
        pl.col("candidate_id").cast(pl.String),
        pl.col("source_pmid").cast(pl.Int64),
        pl.col("context_pmids").cast(pl.List(pl.Int64)),
    )
    if frame.is_empty():
        return pl.DataFrame(schema=SCORE_SCHEMA)
    con.register("_mesh_candidates", frame)
    try:
        for statement in _score_statements(setsim, measure):
            con.execute(statement, {"snapshot": snapshot} if "$snapshot" in statement else None)
        scores = con.sql(_CANDIDATE_SCORES_SQL, params={"snapshot": snapshot}).pl()
    finally:
        con.unregister("_mesh_candidates")
        for table in _SCORE_TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table}")
    ordered = frame.select("candidate_id").join(
        scores, on="candidate_id", how="left", maintain_order="left"
    )
    return ordered.cast(SCORE_SCHEMA)  # type: ignore[arg-type]


def score_report(scores: pl.DataFrame) -> dict[str, Any]:
    """Distribution of mesh_score for Dagster metadata."""
    valued = scores["mesh_score"].drop_nulls()
    quantiles = {
        f"p{int(q * 100)}": (round(float(valued.quantile(q)), 4) if len(valued) else None)
        for q in (0.1, 0.25, 0.5, 0.75, 0.9)
    }
    return {
        "candidates": scores.height,
        "scored": len(valued),
        "unscored": scores.height - len(valued),
        "mean": round(float(valued.mean()), 4) if len(valued) else None,
        **quantiles,
    }
