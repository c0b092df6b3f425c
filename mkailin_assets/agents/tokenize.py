"""The one tokenizer of the retrieval agent, in Python and in DuckDB SQL, giving the same tokens.

Lowercase, Unicode word tokens (letters, digits, underscore), English stopwords removed, no
stemming. The SQL form feeds the set-based BM25 index; the Python form feeds bm25s in the
benchmark and anything else that must see the same tokens.
"""

from __future__ import annotations

import re

import polars as pl

# Python's \w (Unicode) and RE2's letter/number classes agree on word characters.
_PYTHON_TOKEN = re.compile(r"\w+")
SQL_TOKEN_PATTERN = r"[\p{L}\p{N}_]+"

# A fixed English list (the common NLTK/Lucene core), so the index never drifts with a library.
# fmt: off
STOPWORDS: frozenset[str] = frozenset([
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "don", "down", "during", "each", "few",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of",
    "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own",
    "s", "same", "she", "should", "so", "some", "such", "t", "than", "that", "the", "their",
    "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
    "yourself", "yourselves",
])
# fmt: on


def tokenize(text: str | None) -> list[str]:
    """Lowercase word tokens of `text` without stopwords; None or empty text gives []."""
    if not text:
        return []
    return [token for token in _PYTHON_TOKEN.findall(text.lower()) if token not in STOPWORDS]


def stopword_frame() -> pl.DataFrame:
    """The stopword list as a one-column frame (`word`), for anti-joins in SQL."""
    return pl.DataFrame({"word": sorted(STOPWORDS)})


def sql_tokens_expression(text_sql: str) -> str:
    """SQL expression for the token list of `text_sql` (stopwords are removed by a join).

    `text_sql` is a column expression written by our code, never user input."""
    return f"regexp_extract_all(lower({text_sql}), '{SQL_TOKEN_PATTERN}')"
