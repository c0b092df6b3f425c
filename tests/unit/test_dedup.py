"""Exact and near-duplicate detection: crafted cases, determinism, parity with datasketch."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from mkailin_assets.curation.dedup import (
    connected_minimum,
    deduplicate,
    exact_duplicates,
    lsh_parameters,
    near_duplicates,
)
from mkailin_assets.curation.text import normalize, normalize_series, shingle_hashes, word_shingles

BASE = (
    "does early treatment with low dose aspirin reduce the risk of recurrent stroke in elderly "
    "patients with atrial fibrillation and chronic kidney disease after five years of follow up"
)


def frame(texts: dict[str, str | None]) -> pl.DataFrame:
    return pl.DataFrame({"record_id": list(texts), "text": list(texts.values())})


def unrelated(seed: int, words: int = 30) -> str:
    rng = random.Random(seed)
    return " ".join(f"term{rng.randrange(100_000)}" for _ in range(words))


def test_normalize_folds_width_case_punctuation_and_space():
    assert normalize("  Ｄｏｅｓ IL-6\tpredict\n\nSEPSIS?! ") == "does il 6 predict sepsis"
    assert normalize(None) == ""


def test_vectorised_normalisation_matches_the_scalar_one():
    texts = [
        "Ｈｅｌｌｏ, World!",
        "ﬁbrosis—½ dose",
        "a_b  c",
        None,
        "  ",
        "Ünïcode\u2028line",
        "x²",
    ]
    assert normalize_series(pl.Series(texts)).to_list() == [normalize(t) for t in texts]


def test_shingles_of_short_texts_are_the_whole_text():
    assert word_shingles("IL-6", 3) == {"il 6"}
    assert word_shingles("a b c d", 3) == {"a b c", "b c d"}
    doc, hashes = shingle_hashes(pl.Series(["a b", "", "a b c d"]), 3)
    assert doc.tolist() == [0, 2, 2]
    assert len(set(hashes.tolist())) == 3


def test_exact_duplicates_keep_the_smallest_id_after_normalisation():
    found = exact_duplicates(
        frame(
            {
                "q3": "Does X affect Y?",
                "q1": "does x  affect y",
                "q2": "DOES X AFFECT Y!",
                "q4": "other",
            }
        )
    )
    assert found.rows() == [("q2", "q1"), ("q3", "q1")]


def test_empty_texts_are_not_duplicates_of_each_other():
    assert exact_duplicates(frame({"a": "", "b": None, "c": "?!"})).is_empty()
    assert near_duplicates(frame({"a": "", "b": None, "c": "?!"})).is_empty()


def test_duplicate_record_ids_are_refused():
    with pytest.raises(ValueError, match="unique"):
        exact_duplicates(pl.DataFrame({"record_id": ["a", "a"], "text": ["x", "y"]}))


def test_near_duplicate_with_one_word_changed_is_found_and_unrelated_text_is_not():
    texts = {
        "b": BASE.replace("five years", "five decades"),
        "a": BASE,
        "c": unrelated(1),
        "d": BASE.replace("aspirin", "warfarin") + " in europe",
    }
    found = near_duplicates(frame(texts), threshold=0.5)
    assert set(found["record_id"]) == {"b", "d"}
    assert set(found["twin_id"]) == {"a"}
    assert (found["jaccard_estimate"] >= 0.5).all()


def test_near_duplicates_below_the_threshold_are_kept():
    first_half = " ".join(BASE.split()[:15])
    other = first_half + " " + unrelated(2, 15)  # true Jaccard about 0.3
    assert near_duplicates(frame({"a": BASE, "b": other}), threshold=0.8).is_empty()


def test_clusters_keep_one_representative_through_transitive_links():
    words = BASE.split()
    chain = {f"r{i}": " ".join(words[:-i] + ["extra"] * i) for i in range(1, 4)}
    found = near_duplicates(frame({"r0": BASE, **chain}), threshold=0.7)
    assert found["record_id"].to_list() == ["r1", "r2", "r3"]
    assert set(found["twin_id"]) == {"r0"}


def test_result_does_not_depend_on_row_order():
    texts = {f"id{i:03d}": unrelated(i) for i in range(200)}
    texts |= {f"dup{i:03d}": texts[f"id{i:03d}"] + " indeed" for i in range(0, 200, 10)}
    rows = list(texts.items())
    forward = near_duplicates(frame(dict(rows)))
    random.Random(3).shuffle(rows)
    shuffled = near_duplicates(frame(dict(rows)))
    assert forward.sort("record_id").equals(shuffled.sort("record_id"))
    assert forward.height == 20
    assert set(forward["twin_id"]) == {f"dup{i:03d}" for i in range(0, 200, 10)}  # "dup" < "id"


def test_connected_minimum_labels_each_component_by_its_smallest_node():
    edges = np.array([[4, 2], [2, 7], [5, 6], [7, 0]])
    assert connected_minimum(8, edges).tolist() == [0, 1, 0, 3, 0, 5, 5, 0]


def test_lsh_parameters_match_datasketch():
    datasketch = pytest.importorskip("datasketch")
    for threshold, num_perm, weights in [
        (0.5, 64, (0.5, 0.5)),
        (0.8, 128, (0.5, 0.5)),
        (0.9, 256, (0.5, 0.5)),
        (0.8, 128, (0.2, 0.8)),
    ]:
        lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
        assert lsh_parameters(threshold, num_perm, weights) == (lsh.b, lsh.r)


def test_estimates_track_the_true_jaccard():
    texts = {"a": BASE, "b": BASE.replace("elderly", "older") + " overall"}
    true = len(word_shingles(texts["a"]) & word_shingles(texts["b"])) / len(
        word_shingles(texts["a"]) | word_shingles(texts["b"])
    )
    found = near_duplicates(frame(texts), threshold=0.5, num_perm=256)
    assert found["jaccard_estimate"][0] == pytest.approx(true, abs=0.1)


def test_exact_verification_reports_the_true_jaccard():
    texts = {"a": BASE, "b": BASE.replace("elderly", "older") + " overall", "c": unrelated(4)}
    sa, sb = word_shingles(texts["a"]), word_shingles(texts["b"])
    found = near_duplicates(frame(texts), threshold=0.5, verify="exact")
    assert found.rows() == [("b", "a", pytest.approx(len(sa & sb) / len(sa | sb)))]
    with pytest.raises(ValueError, match="verify"):
        near_duplicates(frame(texts), verify="guess")


def test_deduplicate_reports_exact_then_near_with_reasons_and_twins():
    texts = {
        "a": BASE,
        "b": BASE.upper() + "?",
        "c": BASE.replace("five years", "five decades"),
        "d": unrelated(5),
    }
    removed = deduplicate(frame(texts), threshold=0.5)
    assert removed.select("record_id", "filter", "twin_id").rows() == [
        ("b", "exact_dup", "a"),
        ("c", "near_dup", "a"),
    ]
    assert removed["reason"][1].startswith("estimated Jaccard 0.")
