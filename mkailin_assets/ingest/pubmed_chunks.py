"""PubMed release files in chunks: cut the decompressed stream into runs of whole records, parse
a run into a `ParsedBatch` of Arrow stage tables (what each parser worker process does).

`parse_chunk` hands ordinary PubmedArticle records to the compiled scanner (`_pubmed_scan.c`)
and everything else to the record parser (`pubmed_records`); both give the same rows. Nested
fields travel as flat child tables (sections, headings, qualifiers keyed by the record's
sequence number) because building nested Python objects into frames is slow; DuckDB nests them
again set-wise.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from mkailin_assets.ingest.errors import PubMedFormatError
from mkailin_assets.ingest.pubmed_columns import CitationColumns, check_scanner
from mkailin_assets.ingest.pubmed_records import (
    ARTICLE_TAGS,
    DELETE_TAG,
    ROOT_TAG,
    Citation,
    Deletion,
    ParsedItem,
    QuarantinedRecord,
    error_line,
    open_release_file,
    parse_book_article,
    parse_delete_citation,
    parse_pubmed_article,
    syntax_reason,
)
from mkailin_assets.settings import get_settings

# Sequence numbers order records within a file: chunk index * stride + position in the chunk.
SEQ_STRIDE = 10_000_000
DEFAULT_CHUNK_BYTES = 4 << 20
_RECORD_ENDS = (b"</PubmedArticle>", b"</PubmedBookArticle>", b"</DeleteCitation>")
_ROOT_START = re.compile(rb"<PubmedArticleSet(?:\s[^>]*)?(/?)>")
_ROOT_END = b"</PubmedArticleSet>"
_CHUNK_LINE = re.compile(r",? line \d+(?:, column \d+)?")


@dataclass(slots=True)
class ParsedBatch:
    """Parsed records of one batch; `freeze()` turns citations into Arrow stage tables."""

    columns: CitationColumns = field(default_factory=CitationColumns)
    deleted_pmids: list[int] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    articles_read: int = 0
    tables: dict[str, Any] | None = None

    def __len__(self) -> int:
        return self.articles_read

    def add(self, seq: int, item: ParsedItem) -> None:
        if isinstance(item, Citation):
            self.articles_read += 1
            self.columns.add_citation(seq, item)
        elif isinstance(item, Deletion):
            self.deleted_pmids.extend(item.pmids)
        else:
            if not item.reason.startswith("DeleteCitation"):
                self.articles_read += 1
            self.quarantined.append(item)

    def freeze(self) -> ParsedBatch:
        """Build the Arrow tables (C++ conversion, done in the worker) and drop the lists."""
        if self.tables is None:
            self.tables = self.columns.tables()
            self.columns = CitationColumns()
        return self


def iter_record_chunks(path: Path, name: str, chunk_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Cut the decompressed file into runs of whole top-level records: (bytes, first line).

    The prolog and the root's tags are cut away; what lies between records is kept, so a
    malformed file still fails when its chunk is parsed. NLM files are UTF-8 without CDATA."""
    buffer = b""
    line = 1
    in_root = False
    try:
        with open_release_file(path) as stream:
            while True:
                data = stream.read(chunk_bytes)
                buffer += data
                if not in_root:
                    match = _ROOT_START.search(buffer)
                    if match is None:
                        if not data:
                            raise PubMedFormatError(name, f"no <{ROOT_TAG}> start tag", line)
                        continue
                    line += buffer.count(b"\n", 0, match.end())
                    if match.group(1):  # <PubmedArticleSet/>: an empty set
                        return
                    buffer = buffer[match.end() :]
                    in_root = True
                cut = _last_record_end(buffer)
                if cut > 0 and (len(buffer) >= chunk_bytes or not data):
                    chunk, buffer = buffer[:cut], buffer[cut:]
                    yield chunk, line
                    line += chunk.count(b"\n")
                if not data:
                    break
    except (EOFError, OSError, zlib.error) as error:
        raise PubMedFormatError(
            name, f"unreadable (corrupt or truncated gzip?) near line {line}: {error}", line
        ) from error
    tail = buffer.rstrip()
    if not tail.endswith(_ROOT_END):
        raise PubMedFormatError(name, f"truncated: no closing </{ROOT_TAG}>", line)
    rest = tail[: -len(_ROOT_END)]
    if rest.strip():
        yield rest, line  # whatever sits there is parsed (and fails) like any record


