"""Ingestion: NLM PubMed and MeSH XML parsers, DuckDB loaders, release-file sources.

Callers (the Dagster assets) use:
    list_release_files / fetch_release_file / fetch_mesh_source        (sources)
    load_pubmed_file -> LoadReport                                     (pubmed_loader)
    load_mesh_descriptors -> MeshLoadReport, write_mesh_tree_partition (mesh_xml)

Names are imported lazily: the PubMed parser's worker processes import
`mkailin_assets.ingest.pubmed_chunks`, and must not pay for dagster/duckdb imports they never use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ChecksumMismatchError": "errors",
    "IngestError": "errors",
    "MeshFormatError": "errors",
    "MeshYearMismatchError": "errors",
    "PubMedFormatError": "errors",
    "SourceError": "errors",
    "UnsafeFileNameError": "errors",
    "MeshLoadReport": "mesh_xml",
    "load_mesh_descriptors": "mesh_xml",
    "mesh_tree_rows_sql": "mesh_xml",
    "write_mesh_tree_partition": "mesh_xml",
    "LoadReport": "pubmed_loader",
    "load_pubmed_file": "pubmed_loader",
    "read_md5_file": "pubmed_loader",
    "Citation": "pubmed_records",
    "iter_pubmed_file": "pubmed_records",
    "LocalReleaseFile": "sources",
    "ReleaseFile": "sources",
    "fetch_mesh_source": "sources",
    "fetch_release_file": "sources",
    "list_release_files": "sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
