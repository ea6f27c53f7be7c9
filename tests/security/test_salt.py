"""The public demo salt never pseudonymises a user's data, and a changed salt forces re-staging (issue 15, finding 3).

Before the fix, with ``GALAXY_PII_SALT`` unset, a store without a simulator-built world
was staged with the public demo salt (notebooks default ``world_size`` to ci), with only
a warning; and ``staging.json`` did not record the salt, so setting a secret later never
re-staged: the demo keys, which anyone can recompute, stayed.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pseudonyms import DEMO_SALT, SALT_ENV, SaltError, get_salt, pseudonymise, salt_fingerprint
from galaxy_lib.pipeline.ingest import ingest_file
from galaxy_lib.pipeline.staging import (
    STAGING_MARKER,
    demo_salt_allowed,
    salt_for_store,
    stage_world,
    staging_is_current,
)
from galaxy_lib.simulate import build_world, ensure_world
from tests.fixtures.raw_world import SALT

SECRET = "a-real-secret-salt-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The situation of the finding: no secret set (demo mode on, as tests/conftest.py sets it)."""
    monkeypatch.delenv(SALT_ENV, raising=False)


def _demo_salt() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_salt(demo=True)


def _user_store(tmp_path: Path) -> DataStore:
    csv = tmp_path / "my_spend.csv"
    pd.DataFrame({"week": ["2031-01-06", "2031-01-13"], "channel": ["tv", "tv"], "spend": ["10", "12"]}).to_csv(
        csv, index=False
    )
    store = DataStore(tmp_path / "mine")
    ingest_file(csv, "spend", store)
    return store


@pytest.fixture(scope="module")
def ci_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated ci world, raw zone only (tests copy it before changing it)."""
    out = tmp_path_factory.mktemp("salt") / "ci"
    build_world(out, size="ci", seed=7, progress=False)
    return out


def _assert_names_the_fix(err: pytest.ExceptionInfo) -> None:
    text = str(err.value)
    assert SALT_ENV in text and "export" in text and "secrets.token_hex" in text


# --------------------------------------------------------------------------- the demo salt


def test_a_users_store_is_never_staged_with_the_demo_salt(tmp_path: Path) -> None:
    store = _user_store(tmp_path)
    assert not demo_salt_allowed(store)
    with pytest.raises(SaltError, match=r"has no world\.json") as err:
        stage_world(store, _demo_salt(), progress=False)
    _assert_names_the_fix(err)
    assert not store.exists("staged", "spend") and not (store.root / STAGING_MARKER).exists()
    for demo in (True, False):  # GALAXY_DEMO=1 (set for the tests) does not open a user's store either
        with pytest.raises(SaltError, match=r"has no world\.json"):
            salt_for_store(store, demo=demo)


def test_the_notebook_path_refuses_the_demo_salt_for_a_users_store(tmp_path: Path) -> None:
    """Notebooks call ensure_world(data_dir, size=<world_size, default ci>) first: that is how the demo salt got in."""
    store = _user_store(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SaltError, match=SALT_ENV):
            ensure_world(store.root, size="ci", progress=False)
    assert not store.exists("staged", "spend")


def test_a_simulated_world_with_an_ingested_part_is_a_users_store(ci_world: Path, tmp_path: Path) -> None:
    world = DataStore(shutil.copytree(ci_world, tmp_path / "world"))
    assert demo_salt_allowed(world)
    csv = tmp_path / "spend.csv"
    pd.DataFrame({"week": ["2031-01-06"], "geo": ["north"], "channel": ["tv"], "spend": ["10"]}).to_csv(
        csv, index=False
    )
    ingest_file(csv, "spend", world)
    assert not demo_salt_allowed(world)
    with pytest.raises(SaltError, match=r"raw/spend/ingest-00000\.parquet") as err:
        stage_world(world, DEMO_SALT, progress=False)
    _assert_names_the_fix(err)


def test_the_simulated_world_alone_still_runs_on_the_demo_salt(ci_world: Path, tmp_path: Path) -> None:
    world = DataStore(shutil.copytree(ci_world, tmp_path / "world"))
    with pytest.warns(UserWarning, match="public demo salt"):
        salt = salt_for_store(world)
    assert salt == DEMO_SALT
    report = stage_world(world, salt, progress=False)
    assert report.salt_fingerprint == salt_fingerprint(DEMO_SALT)
    assert staging_is_current(world)


# --------------------------------------------------------------------------- the salt fingerprint


def test_staging_records_a_fingerprint_of_the_salt_never_the_salt(tmp_path: Path) -> None:
    store = _user_store(tmp_path)
    stage_world(store, SECRET, progress=False)
    text = (store.root / STAGING_MARKER).read_text()
    assert json.loads(text)["salt_fingerprint"] == salt_fingerprint(SECRET)
    assert SECRET not in text
    assert salt_fingerprint(SECRET) != salt_fingerprint(SALT)
    # the fingerprint does not pseudonymise: it is no key of any id under that salt
    assert not salt_fingerprint(SECRET).startswith("k_")
    assert pseudonymise(pd.Series(["x"]), SECRET).item() != salt_fingerprint(SECRET)


def test_a_changed_salt_makes_staging_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _user_store(tmp_path)
    stage_world(store, SALT, progress=False)
    assert staging_is_current(store)  # no secret configured: keys made with a secret stay
    assert staging_is_current(store, salt=SALT)
    assert not staging_is_current(store, salt=SECRET)
    monkeypatch.setenv(SALT_ENV, SECRET)
    assert not staging_is_current(store)
    monkeypatch.setenv(SALT_ENV, SALT)
    assert staging_is_current(store)


def test_setting_a_secret_after_a_demo_staging_re_stages_the_world(
    ci_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shutil.copytree(ci_world, tmp_path / "world")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = ensure_world(root, size="ci", seed=7, progress=False)
    demo_keys = set(store.read("staged", "customers")["customer_key"])
    assert staging_is_current(store)

    monkeypatch.setenv(SALT_ENV, SECRET)
    assert not staging_is_current(store)
    ensure_world(root, size="ci", seed=7, progress=False)
    assert json.loads((root / STAGING_MARKER).read_text())["salt_fingerprint"] == salt_fingerprint(SECRET)
    secret_keys = set(store.read("staged", "customers")["customer_key"])
    assert secret_keys.isdisjoint(demo_keys)
    raw_ids = store.read("raw", "customers")["customer_id"]
    assert secret_keys == set(pseudonymise(raw_ids, SECRET))


def test_a_staging_record_without_a_salt_fingerprint_is_stale(tmp_path: Path) -> None:
    store = _user_store(tmp_path)
    stage_world(store, SALT, progress=False)
    marker = store.root / STAGING_MARKER
    record = json.loads(marker.read_text())
    del record["salt_fingerprint"]  # staged by a version that did not record the salt
    marker.write_text(json.dumps(record))
    assert not staging_is_current(store, salt=SALT)


def test_a_demo_staging_of_a_users_store_is_never_current(tmp_path: Path) -> None:
    """A store staged with the demo salt before the fix is re-staged (and then refused) rather than used."""
    store = _user_store(tmp_path)
    stage_world(store, SALT, progress=False)
    marker = store.root / STAGING_MARKER
    record = json.loads(marker.read_text())
    record["salt_fingerprint"] = salt_fingerprint(DEMO_SALT)
    marker.write_text(json.dumps(record))
    assert not staging_is_current(store)
