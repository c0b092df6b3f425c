"""The dataset card's freshness section: for each category, the latest release file loaded,
the file its last refresh covered, and whether a refresh is due (rows of the
category_freshness view, sql/analysis)."""

from __future__ import annotations

from typing import Any


def freshness_section(rows: list[dict[str, Any]] | None) -> str:
    recorded = [row for row in rows or [] if row.get("state") != "no refresh recorded"]
    if not recorded:
        return "No category refresh recorded."
    lines = [
        "| category | latest release file | covered by its last refresh | files pending | state |",
        "|---|---|---|---|---|",
    ]
    for row in recorded:
        lines.append(
            f"| {row['category']} | {row.get('latest_file') or '-'} | "
            f"{row.get('covered_file') or '-'} | {row.get('files_pending', 0)} | {row['state']} |"
        )
    due = [row["category"] for row in recorded if row["state"] == "due"]
    note = (
        f"Categories with a refresh due when this export was written: {', '.join(due)}."
        if due
        else "Every refreshed category covered the latest release file that changed it."
    )
    return "\n".join(lines) + "\n\n" + note
