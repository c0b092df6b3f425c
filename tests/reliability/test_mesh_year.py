"""A MeSH file of the wrong year is refused by the mesh_vocabulary asset when MKAILIN_MESH_YEAR is
set."""

from __future__ import annotations

import duckdb
import pytest

from tests.harness import apply_env, materialize, sample_env


def test_wrong_mesh_year_is_refused_by_the_asset(tmp_path, monkeypatch):
    env = sample_env(tmp_path, MKAILIN_MESH_YEAR="2026")  # the sample is MeSH 2024
    apply_env(monkeypatch, env)
    result = materialize(["mesh_vocabulary"], None, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    text = str(failure.message) + "".join(
        str(c.message) for c in ([failure.cause] if failure.cause else [])
    )
    assert "2024" in text and "2026" in text, text
    con = duckdb.connect(env["MKAILIN_DUCKDB_PATH"], read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM mesh_descriptors").fetchall()[0][0] == 0
    finally:
        con.close()


@pytest.mark.parametrize("year", ["2024", ""])
def test_matching_or_unset_mesh_year_loads(tmp_path, monkeypatch, year):
    env = sample_env(tmp_path, MKAILIN_MESH_YEAR=year)
    apply_env(monkeypatch, env)
    assert materialize(["mesh_vocabulary"], None).success
    assert materialize(["mesh_tree"], "C").success
