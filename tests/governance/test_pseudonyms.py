"""Pseudonymisation: the secret salt from the environment and the keyed hash."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.governance import pseudonyms
from galaxy_lib.governance.pii import scan_text
from galaxy_lib.governance.pseudonyms import DEMO_SALT, SaltError, get_salt, pseudonymise

SALT = "0123456789abcdef-test-salt"
OTHER_SALT = "fedcba9876543210-other-salt"


# -- salt ----------------------------------------------------------------------------
def test_salt_read_from_env(monkeypatch):
    monkeypatch.setenv("GALAXY_PII_SALT", SALT)
    monkeypatch.delenv("GALAXY_DEMO", raising=False)
    assert get_salt() == SALT


def test_missing_salt_errors_with_the_fix(monkeypatch):
    monkeypatch.delenv("GALAXY_PII_SALT", raising=False)
    monkeypatch.delenv("GALAXY_DEMO", raising=False)
    with pytest.raises(SaltError) as err:
        get_salt()
    msg = str(err.value)
    assert "export GALAXY_PII_SALT=" in msg and "secrets.token_hex(32)" in msg
    assert "GALAXY_DEMO=1" in msg


def test_short_salt_errors_even_in_demo_mode(monkeypatch):
    monkeypatch.setenv("GALAXY_PII_SALT", "short")
    with pytest.raises(SaltError, match="only 5 characters"):
        get_salt(demo=True)


@pytest.mark.parametrize("via_env", [False, True])
def test_demo_mode_falls_back_to_public_salt_with_warning(monkeypatch, via_env):
    monkeypatch.delenv("GALAXY_PII_SALT", raising=False)
    if via_env:
        monkeypatch.setenv("GALAXY_DEMO", "1")
    else:
        monkeypatch.delenv("GALAXY_DEMO", raising=False)
    with pytest.warns(UserWarning, match="public demo salt"):
        salt = get_salt(demo=not via_env)
    assert salt == DEMO_SALT and len(DEMO_SALT) >= pseudonyms.MIN_SALT_LENGTH


def test_env_salt_wins_over_demo(monkeypatch):
    monkeypatch.setenv("GALAXY_PII_SALT", SALT)
    assert get_salt(demo=True) == SALT


def test_configured_salt_is_the_env_salt_or_none(monkeypatch):
    monkeypatch.delenv("GALAXY_PII_SALT", raising=False)
    monkeypatch.setenv("GALAXY_DEMO", "1")
    assert pseudonyms.configured_salt() is None  # demo mode does not make the demo salt "configured"
    monkeypatch.setenv("GALAXY_PII_SALT", f"  {SALT} ")
    assert pseudonyms.configured_salt() == SALT
    monkeypatch.setenv("GALAXY_PII_SALT", "short")
    with pytest.raises(SaltError, match="only 5 characters"):
        pseudonyms.configured_salt()


def test_salt_fingerprint_is_a_keyed_hash_that_never_shows_the_salt():
    fp = pseudonyms.salt_fingerprint(SALT)
    expected = hmac.new(SALT.encode(), b"galaxy-workbench salt fingerprint v1", hashlib.sha256).hexdigest()[:16]
    assert fp == "sf_" + expected
    assert fp == pseudonyms.salt_fingerprint(SALT) != pseudonyms.salt_fingerprint(OTHER_SALT)
    assert SALT not in fp and fp != pseudonyms.salt_fingerprint(DEMO_SALT)
    with pytest.raises(SaltError):
        pseudonyms.salt_fingerprint("short")


# -- pseudonymise --------------------------------------------------------------------
def test_pseudonymise_matches_reference_hmac_and_keeps_nan():
    ids = pd.Series(
        ["C00000001", None, "C00000002", "C00000001", np.nan], index=[10, 11, 12, 13, 14], name="customer_id"
    )
    out = pseudonymise(ids, SALT)
    ref = "k_" + hmac.new(SALT.encode(), b"C00000001", hashlib.sha256).hexdigest()[:16]
    assert out[10] == ref == out[13]
    assert out[12] != out[10]
    assert pd.isna(out[11]) and pd.isna(out[14])
    assert list(out.index) == [10, 11, 12, 13, 14] and out.name == "customer_id"
    assert all(len(v) == 18 and v.startswith("k_") for v in out.dropna())


def test_pseudonymise_is_deterministic_and_salt_dependent():
    ids = pd.Series([f"C{i:08d}" for i in range(2000)])
    a, b, c = pseudonymise(ids, SALT), pseudonymise(ids, SALT), pseudonymise(ids, OTHER_SALT)
    assert a.equals(b)
    assert (a != c).all()
    assert a.nunique() == 2000  # no collisions on 64 bits for 2000 ids


def test_no_raw_id_survives_pseudonymisation():
    ids = pd.Series([f"C{i:08d}" for i in range(500)])
    out = pseudonymise(ids, SALT)
    text = "\n".join(out)
    assert not any(i in text for i in ids)
    assert scan_text(text, raw_ids=ids) == []


def test_pseudonymise_hashes_numbers_as_text():
    assert pseudonymise(pd.Series([42]), SALT)[0] == pseudonymise(pd.Series(["42"]), SALT)[0]


def test_pseudonymise_rejects_bad_input():
    with pytest.raises(TypeError, match="pandas Series"):
        pseudonymise(["C1"], SALT)  # type: ignore[arg-type]
    with pytest.raises(SaltError):
        pseudonymise(pd.Series(["C1"]), "short")
