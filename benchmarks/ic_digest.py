"""The IC snapshot's input digest: its cost against the corpus size, now and before.

Every evaluated_qa run asks, in its read phase (the writer held), whether the stored IC snapshot
still matches the corpus (`snapshot_inputs`). The digest before this change aggregated a hash
over every row of citation_mesh; it now reads the loads (pubmed_files) and the row counts. This
times both, whole, on project databases of growing corpora, e.g. those `scale.py --keep` leaves:

    for n in 1 16 64; do .venv/bin/python benchmarks/scale.py --copies $n --perturb \\
        --workdir /tmp/scale --keep; done
    .venv/bin/python benchmarks/ic_digest.py /tmp/scale/project-{1,16,64}-perturbed/mkailin.duckdb

Prints a line per database and ends with one JSON line: [{"db", "citations", "headings",
"digest_s", "before_s"}, ...] (median of --repeat runs each, the file opened read-only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mkailin_assets.agents.mesh_similarity import snapshot_inputs  # noqa: E402

# The digest before (6e1bebd^): the same parts, but the corpus as one aggregate over every heading
# of every citation.
DIGEST_BEFORE_SQL = """
SELECT (SELECT string_agg(DISTINCT source_sha256, ',') FROM mesh_descriptors) AS mesh_sha256,
       (SELECT max(mesh_year) FROM mesh_descriptors) AS mesh_year,
       (SELECT count(*) FROM pubmed_files)::INTEGER AS corpus_files,
       (SELECT 'files-' || sha256(coalesce(string_agg(file_name || ':' || sha256, ','
                                                      ORDER BY file_name), ''))[:16]
        FROM pubmed_files) AS corpus_fingerprint,
       (SELECT count(*) || ':' || coalesce(sum(hash(cm.pmid, cm.descriptor_ui)), 0)
        FROM citation_mesh cm WHERE cm.pmid IN (SELECT pmid FROM citations))
       || '|' ||
       (SELECT count(*) || ':' || coalesce(sum(hash(tree_number, descriptor_ui)), 0)
        FROM mesh_vocabulary) AS content
"""


def median_seconds(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(path: Path, repeat: int) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        citations, headings = con.execute(
            "SELECT (SELECT count(*) FROM citations), (SELECT count(*) FROM citation_mesh)"
        ).fetchone()
        return {
            "db": str(path),
            "citations": citations,
            "headings": headings,
            "digest_s": round(median_seconds(lambda: snapshot_inputs(con), repeat), 4),
            "before_s": round(
                median_seconds(lambda: con.execute(DIGEST_BEFORE_SQL).fetchall(), repeat), 4
            ),
        }
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("databases", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for path in args.databases:
        if not path.exists():
            sys.exit(f"no database at {path}")
        row = measure(path, args.repeat)
        rows.append(row)
        print(
            f"{row['citations']:>10,} citations {row['headings']:>11,} headings: digest "
            f"{row['digest_s'] * 1000:8.1f} ms, before {row['before_s'] * 1000:8.1f} ms",
            flush=True,
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
