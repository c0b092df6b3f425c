"""Cold-start pairs, judge verdict combination, final preferences and the preferred candidate."""

from __future__ import annotations

import polars as pl
import pytest

from mkailin_assets.agents.judge import (
    JudgeVerdict,
    build_judge_requests,
    combine_verdicts,
    judge_agreement,
    offline_judge,
)
from mkailin_assets.agents.preferences import (
    PREFERENCE_COLUMNS,
    cold_start_pairs,
    final_preferences,
    sources_in_band,
)
from mkailin_assets.llm.offline import offline_output
from mkailin_assets.llm.types import OFFLINE_MODEL, LLMResult

SCORES = pl.DataFrame(
    {
        "source_pmid": [1, 1, 2, 2, 3, 4, 4, 5, 5, 5, 6, 6],
        "candidate_id": [
            "1:m",
            "1:c",
            "2:m",
            "2:c",
            "3:m",
            "4:m",
            "4:c",
            "5:a",
            "5:b",
            "5:c",
            "6:m",
            "6:c",
        ],
        "mesh_score": [0.8, 0.6, 0.5, 0.45, 0.7, None, 0.3, 0.9, 0.5, 0.1, 0.7, 0.6],
    }
)


def _pair(pairs: pl.DataFrame, a: str, b: str) -> dict:
    return pairs.filter((pl.col("a_id") == a) & (pl.col("b_id") == b)).row(0, named=True)


def test_cold_start_pairs_every_unordered_pair_with_margin_and_nulls():
    pairs = cold_start_pairs(SCORES, margin=0.1)
    # 1 pair for each two-candidate source, 3 for the three-candidate one, none for the single.
    assert pairs.height == 1 + 1 + 1 + 3 + 1
    assert (pairs["a_id"] < pairs["b_id"]).all()
    assert _pair(pairs, "1:c", "1:m")["cold_start_winner"] == "1:m"
    assert _pair(pairs, "1:c", "1:m")["gap"] == pytest.approx(0.2)
    assert _pair(pairs, "2:c", "2:m")["cold_start_winner"] is None  # gap 0.05 < 0.1
    null_pair = _pair(pairs, "4:c", "4:m")
    assert null_pair["gap"] is None and null_pair["cold_start_winner"] is None
    # A gap of exactly the margin (0.7 - 0.6 in floating point) is labelled.
    assert _pair(pairs, "6:c", "6:m")["cold_start_winner"] == "6:m"
    assert _pair(pairs, "5:b", "5:c")["cold_start_winner"] == "5:b"
    # A smaller margin labels the close pair too.
    assert _pair(cold_start_pairs(SCORES, margin=0.05), "2:c", "2:m")["cold_start_winner"] == "2:m"


def test_cold_start_pairs_are_deterministic_whatever_the_input_order():
    shuffled = SCORES.sample(fraction=1.0, shuffle=True, seed=7)
    assert cold_start_pairs(shuffled).equals(cold_start_pairs(SCORES))


def test_band_filter_is_off_by_default_and_drops_sources_outside():
    assert cold_start_pairs(SCORES, band=None).height == 7
    banded = cold_start_pairs(SCORES, band=(None, 0.75))
    # Sources 1 (0.8) and 5 (0.9) have a score above the band: dropped whole.
    assert set(banded["source_pmid"]) == {2, 4, 6}
    assert set(cold_start_pairs(SCORES, band=(0.2, None))["source_pmid"]) == {1, 2, 4, 6}
    in_band = dict(sources_in_band(SCORES, (None, 0.75)).iter_rows())
    assert in_band[1] is False and in_band[4] is True  # a null score is not outside


def _verdict(request, better: str, model: str = "judge-model", ok: bool = True) -> LLMResult:
    parsed = JudgeVerdict(better=better, reason="r") if ok else None
    return LLMResult(request.item_id, f"c-{request.item_id}", model, ok, parsed=parsed)


def _pairs_with_text(pairs: pl.DataFrame) -> pl.DataFrame:
    context = [{"pmid": 10, "title": "T", "abstract": "A" * 2000}]
    return pairs.with_columns(
        pl.lit("Source title").alias("source_title"),
        pl.lit("Source abstract").alias("source_abstract"),
        (pl.lit("Q ") + pl.col("a_id") + pl.lit("?")).alias("a_question"),
        (pl.lit("Q ") + pl.col("b_id") + pl.lit("?")).alias("b_question"),
        pl.lit(context).alias("a_contexts"),
        pl.lit(context).alias("b_contexts"),
    )


