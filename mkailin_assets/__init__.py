"""mkailin: m-KAILIN's MeSH-guided QA distillation as Dagster assets over DuckDB."""

from mkailin_assets.collector import collect_less_often

# Before the rest of the project is imported: its start-up and every run's stages make many
# short-lived objects (mkailin_assets/collector.py says what this saves).
collect_less_often()
