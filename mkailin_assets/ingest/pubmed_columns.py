"""Citations of a batch as Arrow column lists: the stage tables without per-row dicts.

Nested fields (abstract sections, MeSH headings and their qualifiers) are kept as flat child
columns plus per-parent counts, and nested again in C++ by `ListArray.from_arrays`.

This module is also the contract with the compiled scanner (`_pubmed_scan.c`): the scanner
appends to the lists named in `SCANNER_COLUMNS`, in that order, and calls `content_hash` here
for every record it reads. The scanner exports the column order it was compiled for
(`_pubmed_scan.COLUMNS`); `check_scanner` refuses a scanner whose order differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

# Flat columns of the citations stage table; abstract_sections and mesh_headings follow as nested
# Arrow lists built from offsets (no per-row Python objects), matching the citations table.
ROW_COLUMNS = (
    "seq", "pmid", "version", "title", "abstract", "languages", "journal", "pub_year",
    "publication_types", "keywords", "doi", "date_revised", "status", "content_hash",
)  # fmt: skip
# Every list a batch is built from, in the order the scanner's `columns` argument holds them.
SCANNER_COLUMNS = (
    *ROW_COLUMNS,
    "section_counts", "section_labels", "section_categories", "section_texts",
    "heading_counts", "heading_uis", "heading_names", "heading_majors", "heading_seqs",
    "qualifier_counts", "qualifier_uis", "qualifier_names", "qualifier_majors",
)  # fmt: skip


class ScannerMismatchError(RuntimeError):
    """The compiled scanner was built for other columns than this module lists."""


def check_scanner(scanner: Any) -> Any:
    """The scanner module itself when it appends to SCANNER_COLUMNS in order; else raise.

    A stale build (compiled before a column changed) would fill the wrong lists silently."""
    compiled = tuple(getattr(scanner, "COLUMNS", ()))
    if compiled != SCANNER_COLUMNS:
        raise ScannerMismatchError(
            f"the compiled PubMed scanner appends to {compiled or 'unknown columns'}, but "
            f"pubmed_columns.SCANNER_COLUMNS is {SCANNER_COLUMNS}: rebuild it "
            "(pip install -e .) or set MKAILIN_PUBMED_SCANNER=off"
        )
    return scanner


def content_hash(
    title: str | None,
    abstract: str | None,
    heading_uis: Sequence[str],
    heading_majors: Sequence[bool],
) -> str:
    """sha256 over what downstream assets derive from: title, abstract, MeSH UIs and major flags.

    The one definition: the lxml record parser and the compiled scanner both call it."""
    parts = [title or "", abstract or ""]
    parts.extend(
        ui + ("Y" if major else "N") for ui, major in zip(heading_uis, heading_majors, strict=True)
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class CitationColumns:
    """Citations of one batch as column lists; `tables()` builds the Arrow stage tables."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = {name: [] for name in SCANNER_COLUMNS}

    def __len__(self) -> int:
        return len(self.data["seq"])

    def lists(self) -> tuple[list[Any], ...]:
        """The column lists in SCANNER_COLUMNS order, as the scanner appends to them."""
        return tuple(self.data[name] for name in SCANNER_COLUMNS)

    def add_citation(self, seq: int, citation: Any) -> None:
        """Append one `pubmed_records.Citation` (its line is not staged)."""
        data = self.data
        data["seq"].append(seq)
        for name in ROW_COLUMNS[1:]:
            data[name].append(getattr(citation, name))
        for section in citation.abstract_sections:
            data["section_labels"].append(section["label"])
            data["section_categories"].append(section["nlm_category"])
            data["section_texts"].append(section["text"])
        data["section_counts"].append(len(citation.abstract_sections))
        for heading in citation.mesh_headings:
            data["heading_uis"].append(heading["descriptor_ui"])
            data["heading_names"].append(heading["name"])
            data["heading_majors"].append(heading["major_topic"])
            data["qualifier_counts"].append(len(heading["qualifiers"]))
            for qualifier in heading["qualifiers"]:
                data["qualifier_uis"].append(qualifier["ui"])
                data["qualifier_names"].append(qualifier["name"])
                data["qualifier_majors"].append(qualifier["major_topic"])
        data["heading_counts"].append(len(citation.mesh_headings))
        data["heading_seqs"].extend([seq] * len(citation.mesh_headings))

    def tables(self) -> dict[str, Any]:
        """Arrow tables for the stage: citations (nested lists built from offsets), headings."""
        import pyarrow as pa

        data = self.data
        text, text_list, flag = pa.string(), pa.list_(pa.string()), pa.bool_()
        sections = pa.StructArray.from_arrays(
            [
                pa.array(data[name], type=text)
                for name in ("section_labels", "section_categories", "section_texts")
            ],
            names=["label", "nlm_category", "text"],
        )
        qualifiers = pa.StructArray.from_arrays(
            [
                pa.array(data["qualifier_uis"], type=text),
                pa.array(data["qualifier_names"], type=text),
                pa.array(data["qualifier_majors"], type=flag),
            ],
            names=["ui", "name", "major_topic"],
        )
        heading_uis = pa.array(data["heading_uis"], type=text)
        heading_majors = pa.array(data["heading_majors"], type=flag)
        headings = pa.StructArray.from_arrays(
            [
                heading_uis,
                pa.array(data["heading_names"], type=text),
                heading_majors,
                pa.ListArray.from_arrays(_offsets(data["qualifier_counts"]), qualifiers),
            ],
            names=["descriptor_ui", "name", "major_topic", "qualifiers"],
        )
        kinds = {"seq": pa.int64(), "pmid": pa.int64(), "version": pa.int32(),
                 "languages": text_list, "pub_year": pa.int32(), "publication_types": text_list,
                 "keywords": text_list, "date_revised": pa.date32()}  # fmt: skip
        columns = {name: pa.array(data[name], type=kinds.get(name, text)) for name in ROW_COLUMNS}
        columns["abstract_sections"] = pa.ListArray.from_arrays(
            _offsets(data["section_counts"]), sections
        )
        columns["mesh_headings"] = pa.ListArray.from_arrays(
            _offsets(data["heading_counts"]), headings
        )
        headings_table = pa.table(
            {"seq": pa.array(data["heading_seqs"], type=pa.int64()), "descriptor_ui": heading_uis,
             "major_topic": heading_majors}
        )  # fmt: skip
        return {"citations": pa.table(columns), "headings": headings_table}


def _offsets(counts: list[int]) -> Any:
    import pyarrow as pa

    return pa.array([0, *accumulate(counts)], type=pa.int32())
