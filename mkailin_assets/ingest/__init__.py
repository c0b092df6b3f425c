"""Ingestion: NLM PubMed and MeSH XML parsers, DuckDB loaders, release-file sources.

Callers (the Dagster assets) use:
    list_release_files / fetch_release_file / fetch_mesh_source   (sources)
    load_pubmed_file -> LoadReport                                (pubmed_loader)
    load_mesh_descriptors -> MeshLoadReport, write_mesh_tree_partition (mesh_xml)
"""

from mkailin_assets.ingest.errors import (
    ChecksumMismatchError,
    IngestError,
    MeshFormatError,
    MeshYearMismatchError,
    PubMedFormatError,
    SourceError,
    UnsafeFileNameError,
)
from mkailin_assets.ingest.mesh_xml import (
    MeshLoadReport,
    load_mesh_descriptors,
    mesh_tree_rows_sql,
    write_mesh_tree_partition,
)
from mkailin_assets.ingest.pubmed_loader import LoadReport, load_pubmed_file, read_md5_file
from mkailin_assets.ingest.pubmed_xml import Citation, iter_pubmed_file
from mkailin_assets.ingest.sources import (
    LocalReleaseFile,
    ReleaseFile,
    fetch_mesh_source,
    fetch_release_file,
    list_release_files,
)

__all__ = [
    "ChecksumMismatchError",
    "Citation",
    "IngestError",
    "LoadReport",
    "LocalReleaseFile",
    "MeshFormatError",
    "MeshLoadReport",
    "MeshYearMismatchError",
    "PubMedFormatError",
    "ReleaseFile",
    "SourceError",
    "UnsafeFileNameError",
    "fetch_mesh_source",
    "fetch_release_file",
    "iter_pubmed_file",
    "list_release_files",
    "load_mesh_descriptors",
    "load_pubmed_file",
    "mesh_tree_rows_sql",
    "read_md5_file",
    "write_mesh_tree_partition",
]
