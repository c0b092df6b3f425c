"""Every asset of the project, in dependency order.

The code location (`definitions.py`) serves them; the instance set-up (`automation/pools.py`)
reads the pools they declare. Both import this list, so neither imports the other.
"""

from mkailin_assets.assets.abstracts import raw_abstracts
from mkailin_assets.assets.benchmark import benchmark_eval
from mkailin_assets.assets.corpus import mesh_ic, retrieval_index
from mkailin_assets.assets.mesh import mesh_tree, mesh_vocabulary
from mkailin_assets.assets.pubmed import pubmed_files
from mkailin_assets.assets.qa import candidate_qa, evaluated_qa
from mkailin_assets.assets.training import training_export, training_set
from mkailin_assets.checks.benchmark_checks import no_benchmark_pmid_in_any_field

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
