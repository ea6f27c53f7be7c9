"""Data inventory and quality gates: what data there is, how fresh and clean it is, and who consented.

``data`` profiles the store, ``analysis`` turns it into quality gates, ``pii``
scans tables for personal data, ``plots`` draws the figures.
"""

from galaxy_lib.inventory import analysis, plots
from galaxy_lib.inventory.data import InventoryParams, TableProfile, profile_store, schema_version, store_as_of
from galaxy_lib.inventory.pii import scan_store_tables

__all__ = [
    "InventoryParams",
    "TableProfile",
    "analysis",
    "plots",
    "profile_store",
    "scan_store_tables",
    "schema_version",
    "store_as_of",
]
