"""The code location: every asset, check, job, sensor, schedule and resource, assembled once."""

import dagster as dg

from mkailin_assets.assets.abstracts import raw_abstracts
from mkailin_assets.assets.benchmark import benchmark_eval
from mkailin_assets.assets.corpus import mesh_ic, retrieval_index
from mkailin_assets.assets.mesh import mesh_tree, mesh_vocabulary
from mkailin_assets.assets.pubmed import pubmed_files
from mkailin_assets.assets.qa import candidate_qa, evaluated_qa
from mkailin_assets.assets.training import training_export, training_set
from mkailin_assets.automation.benchmark_sensor import benchmark_models_sensor
from mkailin_assets.automation.jobs import JOBS
from mkailin_assets.automation.registry import automation_definitions
from mkailin_assets.checks.benchmark_checks import no_benchmark_pmid_in_any_field
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig

ASSETS = [
    mesh_vocabulary,
    mesh_tree,
    pubmed_files,
    raw_abstracts,
    retrieval_index,
    mesh_ic,
    candidate_qa,
    evaluated_qa,
    training_set,
    training_export,
    benchmark_eval,
    no_benchmark_pmid_in_any_field,  # a check; dg.materialize takes it with the assets
]


def build_resources() -> dict[str, object]:
    return {"duckdb_store": DuckDBStore(), "method": MethodConfig(), "llm": LLMResource()}


automation = automation_definitions()
defs = dg.Definitions(
    assets=ASSETS,
    jobs=JOBS,
    resources=build_resources(),
    sensors=[*automation["sensors"], benchmark_models_sensor],
    schedules=automation["schedules"],
)
