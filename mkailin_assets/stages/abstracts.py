"""raw_abstracts: the citations of one MeSH category, with what the agents need."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from mkailin_assets.db import sync_partition_from_query, transaction
from mkailin_assets.stages.refreshes import record_refresh
from mkailin_assets.stages.tables import Preview, fetch_preview

# docs/method.md#categories: a citation belongs to the categories of its major-topic headings; when it has no
# major topic, of all its headings. Membership only needs this category's subtree.
CATEGORY_MEMBERS_SQL = """
WITH heads AS (
    SELECT pmid, descriptor_ui, major_topic,
           bool_or(major_topic) OVER (PARTITION BY pmid) AS has_major
    FROM citation_mesh
),
members AS (
    SELECT DISTINCT h.pmid
    FROM heads h JOIN mesh_tree t ON t.descriptor_ui = h.descriptor_ui AND t.category = $category
    WHERE h.major_topic OR NOT h.has_major
),
headings AS (
    SELECT h.pmid,
           list(h.descriptor_ui ORDER BY h.descriptor_ui) AS descriptor_uis,
           coalesce(list(h.descriptor_ui ORDER BY h.descriptor_ui) FILTER (WHERE h.major_topic), []) AS major_descriptor_uis,
           list_sort(flatten(list(coalesce(d.tree_numbers, [])))) AS tree_numbers
    FROM citation_mesh h JOIN members USING (pmid)
    LEFT JOIN mesh_descriptors d USING (descriptor_ui)
    GROUP BY h.pmid
)
SELECT $category AS category, c.pmid, c.title, trim(c.abstract) AS abstract,
       hd.descriptor_uis, hd.major_descriptor_uis, hd.tree_numbers, c.content_hash,
       now()::TIMESTAMP AS updated_at
FROM headings hd JOIN citations c USING (pmid)
WHERE c.abstract IS NOT NULL AND length(trim(c.abstract)) > 0
"""

PREVIEW_SQL = """
SELECT pmid, title, len(descriptor_uis) AS headings, left(abstract, 100) AS abstract
FROM raw_abstracts WHERE category = ? ORDER BY pmid
"""


@dataclass(frozen=True)
class RawAbstractsResult:
    inserted: int
    deleted: int
    quarantined: int
    total: int
    preview: Preview


def replace_quarantine(
    con: duckdb.DuckDBPyConnection, category: str, min_chars: int, max_chars: int
) -> int:
    """Record abstracts outside the sane length range; they are excluded, never dropped silently.

    Reads the temp table _raw_abstracts_members; runs inside the caller's transaction."""
    source = f"category:{category}"
    con.execute("DELETE FROM quarantine WHERE asset = 'raw_abstracts' AND source = ?", [source])
    con.execute(
        """INSERT INTO quarantine
           SELECT 'raw_abstracts', $source, NULL, CAST(pmid AS VARCHAR),
                  'abstract length ' || length(abstract) || ' outside [' || $min || ', ' || $max
                      || '] characters',
                  left(abstract, 200), now()
           FROM _raw_abstracts_members
           WHERE length(abstract) NOT BETWEEN $min AND $max""",
        {"source": source, "min": min_chars, "max": max_chars},
    )
    rows = con.execute(
        "SELECT count(*) FROM quarantine WHERE asset = 'raw_abstracts' AND source = ?", [source]
    ).fetchall()
    return int(rows[0][0])


def sync_raw_abstracts(
    con: duckdb.DuckDBPyConnection, category: str, min_chars: int, max_chars: int
) -> dict[str, int]:
    """The partition and its quarantine rows change together, in one transaction."""
    con.execute("DROP TABLE IF EXISTS _raw_abstracts_members")
    con.execute(
        f"CREATE TEMP TABLE _raw_abstracts_members AS {CATEGORY_MEMBERS_SQL}",
        {"category": category},
    )
    try:
        with transaction(con):
            quarantined = replace_quarantine(con, category, min_chars, max_chars)
            changes = sync_partition_from_query(
                con,
                "raw_abstracts",
                category,
                "SELECT * FROM _raw_abstracts_members WHERE length(abstract) BETWEEN ? AND ?",
                [min_chars, max_chars],
                key=("pmid",),
                own_transaction=False,
            )
            record_refresh(con, category, "raw_abstracts")
    finally:
        con.execute("DROP TABLE IF EXISTS _raw_abstracts_members")
    return changes | {"quarantined": quarantined}


def build_raw_abstracts(
    con: duckdb.DuckDBPyConnection, category: str, min_chars: int, max_chars: int
) -> RawAbstractsResult:
    """Bring the category's partition in step with `citations`; only changed rows are rewritten."""
    changes = sync_raw_abstracts(con, category, min_chars, max_chars)
    total = con.execute(
        "SELECT count(*) FROM raw_abstracts WHERE category = ?", [category]
    ).fetchall()[0][0]
    return RawAbstractsResult(
        inserted=changes["inserted"],
        deleted=changes["deleted"],
        quarantined=changes["quarantined"],
        total=int(total),
        preview=fetch_preview(con, PREVIEW_SQL, [category]),
    )


EMPTY_CATEGORY = "no abstracts in this category"


def empty_category_reason(con: duckdb.DuckDBPyConnection, category: str) -> str | None:
    """Why the category's stages have nothing to do (V, publication characteristics, holds no
    abstract by design), or None when it has abstracts: shown as `skipped` in the metadata."""
    rows = con.execute("SELECT count(*) FROM raw_abstracts WHERE category = ?", [category])
    return EMPTY_CATEGORY if rows.fetchall()[0][0] == 0 else None
