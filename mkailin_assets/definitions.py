"""The code location: every asset, check, job, sensor, schedule and resource, assembled once."""

import dagster as dg

from mkailin_assets.assets.abstracts import raw_abstracts
from mkailin_assets.assets.mesh import mesh_tree, mesh_vocabulary
from mkailin_assets.assets.pubmed import pubmed_files
from mkailin_assets.assets.qa import candidate_qa, evaluated_qa
from mkailin_assets.assets.training import training_export, training_set
from mkailin_assets.automation.jobs import JOBS
from mkailin_assets.automation.registry import automation_definitions
from mkailin_assets.resources.duckdb_store import DuckDBStore
from mkailin_assets.resources.llm import LLMResource
from mkailin_assets.resources.method import MethodConfig

ASSETS = [
    mesh_vocabulary,
    mesh_tree,
    pubmed_files,
    raw_abstracts,
    candidate_qa,
    evaluated_qa,
    training_set,
    training_export,
]


def build_resources() -> dict[str, object]:
    return {"duckdb_store": DuckDBStore(), "method": MethodConfig(), "llm": LLMResource()}


defs = dg.Definitions(
    assets=ASSETS,
    jobs=JOBS,
    resources=build_resources(),
    **automation_definitions(),
)
