"""MeSH knowledge-hierarchy similarity on the real MeSH 2024 tree, against hand-computed values.

The corpus is five citations whose counts we choose, so every p, IC, Lin, Jiang-Conrath and Rel
below is written out by hand from docs/method.md#the-mesh-score, independently of the SQL.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from math import log
from pathlib import Path

import duckdb
import polars as pl
import pytest
from lxml import etree

from mkailin_assets.agents import mesh_similarity
from mkailin_assets.agents.mesh_similarity import (
    build_ic_snapshot,
    descriptor_similarity,
    latest_ic_snapshot,
    score_candidates,
    score_report,
)
from mkailin_assets.db import apply_schema, open_connection
from tests.conftest import MESH_2024, require_shared

# Real descriptors (MeSH 2024) and their tree numbers.
LEUKEMIA = "D007938"  # C04.557.337, C15.378.508
L1210 = "D007939"  # C04.557.337.372.594, C04.619.531.594, C15.378.508.372.594
P388 = "D007941"  # C04.557.337.372.782, C04.619.531.782, C15.378.508.372.782
LEUKEMIA_EXPERIMENTAL = "D007942"  # C04.557.337.372, C04.619.531, C15.378.508.372, E05...
HISTOLOGIC_TYPE = "D009370"  # C04.557 Neoplasms by Histologic Type
NEOPLASMS = "D009369"  # C04
GLANDULAR = "D009375"  # C04.557.470 Neoplasms, Glandular and Epithelial
NERVOUS_SYSTEM_DISEASES = "D009422"  # C10
HUMANS = "D006801"  # B01.050.150.900.649.313.988.400.112.400.400
MALE, FEMALE = "D008297", "D005260"  # no tree numbers

# pmid -> descriptors; pmid 6 is a citation without MeSH. N (citations with MeSH) = 5.
CORPUS = {1: [L1210, HUMANS], 2: [P388], 3: [GLANDULAR, MALE], 4: [MALE], 5: [FEMALE], 6: []}
N = 5
IC_MAX = log(N + 1)


def p_of(n: int) -> float:
    return (n + 1) / (N + 1)


def ic_of(n: int) -> float:
    return -log(p_of(n)) / IC_MAX


def ic_mean(ic_a: float, ic_b: float, ic_lca: float, p_lca: float) -> float:
    lin = 2 * ic_lca / (ic_a + ic_b)
    jc = 1 - min(1, ic_a + ic_b - 2 * ic_lca)
    rel = lin * (1 - p_lca)
    return sum(min(1, max(0, v)) for v in (lin, jc, rel)) / 3


# L1210 and P388 (1 citation each) meet at Leukemia, Experimental (citations 1, 2).
SIM_L1210_P388 = ic_mean(ic_of(1), ic_of(1), ic_of(2), p_of(2))
# L1210 and Glandular (1 each) meet at C04.557 Neoplasms by Histologic Type (citations 1, 2, 3).
SIM_L1210_GLANDULAR = ic_mean(ic_of(1), ic_of(1), ic_of(3), p_of(3))


def vocabulary_rows() -> pl.DataFrame:
    """The real MeSH 2024 tree as mesh_vocabulary rows (a few lines of lxml; the real parser is
    elsewhere)."""
    path = require_shared(MESH_2024)
    rows = []
    with gzip.open(path, "rb") as handle:
        for _, record in etree.iterparse(handle, tag="DescriptorRecord"):
            ui = record.findtext("DescriptorUI")
            name = record.findtext("DescriptorName/String")
            for element in record.iterfind("TreeNumberList/TreeNumber"):
                tn = element.text.strip()
                parent = tn.rsplit(".", 1)[0] if "." in tn else None
                rows.append((tn[0], tn, ui, name, tn.count(".") + 1, parent, 2024))
            record.clear()
    columns = ["category", "tree_number", "descriptor_ui", "descriptor_name", "depth",
               "parent_tree_number", "mesh_year"]  # fmt: skip
    return pl.DataFrame(rows, schema=columns, orient="row")


def add_citations(con: duckdb.DuckDBPyConnection, corpus: dict[int, list[str]]) -> None:
    """Insert citations (only the columns we read) and their MeSH headings, set-wise."""
    citations = pl.DataFrame(
        {
            "pmid": list(corpus),
            "content_hash": [hashlib.sha256(str(p).encode()).hexdigest() for p in corpus],
        }
    )
    headings = pl.DataFrame(
        [(pmid, ui) for pmid, uis in corpus.items() for ui in uis],
        schema={"pmid": pl.Int64, "descriptor_ui": pl.String},
        orient="row",
    )
    con.register("_new_citations", citations)
    con.register("_new_headings", headings)
    con.execute(
        "INSERT INTO citations (pmid, version, title, source_file, content_hash, loaded_at)"
        " SELECT pmid, 1, 'a title', 'test.xml', content_hash, now() FROM _new_citations"
    )
    con.execute("INSERT INTO citation_mesh SELECT pmid, descriptor_ui, false FROM _new_headings")
    con.unregister("_new_citations")
    con.unregister("_new_headings")


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """A database with the schema and the real tree, built once and copied for each test."""
    path = tmp_path_factory.mktemp("mesh") / "template.duckdb"
    connection = open_connection(path)
    apply_schema(connection)
    connection.complete()  # apply_schema ends on fetchone(); finish that result
    connection.register("_tree", vocabulary_rows())
    connection.execute("INSERT INTO mesh_vocabulary SELECT * FROM _tree")
    connection.unregister("_tree")
    connection.close()
    return path


@pytest.fixture
def con(tmp_db, template_db) -> duckdb.DuckDBPyConnection:
    shutil.copyfile(template_db, tmp_db)
    connection = open_connection(tmp_db)
    add_citations(connection, CORPUS)
    yield connection
    connection.close()


def pairs(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["a", "b"], orient="row")


# ------------------------------------------------------------------ IC snapshot


def test_ic_counts_descendants_through_every_tree_number_with_smoothing(con):
    snapshot = build_ic_snapshot(con)
    rows = con.execute(
        "SELECT descriptor_ui, n_citations, p, ic FROM mesh_ic WHERE snapshot_id = ?", [snapshot]
    ).fetchall()
    table = {ui: (n, p, ic) for ui, n, p, ic in rows}
    expected_counts = {
        L1210: 1, P388: 1, LEUKEMIA_EXPERIMENTAL: 2, LEUKEMIA: 2, HISTOLOGIC_TYPE: 3,
        NEOPLASMS: 3, GLANDULAR: 1, HUMANS: 1, MALE: 2, FEMALE: 1, NERVOUS_SYSTEM_DISEASES: 0,
    }  # fmt: skip
    for ui, n in expected_counts.items():
        assert table[ui][0] == n, ui
        assert table[ui][1] == pytest.approx(p_of(n))
        assert table[ui][2] == pytest.approx(ic_of(n))
    assert table[NERVOUS_SYSTEM_DISEASES][2] == pytest.approx(1.0)  # unseen: IC = IC_max
    (n_with_mesh, ic_max), *_ = con.execute(
        "SELECT citations_with_mesh, ic_max FROM mesh_ic_snapshots WHERE snapshot_id = ?",
        [snapshot],
    ).fetchall()
    assert (n_with_mesh, ic_max) == (N, pytest.approx(IC_MAX))


def test_ic_snapshot_is_reused_until_counts_change(con):
    first = build_ic_snapshot(con)
    assert build_ic_snapshot(con) == first
    assert con.execute("SELECT count(*) FROM mesh_ic_snapshots").fetchall()[0][0] == 1
    add_citations(con, {7: [GLANDULAR]})
    second = build_ic_snapshot(con)
    assert second != first and latest_ic_snapshot(con) == second
    # the old snapshot is kept: scores that used it stay explainable
    assert {r[0] for r in con.execute("SELECT DISTINCT snapshot_id FROM mesh_ic").fetchall()} == {
        first,
        second,
    }


# ------------------------------------------------------------------ descriptor similarity


def test_ic_mean_hand_computed_on_real_tree(con):
    result = descriptor_similarity(con, pairs((L1210, P388), (GLANDULAR, L1210)))
    assert result["lca"].to_list() == [LEUKEMIA_EXPERIMENTAL, HISTOLOGIC_TYPE]
    assert result["sim"].to_list() == pytest.approx([SIM_L1210_P388, SIM_L1210_GLANDULAR])
    # spelled out once: Lin = ln2/ln3, JC = 1 - 2 ln1.5/ln6, Rel = Lin / 2
    lin = log(2) / log(3)
    assert pytest.approx((lin + 1 - 2 * log(1.5) / log(6) + lin / 2) / 3) == SIM_L1210_P388


def test_lca_is_the_longest_common_prefix_c04_557(con):
    result = descriptor_similarity(con, pairs((LEUKEMIA, GLANDULAR)), measure="wu_palmer")
    # C04.557.337 and C04.557.470 -> C04.557; depth 2 of 3 and 3
    assert result.row(0) == (LEUKEMIA, GLANDULAR, HISTOLOGIC_TYPE, pytest.approx(2 * 2 / 6))


def test_wu_palmer_uses_the_tree_numbers_realising_the_lca(con):
    result = descriptor_similarity(
        con, pairs((L1210, P388), (LEUKEMIA_EXPERIMENTAL, L1210), (L1210, GLANDULAR)),
        measure="wu_palmer",
    )  # fmt: skip
    assert result["lca"].to_list() == [
        LEUKEMIA_EXPERIMENTAL,
        LEUKEMIA_EXPERIMENTAL,
        HISTOLOGIC_TYPE,
    ]
    # C04.557.337.372.594 / .782 -> depth 4 of 5+5; ancestor C04.557.337.372 (4) of its child (5);
    # C04.557.337.372.594 / C04.557.470 -> C04.557, depth 2 of 5+3
    assert result["sim"].to_list() == pytest.approx([8 / 10, 8 / 9, 4 / 8])


@pytest.mark.parametrize("measure", ["ic_mean", "wu_palmer"])
def test_identity_letter_only_missing_and_untreed_descriptors(con, measure):
    rows = [
        (NEOPLASMS, NERVOUS_SYSTEM_DISEASES),  # C04 vs C10: only the letter in common
        (HUMANS, P388),  # different letters
        (GLANDULAR, GLANDULAR),
        ("D999999", LEUKEMIA),  # not in the tree
        ("D999999", "D999999"),
        (MALE, FEMALE),  # no tree numbers
        (MALE, MALE),
    ]
    result = descriptor_similarity(con, pairs(*rows), measure=measure)
    assert result["sim"].to_list() == [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert result["lca"].to_list() == [None, None, GLANDULAR, None, "D999999", None, MALE]
    assert result.select("a", "b").rows() == rows  # input order kept


def test_similarity_rejects_unknown_measure_and_snapshot(con):
    with pytest.raises(ValueError, match="measure"):
        descriptor_similarity(con, pairs((L1210, P388)), measure="resnik")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown IC snapshot"):
        descriptor_similarity(con, pairs((L1210, P388)), snapshot_id="ic-nope")


# ------------------------------------------------------------------ candidate scores

CANDIDATES = pl.DataFrame(
    {
        "candidate_id": ["A", "self", "no-mesh-source", "no-mesh-contexts", "empty", "male"],
        "source_pmid": [1, 1, 6, 1, 1, 4],
        "context_pmids": [[2, 6, 3], [1], [1, 2], [6, 12345], [], [5, 3]],
    },
    schema_overrides={"context_pmids": pl.List(pl.Int64)},
)


def test_best_match_scores_hand_computed(con):
    scores = score_candidates(con, CANDIDATES)
    by_id = {row["candidate_id"]: row for row in scores.iter_rows(named=True)}
    # A: context 2 {P388} vs {L1210, Humans}: (mean(s, 0) + s) / 2; context 3 {Glandular, Male}:
    # (mean(g, 0) + mean(g, 0)) / 2; context 6 has no MeSH and is left out.
    s, g = SIM_L1210_P388, SIM_L1210_GLANDULAR
    assert by_id["A"]["mesh_score"] == pytest.approx((0.75 * s + g / 2) / 2)
    assert (by_id["A"]["contexts_with_mesh"], by_id["A"]["contexts_without_mesh"]) == (2, 1)
    assert by_id["self"]["mesh_score"] == pytest.approx(1.0)
    assert by_id["no-mesh-source"]["mesh_score"] is None
    assert by_id["no-mesh-source"]["contexts_with_mesh"] == 2
    assert by_id["no-mesh-contexts"]["mesh_score"] is None
    assert by_id["no-mesh-contexts"]["contexts_without_mesh"] == 2  # unknown PMID counts too
    assert (by_id["empty"]["mesh_score"], by_id["empty"]["contexts_with_mesh"]) == (None, 0)
    # Male alone vs {Female}: 0; vs {Glandular, Male}: (1 + mean(0, 1)) / 2
    assert by_id["male"]["mesh_score"] == pytest.approx((0 + 0.75) / 2)
    assert scores["candidate_id"].to_list() == CANDIDATES["candidate_id"].to_list()
    assert scores["ic_snapshot"].unique().to_list() == [latest_ic_snapshot(con)]


def test_all_pairs_scores_hand_computed_and_self_below_one(con):
    scores = score_candidates(con, CANDIDATES, setsim="all_pairs")
    by_id = dict(zip(scores["candidate_id"], scores["mesh_score"], strict=True))
    s, g = SIM_L1210_P388, SIM_L1210_GLANDULAR
    assert by_id["A"] == pytest.approx(((s + 0) / 2 + (g + 0 + 0 + 0) / 4) / 2)
    assert by_id["self"] == pytest.approx(0.5)  # {L1210, Humans} x itself: 1, 0, 0, 1
    assert by_id["male"] == pytest.approx((0 + (0 + 1) / 2) / 2)
    assert by_id["no-mesh-source"] is None


def test_wu_palmer_candidate_scores_need_no_snapshot(con):
    scores = score_candidates(con, CANDIDATES, measure="wu_palmer")
    by_id = dict(zip(scores["candidate_id"], scores["mesh_score"], strict=True))
    assert by_id["A"] == pytest.approx((0.75 * 0.8 + 0.5 / 2) / 2)
    assert scores["ic_snapshot"].null_count() == scores.height
    assert con.execute("SELECT count(*) FROM mesh_ic_snapshots").fetchall()[0][0] == 0


def test_ic_snapshot_with_the_same_inputs_is_reused_without_recounting(con, monkeypatch):
    first = build_ic_snapshot(con)
    # Counting again would now fail: the stored snapshot must be found by its inputs' digest.
    monkeypatch.setattr(mesh_similarity, "_IC_COUNTS_SQL", "SELECT no_such_column")
    assert build_ic_snapshot(con) == first
    add_citations(con, {9: [P388]})  # a new heading changes the digest: counted again
    with pytest.raises(duckdb.BinderException):
        build_ic_snapshot(con)
    monkeypatch.undo()
    second = build_ic_snapshot(con)
    assert second != first
    digests = con.execute("SELECT count(DISTINCT inputs_digest) FROM mesh_ic_snapshots").fetchall()
    assert digests == [(2,)]


def test_scores_use_the_given_snapshot(con):
    before = build_ic_snapshot(con)
    add_citations(con, {8: [P388]})  # changes the counts of P388 and its ancestors
    old = score_candidates(con, CANDIDATES.head(1), snapshot_id=before)
    new = score_candidates(con, CANDIDATES.head(1))
    assert old["mesh_score"][0] == pytest.approx(
        (0.75 * SIM_L1210_P388 + SIM_L1210_GLANDULAR / 2) / 2
    )
    assert new["ic_snapshot"][0] != before and new["mesh_score"][0] != old["mesh_score"][0]
    with pytest.raises(ValueError, match="setsim"):
        score_candidates(con, CANDIDATES, setsim="mean")  # type: ignore[arg-type]


# ------------------------------------------------------------------ against a plain reference


def reference_scores(con, candidates: pl.DataFrame, setsim: str, measure: str, snapshot):
    """Per-pair Python from docs/method.md, to check the set-wise SQL on a random corpus."""
    trees: dict[str, list[list[str]]] = {}
    for ui, tn in con.execute(
        "SELECT descriptor_ui, tree_number FROM mesh_vocabulary"
        " WHERE descriptor_ui IN (SELECT descriptor_ui FROM citation_mesh)"
    ).fetchall():
        trees.setdefault(ui, []).append(tn.split("."))
    owner = dict(con.execute("SELECT tree_number, descriptor_ui FROM mesh_vocabulary").fetchall())
    ic, p = {}, {}
    if snapshot:
        for ui, pv, icv in con.execute(
            "SELECT descriptor_ui, p, ic FROM mesh_ic WHERE snapshot_id = ?", [snapshot]
        ).fetchall():
            ic[ui], p[ui] = icv, pv
    mesh: dict[int, list[str]] = {}
    for pmid, ui in con.execute("SELECT pmid, descriptor_ui FROM citation_mesh").fetchall():
        mesh.setdefault(pmid, []).append(ui)

    def sim(a: str, b: str) -> float:
        if a == b:
            return 1.0
        options = []
        for ta in trees.get(a, []):
            for tb in trees.get(b, []):
                depth = next((i for i, (x, y) in enumerate(zip(ta, tb, strict=False)) if x != y), min(len(ta), len(tb)))  # fmt: skip
                if depth:
                    options.append((depth, owner[".".join(ta[:depth])], len(ta) + len(tb)))
        if not options:
            return 0.0
        top = max(d for d, _, _ in options)
        best = [o for o in options if o[0] == top]
        if measure == "wu_palmer":
            return max(2 * top / total for _, _, total in best)
        lca = max(best, key=lambda o: (ic[o[1]], [-ord(ch) for ch in o[1]]))[1]
        return ic_mean(ic[a], ic[b], ic[lca], p[lca]) if ic[a] + ic[b] > 0 else 0.0

    def set_similarity(s: list[str], c: list[str]) -> float:
        if setsim == "all_pairs":
            return sum(sim(a, b) for a in s for b in c) / (len(s) * len(c))
        forward = sum(max(sim(a, b) for b in c) for a in s) / len(s)
        return (forward + sum(max(sim(a, b) for a in s) for b in c) / len(c)) / 2

    scores = []
    for source, contexts in zip(
        candidates["source_pmid"], candidates["context_pmids"], strict=True
    ):
        values = [
            set_similarity(mesh[source], mesh[c]) for c in contexts if c in mesh and source in mesh
        ]
        scores.append(sum(values) / len(values) if source in mesh and values else None)
    return scores


@pytest.mark.parametrize("measure", ["ic_mean", "wu_palmer"])
def test_set_wise_scores_equal_a_per_pair_reference_on_a_random_corpus(con, measure):
    import random

    rng = random.Random(4)
    pool = [
        ui
        for (ui,) in con.execute(
            "SELECT DISTINCT descriptor_ui FROM mesh_vocabulary WHERE tree_number LIKE 'C04.557%'"
            " OR tree_number LIKE 'C15.378%' OR tree_number LIKE 'B01.050.150.900%'"
            " ORDER BY 1"
        ).fetchall()
    ]
    pool = rng.sample(pool, 150) + [MALE, FEMALE, HUMANS, "D999999"]
    corpus = {pmid: rng.sample(pool, rng.randint(1, 9)) for pmid in range(100, 260)}
    add_citations(con, corpus | {300: []})
    pmids = [*range(100, 260), 300, 99999]
    candidates = pl.DataFrame(
        {
            "candidate_id": [f"c{i}" for i in range(120)],
            "source_pmid": [rng.choice(pmids) for _ in range(120)],
            "context_pmids": [rng.sample(pmids, 4) for _ in range(120)],
        }
    )
    for setsim in ("best_match", "all_pairs"):
        scores = score_candidates(con, candidates, setsim=setsim, measure=measure)
        snapshot = scores["ic_snapshot"][0]
        expected = reference_scores(con, candidates, setsim, measure, snapshot)
        got = scores["mesh_score"].to_list()
        assert [g is None for g in got] == [e is None for e in expected]
        assert [g for g in got if g is not None] == pytest.approx(
            [e for e in expected if e is not None]
        )
        assert sum(g is not None and 0 < g < 1 for g in got) > 50  # the case is not trivial


def test_score_report_summarises_the_distribution():
    scores = pl.DataFrame({"candidate_id": ["a", "b", "c"], "mesh_score": [0.2, None, 0.6]})
    report = score_report(scores)
    assert (report["candidates"], report["scored"], report["unscored"]) == (3, 2, 1)
    assert report["mean"] == pytest.approx(0.4)
    assert score_report(scores.head(0))["mean"] is None
