"""Every setting checked before any work, in one pass: one line per problem, naming the variable,
its value and what is expected.

The demo, `scripts/dev.sh`, `scripts/evaluate.py`, the check-now command and every asset run
(the `duckdb_store` resource's setup) call it, so a user's mistake stops a run in a second with
a plain message instead of a traceback a minute in. Entry points also check that a remote source
answers (`network=True`); asset runs check only local facts (no request per step).

    python -m mkailin_assets.preflight [--network]   # prints the problems, exit 1 if any
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from mkailin_assets import settings
from mkailin_assets.ingest.sources import RELEASE_NAME, is_url

# Seconds a remote source may take to answer the network check.
NETWORK_TIMEOUT_S = 10.0


class SettingsProblem(ValueError):
    """Bad settings: the message lists every problem, one a line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(message(problems))


def message(problems: list[str]) -> str:
    lines = [f"mkailin: {len(problems)} setting(s) to fix before anything runs:"]
    return "\n".join([*lines, *(f"  {problem}" for problem in problems)])


def problems(environ: Mapping[str, str] | None = None, network: bool = False) -> list[str]:
    """Every problem of the settings of `environ` (default: the process environment)."""
    source = dict(os.environ if environ is None else environ)
    found: list[str] = []
    try:
        current = settings.get_settings(source)
    except ValueError as error:  # pydantic's own checks: types, ranges, choices (all at once)
        found = [part.strip() for part in str(error).split("; ") if part.strip()]
        # The other checks still run, on the defaults of the variables already reported.
        bad = {problem.split("=", 1)[0].split(":", 1)[0] for problem in found}
        try:
            current = settings.get_settings({k: v for k, v in source.items() if k not in bad})
        except ValueError:
            return found
    found += _memory_limit(current.duckdb_memory_limit)
    found += _mesh_source(current.mesh_source)
    found += _pubmed_source(current.pubmed_source)
    for path in current.decontamination:
        found += _file("MKAILIN_DECONTAMINATION", path, "a benchmark file (PubMedQA JSON or JSONL)")
    found += _file("MKAILIN_EVAL_PUBMEDQA", current.eval_pubmedqa, "the labelled PQA-L items")
    if network:
        for name, value in (
            ("MKAILIN_MESH_SOURCE", current.mesh_source),
            ("MKAILIN_PUBMED_SOURCE", current.pubmed_source),
        ):
            if is_url(value) and (error := reachable(value)):
                found.append(
                    f"{name}={value!r}: cannot reach it ({error}); offline, point {name} at a "
                    "local copy (./scripts/dev.sh without --nlm uses the bundled sample)"
                )
    return found


def exit_on_problems(network: bool = True) -> None:
    """For command lines: print every problem and exit with status 2 (no traceback)."""
    found = problems(network=network)
    if found:
        print(message(found), file=sys.stderr)
        raise SystemExit(2)


def check_for_run() -> None:
    """The asset runs' check (local facts only), once per process and settings."""
    relevant = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(settings.ENV_PREFIX))
    )
    found = _cached_problems(relevant)
    if found:
        raise SettingsProblem(list(found))


@lru_cache(maxsize=16)
def _cached_problems(variables: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(problems(dict(variables)))


def _memory_limit(value: str) -> list[str]:
    import duckdb

    try:  # the way db/connection.py passes it, so what passes here passes there
        duckdb.connect(":memory:", config={"memory_limit": value}).close()
    except duckdb.Error:
        return [
            f"MKAILIN_DUCKDB_MEMORY_LIMIT={value!r}: expected a size DuckDB accepts, "
            "e.g. 512MB, 2GB or 80%"
        ]
    return []


def _mesh_source(value: str) -> list[str]:
    if is_url(value):
        return []
    path = Path(value)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "does not exist"
        return [
            f"MKAILIN_MESH_SOURCE={value!r}: {what}; expected a MeSH descriptor file "
            "(.xml or .gz) or its URL"
        ]
    return []


def _pubmed_source(value: str) -> list[str]:
    if is_url(value):
        return []
    path = Path(value)
    expected = "expected a folder holding baseline/ or updatefiles/ or release files (pubmedYYnNNNN.xml.gz)"
    if path.is_file():
        return (
            []
            if RELEASE_NAME.match(path.name)
            else [f"MKAILIN_PUBMED_SOURCE={value!r}: {expected}"]
        )
    if not path.is_dir():
        return [f"MKAILIN_PUBMED_SOURCE={value!r}: does not exist; {expected}"]
    folders = [path / "baseline", path / "updatefiles"]
    places = [folder for folder in folders if folder.is_dir()] or [path]
    if not any(
        child.is_file() and RELEASE_NAME.match(child.name)
        for place in places
        for child in place.iterdir()
    ):
        return [f"MKAILIN_PUBMED_SOURCE={value!r}: holds no release file; {expected}"]
    return []


def _file(variable: str, value: str, what: str) -> list[str]:
    if Path(value).is_file():
        return []
    return [f"{variable}={value!r}: does not exist; expected {what}"]


def reachable(url: str) -> str | None:
    """None when the URL answers (any HTTP status below 500), else why not, in a few words."""
    import httpx

    try:
        response = httpx.head(url, follow_redirects=True, timeout=NETWORK_TIMEOUT_S)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", action="store_true", help="also check remote sources answer")
    args = parser.parse_args(argv)
    found = problems(network=args.network)
    if found:
        print(message(found), file=sys.stderr)
        return 2
    print("mkailin: settings ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
