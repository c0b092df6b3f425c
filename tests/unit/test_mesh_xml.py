"""MeSH descriptor parsing and loading on a hand-written fixture in the 2026 layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from mkailin_assets.db import apply_schema, open_connection
from mkailin_assets.ingest.errors import MeshFormatError, MeshYearMismatchError
from mkailin_assets.ingest.mesh_xml import (
    load_mesh_descriptors,
    parse_mesh_file,
    write_mesh_tree_partition,
    year_from_name,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
MESH = FIXTURES / "mesh" / "desc2025_fixture.xml"


@pytest.fixture
def con(tmp_db):
    connection = open_connection(tmp_db)
    apply_schema(connection)
    yield connection
    connection.close()


def test_parses_2026_layout_without_date_created_and_ignores_nested_uis():
    parsed = parse_mesh_file(MESH)
    by_ui = {d.descriptor_ui: d for d in parsed.descriptors}
    assert sorted(by_ui) == ["D000001", "D000005", "D000006", "D005260"]  # not D000900
    assert by_ui["D000001"].name == "Calcimycin"
    assert by_ui["D000001"].descriptor_class == "1"
    assert by_ui["D000001"].tree_numbers == ["D03.633.100.221.173"]
    assert by_ui["D005260"].tree_numbers == []
    assert parsed.latest_date_year == 2024


def test_malformed_ui_and_tree_numbers_are_quarantined():
    reasons = sorted(q.reason for q in parse_mesh_file(MESH).quarantined)
    assert reasons == [
        "malformed DescriptorUI 'X12345'",
        "malformed tree number 'D3.bad' of D000001",
    ]


def test_year_from_name():
    assert year_from_name("desc2026.xml") == 2026
    assert year_from_name("desc2024.gz") == 2024
    assert year_from_name("mesh2024-trees.xml.gz") == 2024
    assert year_from_name("meshrdf_desc-samples.xml") is None


def test_load_is_atomic_replace_and_idempotent(con):
    report = load_mesh_descriptors(con, MESH)
    assert (report.descriptors, report.tree_numbers, report.mesh_year) == (4, 4, 2025)
    assert report.quarantined == 2 and not report.skipped_as_already_loaded
    rows = con.execute(
        "SELECT descriptor_ui, tree_numbers, mesh_year FROM mesh_descriptors ORDER BY 1"
    ).fetchall()
    assert rows[0] == ("D000001", ["D03.633.100.221.173"], 2025)
    again = load_mesh_descriptors(con, MESH)
    assert again.skipped_as_already_loaded
    assert con.execute("SELECT count(*) FROM mesh_sources").fetchone()[0] == 1
    assert (
        con.execute("SELECT count(*) FROM quarantine WHERE asset = 'mesh_tree'").fetchone()[0] == 2
    )


def test_wrong_year_is_refused_and_leaves_nothing(con):
    with pytest.raises(MeshYearMismatchError, match="MeSH year is 2025, expected 2024"):
        load_mesh_descriptors(con, MESH, expected_year=2024)
    assert con.execute("SELECT count(*) FROM mesh_descriptors").fetchone()[0] == 0


def test_non_descriptor_files_are_rejected(tmp_path):
    pubmed = FIXTURES / "pubmed" / "baseline" / "pubmed99n0001.xml"
    with pytest.raises(MeshFormatError, match="root element is <PubmedArticleSet>"):
        parse_mesh_file(pubmed)
    qualifiers = tmp_path / "qual2025.xml"
    qualifiers.write_text("<QualifierRecordSet><QualifierRecord/></QualifierRecordSet>")
    with pytest.raises(MeshFormatError, match="qual2025.xml: not a MeSH descriptor file"):
        parse_mesh_file(qualifiers)
    empty = tmp_path / "desc2025.xml"
    empty.write_text("")
    with pytest.raises(MeshFormatError, match="desc2025.xml: empty file"):
        parse_mesh_file(empty)


def test_mesh_tree_partition_depth_and_parent(con):
    load_mesh_descriptors(con, MESH)
    assert write_mesh_tree_partition(con, "A") == 2
    rows = con.execute(
        "SELECT tree_number, descriptor_ui, descriptor_name, depth, parent_tree_number, mesh_year"
        " FROM mesh_tree WHERE category = 'A' ORDER BY tree_number"
    ).fetchall()
    assert rows == [
        ("A01", "D000006", "Abdomen, Acute", 1, None, 2025),
        ("A01.923.047", "D000005", "Abdomen", 3, "A01.923", 2025),
    ]
    assert write_mesh_tree_partition(con, "A") == 2  # rewriting replaces, never duplicates
    assert write_mesh_tree_partition(con, "V") == 0
    with pytest.raises(ValueError, match="category"):
        write_mesh_tree_partition(con, "A'; DROP TABLE mesh_tree; --")
