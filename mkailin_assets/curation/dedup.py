"""Exact and near-duplicate detection over (record_id, text) frames.

Near duplicates: MinHash signatures over word shingles and LSH banding, vectorised with numpy.
The band/row split is chosen exactly as datasketch's MinHashLSH chooses it (minimising the
weighted false-positive and false-negative areas), so threshold, num_perm and weights mean the
same here as there. Candidate pairs are kept when their estimated (or, optionally, exact)
Jaccard reaches the threshold; clusters are the connected components of the kept pairs, and
each cluster keeps its smallest record_id.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from mkailin_assets.curation.text import normalize_series, shingle_hashes

_MIX = np.uint64(0x9E3779B97F4A7C15)
# Shingle x permutation cells per MinHash chunk: an 8 MiB buffer stays cache-friendly.
_CHUNK_CELLS = 1 << 20
_MAX_BUCKET_CLIQUE = 64  # larger LSH buckets are linked as stars to stay linear


def _require_unique_ids(frame: pl.DataFrame) -> None:
    if frame["record_id"].n_unique() != frame.height:
        raise ValueError("record_id must be unique in the frame passed to deduplication")


def exact_duplicates(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose normalised text equals a row with a smaller record_id.

    Input: record_id, text. Output: record_id (removed), twin_id (the kept smallest record_id of
    the same normalised text). Empty or null texts are never duplicates of each other.
    """
    _require_unique_ids(frame)
    normalised = frame.select(
        pl.col("record_id").cast(pl.String), normalize_series(frame["text"]).alias("norm")
    ).filter(pl.col("norm") != "")
    return (
        normalised.with_columns(pl.col("record_id").min().over("norm").alias("twin_id"))
        .filter(pl.col("record_id") != pl.col("twin_id"))
        .select("record_id", "twin_id")
        .sort("record_id")
    )


