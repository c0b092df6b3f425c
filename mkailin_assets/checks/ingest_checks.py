"""Blocking data-quality checks for mesh_tree, pubmed_files and raw_abstracts, one function each.

Columns of a frame are checked with GX suites; what SQL already decides (a ledger that must
reconcile, rows that must reach their category) is a plain count.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from mkailin_assets.checks.gx_runner import run_query_check
from mkailin_assets.checks.verdicts import count_check, sql_count, verdict

MESH_TREE_CHECKS = [
    dg.AssetCheckSpec(
        "tree_numbers_well_formed",
        asset="mesh_tree",
        blocking=True,
        description="Tree numbers match the category letter, depth and parent are consistent",
    ),
    dg.AssetCheckSpec(
        "descriptor_uis_well_formed",
        asset="mesh_tree",
        blocking=True,
        description="Descriptor UIs are D + digits and every tree row names a loaded descriptor",
    ),
]
PUBMED_FILES_CHECKS = [
    dg.AssetCheckSpec(
        "citations_valid",
        asset="pubmed_files",
        blocking=True,
        description="The file's citations: PMIDs unique and non-null, versions >= 1, years sane",
    ),
    dg.AssetCheckSpec(
        "ledger_reconciles",
        asset="pubmed_files",
        blocking=True,
        description="read = upserted + older versions skipped + in-file duplicates + quarantined",
    ),
    dg.AssetCheckSpec(
        "citations_placed_in_categories",
        asset="pubmed_files",
        blocking=True,
        description="Every citation with MeSH headings has a heading in the MeSH vocabulary, so "
        "it belongs to a category. Fails with ERROR (blocks) while mesh_vocabulary is not loaded: "
        "nothing would be refreshed; with WARN when some headings are missing from the vocabulary",
    ),
]
RAW_ABSTRACTS_CHECKS = [
    dg.AssetCheckSpec(
        "abstracts_valid",
        asset="raw_abstracts",
        blocking=True,
        description="PMIDs unique/non-null, abstracts within sane lengths, hashes well formed",
    ),
    dg.AssetCheckSpec(
        "abstracts_reachable_from_category",
        asset="raw_abstracts",
        blocking=True,
        description="Every row has a heading whose tree number lies in the partition's category",
    ),
]
SHA256_HEX = r"^[0-9a-f]{64}$"


# ---- mesh_tree -----------------------------------------------------------------------------


def tree_numbers_well_formed(con: duckdb.DuckDBPyConnection, category: str) -> dg.AssetCheckResult:
    return run_query_check(
        con,
        "tree_numbers_well_formed",
        """SELECT tree_number, depth, len(string_split(tree_number, '.')) AS parts,
                  (parent_tree_number IS NULL) = (depth = 1) AS parent_consistent
           FROM mesh_tree WHERE category = ?""",
        [category],
        [
            ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
            ("ExpectColumnValuesToBeUnique", {"column": "tree_number"}),
            (
                "ExpectColumnValuesToMatchRegex",
                {"column": "tree_number", "regex": rf"^{category}\d{{2}}(\.\d{{3}})*$"},
            ),
            ("ExpectColumnPairValuesToBeEqual", {"column_A": "depth", "column_B": "parts"}),
            ("ExpectColumnValuesToBeInSet", {"column": "parent_consistent", "value_set": [True]}),
        ],
        {"category": category},
    )


def descriptor_uis_well_formed(
    con: duckdb.DuckDBPyConnection, category: str
) -> dg.AssetCheckResult:
    return run_query_check(
        con,
        "descriptor_uis_well_formed",
        """SELECT t.descriptor_ui, d.descriptor_ui IS NOT NULL AS descriptor_known
           FROM mesh_tree t LEFT JOIN mesh_descriptors d USING (descriptor_ui)
           WHERE t.category = ?""",
        [category],
        [
            ("ExpectColumnValuesToNotBeNull", {"column": "descriptor_ui"}),
            ("ExpectColumnValuesToMatchRegex", {"column": "descriptor_ui", "regex": r"^D\d{6,9}$"}),
            ("ExpectColumnValuesToBeInSet", {"column": "descriptor_known", "value_set": [True]}),
        ],
    )


def mesh_tree_checks(con: duckdb.DuckDBPyConnection, category: str) -> list[dg.AssetCheckResult]:
    return [tree_numbers_well_formed(con, category), descriptor_uis_well_formed(con, category)]


# ---- pubmed_files --------------------------------------------------------------------------


def citations_valid(con: duckdb.DuckDBPyConnection, file_name: str) -> dg.AssetCheckResult:
    return run_query_check(
        con,
        "citations_valid",
        "SELECT pmid, version, pub_year, content_hash FROM citations WHERE source_file = ?",
        [file_name],
        [
            ("ExpectColumnValuesToNotBeNull", {"column": "pmid"}),
            ("ExpectColumnValuesToBeUnique", {"column": "pmid"}),
            ("ExpectColumnValuesToBeBetween", {"column": "pmid", "min_value": 1}),
            ("ExpectColumnValuesToBeBetween", {"column": "version", "min_value": 1}),
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "pub_year", "min_value": 1600, "max_value": 2100},
            ),
            ("ExpectColumnValuesToMatchRegex", {"column": "content_hash", "regex": SHA256_HEX}),
        ],
        {"file": file_name},
    )


def ledger_reconciles(con: duckdb.DuckDBPyConnection, file_name: str) -> dg.AssetCheckResult:
    """The file has one ledger row, its counts add up, and its md5 (when published) matched."""
    rows = con.execute(
        """SELECT articles_read,
                  citations_upserted + citations_skipped_older + duplicates_in_file + quarantined,
                  md5 IS NULL OR md5_verified
           FROM pubmed_files WHERE file_name = ?""",
        [file_name],
    ).fetchall()
    metadata = {"file": file_name, "ledger_rows": len(rows)}
    if len(rows) != 1:
        return verdict("ledger_reconciles", False, metadata)
    read, accounted, md5_ok = rows[0]
    metadata |= {"articles_read": int(read), "accounted": int(accounted), "md5_ok": bool(md5_ok)}
    return verdict("ledger_reconciles", read == accounted and bool(md5_ok), metadata)


# The file's citations only: a check per loaded file must not read the whole corpus.
UNPLACED_CITATIONS_SQL = """
SELECT count(*) FROM citations c
WHERE c.source_file = ? AND len(c.mesh_headings) > 0 AND NOT EXISTS (
    SELECT 1 FROM citation_mesh cm JOIN mesh_vocabulary t USING (descriptor_ui)
    WHERE cm.pmid = c.pmid)
