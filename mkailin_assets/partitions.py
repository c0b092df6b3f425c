"""Partition definitions shared by every asset."""

from __future__ import annotations

import dagster as dg

# MeSH top-level categories, keyed by letter (https://meshb.nlm.nih.gov/treeView).
MESH_CATEGORIES: dict[str, str] = {
    "A": "Anatomy",
    "B": "Organisms",
    "C": "Diseases",
    "D": "Chemicals and Drugs",
    "E": "Analytical, Diagnostic and Therapeutic Techniques, and Equipment",
    "F": "Psychiatry and Psychology",
    "G": "Phenomena and Processes",
    "H": "Disciplines and Occupations",
    "I": "Anthropology, Education, Sociology, and Social Phenomena",
    "J": "Technology, Industry, and Agriculture",
    "K": "Humanities",
    "L": "Information Science",
    "M": "Named Groups",
    "N": "Health Care",
    "V": "Publication Characteristics",
    "Z": "Geographicals",
}
CATEGORY_LETTERS: list[str] = list(MESH_CATEGORIES)

category_partitions = dg.StaticPartitionsDefinition(CATEGORY_LETTERS)
pubmed_file_partitions = dg.DynamicPartitionsDefinition(name="pubmed_files")


def validate_category(key: str) -> str:
    """Reject anything that is not one of the 16 letters (keys reach SQL only as parameters)."""
    if key not in MESH_CATEGORIES:
        raise ValueError(
            f"unknown MeSH category partition {key!r}; expected one of {''.join(CATEGORY_LETTERS)}"
        )
    return key