def _integrate(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Trapezoid rule along the last axis."""
    step = np.diff(grid)
    return ((values[..., 1:] + values[..., :-1]) * 0.5 * step).sum(axis=-1)


@lru_cache(maxsize=64)
def lsh_parameters(
    threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false-positive + false-negative areas, exactly as
    datasketch's MinHashLSH(threshold, num_perm, weights) chooses them."""
    if not 0.0 < threshold < 1.0:
        raise ValueError("threshold must be between 0 and 1")
    candidates = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bands = np.array([c[0] for c in candidates], dtype=float)[:, None]
    rows = np.array([c[1] for c in candidates], dtype=float)[:, None]
    below = np.linspace(0.0, threshold, 2001)
    above = np.linspace(threshold, 1.0, 2001)
    false_positive = _integrate(1 - (1 - below[None, :] ** rows) ** bands, below)
    false_negative = _integrate((1 - above[None, :] ** rows) ** bands, above)
    best = int(np.argmin(false_positive * weights[0] + false_negative * weights[1]))
    return candidates[best]


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiply-add-shift universal hash parameters (a odd), one pair per permutation."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, np.iinfo(np.uint64).max, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, np.iinfo(np.uint64).max, size=num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(
    doc: np.ndarray, hashes: np.ndarray, num_docs: int, num_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash of each document with shingles: (doc indices with shingles, uint32 signatures).

    `doc` must be sorted. h_i(x) = (a_i * x + b_i mod 2^64) >> 32 over the 32-bit folded shingle
    hash x, computed chunk by chunk as a (num_perm, shingles) matrix and reduced per document.
    """
    a, b = _permutations(num_perm, seed)
    x = (hashes ^ (hashes >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    present = np.flatnonzero(np.bincount(doc, minlength=num_docs))
    starts = np.searchsorted(doc, present)
    ends = np.append(starts[1:], hashes.size)
    signatures = np.empty((present.size, num_perm), dtype=np.uint32)
    # Chunks of whole documents holding at most `budget` shingles (a longer document alone).
    budget = max(_CHUNK_CELLS // num_perm, int((ends - starts).max(initial=1)))
    buffer = np.empty(num_perm * budget, dtype=np.uint64)
    first = 0
    while first < present.size:
        last = int(np.searchsorted(ends, starts[first] + budget, side="right"))
        lo, hi = starts[first], ends[last - 1]
        # In place in one reused buffer: temporaries of this size cost more than the arithmetic.
        permuted = buffer[: num_perm * (hi - lo)].reshape(num_perm, hi - lo)
        np.multiply(a[:, None], x[None, lo:hi], out=permuted)
        np.add(permuted, b[:, None], out=permuted)
        np.right_shift(permuted, np.uint64(32), out=permuted)
        signatures[first:last] = np.minimum.reduceat(permuted, starts[first:last] - lo, axis=1).T
        first = last
    return present, signatures


def _band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(bands, docs) uint64 key of each band of each signature, salted by band."""
    keys = np.empty((bands, signatures.shape[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            block = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
            key = np.full(signatures.shape[0], np.uint64(band + 1) * _MIX, dtype=np.uint64)
            for col in range(rows):
                key = (key ^ block[:, col]) * _MIX
                key ^= key >> np.uint64(29)
            keys[band] = key
    return keys


def _candidate_pairs(keys: np.ndarray) -> np.ndarray:
    """Unique (i, j), i < j, of documents sharing a key in some band; shape (pairs, 2)."""
    num_docs = keys.shape[1]
    flat_keys = keys.ravel()
    flat_docs = np.tile(np.arange(num_docs, dtype=np.int64), keys.shape[0])
    order = np.lexsort((flat_docs, flat_keys))
    sorted_keys, sorted_docs = flat_keys[order], flat_docs[order]
    new_group = np.empty(sorted_keys.size, dtype=bool)
    new_group[:1] = True
    new_group[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group = np.cumsum(new_group) - 1
    group_start = np.flatnonzero(new_group)
    group_size = np.diff(np.append(group_start, sorted_keys.size))
    size_of = group_size[group]
    pairs = []
    in_clique = size_of <= _MAX_BUCKET_CLIQUE
    largest = int(group_size[group_size <= _MAX_BUCKET_CLIQUE].max(initial=1))
    for offset in range(1, largest):
        left = np.flatnonzero(in_clique[:-offset] & (group[:-offset] == group[offset:]))
        pairs.append(np.stack([sorted_docs[left], sorted_docs[left + offset]], axis=1))
    star = np.flatnonzero(~in_clique & ~new_group)  # big buckets: each member to the first
    if star.size:
        firsts = sorted_docs[group_start[group[star]]]
        pairs.append(np.stack([firsts, sorted_docs[star]], axis=1))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    both = np.concatenate(pairs)
    both = both[both[:, 0] != both[:, 1]]
    both.sort(axis=1)
    codes = np.unique(both[:, 0] * num_docs + both[:, 1])
    return np.stack([codes // num_docs, codes % num_docs], axis=1)


def _estimated_jaccard(signatures: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    out = np.empty(pairs.shape[0], dtype=np.float64)
    step = 1 << 16
    for lo in range(0, pairs.shape[0], step):
        chunk = pairs[lo : lo + step]
        out[lo : lo + step] = (signatures[chunk[:, 0]] == signatures[chunk[:, 1]]).mean(axis=1)
    return out


def _exact_jaccard(
    doc: np.ndarray, hashes: np.ndarray, present: np.ndarray, pairs: np.ndarray
) -> np.ndarray:
    """True Jaccard of the shingle sets of each pair (pair indices are into `present`)."""
    if pairs.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    candidates = pl.DataFrame(
        {"pair": np.arange(pairs.shape[0]), "a": present[pairs[:, 0]], "b": present[pairs[:, 1]]}
    )
    involved = np.zeros(int(doc.max(initial=0)) + 1, dtype=bool)
    involved[present[pairs.ravel()]] = True
    keep = involved[doc]  # only the shingle sets of documents in some pair
    shingles = pl.DataFrame({"doc": doc[keep], "h": hashes[keep]}).unique()
    sizes = shingles.group_by("doc").len()
    shared = (
        candidates.join(shingles, left_on="a", right_on="doc")
        .join(shingles, left_on=["b", "h"], right_on=["doc", "h"])
        .group_by("pair")
        .len("shared")
    )
    scored = (
        candidates.join(sizes.rename({"len": "size_a"}), left_on="a", right_on="doc")
        .join(sizes.rename({"len": "size_b"}), left_on="b", right_on="doc")
        .join(shared, on="pair", how="left")
        .with_columns(pl.col("shared").fill_null(0))
        .sort("pair")
    )
    union = scored["size_a"] + scored["size_b"] - scored["shared"]
    return (scored["shared"] / union).to_numpy().astype(np.float64)


def connected_minimum(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """Label of each node = smallest node of its connected component (union-find result).

    Vectorised min-label propagation with pointer jumping; labels only ever decrease.
    """
    labels = np.arange(num_nodes, dtype=np.int64)
    if edges.size == 0:
        return labels
    left, right = edges[:, 0], edges[:, 1]
    while True:
        smaller = np.minimum(labels[left], labels[right])
        updated = labels.copy()
        np.minimum.at(updated, left, smaller)
        np.minimum.at(updated, right, smaller)
        updated = updated[updated]
        if np.array_equal(updated, labels):
            return labels
        labels = updated


def near_duplicates(
    frame: pl.DataFrame,
    threshold: float = 0.8,
    num_perm: int = 128,
    shingle_size: int = 3,
    seed: int = 1,
    weights: tuple[float, float] = (0.5, 0.5),
    verify: str = "estimate",
) -> pl.DataFrame:
    """Near-duplicate rows to remove: record_id, twin_id (kept), jaccard_estimate (vs the twin).

    Input: record_id, text (all categories at once). Within each cluster of pairs whose estimated
    Jaccard reaches `threshold`, the smallest record_id is kept. A member joined to its cluster
    through another member may estimate below the threshold against the kept twin itself.
    `weights` (false positive, false negative) steer the band/row choice as in datasketch:
    (0.2, 0.8) trades LSH precision for recall near the threshold. `verify="exact"` checks
    LSH candidates by the true Jaccard of their shingle sets instead of the MinHash estimate
    (no false positives, and pairs just above the threshold are not lost to estimate noise);
    jaccard_estimate then holds the true value.
    """
    if verify not in ("estimate", "exact"):
        raise ValueError(f"verify must be 'estimate' or 'exact', not {verify!r}")
    _require_unique_ids(frame)
    ordered = frame.select(pl.col("record_id").cast(pl.String), pl.col("text")).sort("record_id")
    doc, hashes = shingle_hashes(ordered["text"], shingle_size)
    present, signatures = minhash_signatures(doc, hashes, ordered.height, num_perm, seed)
    bands, rows = lsh_parameters(threshold, num_perm, tuple(weights))
    pairs = _candidate_pairs(_band_keys(signatures, bands, rows))

    def similarity(pairs_: np.ndarray) -> np.ndarray:
        if verify == "exact":
            return _exact_jaccard(doc, hashes, present, pairs_)
        return _estimated_jaccard(signatures, pairs_)

    similar = pairs[similarity(pairs) >= threshold]
    labels = connected_minimum(present.size, similar)
    removed = np.flatnonzero(labels != np.arange(present.size))
    twins = labels[removed]
    estimate = similarity(np.stack([removed, twins], axis=1))
    ids = ordered["record_id"]
    return pl.DataFrame(
        {
            "record_id": ids.gather(present[removed]),
            "twin_id": ids.gather(present[twins]),
            "jaccard_estimate": estimate,
        },
        schema={"record_id": pl.String, "twin_id": pl.String, "jaccard_estimate": pl.Float64},
    )


FILTERED_SCHEMA = {
    "record_id": pl.String,
    "filter": pl.String,
    "reason": pl.String,
    "twin_id": pl.String,
}


def deduplicate(
    frame: pl.DataFrame,
    threshold: float = 0.8,
    num_perm: int = 128,
    shingle_size: int = 3,
    seed: int = 1,
    weights: tuple[float, float] = (0.5, 0.5),
    verify: str = "estimate",
) -> pl.DataFrame:
    """Exact, then near-duplicate removal over (record_id, text), as training_filtered rows.

    Returns record_id, filter ('exact_dup' | 'near_dup'), reason, twin_id. Call it once per
    record kind with all categories' rows (an SFT question and the DPO pair built from the same
    candidate are meant to share their text).
    """
    exact = exact_duplicates(frame)
    remaining = frame.filter(
        ~pl.col("record_id").cast(pl.String).is_in(exact["record_id"].implode())
    )
    near = near_duplicates(remaining, threshold, num_perm, shingle_size, seed, weights, verify)
    measure = "Jaccard" if verify == "exact" else "estimated Jaccard"
    return pl.concat(
        [
            exact.select(
                "record_id",
                pl.lit("exact_dup").alias("filter"),
                pl.lit("normalised text equals the twin's").alias("reason"),
                "twin_id",
            ),
            near.select(
                "record_id",
                pl.lit("near_dup").alias("filter"),
                pl.format(
                    "{} {} >= {} with the twin",
                    pl.lit(measure),
                    pl.col("jaccard_estimate").round(3),
                    pl.lit(threshold),
                ).alias("reason"),
                "twin_id",
            ),
        ]
    ).cast(FILTERED_SCHEMA)