def test_judge_requests_two_per_pair_with_positions_swapped():
    pairs = _pairs_with_text(cold_start_pairs(SCORES).filter(pl.col("source_pmid") == 1))
    ab, ba = build_judge_requests(pairs)
    assert (ab.item_id, ba.item_id) == ("1:c|1:m|ab", "1:c|1:m|ba")
    assert ab.role == "judge" and ab.prompt_version == "judge-pairwise-v1"
    assert ab.messages[1]["content"].index("Q 1:c?") < ab.messages[1]["content"].index("Q 1:m?")
    assert ba.messages[1]["content"].index("Q 1:m?") < ba.messages[1]["content"].index("Q 1:c?")
    assert "A" * 700 not in ab.messages[1]["content"]  # contexts are snippets
    # Offline: the cold-start winner (1:m) in whichever position it holds.
    assert offline_judge(ab.inputs)["better"] == "B" and offline_judge(ba.inputs)["better"] == "A"
    for request in (ab, ba):
        JudgeVerdict.model_validate(offline_output(request))
    unlabelled = _pairs_with_text(cold_start_pairs(SCORES).filter(pl.col("source_pmid") == 2))
    assert {offline_judge(r.inputs)["better"] for r in build_judge_requests(unlabelled)} == {"tie"}


def test_combine_verdicts_consistent_inconsistent_tie_and_failure():
    pairs = _pairs_with_text(
        cold_start_pairs(SCORES).filter(pl.col("source_pmid").is_in([1, 2, 4, 6]))
    )
    requests = build_judge_requests(pairs)  # pairs: 1:c|1:m, 2:c|2:m, 4:c|4:m, 6:c|6:m
    answers = {
        "1:c|1:m|ab": "A",  # 1:c first ...
        "1:c|1:m|ba": "B",  # ... and 1:c second: consistent, 1:c wins (overrules cold start)
        "2:c|2:m|ab": "A",  # position bias: always A -> inconsistent
        "2:c|2:m|ba": "A",
        "4:c|4:m|ab": "tie",
        "4:c|4:m|ba": "tie",  # consistent tie: no winner
        "6:c|6:m|ab": "B",
    }
    results = [
        _verdict(r, answers[r.item_id]) if r.item_id in answers else _verdict(r, "A", ok=False)
        for r in requests
    ]
    verdicts = {
        row["a_id"]: row for row in combine_verdicts(requests, results).iter_rows(named=True)
    }
    assert verdicts["1:c"]["judge_winner"] == "1:c" and verdicts["1:c"]["judge_consistent"] is True
    assert verdicts["1:c"]["judge_call_ids"] == ["c-1:c|1:m|ab", "c-1:c|1:m|ba"]
    assert verdicts["2:c"]["judge_winner"] is None and verdicts["2:c"]["judge_consistent"] is False
    assert verdicts["4:c"]["judge_winner"] is None and verdicts["4:c"]["judge_consistent"] is True
    assert verdicts["6:c"]["judge_winner"] is None and verdicts["6:c"]["judge_consistent"] is False
    assert not any(v["judge_offline"] for v in verdicts.values())
    with pytest.raises(ValueError):
        combine_verdicts(requests, results[:-1])


def test_final_preferences_judge_first_then_cold_start_and_preferred_rules():
    pairs = cold_start_pairs(SCORES)
    verdicts = pl.DataFrame(
        {
            "a_id": ["1:c", "2:c", "5:b"],
            "b_id": ["1:m", "2:m", "5:c"],
            "judge_winner": ["1:c", "2:c", None],
            "judge_consistent": [True, True, False],
            "judge_call_ids": [["j1", "j2"], ["j3", "j4"], ["j5", "j6"]],
        }
    )
    rows, preferred = final_preferences(pairs, verdicts, scores=SCORES)
    assert rows.columns == PREFERENCE_COLUMNS
    by_pair = {(r["chosen_id"], r["rejected_id"]): r for r in rows.iter_rows(named=True)}
    # Judge overrules the cold-start label; the margin is signed (chosen - rejected).
    judged = by_pair[("1:c", "1:m")]
    assert judged["label_source"] == "judge" and judged["cold_start_label"] == "1:m"
    assert judged["judge_verdict"] == "1:c" and judged["margin"] == pytest.approx(-0.2)
    assert judged["judge_call_ids"] == ["j1", "j2"]
    # The judge labels a pair the cold start left unlabelled.
    assert by_pair[("2:c", "2:m")]["label_source"] == "judge"
    # Inconsistent verdict -> cold-start label.
    fallback = by_pair[("5:b", "5:c")]
    assert fallback["label_source"] == "cold_start" and fallback["judge_consistent"] is False
    assert fallback["margin"] == pytest.approx(0.4)
    # Neither label (4: null score, no verdict) -> not emitted; chosen != rejected everywhere.
    assert not any("4:" in key[0] for key in by_pair)
    assert (rows["chosen_id"] != rows["rejected_id"]).all()

    best = {r["source_pmid"]: r for r in preferred.iter_rows(named=True)}
    assert (best[1]["candidate_id"], best[1]["preference_source"]) == ("1:c", "judge")
    assert (best[3]["candidate_id"], best[3]["preference_source"]) == ("3:m", "single")
    assert (best[4]["candidate_id"], best[4]["preference_source"]) == ("4:c", "score")
    assert best[4]["unlabelled_pairs"] == 1 and best[4]["labelled_pairs"] == 0
    assert (best[5]["candidate_id"], best[5]["preference_source"], best[5]["wins"]) == (
        "5:a",
        "cold_start",
        2,
    )
    assert set(best) == {1, 2, 3, 4, 5, 6}


