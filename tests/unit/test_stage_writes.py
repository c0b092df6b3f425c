"""Stage writes report what they changed, including rows they deleted."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from mkailin_assets.stages.evaluation import (
    EVALUATED_COLUMNS,
    PREFERENCE_TABLE_COLUMNS,
    write_evaluation,
)
from mkailin_assets.stages.training import FILTERED_SCHEMA, TRAINING_COLUMNS, write_training


@pytest.fixture
def con(schema_con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return schema_con


def _evaluated_rows(con: duckdb.DuckDBPyConnection, category: str, ids: list[str]) -> None:
    for number, candidate in enumerate(ids):
        con.execute(
            """INSERT INTO evaluated_qa (category, candidate_id, source_pmid, question, agent, model,
                   prompt_version, context_pmids, contexts_with_mesh, contexts_without_mesh,
                   is_preferred, source_hash, created_at)
               VALUES (?, ?, ?, 'Why?', 'a', 'm', 'v1', [1], 1, 0, true, 'h', now())""",
            [category, candidate, 100 + number],
        )
    con.execute(
        """INSERT INTO preference_pairs (category, source_pmid, chosen_id, rejected_id,
               label_source, created_at) VALUES (?, 100, ?, ?, 'cold_start', now())""",
        [category, ids[0], ids[1]],
    )


def _empty(columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={c: pl.String for c in columns})


def test_emptied_evaluation_reports_the_rows_it_deleted(con):
    _evaluated_rows(con, "K", ["c1", "c2", "c3"])
    _evaluated_rows(con, "H", ["c1", "c2"])
    changes = write_evaluation(
        con, "K", _empty(EVALUATED_COLUMNS), _empty(PREFERENCE_TABLE_COLUMNS)
    )
    assert changes == {"inserted": 0, "deleted": 3, "pairs_inserted": 0, "pairs_deleted": 1}
    counts = dict(con.execute("SELECT category, count(*) FROM evaluated_qa GROUP BY 1").fetchall())
    assert counts == {"H": 2}  # the other category is untouched
    # Nothing left to delete: a second run reports nothing.
    again = write_evaluation(con, "K", _empty(EVALUATED_COLUMNS), _empty(PREFERENCE_TABLE_COLUMNS))
    assert again["deleted"] == 0 and again["pairs_deleted"] == 0


def test_emptied_training_set_reports_the_rows_it_deleted(con):
    for record in ("sft:K:c1", "sft:K:c2"):
        con.execute(
            """INSERT INTO training_set VALUES ('K', ?, 'sft', 'train', 1, [2], 'Why?', '{}', '{}',
                   now())""",
            [record],
        )
    changes = write_training(
        con,
        "K",
        pl.DataFrame(schema={c: pl.String for c in TRAINING_COLUMNS}),
        pl.DataFrame(schema=FILTERED_SCHEMA),
    )
    assert changes == {"inserted": 0, "deleted": 2}
    assert con.execute("SELECT count(*) FROM training_set").fetchall() == [(0,)]
