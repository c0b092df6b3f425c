"""The model workers' file queue (llm/model_queue.py): a job is taken under a lock that is its
lease, one worker at a time; an answered job is not taken again; old unread results go."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mkailin_assets.llm import model_queue
from mkailin_assets.llm.client import prepare_chat
from mkailin_assets.llm.config import LLMConfig
from tests.integration.test_llm_client import make_requests


def put_job(queue: Path, job_id: str) -> Path:
    path = model_queue.jobs_dir(queue) / f"{job_id}.json"
    model_queue.write_atomically(path, {"version": model_queue.JOB_VERSION, "calls": []})
    return path


def test_a_job_is_taken_once_and_its_lease_ends_with_its_holder(tmp_path: Path) -> None:
    path = put_job(tmp_path, "one")
    assert model_queue.job_state(path) == "waiting"
    job = model_queue.take_next(tmp_path)
    assert job is not None and job.job_id == "one" and job.data["calls"] == []
    assert model_queue.job_state(path) == "taken"
    assert model_queue.take_next(tmp_path) is None  # held: nobody else takes it
    job.release()  # as a worker's death does
    assert model_queue.job_state(path) == "waiting"
    again = model_queue.take_next(tmp_path)
    assert again is not None and again.job_id == "one"
    again.release()
    path.unlink()
    assert model_queue.job_state(path) == "gone"
    assert not list(model_queue.jobs_dir(tmp_path).glob(".*"))  # no temporary files left


def test_an_answered_job_is_removed_not_taken(tmp_path: Path) -> None:
    path = put_job(tmp_path, "done")
    model_queue.write_atomically(model_queue.results_dir(tmp_path) / "done.json", {"records": []})
    assert model_queue.take_next(tmp_path) is None
    assert not path.exists()


def test_calls_travel_with_their_response_model_and_without_the_key() -> None:
    config = LLMConfig(backend="openai", api_key="sk-never-in-a-job")
    call = prepare_chat(make_requests(1)[0], config)
    values = model_queue.call_to_json(call)
    assert "sk-never-in-a-job" not in str(values)
    back = model_queue.call_from_json(values)
    assert back.response_model is call.response_model
    assert (back.key, back.body, back.item_id) == (call.key, call.body, call.item_id)


def test_results_nobody_read_are_pruned_after_their_time(tmp_path: Path) -> None:
    old = model_queue.results_dir(tmp_path) / "old.json"
    new = model_queue.results_dir(tmp_path) / "new.json"
    for path in (old, new):
        model_queue.write_atomically(path, {})
    stale = time.time() - model_queue.RESULT_KEEP_S - 60
    os.utime(old, (stale, stale))
    assert model_queue.prune_results(tmp_path) == 1
    assert not old.exists() and new.exists()
