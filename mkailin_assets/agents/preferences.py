"""Preferences between a source's candidates (docs/method.md#preferences).

Pure Polars; no LLM. Rules:
- Cold-start label of a pair: the candidate with the higher MeSH score wins when the gap is at
  least `margin`; a pair with a null score or a smaller gap is unlabelled.
- Optional band [min_score, max_score]: a source is kept only when every non-null score of its
  candidates lies in the band (the authors' code dropped sources scoring above 0.5). Off by
  default.
- Final label: the judge's winner when both position orders agreed on a winner, else the
  cold-start label; pairs with neither stay unlabelled (counted, never emitted). Verdicts of the
  offline backend (which only echoes the cold-start label) are not judge verdicts: their pairs
  keep label_source 'cold_start' and a null judge_verdict.
- Preferred candidate per source (`preference_source`):
  * 'single'     — the source has one candidate;
  * 'judge' / 'cold_start' — most pairwise wins among labelled pairs, ties broken by higher MeSH
    score then smaller candidate_id; 'judge' when any labelled pair of the source was judged;
  * 'score'      — no labelled pair: the highest MeSH score (ties by candidate_id);
  * 'tie'        — no labelled pair and no score tells the candidates apart (all null or the top
    scores equal): the smallest candidate_id, recorded as a tie.
"""

from __future__ import annotations

import polars as pl

MARGIN_TOLERANCE = 1e-9

SCORE_SCHEMA = {"source_pmid": pl.Int64, "candidate_id": pl.String, "mesh_score": pl.Float64}

PAIR_SCHEMA = {
    "source_pmid": pl.Int64,
    "a_id": pl.String,
    "b_id": pl.String,
    "a_score": pl.Float64,
    "b_score": pl.Float64,
    "gap": pl.Float64,
    "cold_start_winner": pl.String,
}

VERDICT_SCHEMA = {
    "a_id": pl.String,
    "b_id": pl.String,
    "judge_winner": pl.String,
    "judge_consistent": pl.Boolean,
    "judge_call_ids": pl.List(pl.String),
    # Verdicts of the offline backend merely echo the cold-start label: never counted as judge.
    "judge_offline": pl.Boolean,
}

PREFERENCE_COLUMNS = [
    "source_pmid",
    "chosen_id",
    "rejected_id",
    "chosen_score",
    "rejected_score",
    "margin",
    "cold_start_label",
    "judge_verdict",
    "judge_consistent",
    "label_source",
    "judge_call_ids",
]

PREFERRED_COLUMNS = [
    "source_pmid",
    "candidate_id",
    "mesh_score",
    "preference_source",
    "wins",
    "labelled_pairs",
    "unlabelled_pairs",
]


def _scores(scores: pl.DataFrame) -> pl.DataFrame:
    return scores.select(
        pl.col("source_pmid").cast(pl.Int64),
        pl.col("candidate_id").cast(pl.String),
        pl.col("mesh_score").cast(pl.Float64),
    ).unique(subset=["source_pmid", "candidate_id"], keep="first", maintain_order=True)


def sources_in_band(
    scores: pl.DataFrame, band: tuple[float | None, float | None] | None
) -> pl.DataFrame:
    """Per source: in_band (all non-null scores inside [min, max]); every source when no band."""
    frame = _scores(scores)
    low, high = band if band is not None else (None, None)
    outside = pl.lit(False)
    if low is not None:
        outside = outside | (pl.col("mesh_score") < low)
    if high is not None:
        outside = outside | (pl.col("mesh_score") > high)
    return (
        frame.group_by("source_pmid", maintain_order=True)
        .agg(outside.fill_null(False).any().alias("outside"))
        .select("source_pmid", (~pl.col("outside")).alias("in_band"))
    )


