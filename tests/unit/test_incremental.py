"""The step fingerprint the demo skips unchanged steps by: it changes with the code, the settings
that shape data, a step's input files and any upstream step's fingerprint, and not otherwise;
it lives in the DuckDB file, so a new database runs everything."""

from __future__ import annotations

import os

import pytest

from mkailin_assets import incremental
from mkailin_assets.incremental import Fingerprints
from tests.harness import apply_env, sample_env

STEP = ("raw_abstracts", "C")
UPSTREAM = [("mesh_tree", "C"), ("pubmed_files", "pubmed00n0001.xml.gz")]


@pytest.fixture
def project(tmp_path, monkeypatch):
    apply_env(monkeypatch, sample_env(tmp_path))
    return tmp_path


def _fresh(project) -> Fingerprints:
    return Fingerprints.for_current_settings(str(project / "mkailin.duckdb"))


def test_recorded_fingerprint_means_unchanged_and_survives_the_process(project) -> None:
    prints = _fresh(project)
    fingerprint = prints.of(STEP, UPSTREAM)
    assert not prints.unchanged(STEP, fingerprint)  # never recorded: it runs
    prints.record(STEP, fingerprint)
    again = _fresh(project)  # a second run reads the DuckDB file
    assert again.of(STEP, UPSTREAM) == fingerprint and again.unchanged(STEP, fingerprint)


def test_a_new_database_runs_everything(project) -> None:
    prints = _fresh(project)
    prints.record(STEP, prints.of(STEP, UPSTREAM))
    os.unlink(project / "mkailin.duckdb")
    fresh = _fresh(project)
    assert not fresh.unchanged(STEP, fresh.of(STEP, UPSTREAM))


def test_an_upstream_change_reaches_the_step(project) -> None:
    prints = _fresh(project)
    for step in UPSTREAM:
        prints.record(step, "v1")
    before = prints.of(STEP, UPSTREAM)
    prints.record(("pubmed_files", "pubmed00n0001.xml.gz"), "v2")
    assert prints.of(STEP, UPSTREAM) != before


def test_settings_that_shape_data_change_it_and_operational_ones_do_not(
    project, monkeypatch
) -> None:
    before = _fresh(project).of(STEP, UPSTREAM)
    monkeypatch.setenv("MKAILIN_RELEASE_CHECK_INTERVAL", "60")  # when, not what
    assert _fresh(project).of(STEP, UPSTREAM) == before
    for name, value in {
        "MKAILIN_RUN_MAX_RETRIES": "7",
        "MKAILIN_RUN_RETRY_DELAY": "99",
        "MKAILIN_DEAD_RUN_CHECK_INTERVAL": "33",
        "MKAILIN_MODEL_WORKERS": "/shared/queue",  # who sends the same calls
        "MKAILIN_WORD_SCANNER": "off",  # the same twins, found more slowly
    }.items():
        monkeypatch.setenv(name, value)
        assert _fresh(project).of(STEP, UPSTREAM) == before, name
    monkeypatch.setenv("MKAILIN_MARGIN", "0.3")
    assert _fresh(project).of(STEP, UPSTREAM) != before


def test_an_input_file_change_and_a_code_change_re_run(project, monkeypatch) -> None:
    source = project / "pubmed00n0001.xml.gz"
    source.write_bytes(b"one")
    prints = _fresh(project)
    before = prints.of(STEP, UPSTREAM, (str(source),))
    source.write_bytes(b"two!")  # another size
    assert prints.of(STEP, UPSTREAM, (str(source),)) != before
    assert prints.of(STEP, UPSTREAM, (str(project / "gone"),)) != before  # deleted output
    monkeypatch.setattr(incremental, "code_version", lambda: "edited")
    assert _fresh(project).base != prints.base


def test_code_version_covers_the_package_and_its_sql() -> None:
    assert len(incremental.code_version()) == 16
    assert incremental.code_version() == incremental.code_version()
