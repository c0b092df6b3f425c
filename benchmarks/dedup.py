"""Near-duplicate detection on 100,000 generated biomedical questions: mkailin vs datasketch.

Both run in one process on the same questions with the same threshold, num_perm, LSH bands/rows
and word 3-gram shingles of the normalised text; both verify LSH candidates by estimated
Jaccard >= threshold and cluster them the same way. Planted: near-duplicate pairs (a word or
two changed, dropped or swapped, true Jaccard >= threshold) and exact duplicates (case and
punctuation changes). Prints recall of planted pairs, throughput, false positives; ends with
one JSON line.

    .venv/bin/python benchmarks/dedup.py [--questions 100000] [--near 2000] [--exact 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np
import polars as pl

from mkailin_assets.curation.dedup import connected_minimum, lsh_parameters, near_duplicates
from mkailin_assets.curation.text import word_shingles

TEMPLATES = [
    "In {population} with {disease}, does {drug} compared with {comparator} reduce {outcome} "
    "after {duration} of follow-up, and is the effect modified by {modifier} or by {exposure}?",
    "What is the role of {gene} in the regulation of {process} in {cell} during {disease}, and "
    "how does treatment with {drug} alter this pathway in {model} exposed to {exposure}?",
    "Is the level of {biomarker} measured at {timepoint} associated with {outcome} in "
    "{population} undergoing {procedure} for {disease}, independent of {modifier} and {gene} status?",
    "How does long-term {exposure} influence the risk of {disease} among {population} treated in "
    "{setting}, and does a {gene} polymorphism modify its association with {outcome}?",
    "Can {method} accurately detect {disease} in {population} presenting to {setting} with "
    "{symptom}, compared with {comparator} as the reference standard over {duration}?",
    "Which mechanisms link {process} in {cell} to {outcome} in {model} of {disease}, and can "
    "{drug} given at {timepoint} prevent the damage caused by {exposure}?",
]
ADJECTIVES = [
    "acute",
    "chronic",
    "severe",
    "mild",
    "early",
    "late",
    "refractory",
    "recurrent",
    "primary",
    "secondary",
    "idiopathic",
    "hereditary",
    "metastatic",
    "pediatric",
    "adult-onset",
    "drug-resistant",
    "progressive",
    "stable",
    "advanced",
    "subclinical",
    "familial",
    "sporadic",
    "congenital",
    "acquired",
]
DISEASES = [
    "asthma",
    "sepsis",
    "stroke",
    "melanoma",
    "psoriasis",
    "glaucoma",
    "lupus",
    "hepatitis",
    "pancreatitis",
    "cirrhosis",
    "leukemia",
    "lymphoma",
    "glioma",
    "myocarditis",
    "nephropathy",
    "neuropathy",
    "osteoporosis",
    "tuberculosis",
    "malaria",
    "influenza",
    "anemia",
    "gout",
    "arthritis",
    "colitis",
    "dermatitis",
    "epilepsy",
    "migraine",
    "obesity",
    "fibrosis",
    "sarcoidosis",
    "endometriosis",
    "preeclampsia",
    "bronchiolitis",
    "cardiomyopathy",
    "retinopathy",
]
DRUGS = [
    "aspirin",
    "metformin",
    "atorvastatin",
    "warfarin",
    "heparin",
    "insulin",
    "tamoxifen",
    "cisplatin",
    "rituximab",
    "adalimumab",
    "infliximab",
    "dexamethasone",
    "prednisone",
    "vancomycin",
    "ceftriaxone",
    "azithromycin",
    "amiodarone",
    "lisinopril",
    "losartan",
    "furosemide",
    "sertraline",
    "fluoxetine",
    "lithium",
    "clozapine",
    "levetiracetam",
    "valproate",
    "ibuprofen",
    "paracetamol",
    "morphine",
    "ketamine",
    "propofol",
    "remdesivir",
]
GENES = [
    "TP53",
    "BRCA1",
    "BRCA2",
    "EGFR",
    "KRAS",
    "BRAF",
    "PTEN",
    "MYC",
    "HER2",
    "APOE",
    "CFTR",
    "JAK2",
    "STAT3",
    "NFKB1",
    "TNF",
    "IL6",
    "IL10",
    "TLR4",
    "NOD2",
    "HLA-B27",
    "VEGFA",
    "PDL1",
    "CTLA4",
    "FOXP3",
    "SIRT1",
    "MTOR",
    "AKT1",
    "PIK3CA",
    "IDH1",
    "NOTCH1",
    "WNT5A",
]
CELLS = [
    "macrophages",
    "neutrophils",
    "T-cells",
    "B-cells",
    "hepatocytes",
    "cardiomyocytes",
    "neurons",
    "astrocytes",
    "microglia",
    "podocytes",
    "keratinocytes",
    "fibroblasts",
    "endothelial-cells",
    "osteoclasts",
    "adipocytes",
]
POPULATIONS = [
    f"{age} {group}"
    for age in ("elderly", "young", "middle-aged", "postmenopausal", "pregnant", "critically ill")
    for group in ("patients", "women", "men", "children", "adolescents", "veterans", "smokers")
]
OUTCOMES = [
    f"{kind} {what}"
    for kind in ("all-cause", "long-term", "30-day", "one-year", "in-hospital", "overall")
    for what in ("mortality", "readmission", "relapse", "disability", "hospitalisation", "survival")
]
EXPOSURES = [
    "smoking",
    "alcohol",
    "air-pollution",
    "shift-work",
    "obesity",
    "sedentary-behaviour",
    "radiation",
    "pesticides",
    "noise",
    "high-salt-diet",
    "sleep-deprivation",
    "stress",
]
PROCESSES = [
    "apoptosis",
    "autophagy",
    "angiogenesis",
    "inflammation",
    "fibrogenesis",
    "proliferation",
    "differentiation",
    "migration",
    "senescence",
    "ferroptosis",
    "pyroptosis",
    "phagocytosis",
]
MISC = {
    "comparator": ["placebo", "usual care", "standard therapy", "no treatment", "biopsy", "CT"],
    "duration": ["six months", "one year", "two years", "five years", "ten years", "12 weeks"],
    "modifier": ["age", "sex", "body mass index", "diabetes", "renal function", "ethnicity"],
    "model": ["mice", "rats", "zebrafish", "organoids", "primates", "cell lines"],
    "biomarker": ["troponin", "CRP", "procalcitonin", "BNP", "lactate", "ferritin", "D-dimer"],
    "timepoint": ["admission", "baseline", "discharge", "day three", "week one", "surgery"],
    "procedure": ["surgery", "dialysis", "chemotherapy", "transplantation", "stenting", "ablation"],
    "setting": ["primary care", "emergency departments", "intensive care units", "rural clinics"],
    "method": ["ultrasound", "MRI", "PCR", "deep learning", "dermoscopy", "spirometry"],
    "symptom": ["fever", "chest pain", "dyspnoea", "headache", "fatigue", "abdominal pain"],
}


def make_question(rng: random.Random) -> str:
    slots = {
        "population": rng.choice(POPULATIONS),
        "disease": f"{rng.choice(ADJECTIVES)} {rng.choice(DISEASES)}",
        "drug": rng.choice(DRUGS),
        "gene": rng.choice(GENES),
        "cell": rng.choice(CELLS),
        "outcome": rng.choice(OUTCOMES),
        "exposure": rng.choice(EXPOSURES),
        "process": rng.choice(PROCESSES),
        **{name: rng.choice(options) for name, options in MISC.items()},
    }
    return rng.choice(TEMPLATES).format(**slots)


def jaccard(a: str, b: str) -> float:
    sa, sb = word_shingles(a), word_shingles(b)
    return len(sa & sb) / len(sa | sb)


def perturb(question: str, rng: random.Random) -> str:
    """A word or two changed, dropped or swapped."""
    words = question.split()
    for _ in range(rng.choice((1, 1, 2))):
        i = rng.randrange(len(words) - 1)
        action = rng.choice(("replace", "drop", "swap"))
        if action == "replace":
            words[i] = rng.choice(DRUGS + DISEASES + EXPOSURES)
        elif action == "drop":
            del words[i]
        else:
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def exact_variant(question: str, rng: random.Random) -> str:
    variant = question.upper() if rng.random() < 0.5 else question.replace(",", " ,  ")
    return variant.rstrip("?") + rng.choice(("?", "??", " ?", ""))


def generate(total: int, near: int, exact: int, threshold: float, seed: int):
    rng = random.Random(seed)
    bases, seen = [], set()
    while len(bases) < total - near - exact:
        question = make_question(rng)
        if question not in seen:
            seen.add(question)
            bases.append(question)
    texts = list(bases)
    planted_near, planted_exact = [], []
    for base_index in rng.sample(range(len(bases)), near + exact):
        if len(planted_exact) < exact:
            planted_exact.append((base_index, len(texts)))
            texts.append(exact_variant(bases[base_index], rng))
            continue
        while True:
            variant = perturb(bases[base_index], rng)
            if variant != bases[base_index] and jaccard(variant, bases[base_index]) >= threshold:
                break
        planted_near.append((base_index, len(texts)))
        texts.append(variant)
    order = list(range(len(texts)))
    rng.shuffle(order)  # so planted copies are not all at the end
    position = {old: new for new, old in enumerate(order)}
    shuffled = [texts[old] for old in order]
    remap = lambda pairs: [(position[a], position[b]) for a, b in pairs]  # noqa: E731
    return shuffled, remap(planted_near), remap(planted_exact)


def run_ours(
    texts: list[str],
    threshold: float,
    num_perm: int,
    weights: tuple[float, float],
    verify: str = "estimate",
) -> tuple[np.ndarray, float]:
    ids = [f"q{i:07d}" for i in range(len(texts))]  # zero-padded: id order is index order
    frame = pl.DataFrame({"record_id": ids, "text": texts})
    start = time.perf_counter()
    found = near_duplicates(
        frame,
        threshold=threshold,
        num_perm=num_perm,
        shingle_size=3,
        weights=weights,
        verify=verify,
    )
    elapsed = time.perf_counter() - start
    labels = np.arange(len(texts))
    removed = np.array([int(r[1:]) for r in found["record_id"]], dtype=np.int64)
    twins = np.array([int(t[1:]) for t in found["twin_id"]], dtype=np.int64)
    labels[removed] = twins
    return labels, elapsed


def run_datasketch(
    texts: list[str], threshold: float, num_perm: int, seed: int, weights: tuple[float, float]
):
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    shingles = [[s.encode() for s in word_shingles(t)] for t in texts]
    shingled = time.perf_counter()
    minhashes = MinHash.bulk(shingles, num_perm=num_perm, seed=seed)
    hashed = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    with lsh.insertion_session() as session:
        for key, minhash in enumerate(minhashes):
            if shingles[key]:
                session.insert(key, minhash)
    edges = []
    for key, minhash in enumerate(minhashes):
        if not shingles[key]:
            continue
        for other in lsh.query(minhash):
            if other > key and minhash.jaccard(minhashes[other]) >= threshold:
                edges.append((key, other))
    labels = connected_minimum(len(texts), np.array(edges, dtype=np.int64).reshape(-1, 2))
    end = time.perf_counter()
    stages = {"shingle_s": shingled - start, "minhash_s": hashed - shingled, "lsh_s": end - hashed}
    return labels, end - start, stages, (lsh.b, lsh.r)


def evaluate(labels: np.ndarray, near: list, exact: list, texts: list[str], threshold: float):
    recall_near = float(np.mean([labels[a] == labels[b] for a, b in near]))
    recall_exact = float(np.mean([labels[a] == labels[b] for a, b in exact]))
    planted = {tuple(sorted(p)) for p in near + exact}
    removed = np.flatnonzero(labels != np.arange(labels.size))
    detected = {tuple(sorted((int(r), int(labels[r])))) for r in removed}
    unplanted = detected - planted
    below = sum(1 for a, b in unplanted if jaccard(texts[a], texts[b]) < threshold)
    return {
        "recall_near": round(recall_near, 4),
        "recall_exact": round(recall_exact, 4),
        "removed": int(removed.size),
        "unplanted_pairs": len(unplanted),
        "false_positives": below,  # unplanted and truly below the threshold
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--near", type=int, default=2_000)
    parser.add_argument("--exact", type=int, default=1_000)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--weights", type=float, nargs=2, default=(0.5, 0.5), help="LSH FP and FN weights"
    )
    args = parser.parse_args()

    texts, near, exact = generate(args.questions, args.near, args.exact, args.threshold, args.seed)
    true_near = np.array([jaccard(texts[a], texts[b]) for a, b in near])
    mean_words = float(np.mean([len(t.split()) for t in texts]))
    print(f"{len(texts)} questions ({mean_words:.1f} words), {len(near)} near pairs "
          f"(true Jaccard {true_near.min():.3f}-{true_near.max():.3f}, median "
          f"{np.median(true_near):.3f}), {len(exact)} exact pairs")  # fmt: skip
    weights = tuple(args.weights)
    bands, rows = lsh_parameters(args.threshold, args.num_perm, weights)
    print(f"threshold {args.threshold}, num_perm {args.num_perm}, weights {weights}, "
          f"LSH {bands} bands x {rows} rows")  # fmt: skip

    # Warm both up (imports, thread pools, caches) so the timings measure throughput.
    run_ours(texts[:1000], args.threshold, args.num_perm, weights)
    run_datasketch(texts[:1000], args.threshold, args.num_perm, args.seed, weights)
    runs: dict[str, dict] = {}
    labels_of: dict[str, np.ndarray] = {}
    for name, verify in (("mkailin", "estimate"), ("mkailin_exact_verify", "exact")):
        labels_of[name], seconds = run_ours(texts, args.threshold, args.num_perm, weights, verify)
        runs[name] = {"seconds": seconds}
    labels_of["datasketch"], ds_s, ds_stages, ds_params = run_datasketch(
        texts, args.threshold, args.num_perm, args.seed, weights
    )
    assert ds_params == (bands, rows), "datasketch chose different LSH parameters"
    runs["datasketch"] = {"seconds": ds_s, **{k: round(v, 3) for k, v in ds_stages.items()}}
    high = true_near >= 0.9
    for name, labels in labels_of.items():
        rec = runs[name]
        rec.update(evaluate(labels, near, exact, texts, args.threshold))
        rec["questions_per_s"] = round(len(texts) / rec["seconds"])
        rec["seconds"] = round(rec["seconds"], 3)
        hits = np.array([labels[a] == labels[b] for a, b in near])
        rec["recall_near_jaccard_ge_0.9"] = round(float(hits[high].mean()), 4)
        rec["recall_near_jaccard_lt_0.9"] = round(float(hits[~high].mean()), 4)
        print(f"{name:>20}: {rec['seconds']:7.2f} s  {rec['questions_per_s']:>7} q/s  "
              f"recall near {rec['recall_near']:.4f} (J>=0.9: {rec['recall_near_jaccard_ge_0.9']:.4f}, "
              f"J<0.9: {rec['recall_near_jaccard_lt_0.9']:.4f})  exact {rec['recall_exact']:.4f}  "
              f"unplanted pairs {rec['unplanted_pairs']} (false positives {rec['false_positives']})")  # fmt: skip
    ours, theirs = runs["mkailin"], runs["datasketch"]
    ours_s = ours["seconds"]
    speedup = theirs["seconds"] / ours_s
    print(f"speed-up mkailin / datasketch: {speedup:.1f}x")
    print(
        json.dumps(
            {
                "benchmark": "dedup",
                "questions": len(texts),
                "planted_near_pairs": len(near),
                "planted_exact_pairs": len(exact),
                "threshold": args.threshold,
                "num_perm": args.num_perm,
                "weights": list(weights),
                "bands": bands,
                "rows": rows,
                "mkailin": ours,
                "mkailin_exact_verify": runs["mkailin_exact_verify"],
                "datasketch": theirs,
                "speedup": round(speedup, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
