"""Registers the models of MKAILIN_EVAL_MODELS (and the built-in offline model) as
benchmark_models partitions; it requests no run (an evaluation costs tokens: start it by hand)."""

from __future__ import annotations

import dagster as dg

from mkailin_assets.assets.benchmark import benchmark_models
from mkailin_assets.evaluation.config import configured_models


@dg.sensor(
    name="benchmark_models_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds MKAILIN_EVAL_MODELS' models (and offline) as benchmark_models partitions",
)
def benchmark_models_sensor(context: dg.SensorEvaluationContext):
    known = set(context.instance.get_dynamic_partitions(benchmark_models.name))
    new = [m.name for m in configured_models() if m.name not in known]
    if not new:
        return dg.SkipReason("every configured model is registered")
    context.log.info(f"registering benchmark models: {new}")
    return dg.SensorResult(dynamic_partitions_requests=[benchmark_models.build_add_request(new)])
