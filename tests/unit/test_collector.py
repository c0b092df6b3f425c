"""The cyclic collector's young generation (mkailin_assets/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mkailin_assets import collector
from tests.harness import python_json


@pytest.fixture
def threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_package_raises_pythons_default(threshold: None) -> None:
    gc.set_threshold(collector.PYTHON_DEFAULT_YOUNG_THRESHOLD, 10, 10)
    assert collector.collect_less_often()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, 10, 10)


def test_a_threshold_someone_chose_is_kept(threshold: None) -> None:
    gc.set_threshold(5_000, 12, 7)
    assert not collector.collect_less_often()
    assert gc.get_threshold() == (5_000, 12, 7)


def test_a_process_of_the_package_collects_less_often() -> None:
    probe = python_json("import gc, json, mkailin_assets; print(json.dumps(gc.get_threshold()))")
    assert probe[0] == collector.YOUNG_THRESHOLD
