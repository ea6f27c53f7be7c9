"""A user's ingested rows are recognisable and never deleted by a world build (issue 15 finding 10).

Before the fix ``galaxy ingest`` loaded into ``data/demo`` by default, ingested parts were
named like the simulator's (``part-NNNNN.parquet``) and ``galaxy world build`` deleted
``raw/`` of any folder holding a world: a user's rows were gone without a word.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from galaxy_lib.cli import app
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.ingest import INGEST_PREFIX, USER_STORE, holds_user_data, ingest_file, user_raw_files
from galaxy_lib.simulate import build_world
from galaxy_lib.simulate.config import WorldConfig

SPEND = pd.DataFrame({"week": ["2031-01-06", "2031-01-13"], "channel": ["tv", "tv"], "spend": ["10", "12"]})


def _spend_csv(tmp_path: Path) -> Path:
    csv = tmp_path / "my_spend.csv"
    SPEND.to_csv(csv, index=False)
    return csv


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ci world (built once for this module); tests copy it before changing it."""
    out = tmp_path_factory.mktemp("world") / "ci"
    build_world(out, config=WorldConfig.for_size("ci", seed=7), progress=False)
    return out


def _copy(world: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(world, dest)
    return dest


# --------------------------------------------------------------------------- the marker


def test_ingested_parts_carry_the_ingest_prefix(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "store")
    bad = pd.concat([SPEND, pd.DataFrame({"week": ["2031-01-20"], "channel": ["tv"], "spend": ["-1"]})])
    csv = tmp_path / "spend.csv"
    bad.to_csv(csv, index=False)
    ingest_file(csv, "spend", store)
    assert [p.name for p in store.parts("raw", "spend")] == [f"{INGEST_PREFIX}-00000.parquet"]
    assert [p.name for p in store.parts("quarantine", "spend")] == [f"{INGEST_PREFIX}-00000.parquet"]


def test_empty_and_simulated_stores_hold_no_user_data(tmp_path: Path, small_world: Path) -> None:
    assert not holds_user_data(tmp_path / "nothing")
    assert not holds_user_data(small_world)
    world = json.loads((small_world / "world.json").read_text())
    assert world["raw_parts"] and all(k.startswith("raw/") for k in world["raw_parts"])
    # notebook checkpoints and temporary parts are not data
    ck = small_world / "raw" / "spend" / ".ipynb_checkpoints"
    ck.mkdir()
    (ck / "x.parquet").write_bytes(b"junk")
    try:
        assert not holds_user_data(small_world)
    finally:
        (ck / "x.parquet").unlink()
        ck.rmdir()


def test_ingest_into_a_world_is_user_data(tmp_path: Path, small_world: Path) -> None:
    root = _copy(small_world, tmp_path / "w")
    ingest_file(_spend_csv(tmp_path), "spend", DataStore(root))
    assert holds_user_data(root)
    assert [p.name for p in user_raw_files(root)] == [f"{INGEST_PREFIX}-00000.parquet"]


def test_a_file_copied_into_raw_is_user_data(tmp_path: Path, small_world: Path) -> None:
    root = _copy(small_world, tmp_path / "w")
    extra = root / "raw" / "spend" / "part-00009.parquet"
    SPEND.to_parquet(extra)
    assert user_raw_files(root) == [extra]


def test_legacy_world_json_vouches_by_row_count(tmp_path: Path, small_world: Path) -> None:
    """A world built before ``raw_parts`` existed, with rows ingested by the old code (``part-*``)."""
    root = _copy(small_world, tmp_path / "w")
    world = json.loads((root / "world.json").read_text())
    del world["raw_parts"]
    (root / "world.json").write_text(json.dumps(world))
    assert not holds_user_data(root)
    DataStore(root).append_part("raw", "spend", SPEND)  # the old ingester's name: part-NNNNN
    assert {p.parent.name for p in user_raw_files(root)} == {"spend"}


def test_a_store_without_world_json_is_user_data(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "s")
    store.write("raw", "spend", SPEND)
    assert holds_user_data(store.root)
    (store.root / "truth").mkdir()  # an interrupted simulator build: its parts are its own
    assert not holds_user_data(store.root)


# --------------------------------------------------------------------------- world build refuses


def test_world_build_refuses_to_delete_ingested_rows(tmp_path: Path, small_world: Path) -> None:
    root = _copy(small_world, tmp_path / "w")
    ingest_file(_spend_csv(tmp_path), "spend", DataStore(root))
    with pytest.raises(FileExistsError) as exc:
        build_world(root, config=WorldConfig.for_size("ci", seed=7), progress=False)
    msg = str(exc.value)
    assert "raw/spend/ingest-00000.parquet" in msg and "--out" in msg and "--force" in msg
    assert (root / "raw" / "spend" / "ingest-00000.parquet").is_file()
    assert len(DataStore(root).read("raw", "spend")) > len(SPEND)


def test_world_build_refuses_a_user_store_without_world_json(tmp_path: Path) -> None:
    store = DataStore(tmp_path / "mine")
    ingest_file(_spend_csv(tmp_path), "spend", store)
    with pytest.raises(FileExistsError, match=r"ingest-00000\.parquet"):
        build_world(store.root, size="ci", progress=False)
    assert store.read("raw", "spend")["spend"].tolist() == [10.0, 12.0]


def test_world_build_force_deletes_and_says_so(tmp_path: Path, small_world: Path) -> None:
    root = _copy(small_world, tmp_path / "w")
    ingest_file(_spend_csv(tmp_path), "spend", DataStore(root))
    build_world(root, config=WorldConfig.for_size("ci", seed=7), progress=False, force=True)
    assert not holds_user_data(root)


def test_cli_world_build_refuses_then_force_names_what_it_deletes(tmp_path: Path, small_world: Path) -> None:
    root = _copy(small_world, tmp_path / "w")
    ingest_file(_spend_csv(tmp_path), "spend", DataStore(root))
    runner = CliRunner()
    r = runner.invoke(app, ["world", "build", "--out", str(root)])
    assert r.exit_code == 2, r.output
    assert "ingest-00000.parquet" in r.output and "--force" in r.output
    assert (root / "raw" / "spend" / "ingest-00000.parquet").is_file()
    r = runner.invoke(app, ["world", "build", "--out", str(root), "--force"])
    assert r.exit_code == 0, r.output
    assert "Deleting" in r.output and "ingest-00000.parquet" in r.output
    assert not holds_user_data(root)


# --------------------------------------------------------------------------- ingest defaults to a user store


def test_cli_ingest_defaults_to_the_user_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GALAXY_HOME", str(tmp_path))
    r = CliRunner().invoke(app, ["ingest", str(_spend_csv(tmp_path)), "--table", "spend"])
    assert r.exit_code == 0, r.output
    assert USER_STORE == "data/user"
    assert DataStore(tmp_path / USER_STORE).exists("raw", "spend")
    assert not (tmp_path / "data" / "demo").exists()
    help_text = CliRunner().invoke(app, ["ingest", "--help"]).output
    assert "data/user" in help_text
