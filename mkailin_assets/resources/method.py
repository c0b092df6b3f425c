"""The method's tunable decisions (docs/method.md), one resource so every asset reads the same."""

from __future__ import annotations

import json

import dagster as dg
from pydantic import Field

from mkailin_assets.settings import setting_field


class MethodConfig(dg.ConfigurableResource):
    """Defaults: docs/method.md#settings; any value can be set by run config or MKAILIN_* env."""

    sample_per_category: int = setting_field("sample_per_category")
    questions_per_agent: int = setting_field("questions_per_agent")
    retrieval_method: str = setting_field("retrieval")
    top_k: int = Field(default=4, description="Contexts per question (the authors' k = 4)")
    setsim: str = Field(default="best_match", description="best_match | all_pairs")
    measure: str = Field(default="ic_mean", description="ic_mean | wu_palmer")
    margin: float = setting_field("margin")
    band_min: float | None = Field(
        default=None, description="Optional score band filter (off by default)"
    )
    band_max: float | None = Field(default=None)
    judge_enabled: bool = Field(default=True, description="Run the LLM judge on candidate pairs")
    max_abstract_chars: int = Field(default=20_000, description="Longer abstracts are quarantined")
    min_abstract_chars: int = Field(default=50, description="Shorter abstracts are quarantined")
    dedup_threshold: float = Field(default=0.8, description="MinHash/LSH Jaccard threshold")
    ngram: int = Field(default=13, description="Decontamination n-gram length")
    split_ratios: str = Field(
        default=json.dumps({"train": 0.9, "validation": 0.05, "test": 0.05}),
        description="JSON object of split name -> ratio",
    )
    min_records_per_category: int = setting_field("min_records")

    def ratios(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in json.loads(self.split_ratios).items()}
