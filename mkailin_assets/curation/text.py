"""Text normalisation and word tokens/shingles, shared by dedup and decontamination.

Two implementations that agree: `normalize` for one string, `normalize_series` vectorised in
Polars. Tokens are hashed with BLAKE2b (stable across processes, machines and library versions)
once per distinct token, and n-grams are hashed by combining token hashes with numpy, so no
Python loop runs per n-gram.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import polars as pl

# Punctuation (anything neither a word character nor whitespace) becomes a space, so "IL-6" and
# "IL 6" normalise alike and token boundaries survive.
_PUNCTUATION = r"[^\w\s]"
_WHITESPACE = r"\s+"
_PUNCTUATION_RE = re.compile(_PUNCTUATION)
_WHITESPACE_RE = re.compile(_WHITESPACE)

_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio odd constant for order-sensitive combining


def normalize(text: str | None) -> str:
    """NFKC, lowercase, punctuation to spaces, whitespace collapsed and stripped."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", text).lower()
    return _WHITESPACE_RE.sub(" ", _PUNCTUATION_RE.sub(" ", folded)).strip()


def _nfkc_non_ascii(texts: pl.Series) -> pl.Series:
    """NFKC only where a text has non-ASCII characters (ASCII is NFKC-stable; NFKC is slow)."""
    texts = texts.cast(pl.String).fill_null("")
    # More bytes than characters: a multi-byte (non-ASCII) character (40x faster than a regex).
    non_ascii = texts.str.len_bytes() != texts.str.len_chars()
    if not non_ascii.any():
        return texts
    indices = non_ascii.arg_true()
    return texts.scatter(indices, texts.gather(indices).str.normalize("NFKC"))


def _fold(texts: pl.Series) -> pl.Series:
    """NFKC, lowercase, and punctuation or non-space whitespace to single spaces."""
    return _nfkc_non_ascii(texts).to_frame("text").select(fold_expr(pl.col("text"))).to_series()


def fold_expr(text: pl.Expr) -> pl.Expr:
    """`_fold` after NFKC, as an expression (for texts `_nfkc_non_ascii` has prepared)."""
    return text.str.to_lowercase().str.replace_all(r"[^\w ]", " ")


def normalize_series(texts: pl.Series) -> pl.Series:
    """`normalize` over a Polars string column (nulls become empty strings)."""
    return _fold(texts).str.replace_all(r" {2,}", " ").str.strip_chars()


def word_shingles(text: str | None, size: int = 3) -> set[str]:
    """Word n-grams of the normalised text; a text shorter than `size` words is one shingle."""
    words = normalize(text).split()
    if not words:
        return set()
    if len(words) < size:
        return {" ".join(words)}
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def stable_hash64(values: list[str]) -> np.ndarray:
    """64-bit BLAKE2b of each string, as uint64 (stable everywhere)."""
    digests = b"".join(hashlib.blake2b(v.encode(), digest_size=8).digest() for v in values)
    return np.frombuffer(digests, dtype="<u8").copy()


@dataclass(frozen=True)
class TokenTable:
    """Normalised word tokens of many documents, flattened in document order.

    `doc` is each token's document index, `position` its index within the document, `hash` the
    token's stable 64-bit hash and `token` the token itself (kept to show matches).
    """

    doc: np.ndarray
    position: np.ndarray
    hash: np.ndarray
    token: pl.Series

    @property
    def size(self) -> int:
        return int(self.doc.shape[0])


def tokenize(texts: pl.Series) -> TokenTable:
    """Tokens of every text; hashing runs once per distinct token."""
    words = (
        pl.DataFrame({"text": _fold(texts)})
        .with_row_index("doc")
        .select("doc", pl.col("text").str.split(" ").alias("token"))
        .explode("token")
        .filter(pl.col("token").is_not_null() & (pl.col("token") != ""))
        .with_columns(pl.int_range(pl.len()).over("doc").alias("position"))
    )
    vocabulary = words.select(pl.col("token").unique())
    vocabulary = vocabulary.with_columns(
        pl.Series("hash", stable_hash64(vocabulary["token"].to_list()), dtype=pl.UInt64)
    )
    hashed = words.join(vocabulary, on="token", how="left", maintain_order="left")
    return TokenTable(
        doc=hashed["doc"].to_numpy().astype(np.int64),
        position=hashed["position"].to_numpy().astype(np.int64),
        hash=hashed["hash"].to_numpy(),
        token=hashed["token"],
    )


def _finalize(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the combined hash over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def ngram_hashes(tokens: TokenTable, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every word n-gram: (document index, start offset into the token table, hash).

    Returns (doc, start, hash) flattened; an n-gram exists where its n tokens share a document.
    """
    count = tokens.size - n + 1
    if count <= 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        combined = tokens.hash[:count].copy()
        for k in range(1, n):
            combined = combined * _MIX + tokens.hash[k : k + count]
        combined = _finalize(combined)
    starts = np.arange(count, dtype=np.int64)
    valid = tokens.doc[:count] == tokens.doc[n - 1 : n - 1 + count]
    return tokens.doc[:count][valid], starts[valid], combined[valid]


def shingle_hashes(texts: pl.Series, size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(doc, hash) of the word shingles of each text, sorted by doc.

    Like `word_shingles`: a text with fewer than `size` words contributes one shingle (all its
    words); an empty text contributes none.
    """
    tokens = tokenize(texts)
    doc, _, hashes = ngram_hashes(tokens, size)
    lengths = np.bincount(tokens.doc, minlength=len(texts))
    short_docs = np.flatnonzero((lengths > 0) & (lengths < size))
    if short_docs.size:
        short_hashes = np.empty(short_docs.size, dtype=np.uint64)
        for i, d in enumerate(short_docs):  # rare: only texts shorter than one shingle
            short_hashes[i] = _short_text_hash(tokens.hash[tokens.doc == d])
        doc = np.concatenate([doc, short_docs])
        hashes = np.concatenate([hashes, short_hashes])
        order = np.argsort(doc, kind="stable")
        doc, hashes = doc[order], hashes[order]
    return doc, hashes


def _short_text_hash(token_hashes: np.ndarray) -> np.uint64:
    with np.errstate(over="ignore"):
        combined = token_hashes[:1].copy()
        for value in token_hashes[1:]:
            combined = combined * _MIX + value
        return _finalize(combined)[0]