def cold_start_pairs(
    scores: pl.DataFrame,
    margin: float = 0.1,
    band: tuple[float | None, float | None] | None = None,
) -> pl.DataFrame:
    """Every unordered candidate pair per source (a_id < b_id) with its cold-start label.

    `scores` has source_pmid, candidate_id, mesh_score (nullable). Columns out: PAIR_SCHEMA.
    """
    frame = _scores(scores)
    if band is not None:
        kept = sources_in_band(frame, band).filter(pl.col("in_band")).select("source_pmid")
        frame = frame.join(kept, on="source_pmid", how="semi")
    a = frame.rename({"candidate_id": "a_id", "mesh_score": "a_score"})
    b = frame.rename({"candidate_id": "b_id", "mesh_score": "b_score"})
    pairs = a.join(b, on="source_pmid", how="inner").filter(pl.col("a_id") < pl.col("b_id"))
    gap = (pl.col("a_score") - pl.col("b_score")).abs()
    # A tolerance so a gap of exactly `margin` (0.7 - 0.6) is not lost to float rounding.
    winner = (
        pl.when(gap.is_null() | (gap < margin - MARGIN_TOLERANCE))
        .then(pl.lit(None, dtype=pl.String))
        .when(pl.col("a_score") > pl.col("b_score"))
        .then(pl.col("a_id"))
        .otherwise(pl.col("b_id"))
    )
    return (
        pairs.with_columns(gap.alias("gap"), winner.alias("cold_start_winner"))
        .select(list(PAIR_SCHEMA))
        .cast(PAIR_SCHEMA)
        .sort("source_pmid", "a_id", "b_id")
    )


def _empty_verdicts() -> pl.DataFrame:
    return pl.DataFrame(schema=VERDICT_SCHEMA)


