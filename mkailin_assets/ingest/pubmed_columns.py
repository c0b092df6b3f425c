"""Citations of a batch as Arrow column lists: the stage tables without per-row dicts.

Nested fields (abstract sections, MeSH headings and their qualifiers) are kept as flat child
columns plus per-parent counts, and nested again in C++ by `ListArray.from_arrays`.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any


class CitationColumns:
    """Citations of one batch as column lists; `tables()` builds the Arrow stage tables."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {name: [] for name in _ROW_COLUMNS}
        self.section_counts: list[int] = []
        self.sections: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        self.heading_counts: list[int] = []
        self.headings: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        self.heading_seqs: list[int] = []
        self.qualifier_counts: list[int] = []
        self.qualifiers: tuple[list[Any], list[Any], list[Any]] = ([], [], [])

    def __len__(self) -> int:
        return len(self.rows["seq"])

    def lists(self) -> tuple[list[Any], ...]:
        """The column lists in the order the C scanner (`_pubmed_scan.c`, enum L_*) appends to."""
        return (
            *(self.rows[name] for name in _ROW_COLUMNS),
            self.section_counts,
            *self.sections,
            self.heading_counts,
            *self.headings,
            self.heading_seqs,
            self.qualifier_counts,
            *self.qualifiers,
        )

    def _add_sections(self, section_rows: list[tuple[str | None, str | None, str]]) -> None:
        labels, categories, texts = self.sections
        for label, category, text in section_rows:
            labels.append(label)
            categories.append(category)
            texts.append(text)
        self.section_counts.append(len(section_rows))

    def add_citation(self, seq: int, citation: Any) -> None:
        """Append one `pubmed_xml.Citation` (its line is not staged)."""
        rows = self.rows
        rows["seq"].append(seq)
        for name in _ROW_COLUMNS[1:]:
            rows[name].append(getattr(citation, name))
        self._add_sections(
            [(s["label"], s["nlm_category"], s["text"]) for s in citation.abstract_sections]
        )
        uis, names, majors = self.headings
        for heading in citation.mesh_headings:
            uis.append(heading["descriptor_ui"])
            names.append(heading["name"])
            majors.append(heading["major_topic"])
            self.qualifier_counts.append(len(heading["qualifiers"]))
            for qualifier in heading["qualifiers"]:
                self.qualifiers[0].append(qualifier["ui"])
                self.qualifiers[1].append(qualifier["name"])
                self.qualifiers[2].append(qualifier["major_topic"])
        self.heading_counts.append(len(citation.mesh_headings))
        self.heading_seqs.extend([seq] * len(citation.mesh_headings))

    def tables(self) -> dict[str, Any]:
        """Arrow tables for the stage: citations (nested lists built from offsets), headings."""
        import pyarrow as pa

        text, text_list, flag = pa.string(), pa.list_(pa.string()), pa.bool_()
        sections = pa.StructArray.from_arrays(
            [pa.array(values, type=text) for values in self.sections],
            names=["label", "nlm_category", "text"],
        )
        qualifiers = pa.StructArray.from_arrays(
            [
                pa.array(values, type=kind)
                for values, kind in zip(self.qualifiers, (text, text, flag), strict=True)
            ],
            names=["ui", "name", "major_topic"],
        )
        heading_uis = pa.array(self.headings[0], type=text)
        heading_majors = pa.array(self.headings[2], type=flag)
        headings = pa.StructArray.from_arrays(
            [
                heading_uis,
                pa.array(self.headings[1], type=text),
                heading_majors,
                pa.ListArray.from_arrays(_offsets(self.qualifier_counts), qualifiers),
            ],
            names=["descriptor_ui", "name", "major_topic", "qualifiers"],
        )
        kinds = {"seq": pa.int64(), "pmid": pa.int64(), "version": pa.int32(),
                 "languages": text_list, "pub_year": pa.int32(), "publication_types": text_list,
                 "keywords": text_list, "date_revised": pa.date32()}  # fmt: skip
        columns = {
            name: pa.array(values, type=kinds.get(name, text)) for name, values in self.rows.items()
        }
        columns["abstract_sections"] = pa.ListArray.from_arrays(
            _offsets(self.section_counts), sections
        )
        columns["mesh_headings"] = pa.ListArray.from_arrays(_offsets(self.heading_counts), headings)
        headings_table = pa.table(
            {"seq": pa.array(self.heading_seqs, type=pa.int64()), "descriptor_ui": heading_uis,
             "major_topic": heading_majors}
        )  # fmt: skip
        return {"citations": pa.table(columns), "headings": headings_table}


_ROW_COLUMNS = (
    "seq", "pmid", "version", "title", "abstract", "languages", "journal", "pub_year",
    "publication_types", "keywords", "doi", "date_revised", "status", "content_hash",
)  # fmt: skip


def _offsets(counts: list[int]) -> Any:
    import pyarrow as pa

    return pa.array([0, *accumulate(counts)], type=pa.int32())