def test_preferred_ties_broken_by_score_then_id_and_true_ties_recorded():
    scores = pl.DataFrame(
        {
            "source_pmid": [7, 7, 7, 8, 8, 9, 9],
            "candidate_id": ["7:a", "7:b", "7:c", "8:a", "8:b", "9:a", "9:b"],
            "mesh_score": [0.2, 0.5, 0.35, None, None, 0.4, 0.4],
        }
    )
    pairs = cold_start_pairs(scores, margin=0.1)
    # Cold start for 7 would be b > c > a; the judge makes a cycle instead (a>b, c>a, b>c):
    # every candidate has one win, so the MeSH score decides.
    verdicts = pl.DataFrame(
        {
            "a_id": ["7:a", "7:a", "7:b"],
            "b_id": ["7:b", "7:c", "7:c"],
            "judge_winner": ["7:a", "7:c", "7:b"],
            "judge_consistent": [True, True, True],
            "judge_call_ids": [[], [], []],
        }
    )
    _, preferred = final_preferences(pairs, verdicts, scores=scores)
    best = {r["source_pmid"]: r for r in preferred.iter_rows(named=True)}
    assert best[7]["candidate_id"] == "7:b" and best[7]["wins"] == 1  # tie on wins -> best score
    assert (best[8]["candidate_id"], best[8]["preference_source"]) == ("8:a", "tie")
    assert (best[9]["candidate_id"], best[9]["preference_source"]) == ("9:a", "tie")


def test_offline_verdicts_are_not_counted_as_judge_labels():
    pairs = cold_start_pairs(SCORES)
    requests = build_judge_requests(_pairs_with_text(pairs))
    results = [
        LLMResult(r.item_id, f"c{i}", OFFLINE_MODEL, True, parsed=JudgeVerdict(**offline_output(r)))
        for i, r in enumerate(requests)
    ]
    verdicts = combine_verdicts(requests, results)
    assert verdicts["judge_offline"].all()
    rows, _ = final_preferences(pairs, verdicts, scores=SCORES)
    assert set(rows["label_source"]) == {"cold_start"}
    assert rows["judge_verdict"].is_null().all()
    # Same labels as the cold start alone.
    cold_rows, _ = final_preferences(pairs, None, scores=SCORES)
    assert rows.select("chosen_id", "rejected_id").equals(
        cold_rows.select("chosen_id", "rejected_id")
    )
    report = judge_agreement(verdicts, pairs)
    assert report["offline_pairs"] == pairs.height and report["agreement_rate"] is None


def test_judge_agreement_with_cold_start_labels():
    pairs = cold_start_pairs(SCORES)
    verdicts = pl.DataFrame(
        {
            "a_id": ["1:c", "5:a", "5:a", "2:c"],
            "b_id": ["1:m", "5:b", "5:c", "2:m"],
            "judge_winner": ["1:m", "5:b", "5:a", "2:c"],
            "judge_consistent": [True, True, True, True],
            "judge_call_ids": [[], [], [], []],
        }
    )
    report = judge_agreement(verdicts, pairs)
    # 2:c|2:m has no cold-start label: judged but not compared.
    assert report["judged_pairs"] == 4 and report["compared"] == 3 and report["agreed"] == 2
    assert report["agreement_rate"] == pytest.approx(2 / 3)
    assert report["consistency_rate"] == 1.0
