"""Pseudonymisation: raw customer identifiers replaced by a keyed hash with a secret salt.

Raw customer identifiers are replaced at staging by a keyed hash,
``"k_" + first 16 hex characters of HMAC-SHA256(salt, id)``. The salt (the HMAC
key) is a secret read from the environment variable ``GALAXY_PII_SALT``;
without it the mapping cannot be recomputed, so staged tables cannot be joined
back to people by anyone who lacks the secret. Demo mode (``demo=True`` or
``GALAXY_DEMO=1``) uses the public :data:`DEMO_SALT` with a warning so the
synthetic world runs out of the box; staging refuses it for any store the
simulator did not build alone (``galaxy_lib.pipeline.staging.salt_for_store``).

Staging records :func:`salt_fingerprint` of the salt it used (an HMAC of a
constant keyed with the salt, never the salt itself), so a store staged with
another salt, e.g. the demo salt before ``GALAXY_PII_SALT`` was set, is re-staged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import warnings

import numpy as np
import pandas as pd

__all__ = [
    "DEMO_ENV",
    "DEMO_SALT",
    "MIN_SALT_LENGTH",
    "SALT_ENV",
    "SALT_FIX",
    "SaltError",
    "configured_salt",
    "get_salt",
    "pseudonymise",
    "salt_fingerprint",
]

#: Environment variable holding the secret pseudonymisation salt.
SALT_ENV = "GALAXY_PII_SALT"
#: Environment variable that switches on demo mode (``GALAXY_DEMO=1``).
DEMO_ENV = "GALAXY_DEMO"
#: Shortest salt accepted (characters). 16 hex characters = 64 bits of secret.
MIN_SALT_LENGTH = 16
#: Public salt for the synthetic demo world. It is NOT a secret: never use it on real data.
DEMO_SALT = "galaxy-demo-salt-public-not-secret-v1"
#: How to set the salt (shown in every :class:`SaltError`).
SALT_FIX = (
    f"Set a secret salt of at least {MIN_SALT_LENGTH} characters, e.g.\n"
    f"    export {SALT_ENV}=$(python -c 'import secrets;print(secrets.token_hex(32))')\n"
    f"or, for the synthetic demo world only, run in demo mode ({DEMO_ENV}=1 or demo=True)."
)
#: Message keyed with the salt to fingerprint it (changing it changes every recorded fingerprint).
_FINGERPRINT_MESSAGE = b"galaxy-workbench salt fingerprint v1"


class SaltError(RuntimeError):
    """The pseudonymisation salt is missing or too short; the message says how to set it."""


def _demo_from_env() -> bool:
    return os.environ.get(DEMO_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def configured_salt() -> str | None:
    """Return ``GALAXY_PII_SALT`` when it is set, ``None`` when it is not.

    Raises
    ------
    SaltError
        When it is set but shorter than :data:`MIN_SALT_LENGTH` characters.
    """
    salt = os.environ.get(SALT_ENV)
    if salt is None or not salt.strip():
        return None
    salt = salt.strip()
    if len(salt) < MIN_SALT_LENGTH:
        raise SaltError(
            f"{SALT_ENV} is set but only {len(salt)} characters long (minimum {MIN_SALT_LENGTH}).\n{SALT_FIX}"
        )
    return salt


def salt_fingerprint(salt: str) -> str:
    """Fingerprint of a salt for the staging record: ``"sf_"`` + 16 hex characters.

    It is HMAC-SHA256 of a constant message keyed with the salt, truncated: equal
    salts give equal fingerprints, and the fingerprint neither reveals the salt nor
    lets anyone pseudonymise an id. The demo salt's fingerprint is public, like the
    salt.

    Raises
    ------
    SaltError
        If ``salt`` is not a string of at least :data:`MIN_SALT_LENGTH` characters.
    """
    if not isinstance(salt, str) or len(salt) < MIN_SALT_LENGTH:
        raise SaltError(f"A salt needs at least {MIN_SALT_LENGTH} characters.\n{SALT_FIX}")
    return "sf_" + hmac.new(salt.encode("utf-8"), _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:16]


def get_salt(demo: bool = False) -> str:
    """Return the secret pseudonymisation salt from the environment.

    Parameters
    ----------
    demo
        Allow the public :data:`DEMO_SALT` when ``GALAXY_PII_SALT`` is unset.
        Demo mode is also switched on by the environment variable ``GALAXY_DEMO=1``.

    Returns
    -------
    str
        The salt (``GALAXY_PII_SALT``), or :data:`DEMO_SALT` in demo mode when unset.

    Raises
    ------
    SaltError
        When the variable is unset outside demo mode, or set but shorter than
        :data:`MIN_SALT_LENGTH` characters (a short salt is a misconfiguration,
        even in demo mode). The message shows the command that fixes it.

    Warns
    -----
    UserWarning
        When the public demo salt is used.

    Notes
    -----
    This function does not know the store. Staging refuses the demo salt for a
    store the simulator did not build alone; to pick the salt for a given store,
    use ``galaxy_lib.pipeline.staging.salt_for_store(store)``.
    """
    salt = configured_salt()
    if salt is not None:
        return salt
    if demo or _demo_from_env():
        warnings.warn(
            f"{SALT_ENV} is not set: using the public demo salt. Pseudonymised keys are NOT secret; "
            "use demo mode only on the synthetic Galaxy world.",
            UserWarning,
            stacklevel=2,
        )
        return DEMO_SALT
    raise SaltError(f"{SALT_ENV} is not set, so raw identifiers cannot be pseudonymised.\n{SALT_FIX}")


def _hmac_hex16_factory(salt: str):
    """HMAC-SHA256 (RFC 2104) with the key pads hashed once.

    ``hmac.digest`` re-derives the padded key for every message; copying two
    pre-keyed ``hashlib`` states is about twice as fast, which matters for the
    millions of ids of the benchmark world. The output equals
    ``hmac.new(salt, value, sha256).hexdigest()[:16]`` (tested).
    """
    key = salt.encode("utf-8")
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner0 = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer0 = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hex16(value: str) -> str:
        inner = inner0.copy()
        inner.update(value.encode("utf-8"))
        outer = outer0.copy()
        outer.update(inner.digest())
        return "k_" + outer.hexdigest()[:16]

    return hex16


def pseudonymise(values: pd.Series, salt: str) -> pd.Series:
    """Replace identifiers by salted keys ``"k_" + 16 hex chars of HMAC-SHA256(salt, str(value))``.

    Parameters
    ----------
    values
        Identifiers (strings or numbers; numbers are hashed as ``str(value)``).
    salt
        The secret key, normally from :func:`get_salt`.

    Returns
    -------
    pandas.Series
        Same index and name, object dtype; missing values (None/NaN/NA) stay missing.
        Each distinct id is hashed once, so repeated ids (events) cost nothing extra.

    Raises
    ------
    TypeError
        If ``values`` is not a pandas Series.
    SaltError
        If ``salt`` is empty or shorter than :data:`MIN_SALT_LENGTH`.
    """
    if not isinstance(values, pd.Series):
        raise TypeError(f"pseudonymise expects a pandas Series, got {type(values).__name__}.")
    if not isinstance(salt, str) or len(salt) < MIN_SALT_LENGTH:
        raise SaltError(f"pseudonymise needs a salt of at least {MIN_SALT_LENGTH} characters.\n{SALT_FIX}")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    hex16 = _hmac_hex16_factory(salt)
    hashed = np.array([hex16(str(u)) for u in uniques] + [np.nan], dtype=object)
    # code -1 (missing) indexes the trailing NaN
    return pd.Series(hashed[codes], index=values.index, name=values.name, dtype=object)


# --------------------------------------------------------------------------- scanning
