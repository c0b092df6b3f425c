"""A small PubMed source for daemon tests: the sample's release files cut down to a handful of
citations that fall into three MeSH categories only (A, C, D), in NLM's formats.

Each file keeps its XML declaration, DOCTYPE and DeleteCitation blocks; only PubmedArticle and
PubmedBookArticle records outside SMALL_PMIDS are removed. The `.md5` beside each file is
recomputed in NLM's form. A run of the whole pipeline over it refreshes three categories instead
of fifteen, which is what keeps a test with the real daemon within a few minutes.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from lxml import etree

from mkailin_assets.settings import SAMPLE_PUBMED_SOURCE

# Citations whose categories (major-topic headings, docs/method.md#categories) are all in
# SMALL_CATEGORIES, per sample file (data/sample/README.md lists them), plus the in-process
# 90000061/90000062 (no MeSH in the baseline; the update indexes 90000061 under C and D).
SMALL_PMIDS = frozenset({90000002, 90000003, 90000010, 90000058, 90000059, 90000061, 90000062})
SMALL_CATEGORIES = frozenset({"A", "C", "D"})
RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle")


def _pmid(record: etree._Element) -> int:
    text = record.findtext("MedlineCitation/PMID") or record.findtext("BookDocument/PMID")
    return int(text or 0)


def small_release_bytes(sample_file: Path, pmids: frozenset[int] = SMALL_PMIDS) -> bytes:
    """The sample file's gzip bytes with only the records of `pmids` (gzip mtime 0)."""
    with gzip.open(sample_file) as stream:
        tree = etree.parse(stream)
    root = tree.getroot()
    for record in [child for child in root if child.tag in RECORD_TAGS]:
        if _pmid(record) not in pmids:
            root.remove(record)
    xml = etree.tostring(tree, xml_declaration=True, encoding="utf-8")
    return gzip.compress(xml, mtime=0)


def md5_line(name: str, data: bytes) -> str:
    return f"MD5({name})= {hashlib.md5(data).hexdigest()}\n"


def write_small_release(source: Path, kind: str, name: str, md5_text: str | None = None) -> Path:
    """Write `source/kind/name` (cut from the sample file of that name) and its `.md5`
    (`md5_text` instead, e.g. a wrong checksum to make the load fail). The .md5 is written
    first: the release check lists a file once its data file is there."""
    data = small_release_bytes(SAMPLE_PUBMED_SOURCE / kind / name)
    folder = source / kind
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md5").write_text(md5_text or md5_line(name, data))
    staging = folder / f".{name}.tmp"
    staging.write_bytes(data)
    staging.replace(folder / name)  # atomic: a look at the folder never sees half a file
    return folder / name
