"""One failure-rate setting: MKAILIN_LLM_MAX_FAILURE_RATE gates the client's run and the
blocking check `failure_rate_acceptable` of candidate_qa (no second knob on `method`)."""

import inspect

from mkailin_assets.assets import qa
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig


def test_method_resource_has_no_failure_rate_of_its_own() -> None:
    assert "max_failure_rate" not in MethodConfig.model_fields


def test_the_llm_resource_reads_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("MKAILIN_LLM_MAX_FAILURE_RATE", "1.0")
    resource = LLMResource()
    assert resource.max_failure_rate == 1.0
    assert resource.llm_config().max_failure_rate == 1.0
    monkeypatch.delenv("MKAILIN_LLM_MAX_FAILURE_RATE")
    assert LLMResource().max_failure_rate == 0.2  # the documented default


def test_candidate_qa_check_uses_the_llm_threshold() -> None:
    source = inspect.getsource(qa)
    assert "candidate_qa_checks(con, category, method.top_k, llm.max_failure_rate)" in source
