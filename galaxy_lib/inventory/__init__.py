"""Data inventory and quality gates: what data there is, how fresh and clean it is, and who consented.

``params`` validates the notebook's parameters, ``data`` profiles the store,
``pii`` scans its tables for personal data, ``analysis`` turns both into quality
gates, ``plots`` draws the figures and ``report.publish`` writes the run.
"""

from galaxy_lib.inventory import analysis, plots
from galaxy_lib.inventory.data import TableProfile, load_sample, profile_store, schema_version, store_as_of
from galaxy_lib.inventory.params import InventoryParams
from galaxy_lib.inventory.pii import scan_store_tables
from galaxy_lib.inventory.report import publish

__all__ = [
    "InventoryParams",
    "TableProfile",
    "analysis",
    "load_sample",
    "plots",
    "profile_store",
    "publish",
    "scan_store_tables",
    "schema_version",
    "store_as_of",
]
