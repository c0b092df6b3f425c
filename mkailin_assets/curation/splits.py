"""Deterministic train/validation/test assignment by source PMID.

Each PMID is hashed (BLAKE2b of "<seed>:<pmid>") to a point in [0, 1) and falls into the split
whose cumulative ratio interval contains it. The assignment depends only on the PMID, the seed
and the ratios: every record of a PMID lands in the same split, and adding records never moves
an existing PMID.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

DEFAULT_RATIOS: dict[str, float] = {"train": 0.9, "validation": 0.05, "test": 0.05}
DEFAULT_SEED = "mkailin"


def _validated(ratios: dict[str, float]) -> dict[str, float]:
    if not ratios:
        raise ValueError("split ratios must name at least one split")
    if any(value < 0 or not math.isfinite(value) for value in ratios.values()):
        raise ValueError(f"split ratios must be finite and non-negative: {ratios}")
    if not math.isclose(sum(ratios.values()), 1.0, abs_tol=1e-9):
        raise ValueError(f"split ratios must sum to 1, got {sum(ratios.values())}: {ratios}")
    return ratios


def pmid_unit_interval(pmids: list[int], seed: str = DEFAULT_SEED) -> np.ndarray:
    """A stable pseudo-random point in [0, 1) for each PMID (53 bits of its hash)."""
    digests = b"".join(
        hashlib.blake2b(f"{seed}:{int(p)}".encode(), digest_size=8).digest() for p in pmids
    )
    values = np.frombuffer(digests, dtype=">u8") >> np.uint64(11)
    return values.astype(np.float64) / float(1 << 53)


def split_of(points: np.ndarray, ratios: dict[str, float]) -> np.ndarray:
    """Index into `ratios` of each point's split (cumulative intervals, in the dict's order)."""
    bounds = np.cumsum(list(ratios.values()))
    bounds[-1] = 1.0  # rounding must never leave a point past the last split
    return np.minimum(np.searchsorted(bounds, points, side="right"), len(bounds) - 1)


def assign_splits(
    frame: pl.DataFrame,
    ratios: dict[str, float] | None = None,
    seed: str = DEFAULT_SEED,
) -> pl.DataFrame:
    """The frame with a `split` column chosen by a hash of `source_pmid`."""
    ratios = _validated(dict(DEFAULT_RATIOS if ratios is None else ratios))
    pmids = frame.select(pl.col("source_pmid").cast(pl.Int64).unique().sort())["source_pmid"]
    if pmids.null_count():
        raise ValueError("source_pmid must not be null when assigning splits")
    names = list(ratios)
    chosen = split_of(pmid_unit_interval(pmids.to_list(), seed), ratios)
    lookup = pl.DataFrame(
        {"source_pmid": pmids, "split": [names[i] for i in chosen]},
        schema={"source_pmid": pl.Int64, "split": pl.String},
    )
    keyed = frame.drop("split", strict=False).with_columns(
        pl.col("source_pmid").cast(pl.Int64).alias("_split_pmid")
    )
    return keyed.join(
        lookup.rename({"source_pmid": "_split_pmid"}),
        on="_split_pmid",
        how="left",
        maintain_order="left",
    ).drop("_split_pmid")


def split_counts(frame: pl.DataFrame) -> dict[str, int]:
    """Records per split."""
    counts = frame.group_by("split").len().sort("split")
    return dict(zip(counts["split"].to_list(), counts["len"].to_list(), strict=True))


@dataclass(frozen=True)
class SplitRule:
    """Which citations a record may draw on as contexts: only those whose PMID hashes to the
    record's own split (the split its source PMID is assigned, `assign_splits`).

    Every PMID has a split by its hash, whether or not it is a source yet, so the rule needs no
    list of sources: a validation or test source (present or future) is never a context of a
    train record, and a train source never a context of a held-out record.
    """

    ratios: dict[str, float]
    seed: str = DEFAULT_SEED

    def splits_of(self, pmids: pl.Series | list[int]) -> pl.Series:
        """The split each PMID hashes to, in order."""
        values = pl.Series(pmids, dtype=pl.Int64)
        if values.is_empty():
            return pl.Series("split", [], dtype=pl.String)
        names = list(_validated(dict(self.ratios)))
        chosen = split_of(pmid_unit_interval(values.to_list(), self.seed), self.ratios)
        return pl.Series("split", [names[i] for i in chosen], dtype=pl.String)

    def foreign_contexts(self, frame: pl.DataFrame, column: str = "context_pmids") -> pl.DataFrame:
        """(row index, source_pmid, source split, context pmid, context split) for every context
        of `frame` (source_pmid, `column`: list of PMIDs) outside its source's split."""
        pairs = (
            frame.select(pl.col("source_pmid").cast(pl.Int64), pl.col(column).alias("pmid"))
            .with_row_index("row")
            .explode("pmid")
            .drop_nulls("pmid")
            .with_columns(pl.col("pmid").cast(pl.Int64))
        )
        if pairs.is_empty():
            return pairs.with_columns(
                pl.lit(None, dtype=pl.String).alias("source_split"),
                pl.lit(None, dtype=pl.String).alias("pmid_split"),
            )
        return pairs.with_columns(
            self.splits_of(pairs["source_pmid"]).alias("source_split"),
            self.splits_of(pairs["pmid"]).alias("pmid_split"),
        ).filter(pl.col("source_split") != pl.col("pmid_split"))
