"""LLMResource inside a Dagster run: the key reaches the server, never run config, events or metadata."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from mkailin_assets.db import open_connection
from mkailin_assets.resources.llm import LLMResource
from tests.fakes.openai_server import FakeOpenAIServer
from tests.harness import ephemeral_instance, materialize
from tests.integration.test_llm_client import make_requests

KEY = "sk-resource-LEAKCANARY-91b2"


def test_resource_runs_the_client_and_keeps_the_key_out_of_dagster(
    tmp_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(seed=1) as server:
        monkeypatch.setenv("MKAILIN_LLM_API_KEY", KEY)
        monkeypatch.setenv("MKAILIN_LLM_BACKEND", "openai")
        monkeypatch.setenv("MKAILIN_LLM_BASE_URL", server.url)
        monkeypatch.setenv("MKAILIN_LLM_MODEL_TEST", "question-model")  # role test:clinical

        @dg.asset
        def questions(context, llm: LLMResource) -> dg.MaterializeResult:
            con = open_connection(tmp_db)
            client = llm.client(con, logger=context.log)
            results = client.run(make_requests(5))
            con.close()
            assert all(r.ok for r in results)
            return dg.MaterializeResult(metadata=client.accounting())

        instance = ephemeral_instance()
        resource = LLMResource()
        result = materialize(
            ["questions"], instance=instance, resources={"llm": resource}, assets=[questions]
        )
        assert result.success
        assert any(KEY in header for header in server.stats.auth_headers)

        metadata = result.asset_materializations_for_node("questions")[0].metadata
        assert metadata["openai.question-model.calls"].value == 5
        texts = [repr(resource), str(result.dagster_run.run_config), repr(metadata)]
        texts += [repr(record) for record in instance.all_logs(result.run_id)]
        assert not any("LEAKCANARY" in text for text in texts)
