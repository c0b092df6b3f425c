"""Pure logic of the training_set stage: dedup, decontamination, splits, records, exports.

Nothing here touches Dagster or DuckDB: the asset reads tables into Polars frames, calls these
functions and writes what they return.
"""
