"""ensure_world: the Galaxy world built once, staged when stale, a user's own store staged but never replaced."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest

import galaxy_lib.simulate.ensure as ensure
from galaxy_lib.core.contracts import PII_COLUMNS
from galaxy_lib.core.store import DataStore
from galaxy_lib.governance.pii import scan_text
from galaxy_lib.governance.pseudonyms import SaltError, pseudonymise
from galaxy_lib.pipeline.ingest import ingest_file
from galaxy_lib.pipeline.staging import STAGING_MARKER, staging_is_current
from galaxy_lib.simulate import ensure_world
from galaxy_lib.simulate.world import WORLD_FORMAT
from tests.fixtures.raw_world import INGEST_FIXTURES, SALT, write_raw


def _all_tables(store: DataStore, zones: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    return {f"{t.zone}.{t.name}": store.read(t.zone, t.name) for t in store.tables() if t.zone in zones}


def test_ensure_world_is_the_simulate_export() -> None:
    import galaxy_lib.simulate as simulate

    assert simulate.ensure_world is ensure.ensure_world


def test_ensure_world_builds_once_under_the_lock(tmp_path: Path, monkeypatch) -> None:
    calls: list[Path] = []

    def fake_build(out_dir, size="ci", seed=42, progress=True):
        calls.append(Path(out_dir))
        out = Path(out_dir)
        write_raw(out)
        parts = {p.relative_to(out).as_posix(): p.stat().st_size for p in (out / "raw").glob("*/*.parquet")}
        world = {"size": size, "seed": seed, "format": WORLD_FORMAT, "raw_parts": parts}
        (out / "world.json").write_text(json.dumps(world))

    monkeypatch.setattr(ensure, "build_world", fake_build)
    root = tmp_path / "w"
    stores, errors = [], []

    def start_notebook() -> None:
        try:
            stores.append(ensure_world(root, size="ci", progress=False))
        except BaseException as err:  # pragma: no cover - surfaced below
            errors.append(err)

    threads = [threading.Thread(target=start_notebook) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(calls) == 1 and len(stores) == 2
    assert staging_is_current(stores[0])
    assert stores[0].exists("curated", "mmm_weekly")
    marker = json.loads((root / STAGING_MARKER).read_text())
    assert marker["tables"]["spend"]["rows_quarantined"] == 1

    # already staged: nothing is rebuilt or re-staged
    mtime = (root / STAGING_MARKER).stat().st_mtime_ns
    ensure_world(root, size="ci", progress=False)
    assert len(calls) == 1 and (root / STAGING_MARKER).stat().st_mtime_ns == mtime

    # new raw data makes staging stale: ensure_world stages again, without rebuilding; a user's
    # rows in the world make it no demo world any more: staging them needs a secret salt
    ingest_file(INGEST_FIXTURES / "touchpoints_dup.csv", "touchpoints", stores[0])
    assert not staging_is_current(stores[0])
    with pytest.raises(SaltError, match="GALAXY_PII_SALT"):
        ensure_world(root, size="ci", progress=False)
    monkeypatch.setenv("GALAXY_PII_SALT", SALT)
    ensure_world(root, size="ci", progress=False)
    assert len(calls) == 1
    assert "E0000001" in set(stores[0].read("staged", "touchpoints")["event_id"])

    with pytest.warns(UserWarning, match="holds a 'ci' world"):
        ensure_world(root, size="demo", progress=False)

    # an interrupted simulator build (truth/ written, world.json not yet) is rebuilt, not staged
    (root / "world.json").unlink()
    (root / "truth").mkdir()
    (root / STAGING_MARKER).unlink()
    ensure_world(root, size="ci", progress=False)
    assert len(calls) == 2


def test_ensure_world_stages_a_users_own_store_without_simulating(tmp_path: Path, monkeypatch) -> None:
    def no_build(*args, **kwargs):  # pragma: no cover - failing is the point
        raise AssertionError("a store with raw tables must not be replaced by a simulated world")

    monkeypatch.setattr(ensure, "build_world", no_build)
    store = DataStore(tmp_path / "mine")
    ingest_file(INGEST_FIXTURES / "spend_dirty.csv", "spend", store)
    ensure_world(store.root, salt=SALT, progress=False)
    assert len(store.read("staged", "spend")) == 3 and staging_is_current(store)


# --------------------------------------------------------------------------- the simulated world


@pytest.fixture(scope="module")
def staged_ci_world(tmp_path_factory: pytest.TempPathFactory) -> DataStore:
    return ensure_world(tmp_path_factory.mktemp("ci") / "world", size="ci", seed=7, progress=False)


def test_ci_world_end_to_end(staged_ci_world: DataStore) -> None:
    store = staged_ci_world
    world = json.loads((store.root / "world.json").read_text())
    truth = json.loads((store.root / "ground_truth.json").read_text())
    marker = json.loads((store.root / STAGING_MARKER).read_text())
    for table, n in world["rows"].items():
        t = marker["tables"][table]
        assert t["rows_in"] == n and t["rows_staged"] + t["rows_quarantined"] == n, table

    mmm = store.read("curated", "mmm_weekly")
    national = mmm[mmm["geo"] == "ALL"]
    assert len(national) == truth["world"]["n_weeks"]
    assert sorted(mmm.loc[mmm["geo"] != "ALL", "geo"].unique()) == sorted(truth["world"]["geos"])
    for ch, spec in truth["mmm"]["channels"].items():
        assert national[f"spend_{ch}"].sum() == pytest.approx(spec["total_spend"], rel=1e-9), ch
    kpi = store.read("raw", "kpi")
    assert national["revenue"].sum() == pytest.approx(kpi["revenue"].sum(), rel=1e-12)

    up = store.read("curated", "uplift_features")  # consented customers of the experiment only
    assert 0 < len(up) <= world["rows"]["email_experiment"]
    assert up["tenure_days"].ge(0).all() and up.notna().all().all()
    tau = pd.read_parquet(store.root / "truth" / "uplift.parquet")
    assert set(up["customer_key"]) <= set(pseudonymise(tau["customer_id"], pii_salt()).tolist())

    raw_ids = store.read("raw", "customers")["customer_id"].tolist()
    for name, df in _all_tables(store, ("staged", "curated")).items():
        assert not set(PII_COLUMNS) & set(df.columns), name
        text = "\n".join(df.select_dtypes(include="object").astype(str).stack().unique())
        assert scan_text(text, raw_ids=raw_ids) == [], name


def pii_salt() -> str:
    """The salt ensure_world used for the ci world (the demo salt unless GALAXY_PII_SALT is set)."""
    import warnings

    from galaxy_lib.governance.pseudonyms import get_salt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_salt(demo=True)


def test_a_world_of_an_older_table_format_is_rebuilt(tmp_path: Path) -> None:
    """A simulator-only world written before a table changed its columns is rebuilt, not half-read."""
    root = tmp_path / "old"
    ensure_world(root, size="ci", progress=False)
    world = json.loads((root / "world.json").read_text())
    assert world["format"] == WORLD_FORMAT
    world.pop("format")  # as written before formats were recorded
    (root / "world.json").write_text(json.dumps(world))
    with pytest.warns(UserWarning, match=rf"table format 1 \(this version writes {WORLD_FORMAT}\): rebuilding"):
        ensure_world(root, size="ci", progress=False)
    rebuilt = json.loads((root / "world.json").read_text())
    assert rebuilt["format"] == WORLD_FORMAT and rebuilt["created_at"] != world["created_at"]
    assert staging_is_current(DataStore(root))
