"""The method's stages as plain functions of (connection, client, config, category).

Assets stay thin: they open a connection, call one stage, run their checks and turn the stage's
result dataclass into metadata. ingest: mesh_tree and pubmed_files; abstracts: raw_abstracts;
candidates and evaluation: the distillation; training and export: the training set and its files.
"""
