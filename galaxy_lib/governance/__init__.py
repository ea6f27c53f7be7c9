"""Governance shared by every workflow: consent, PII, k-anonymity, differential privacy, quality gates.

Import the modules directly, e.g. ``from galaxy_lib.governance.pseudonyms import pseudonymise``.
"""

__all__ = ["consent", "dp", "kanon", "pii", "pseudonyms", "quality"]
