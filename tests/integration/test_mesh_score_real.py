"""Stored mesh_score of real candidates against a straightforward Python implementation.

The bundled 2020 baseline file and the whole MeSH 2024 tree go through the real assets (one
category, a fixed sample, the offline backend); the test then recomputes every candidate's score
from docs/method.md#the-mesh-score with plain Python over the same corpus and a tree it parses
itself, and the two agree within 1e-9."""

from __future__ import annotations

import gzip
import math
from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import BASELINE_FILE, MESH_2024, require_shared
from tests.harness import new_pipeline

CATEGORY = "C"


def read_tree(path: Path) -> dict[str, list[str]]:
    """descriptor UI -> its tree numbers, straight from the MeSH XML."""
    tree: dict[str, list[str]] = {}
    with gzip.open(path, "rb") as handle:
        for _, record in etree.iterparse(handle, tag="DescriptorRecord"):
            ui = record.findtext("DescriptorUI")
            tree[ui] = [t.text.strip() for t in record.iterfind("TreeNumberList/TreeNumber")]
            record.clear()
    return tree


class Reference:
    """The method's formulas, written out: IC from the corpus, LCA by the longest common dotted
    prefix, sim = mean of clipped Lin, Jiang-Conrath and Rel, best-match average over sets."""

    def __init__(self, tree: dict[str, list[str]], headings: dict[int, set[str]]):
        self.tree = tree
        self.headings = headings
        self.owner = {tn: ui for ui, tns in tree.items() for tn in tns}
        counts: dict[str, int] = defaultdict(int)
        for descriptors in headings.values():
            covered = set()
            for ui in descriptors:
                covered |= self.ancestors(ui)
            for ui in covered:
                counts[ui] += 1
        n = len(headings)
        self.p = lambda ui: (counts.get(ui, 0) + 1) / (n + 1)
        self.ic = lambda ui: -math.log(self.p(ui)) / math.log(n + 1)

    def ancestors(self, ui: str) -> set[str]:
        found = {ui}
        for tn in self.tree.get(ui, []):
            parts = tn.split(".")
            found |= {self.owner[".".join(parts[:i])] for i in range(1, len(parts) + 1)}
        return found

    def lca(self, a: str, b: str) -> str | None:
        best: list[str] = []
        best_depth = 0
        for ta in self.tree.get(a, []):
            for tb in self.tree.get(b, []):
                depth = 0
                for x, y in zip(ta.split("."), tb.split("."), strict=False):
                    if x != y:
                        break
                    depth += 1
                prefix = ".".join(ta.split(".")[:depth])
                if depth > best_depth:
                    best, best_depth = [prefix], depth
                elif depth == best_depth and depth > 0:
                    best.append(prefix)
        if not best_depth:
            return None
        return min((self.owner[p] for p in best), key=lambda ui: (-self.ic(ui), ui))

    def sim(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        lca = self.lca(a, b)
        if lca is None:
            return 0.0
        ic_a, ic_b, ic_l = self.ic(a), self.ic(b), self.ic(lca)
        lin = 2 * ic_l / (ic_a + ic_b) if ic_a + ic_b > 0 else 0.0
        jiang_conrath = 1 - min(1.0, ic_a + ic_b - 2 * ic_l)
        rel = lin * (1 - self.p(lca))
        return sum(min(1.0, max(0.0, v)) for v in (lin, jiang_conrath, rel)) / 3

    def setsim(self, s: set[str], c: set[str]) -> float:
        forward = sum(max(self.sim(a, b) for b in c) for a in s) / len(s)
        backward = sum(max(self.sim(a, b) for a in s) for b in c) / len(c)
        return (forward + backward) / 2

    def score(self, source: int, contexts: list[int]) -> float | None:
        if source not in self.headings:
            return None
        values = [self.setsim(self.headings[source], self.headings[c]) for c in contexts
                  if c in self.headings]  # fmt: skip
        return sum(values) / len(values) if values else None


@pytest.mark.slow
def test_stored_scores_of_real_candidates_equal_the_formulas(tmp_path: Path):
    baseline = require_shared(BASELINE_FILE)
    mesh = require_shared(MESH_2024)
    pipeline = new_pipeline(
        tmp_path,
        MKAILIN_MESH_SOURCE=str(mesh),
        MKAILIN_PUBMED_SOURCE=str(baseline),
        MKAILIN_SAMPLE_PER_CATEGORY="40",
    )
    pipeline.materialize(["mesh_vocabulary"])
    pipeline.materialize(["mesh_tree"], CATEGORY)  # only C's partition: the score must not care
    pipeline.load_files([baseline.name])
    for stage in ("raw_abstracts", "candidate_qa", "evaluated_qa"):
        pipeline.materialize([stage], CATEGORY)

    candidates = pipeline.rows(
        "SELECT candidate_id, source_pmid, context_pmids, mesh_score FROM evaluated_qa "
        "WHERE category = ? ORDER BY candidate_id",
        [CATEGORY],
    )
    headings: dict[int, set[str]] = defaultdict(set)
    for pmid, ui in pipeline.rows(
        "SELECT pmid, descriptor_ui FROM citation_mesh WHERE pmid IN (SELECT pmid FROM citations)"
    ):
        headings[pmid].add(ui)
    reference = Reference(read_tree(mesh), headings)

    assert len(candidates) >= 60
    scored = 0
    for candidate_id, source, contexts, stored in candidates:
        expected = reference.score(source, contexts)
        if expected is None:
            assert stored is None, candidate_id
            continue
        assert stored == pytest.approx(expected, abs=1e-9), candidate_id
        scored += 1
    assert scored >= 60
    assert len({round(s, 6) for *_, s in candidates if s is not None}) > 30  # not a constant
