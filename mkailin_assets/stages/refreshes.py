"""What each category's refresh covered (table category_refreshes, read by the
category_freshness view and the dataset card's freshness section)."""

from __future__ import annotations

import duckdb

_RAW = """
INSERT OR REPLACE INTO category_refreshes
SELECT ?, 'raw_abstracts', (SELECT max(file_name) FROM pubmed_files), now()::TIMESTAMP
"""
# training_set is built from raw_abstracts: it covers what they covered.
_TRAINING = """
INSERT OR REPLACE INTO category_refreshes
SELECT $category, 'training_set',
       (SELECT covered_file FROM category_refreshes
        WHERE category = $category AND stage = 'raw_abstracts'),
       now()::TIMESTAMP
"""


def record_refresh(con: duckdb.DuckDBPyConnection, category: str, stage: str) -> None:
    """Inside the caller's transaction, beside the partition write it describes."""
    if stage == "raw_abstracts":
        con.execute(_RAW, [category])
    elif stage == "training_set":
        con.execute(_TRAINING, {"category": category})
    else:
        raise ValueError(f"no refresh is recorded for stage {stage!r}")
