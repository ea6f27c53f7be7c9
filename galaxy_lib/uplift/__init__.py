"""Uplift modelling and experiments: who to target, proven by experiments.

Today this package holds the workflow's curated table (:mod:`galaxy_lib.uplift.curated`);
the models, notebook and report follow the workflow skeleton in docs/ARCHITECTURE.md.
"""