def _last_record_end(buffer: bytes) -> int:
    """End of the last whole top-level record in the buffer, or -1.

    The rarer closing tags are only looked for after the last </PubmedArticle>: an earlier one
    cannot be the last end, and a miss over the whole buffer would cost a full backward scan."""
    article_end = buffer.rfind(_RECORD_ENDS[0])
    after = max(article_end, 0)
    ends = [article_end + len(_RECORD_ENDS[0]) if article_end >= 0 else -1]
    for tag in _RECORD_ENDS[1:]:
        position = buffer.rfind(tag, after)
        ends.append(position + len(tag) if position >= 0 else -1)
    return max(ends)


def parse_chunk(
    chunk: bytes, first_line: int, index: int, name: str, *, fast: bool | None = None
) -> ParsedBatch:
    """Parse one run of whole records (in a worker process); lines are made file-relative.

    With the compiled scanner (`_pubmed_scan`, fast=None uses it when built) ordinary
    PubmedArticle records are read in C and every other record goes through lxml here; without
    it the whole chunk goes through lxml. Both give the same rows (tested on real files)."""
    batch = ParsedBatch()
    base = index * SEQ_STRIDE
    scanner = fast_scanner() if fast is not False else None
    if fast and scanner is None:
        raise RuntimeError(
            f"the compiled PubMed scanner is not available (not built, or {SCANNER_SETTING}=off)"
        )
    if scanner is None:
        _parse_with_lxml(batch, chunk, first_line, base, 0, name)
        return batch.freeze()

    def fallback(start: int, end: int, line: int, position: int) -> tuple[int, bool]:
        if end >= 0:
            try:
                return _parse_with_lxml(batch, chunk[start:end], line, base, position, name), False
            except PubMedFormatError:
                pass  # the record's end was misjudged (e.g. a comment holding a closing tag)
        return _parse_with_lxml(batch, chunk[start:], line, base, position, name), True

    articles, _ = scanner.scan_chunk(chunk, first_line, base, 0, batch.columns.lists(), fallback)
    batch.articles_read += articles
    return batch.freeze()


def _parse_with_lxml(
    batch: ParsedBatch, data: bytes, first_line: int, base: int, position: int, name: str
) -> int:
    """Records in `data` (whole top-level elements) into the batch; returns the next position."""
    wrapped = b"<" + ROOT_TAG.encode() + b">" + data + _ROOT_END
    offset = first_line - 1
    try:
        # A chunk is bounded (a few MB), so one tree per chunk keeps memory bounded too, and
        # fromstring builds it ~40% cheaper than iterparse's event machinery.
        root = etree.fromstring(wrapped, _chunk_parser())
    except etree.XMLSyntaxError as error:
        line = error_line(error)
        # libxml2's own "line N" refers to the chunk, not the file: drop it, keep ours.
        reason = _CHUNK_LINE.sub("", syntax_reason(error))
        raise PubMedFormatError(name, reason, line + offset if line else None) from None
    # Only the record elements (lxml's tag filter skips comments, processing instructions and
    # unknown elements); the tree is dropped whole afterwards, so nothing is cleared per record.
    for element in root.iterchildren(*_RECORD_TAGS):
        for item in _parse_element(element):
            if item.line is not None:
                item.line += offset
            batch.add(base + position, item)
            position += 1
    return position


SCANNER_SETTING = "MKAILIN_PUBMED_SCANNER"


def fast_scanner() -> Any:
    """The compiled scanner module, or None when it was not built (no C compiler at install) or
    MKAILIN_PUBMED_SCANNER=off asks for lxml alone. A scanner built for other columns than
    `pubmed_columns.SCANNER_COLUMNS` is refused loudly (ScannerMismatchError), never used."""
    if get_settings().pubmed_scanner == "off":
        return None
    try:
        from mkailin_assets.ingest import _pubmed_scan
    except ImportError:
        return None
    return check_scanner(_pubmed_scan)


_RECORD_TAGS = frozenset((*ARTICLE_TAGS, DELETE_TAG))
_PARSERS = threading.local()


def _chunk_parser() -> Any:
    """One parser per thread: an lxml parser must not be shared between threads."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            huge_tree=True, resolve_entities=False, no_network=True, collect_ids=False
        )
        _PARSERS.parser = parser
    return parser


def _parse_element(element: Any) -> list[ParsedItem]:
    tag = element.tag
    if tag == "PubmedArticle":
        return [parse_pubmed_article(element)]
    if tag == "PubmedBookArticle":
        return [parse_book_article(element)]
    return list(parse_delete_citation(element))
