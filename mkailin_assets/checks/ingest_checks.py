"""Blocking data-quality checks for mesh_tree, pubmed_files and raw_abstracts (GX suites)."""

from __future__ import annotations

import dagster as dg
import duckdb

from mkailin_assets.checks.gx_runner import run_check

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


def mesh_tree_checks(con: duckdb.DuckDBPyConnection, category: str) -> list[dg.AssetCheckResult]:
    rows = con.execute(
        """SELECT t.tree_number, t.descriptor_ui, t.depth, t.parent_tree_number,
                  len(string_split(t.tree_number, '.')) AS parts,
                  (t.parent_tree_number IS NULL) = (t.depth = 1) AS parent_consistent,
                  d.descriptor_ui IS NOT NULL AS descriptor_known
           FROM mesh_tree t LEFT JOIN mesh_descriptors d USING (descriptor_ui)
           WHERE t.category = ?""",
        [category],
    ).df()
    letter_pattern = rf"^{category}\d{{2}}(\.\d{{3}})*$"
    return [
        run_check(
            "tree_numbers_well_formed",
            rows,
            [
                ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
                ("ExpectColumnValuesToBeUnique", {"column": "tree_number"}),
                (
                    "ExpectColumnValuesToMatchRegex",
                    {"column": "tree_number", "regex": letter_pattern},
                ),
                ("ExpectColumnPairValuesToBeEqual", {"column_A": "depth", "column_B": "parts"}),
                (
                    "ExpectColumnValuesToBeInSet",
                    {"column": "parent_consistent", "value_set": [True]},
                ),
            ],
            {"category": category},
        ),
        run_check(
            "descriptor_uis_well_formed",
            rows,
            [
                ("ExpectColumnValuesToNotBeNull", {"column": "descriptor_ui"}),
                (
                    "ExpectColumnValuesToMatchRegex",
                    {"column": "descriptor_ui", "regex": r"^D\d{6,9}$"},
                ),
                (
                    "ExpectColumnValuesToBeInSet",
                    {"column": "descriptor_known", "value_set": [True]},
                ),
            ],
        ),
    ]


def pubmed_files_checks(
    con: duckdb.DuckDBPyConnection, file_name: str
) -> list[dg.AssetCheckResult]:
    citations = con.execute(
        "SELECT pmid, version, pub_year, content_hash FROM citations WHERE source_file = ?",
        [file_name],
    ).df()
    ledger = con.execute(
        """SELECT articles_read,
                  citations_upserted + citations_skipped_older + duplicates_in_file + quarantined
                      AS accounted,
                  md5 IS NULL OR md5_verified AS md5_ok
           FROM pubmed_files WHERE file_name = ?""",
        [file_name],
    ).df()
    return [
        run_check(
            "citations_valid",
            citations,
            [
                ("ExpectColumnValuesToNotBeNull", {"column": "pmid"}),
                ("ExpectColumnValuesToBeUnique", {"column": "pmid"}),
                ("ExpectColumnValuesToBeBetween", {"column": "pmid", "min_value": 1}),
                ("ExpectColumnValuesToBeBetween", {"column": "version", "min_value": 1}),
                (
                    "ExpectColumnValuesToBeBetween",
                    {"column": "pub_year", "min_value": 1600, "max_value": 2100},
                ),
                (
                    "ExpectColumnValuesToMatchRegex",
                    {"column": "content_hash", "regex": r"^[0-9a-f]{64}$"},
                ),
            ],
            {"file": file_name},
        ),
        run_check(
            "ledger_reconciles",
            ledger,
            [
                ("ExpectTableRowCountToEqual", {"value": 1}),
                (
                    "ExpectColumnPairValuesToBeEqual",
                    {"column_A": "articles_read", "column_B": "accounted"},
                ),
                ("ExpectColumnValuesToBeInSet", {"column": "md5_ok", "value_set": [True]}),
            ],
            {"file": file_name},
        ),
    ]


def raw_abstracts_checks(
    con: duckdb.DuckDBPyConnection, category: str, min_chars: int, max_chars: int
) -> list[dg.AssetCheckResult]:
    rows = con.execute(
        """SELECT pmid, length(abstract) AS abstract_chars, content_hash,
                  len(list_filter(tree_numbers, lambda t: starts_with(t, ?))) > 0 AS reachable
           FROM raw_abstracts WHERE category = ?""",
        [category, category],
    ).df()
    return [
        run_check(
            "abstracts_valid",
            rows,
            [
                ("ExpectColumnValuesToNotBeNull", {"column": "pmid"}),
                ("ExpectColumnValuesToBeUnique", {"column": "pmid"}),
                (
                    "ExpectColumnValuesToBeBetween",
                    {"column": "abstract_chars", "min_value": min_chars, "max_value": max_chars},
                ),
                (
                    "ExpectColumnValuesToMatchRegex",
                    {"column": "content_hash", "regex": r"^[0-9a-f]{64}$"},
                ),
            ],
            {"category": category},
        ),
        run_check(
            "abstracts_reachable_from_category",
            rows,
            [("ExpectColumnValuesToBeInSet", {"column": "reachable", "value_set": [True]})],
            {"category": category},
        ),
    ]