"""


def citations_placed_in_categories(
    con: duckdb.DuckDBPyConnection, file_name: str
) -> dg.AssetCheckResult:
    """The file's citations with MeSH that sit in no category are never refreshed.

    Before the vocabulary is loaded that is every one of them (the first-start trap): an ERROR,
    which blocks. With a vocabulary, some headings missing from it (another MeSH year, a partial
    vocabulary) is a WARN: shown as a failed check in the UI, while the placed citations flow."""
    vocabulary = sql_count(con, "SELECT count(*) FROM mesh_vocabulary", [])
    unplaced = sql_count(con, UNPLACED_CITATIONS_SQL, [file_name])
    reason = (
        "no MeSH vocabulary loaded: materialize mesh_vocabulary, then refresh the categories"
        if vocabulary == 0
        else "their headings are missing from the MeSH vocabulary (another MeSH year?)"
    )
    return dg.AssetCheckResult(
        check_name="citations_placed_in_categories",
        passed=unplaced == 0,
        severity=dg.AssetCheckSeverity.ERROR if vocabulary == 0 else dg.AssetCheckSeverity.WARN,
        metadata={
            "violations": unplaced,
            "vocabulary_tree_numbers": vocabulary,
            "if_failed": reason,
        },
    )


def pubmed_files_checks(
    con: duckdb.DuckDBPyConnection, file_name: str
) -> list[dg.AssetCheckResult]:
    return [
        citations_valid(con, file_name),
        ledger_reconciles(con, file_name),
        citations_placed_in_categories(con, file_name),
    ]


# ---- raw_abstracts -------------------------------------------------------------------------


def abstracts_valid(
    con: duckdb.DuckDBPyConnection, category: str, min_chars: int, max_chars: int
) -> dg.AssetCheckResult:
    return run_query_check(
        con,
        "abstracts_valid",
        """SELECT pmid, length(abstract) AS abstract_chars, content_hash
           FROM raw_abstracts WHERE category = ?""",
        [category],
        [
            ("ExpectColumnValuesToNotBeNull", {"column": "pmid"}),
            ("ExpectColumnValuesToBeUnique", {"column": "pmid"}),
            (
                "ExpectColumnValuesToBeBetween",
                {"column": "abstract_chars", "min_value": min_chars, "max_value": max_chars},
            ),
            ("ExpectColumnValuesToMatchRegex", {"column": "content_hash", "regex": SHA256_HEX}),
        ],
        {"category": category},
    )


def abstracts_reachable_from_category(
    con: duckdb.DuckDBPyConnection, category: str
) -> dg.AssetCheckResult:
    return count_check(
        con,
        "abstracts_reachable_from_category",
        """SELECT count(*) FROM raw_abstracts WHERE category = ?
           AND NOT len(list_filter(tree_numbers, lambda t: starts_with(t, ?))) > 0""",
        [category, category],
        {"category": category},
    )


def raw_abstracts_checks(
    con: duckdb.DuckDBPyConnection, category: str, min_chars: int, max_chars: int
) -> list[dg.AssetCheckResult]:
    return [
        abstracts_valid(con, category, min_chars, max_chars),
        abstracts_reachable_from_category(con, category),
    ]
