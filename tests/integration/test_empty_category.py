"""A category with no abstracts (V, publication characteristics, in the sample) runs through every
stage as an explained skip: each asset says why in its metadata and no check fails."""

from __future__ import annotations

from mkailin_assets.stages.abstracts import EMPTY_CATEGORY
from tests.harness import (
    QA_ASSETS,
    apply_env,
    ephemeral_instance,
    load_sources,
    materialize,
    sample_env,
)


def test_category_v_is_a_clean_explained_skip(tmp_path, monkeypatch):
    apply_env(monkeypatch, sample_env(tmp_path))
    instance = ephemeral_instance()
    runs = load_sources(instance, ["V"])
    runs["QA"] = materialize(QA_ASSETS, "V", instance)
    runs["training"] = materialize(["training_set"], "V", instance)

    materializations = [
        event.materialization
        for result in runs.values()
        for event in result.get_asset_materialization_events()
    ]
    assert {m.asset_key.path[-1] for m in materializations} == {
        "raw_abstracts",
        *QA_ASSETS,
        "training_set",
    }
    for materialization in materializations:
        assert materialization.metadata["skipped"].value == EMPTY_CATEGORY
    checks = [e for result in runs.values() for e in result.get_asset_check_evaluations()]
    assert checks and all(check.passed for check in checks)
    (minimum,) = [c for c in checks if c.check_name == "minimum_records"]
    assert minimum.metadata["skipped"].value == EMPTY_CATEGORY
