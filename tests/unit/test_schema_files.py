"""The schema files apply in order by their number: two files with one number would skip one."""

from __future__ import annotations

from mkailin_assets.db import schema_files


def test_every_schema_file_has_its_own_version_number():
    files = schema_files()
    versions = [int(path.name.split("_", 1)[0]) for path in files]
    assert files and len(versions) == len(set(versions)), [path.name for path in files]
