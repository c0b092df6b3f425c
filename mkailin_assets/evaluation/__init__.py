"""Evaluation of any model on PubMedQA (PQA-L, reasoning-required) and PubMedQA* (MIRAGE).

config: models and MKAILIN_EVAL_* settings; pubmedqa: the labelled items; prompts and
offline_rule: what is asked, and the offline backend's deterministic answer; parsing: labels from
real model output; scoring: accuracy, macro-F1, recall, Wilson interval; hygiene: benchmark PMIDs.
"""
