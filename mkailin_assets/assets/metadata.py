"""Small helpers that turn query results into Dagster metadata people read in the UI."""

from __future__ import annotations

from typing import Any

import dagster as dg

from mkailin_assets.partitions import MESH_CATEGORIES
from mkailin_assets.stages.tables import Preview


def markdown_table(
    rows: list[tuple[Any, ...]], headers: list[str], max_chars: int = 120
) -> dg.MetadataValue:
    """A markdown preview; long cells are cut so the UI stays readable."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def category_label(category: str) -> str:
    """'K — Humanities': the partition as people read it."""
    return f"{category} — {MESH_CATEGORIES[category]}"


def preview_table(preview: Preview) -> dg.MetadataValue:
    """A stage's preview rows as a markdown table."""
    return markdown_table(preview.rows, preview.headers)


def distribution(values: list[float], buckets: int = 10) -> dict[str, float]:
    """Quantiles of a score list for the UI (empty-safe)."""
    clean = sorted(v for v in values if v is not None)
    if not clean:
        return {"count": 0}

    def q(p: float) -> float:
        return round(clean[min(len(clean) - 1, int(p * (len(clean) - 1)))], 4)

    return {
        "count": len(clean),
        "min": q(0),
        "p25": q(0.25),
        "median": q(0.5),
        "p75": q(0.75),
        "max": q(1.0),
        "mean": round(sum(clean) / len(clean), 4),
    }


def skipped_metadata(reason: str | None) -> dict[str, str]:
    """{"skipped": reason} for a category with nothing to do (shown in the UI), else nothing."""
    return {"skipped": reason} if reason else {}
