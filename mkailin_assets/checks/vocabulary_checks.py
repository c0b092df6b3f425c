"""Blocking data-quality checks for mesh_vocabulary, the whole MeSH tree (GX suites)."""

from __future__ import annotations

import dagster as dg
import duckdb

from mkailin_assets.checks.gx_runner import run_check

MESH_VOCABULARY_CHECKS = [
    dg.AssetCheckSpec(
        "vocabulary_tree_well_formed",
        asset="mesh_vocabulary",
        blocking=True,
        description="Tree numbers unique and well formed; depth, parent and category consistent; "
        "every parent is itself in the tree",
    ),
    dg.AssetCheckSpec(
        "vocabulary_descriptors_known",
        asset="mesh_vocabulary",
        blocking=True,
        description="Every tree row names a loaded descriptor with a well-formed UI, and every "
        "loaded descriptor with tree numbers has all of them in the tree",
    ),
]

_TREE_ROWS_SQL = """
SELECT v.tree_number, v.category, v.depth,
       len(string_split(v.tree_number, '.')) AS parts,
       left(v.tree_number, 1) = v.category AS category_consistent,
       (v.parent_tree_number IS NULL) = (v.depth = 1) AS parent_consistent,
       v.parent_tree_number IS NULL OR p.tree_number IS NOT NULL AS parent_present
FROM mesh_vocabulary v LEFT JOIN mesh_vocabulary p ON p.tree_number = v.parent_tree_number
"""

# One row per descriptor: its UI, whether it is loaded, and whether the tree holds exactly the
# tree numbers the descriptor record lists.
_DESCRIPTOR_ROWS_SQL = """
WITH tree AS (
    SELECT descriptor_ui, list_sort(list(tree_number)) AS tree_numbers
    FROM mesh_vocabulary GROUP BY descriptor_ui
)
SELECT coalesce(t.descriptor_ui, d.descriptor_ui) AS descriptor_ui,
       d.descriptor_ui IS NOT NULL AS descriptor_known,
       coalesce(t.tree_numbers, []) = list_sort(coalesce(d.tree_numbers, [])) AS tree_complete
FROM tree t FULL JOIN (SELECT * FROM mesh_descriptors WHERE len(tree_numbers) > 0) d
     USING (descriptor_ui)
"""


def vocabulary_tree_well_formed(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    rows = con.execute(_TREE_ROWS_SQL).df()
    return run_check(
        "vocabulary_tree_well_formed",
        rows,
        [
            ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
            ("ExpectColumnValuesToBeUnique", {"column": "tree_number"}),
            (
                "ExpectColumnValuesToMatchRegex",
                {"column": "tree_number", "regex": r"^[A-Z]\d{2}(\.\d{3})*$"},
            ),
            ("ExpectColumnPairValuesToBeEqual", {"column_A": "depth", "column_B": "parts"}),
            ("ExpectColumnValuesToBeInSet", {"column": "category_consistent", "value_set": [True]}),
            ("ExpectColumnValuesToBeInSet", {"column": "parent_consistent", "value_set": [True]}),
            ("ExpectColumnValuesToBeInSet", {"column": "parent_present", "value_set": [True]}),
        ],
    )


def vocabulary_descriptors_known(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    rows = con.execute(_DESCRIPTOR_ROWS_SQL).df()
    return run_check(
        "vocabulary_descriptors_known",
        rows,
        [
            ("ExpectColumnValuesToMatchRegex", {"column": "descriptor_ui", "regex": r"^D\d{6,9}$"}),
            ("ExpectColumnValuesToBeInSet", {"column": "descriptor_known", "value_set": [True]}),
            ("ExpectColumnValuesToBeInSet", {"column": "tree_complete", "value_set": [True]}),
        ],
    )


def mesh_vocabulary_checks(con: duckdb.DuckDBPyConnection) -> list[dg.AssetCheckResult]:
    return [vocabulary_tree_well_formed(con), vocabulary_descriptors_known(con)]
