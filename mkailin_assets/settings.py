"""Environment-driven settings: one place that reads MKAILIN_* variables."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# NLM's production locations (the demo and tests override them).
NLM_MESH_SOURCE = "https://nlmpubs.nlm.nih.gov/projects/mesh/MESH_FILES/xmlmesh/desc2026.gz"
NLM_PUBMED_SOURCE = "https://ftp.ncbi.nlm.nih.gov/pubmed/"

SAMPLE_DIR = REPO_ROOT / "data" / "sample"
SAMPLE_MESH_SOURCE = SAMPLE_DIR / "mesh" / "desc_sample.xml"
SAMPLE_PUBMED_SOURCE = SAMPLE_DIR / "pubmed"
DEFAULT_DECONTAMINATION = SAMPLE_DIR.parent / "decontamination" / "pubmedqa_pqal.jsonl"


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def duckdb_path() -> str:
    return env("MKAILIN_DUCKDB_PATH", str(REPO_ROOT / "data" / "mkailin.duckdb"))


def mesh_source() -> str:
    return env("MKAILIN_MESH_SOURCE", NLM_MESH_SOURCE)


def mesh_year() -> int | None:
    """The MeSH year the descriptor file must carry (MKAILIN_MESH_YEAR); unset = accept any."""
    value = env("MKAILIN_MESH_YEAR")
    return int(value) if value else None


def pubmed_source() -> str:
    return env("MKAILIN_PUBMED_SOURCE", NLM_PUBMED_SOURCE)


def download_dir() -> Path:
    return Path(env("MKAILIN_DOWNLOAD_DIR", str(REPO_ROOT / "data" / "downloads")))


def export_dir() -> Path:
    """MKAILIN_EXPORT_DIR, else `exports/` beside the instance's DuckDB file: an export always
    sits with the data it was written from, never in the repository of another instance."""
    default = Path(duckdb_path()).resolve().parent / "exports"
    return Path(env("MKAILIN_EXPORT_DIR", str(default)))


def decontamination_sources() -> list[str]:
    raw = env("MKAILIN_DECONTAMINATION", str(DEFAULT_DECONTAMINATION))
    return [part.strip() for part in raw.split(",") if part.strip()]