def label_pairs(pairs: pl.DataFrame, verdicts: pl.DataFrame | None) -> pl.DataFrame:
    """Pairs with judge verdicts joined, the final winner and its label_source (null when none)."""
    verdicts = _empty_verdicts() if verdicts is None else verdicts
    if "judge_offline" not in verdicts.columns:
        verdicts = verdicts.with_columns(pl.lit(False).alias("judge_offline"))
    verdicts = verdicts.select(list(VERDICT_SCHEMA)).cast(VERDICT_SCHEMA)
    joined = pairs.join(verdicts, on=["a_id", "b_id"], how="left")
    offline = pl.col("judge_offline").fill_null(False)
    joined = joined.with_columns(
        pl.when(offline).then(None).otherwise(pl.col("judge_winner")).alias("judge_winner"),
        pl.when(offline).then(None).otherwise(pl.col("judge_consistent")).alias("judge_consistent"),
    )
    judged = pl.col("judge_consistent").fill_null(False) & pl.col("judge_winner").is_not_null()
    return joined.with_columns(
        pl.when(judged)
        .then(pl.col("judge_winner"))
        .otherwise(pl.col("cold_start_winner"))
        .alias("final_winner"),
        pl.when(judged)
        .then(pl.lit("judge"))
        .when(pl.col("cold_start_winner").is_not_null())
        .then(pl.lit("cold_start"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("label_source"),
    )


def final_preferences(
    pairs: pl.DataFrame,
    verdicts: pl.DataFrame | None,
    scores: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(preference_rows, preferred) from cold-start pairs and combined judge verdicts.

    preference_rows: PREFERENCE_COLUMNS, the layout of the preference_pairs table (without
    category/created_at), one row per labelled pair. preferred: PREFERRED_COLUMNS, one row per
    source. Pass `scores` (the frame given to cold_start_pairs) so single-candidate sources get a
    preferred row too; sources with several candidates but no pairs (outside the band) get none.
    """
    labelled = label_pairs(pairs, verdicts)
    preference_rows = _preference_rows(labelled.filter(pl.col("final_winner").is_not_null()))
    preferred = _preferred(labelled, scores)
    return preference_rows, preferred


def _preference_rows(labelled: pl.DataFrame) -> pl.DataFrame:
    a_won = pl.col("final_winner") == pl.col("a_id")
    frame = labelled.with_columns(
        pl.col("final_winner").alias("chosen_id"),
        pl.when(a_won).then(pl.col("b_id")).otherwise(pl.col("a_id")).alias("rejected_id"),
        pl.when(a_won).then(pl.col("a_score")).otherwise(pl.col("b_score")).alias("chosen_score"),
        pl.when(a_won).then(pl.col("b_score")).otherwise(pl.col("a_score")).alias("rejected_score"),
        pl.col("cold_start_winner").alias("cold_start_label"),
        pl.col("judge_winner").alias("judge_verdict"),
    )
    # Signed: a judge may prefer the lower-scoring candidate, which shows as a negative margin.
    frame = frame.with_columns((pl.col("chosen_score") - pl.col("rejected_score")).alias("margin"))
    return frame.select(PREFERENCE_COLUMNS).sort("source_pmid", "chosen_id", "rejected_id")


def _candidates(labelled: pl.DataFrame, scores: pl.DataFrame | None) -> pl.DataFrame:
    from_pairs = pl.concat(
        [
            labelled.select(
                "source_pmid",
                pl.col("a_id").alias("candidate_id"),
                pl.col("a_score").alias("mesh_score"),
            ),
            labelled.select(
                "source_pmid",
                pl.col("b_id").alias("candidate_id"),
                pl.col("b_score").alias("mesh_score"),
            ),
        ]
    ).unique(subset=["source_pmid", "candidate_id"], keep="first")
    if scores is None:
        return from_pairs
    frame = _scores(scores)
    counts = frame.group_by("source_pmid").agg(pl.len().alias("n"))
    singles = frame.join(counts.filter(pl.col("n") == 1), on="source_pmid", how="semi")
    return pl.concat([from_pairs.cast(SCORE_SCHEMA), singles.cast(SCORE_SCHEMA)]).unique(
        subset=["source_pmid", "candidate_id"], keep="first"
    )


def _preferred(labelled: pl.DataFrame, scores: pl.DataFrame | None) -> pl.DataFrame:
    candidates = _candidates(labelled, scores)
    wins = (
        labelled.filter(pl.col("final_winner").is_not_null())
        .group_by("source_pmid", pl.col("final_winner").alias("candidate_id"))
        .agg(pl.len().cast(pl.Int64).alias("wins"))
    )
    per_source = labelled.group_by("source_pmid").agg(
        pl.col("final_winner").is_not_null().sum().cast(pl.Int64).alias("labelled_pairs"),
        pl.col("final_winner").is_null().sum().cast(pl.Int64).alias("unlabelled_pairs"),
        (pl.col("label_source") == "judge").any().alias("any_judge"),
    )
    ranked = (
        candidates.join(wins, on=["source_pmid", "candidate_id"], how="left")
        .join(per_source, on="source_pmid", how="left")
        .with_columns(
            pl.col("wins").fill_null(0),
            pl.col("labelled_pairs").fill_null(0),
            pl.col("unlabelled_pairs").fill_null(0),
            pl.len().over("source_pmid").alias("n_candidates"),
        )
        .sort(
            ["source_pmid", "wins", "mesh_score", "candidate_id"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
    )
    # Whether the runner-up has the same score as the winner (or every score is null).
    ranked = ranked.with_columns(
        pl.col("mesh_score").shift(-1).over("source_pmid").alias("next_score"),
        pl.col("mesh_score").is_null().all().over("source_pmid").alias("all_null"),
    )
    best = ranked.group_by("source_pmid", maintain_order=True).first()
    no_distinction = pl.col("all_null") | (pl.col("mesh_score") == pl.col("next_score")).fill_null(
        False
    )
    source = (
        pl.when(pl.col("n_candidates") == 1)
        .then(pl.lit("single"))
        .when(pl.col("labelled_pairs") > 0)
        .then(pl.when(pl.col("any_judge")).then(pl.lit("judge")).otherwise(pl.lit("cold_start")))
        .when(no_distinction)
        .then(pl.lit("tie"))
        .otherwise(pl.lit("score"))
    )
    return (
        best.with_columns(source.alias("preference_source"))
        .select(PREFERRED_COLUMNS)
        .sort("source_pmid")
    )
