"""Every document the code cites is in the repository, and every cited section exists.

Scans the repository's .py, .sql and .md files for references to Markdown files
(`docs/method.md#the-mesh-score`, `[x](../../docs/method.md)`, `README.md`). A reference is
resolved against the citing file's folder, then the repository root; it must name a file inside
the repository, and its `#anchor`, if any, must be a heading of that file. The method and stack
notes that once lived outside the repository may not be cited by their old names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCANNED_SUFFIXES = {".py", ".sql", ".md"}
# Folders that hold environments, caches or generated output, not the project's own text.
SKIPPED_DIRS = {"__pycache__", "node_modules", "build", "dist"}
SKIPPED_PATHS = {REPO_ROOT / "data" / "exports", REPO_ROOT / "data" / "downloads"}
# The real NLM data lives beside the repository by design (tests skip without it); its README is
# the one document outside the repository that may be cited.
EXTERNAL_DOCS = {"../shared/data/README.md"}

# A path ending in .md, not followed by more name characters or a call (`MetadataValue.md(`).
REFERENCE = re.compile(r"(?<![\w./-])([\w][\w./-]*\.md)(#[\w-]+)?(?![\w(])")
# The old, out-of-repository notes: by file name, or as "<NAME> step N".
RETIRED_NAMES = ("METHOD", "STACK")
RETIRED = re.compile(r"\b(?:" + "|".join(RETIRED_NAMES) + r")(?:\.md\b|\s+steps?\s+\d)")


def scanned_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(REPO_ROOT):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in SKIPPED_DIRS
            and not d.endswith(".egg-info")
            and here / d not in SKIPPED_PATHS
        )
        for name in sorted(files):
            if Path(name).suffix in SCANNED_SUFFIXES:
                yield here / name


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)  # no code blocks
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    return frozenset(slug(h) for h in headings)


def resolve(citing: Path, reference: str) -> Path | None:
    """The repository file a reference names, or None."""
    for base in (citing.parent, REPO_ROOT):
        target = (base / reference).resolve()
        if target.is_file() and target.is_relative_to(REPO_ROOT):
            return target
    return None


def broken_references(path: Path, text: str | None = None) -> list[str]:
    """What is wrong with the references in `path` (or in `text`, read as if it were there)."""
    if text is None:
        text = path.read_text(encoding="utf-8", errors="replace")
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{path.relative_to(REPO_ROOT)}:{number}"
        problems += [f"{where}: cites {m.group(0)!r}" for m in RETIRED.finditer(line)]
        for match in REFERENCE.finditer(line):
            reference, anchor = match.group(1), match.group(2)
            if Path(reference).stem in RETIRED_NAMES or reference in EXTERNAL_DOCS:
                continue  # retired names are reported above
            target = resolve(path, reference)
            if target is None:
                problems.append(f"{where}: {reference} is not a file in the repository")
            elif anchor and anchor[1:] not in anchors(target):
                problems.append(f"{where}: {reference} has no section {anchor}")
    return problems


def test_cited_documents_exist_in_the_repository():
    # This file's own examples below are broken on purpose.
    files = [path for path in scanned_files() if path != Path(__file__).resolve()]
    assert any(p.name == "method.md" for p in files), "the scan missed docs/"
    problems = [problem for path in files for problem in broken_references(path)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("see docs/method.md#the-mesh-score", []),
        ("see [the notes](../docs/stack-notes.md#duckdb)", []),
        ("dg.MetadataValue.md(table)", []),
        ("a checksum in file.md5", []),
        ("see docs/method.md#no-such-section", ["has no section #no-such-section"]),
        ("see docs/nowhere.md", ["docs/nowhere.md is not a file in the repository"]),
        ("from " + "METHOD" + ".md step 3", ["cites"]),
        ("as " + "STACK" + ".md says", ["cites"]),
        ("(" + "METHOD" + " step 5b)", ["cites"]),
    ],
)
def test_reference_rules(line, expected):
    """The checker itself: good references pass, each kind of broken one is reported."""
    problems = broken_references(REPO_ROOT / "tests" / "probe.md", line)
    assert len(problems) == len(expected), problems
    for problem, fragment in zip(problems, expected, strict=True):
        assert fragment in problem
