"""The data store: zones of Parquet parts, DuckDB views, atomic replaces and the store lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from galaxy_lib.core.store import DataStore


@pytest.fixture()
def store(tmp_path: Path) -> DataStore:
    return DataStore(tmp_path / "store")


def test_write_read_query_and_tables(store: DataStore) -> None:
    df = pd.DataFrame({"week": pd.to_datetime(["2023-01-02", "2023-01-09"]), "geo": ["N", "S"], "spend": [1.5, 2.5]})
    store.write("raw", "spend", df)
    pd.testing.assert_frame_equal(store.read("raw", "spend"), df)
    assert store.query("SELECT sum(spend) AS s FROM raw.spend")["s"].item() == 4.0
    (info,) = store.tables()
    assert (info.zone, info.name, info.rows, info.columns) == ("raw", "spend", 2, ("week", "geo", "spend"))
    store.write("raw", "spend", df.iloc[:1])  # write replaces
    assert len(store.read("raw", "spend")) == 1 and len(store.parts("raw", "spend")) == 1


def test_bad_names_and_missing_tables(store: DataStore) -> None:
    with pytest.raises(ValueError, match="Unknown zone 'gold'"):
        store.table_dir("gold", "spend")
    with pytest.raises(ValueError, match="letters, digits and underscores"):
        store.table_dir("raw", "../etc")
    with pytest.raises(FileNotFoundError, match=r"raw\.kpi does not exist"):
        store.read("raw", "kpi")
    with pytest.raises(ValueError, match="lower-case letters"):
        store.append_part("raw", "kpi", pd.DataFrame({"a": [1]}), prefix="Part-1")


def test_append_part_numbering_and_prefixes(store: DataStore) -> None:
    for i in range(3):
        store.append_part("quarantine", "spend", pd.DataFrame({"a": [i]}))
    store.parts("quarantine", "spend")[1].unlink()  # a gap must not make the next part overwrite one
    store.append_part("quarantine", "spend", pd.DataFrame({"a": [3]}))
    store.append_part("quarantine", "spend", pd.DataFrame({"a": [10]}), prefix="staging")
    store.append_part("quarantine", "spend", pd.DataFrame({"a": [11]}), prefix="staging")
    names = [p.name for p in store.parts("quarantine", "spend")]
    assert names == [
        "part-00000.parquet",
        "part-00002.parquet",
        "part-00003.parquet",
        "staging-00000.parquet",
        "staging-00001.parquet",
    ]
    assert sorted(store.read("quarantine", "spend")["a"]) == [0, 2, 3, 10, 11]
    assert store.drop_parts("quarantine", "spend", "staging") == 2
    assert sorted(store.read("quarantine", "spend")["a"]) == [0, 2, 3]
    assert store.drop_parts("quarantine", "spend", "part") == 3
    assert not store.exists("quarantine", "spend")


def test_parts_with_different_columns_read_as_their_union(store: DataStore) -> None:
    store.append_part("raw", "spend", pd.DataFrame({"a": [1], "b": ["x"]}))
    store.append_part("raw", "spend", pd.DataFrame({"a": [2], "c": ["y"]}))
    df = store.read("raw", "spend").sort_values("a")
    assert list(df.columns) == ["a", "b", "c"]
    assert df["b"].tolist()[0] == "x" and pd.isna(df["b"].tolist()[1])
    q = store.query("SELECT a, b, c FROM raw.spend ORDER BY a")
    assert q["c"].tolist()[1] == "y"


def test_arrow_backed_strings_are_stored_as_plain_strings(store: DataStore) -> None:
    df = pd.DataFrame({"s": pd.Series(["a", None], dtype="string[pyarrow]")})
    store.append_part("raw", "t", df)
    store.append_part("raw", "t", pd.DataFrame({"s": ["b"]}))
    assert {str(pq.read_schema(p).field("s").type) for p in store.parts("raw", "t")} == {"string"}


def test_write_parts_streams_and_replaces_atomically(store: DataStore) -> None:
    store.write("staged", "t", pd.DataFrame({"a": [0]}))
    rows = store.write_parts("staged", "t", (pa.table({"a": [i, i]}) for i in range(3)))
    assert rows == 6 and len(store.parts("staged", "t")) == 3

    def broken():
        yield pd.DataFrame({"a": [99]})
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        store.write_parts("staged", "t", broken())
    # the previous version is untouched and no temporary folder is left behind
    assert sorted(store.read("staged", "t")["a"]) == [0, 0, 1, 1, 2, 2]
    assert not (store.root / "staged" / "t.tmp").exists()
    assert store.write_parts("staged", "t", iter([pd.DataFrame({"a": []})])) == 0
    assert not store.exists("staged", "t")


def test_lock_is_reentrant_across_instances(store: DataStore) -> None:
    other = DataStore(str(store.root) + "/")
    with store.lock(timeout=2):
        with other.lock(timeout=2):  # would time out if the lock were not shared
            other.write("raw", "t", pd.DataFrame({"a": [1]}))
        store.append_part("raw", "t", pd.DataFrame({"a": [2]}))
    assert len(store.read("raw", "t")) == 2


def test_lock_excludes_other_processes(store: DataStore) -> None:
    code = textwrap.dedent(f"""
        import sys
        from filelock import Timeout
        from galaxy_lib.core.store import DataStore
        try:
            with DataStore({str(store.root)!r}).lock(timeout=0.5):
                sys.exit(0)
        except Timeout:
            sys.exit(3)
    """)
    with store.lock():
        held = subprocess.run([sys.executable, "-c", code], timeout=120)
    free = subprocess.run([sys.executable, "-c", code], timeout=120)
    assert (held.returncode, free.returncode) == (3, 0)


def test_a_crash_while_writing_a_part_leaves_no_truncated_parquet(tmp_path: Path, monkeypatch) -> None:
    """Parts are written under a hidden temporary name; a failed write leaves the table as it was."""
    store = DataStore(tmp_path)
    store.write("raw", "spend", pd.DataFrame({"spend": [1.0, 2.0]}))

    def crash(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half a file")  # what a killed writer leaves behind
        raise OSError("disk full")

    monkeypatch.setattr("galaxy_lib.core.store.pq.write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        store.append_part("raw", "spend", pd.DataFrame({"spend": [3.0]}))
    with pytest.raises(OSError, match="disk full"):
        store.write("raw", "spend", pd.DataFrame({"spend": [9.0]}))
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "raw" / "spend").iterdir()) == ["part-00000.parquet"]
    assert store.query("SELECT sum(spend) AS s FROM raw.spend")["s"].iloc[0] == 3.0


def test_replacing_a_table_never_leaves_it_half_deleted(tmp_path: Path, monkeypatch) -> None:
    """The old folder is moved aside before the new one moves in; a crash in between loses neither."""
    store = DataStore(tmp_path)
    store.write("raw", "spend", pd.DataFrame({"spend": [1.0]}))
    real_rename = Path.rename
    calls = []

    def rename_then_crash(self, target):
        calls.append(self.name)
        if len(calls) == 2:  # the new folder moving in
            raise OSError("power cut")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename_then_crash)
    with pytest.raises(OSError, match="power cut"):
        store.write("raw", "spend", pd.DataFrame({"spend": [2.0]}))
    monkeypatch.undo()
    zone = tmp_path / "raw"
    assert (zone / "spend.old.tmp" / "part-00000.parquet").is_file() and (zone / "spend.tmp").is_dir()
    assert [t.name for t in store.tables(count_rows=False)] == []  # readers skip the aside folders
    with store.lock():  # the next holder of the lock finishes the swap: the new version, complete
        assert sorted(p.name for p in zone.iterdir()) == ["spend"]
    assert store.query("SELECT sum(spend) AS s FROM raw.spend")["s"].iloc[0] == 2.0
    store.write("raw", "spend", pd.DataFrame({"spend": [3.0]}))
    assert sorted(p.name for p in zone.iterdir()) == ["spend"]
    assert store.query("SELECT sum(spend) AS s FROM raw.spend")["s"].iloc[0] == 3.0


def test_a_swap_that_lost_its_new_folder_rolls_back_to_the_old_version(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    store.write("raw", "spend", pd.DataFrame({"spend": [1.0]}))
    store.write("raw", "kpi", pd.DataFrame({"revenue": [5.0]}))
    zone = tmp_path / "raw"
    (zone / "spend").rename(zone / "spend.old.tmp")  # moved aside, and no complete new version
    (zone / "kpi.old.tmp").mkdir()  # a swap whose clean-up was missed
    store.append_part("raw", "kpi", pd.DataFrame({"revenue": [1.0]}))
    assert sorted(p.name for p in zone.iterdir()) == ["kpi", "spend"]
    assert store.query("SELECT sum(spend) AS s FROM raw.spend")["s"].iloc[0] == 1.0
    assert store.query("SELECT sum(revenue) AS s FROM raw.kpi")["s"].iloc[0] == 6.0


# --------------------------------------------------------------------------- stray folders and odd store paths


def _one_week() -> pd.DataFrame:
    return pd.DataFrame({"week": pd.to_datetime(["2025-01-06"]), "spend": [1.0]})


@pytest.mark.parametrize("stray", [".ipynb_checkpoints", "notes-2024", "my table", "spend.bak"])
def test_a_stray_folder_in_a_zone_is_not_a_table(store: DataStore, stray: str) -> None:
    """A folder that cannot be a table name used to raise ValueError from every query on the store."""
    from galaxy_lib.core.quarantine import quarantine_summary

    store.write("raw", "spend", _one_week())
    d = store.root / "raw" / stray
    d.mkdir()
    pq.write_table(pa.table({"x": [1]}), d / "part-00000.parquet")
    (store.root / "raw" / "notes").mkdir()  # a valid name without Parquet parts: not a table either
    (store.root / "raw" / "notes" / "readme.txt").write_text("hello")
    assert store.query("SELECT count(*) AS n FROM raw.spend")["n"].item() == 1
    assert [(t.zone, t.name) for t in store.tables()] == [("raw", "spend")]
    assert quarantine_summary(store).empty
    assert store.connect().execute("SELECT count(*) FROM raw.spend").fetchone() == (1,)


@pytest.mark.parametrize("name", ["it's a store", "run[1]", "back\\slash", "q?m", 'dq"x'])
def test_odd_characters_in_the_store_path_do_not_break_queries(tmp_path: Path, name: str) -> None:
    """Glob characters in the store path were read as a pattern: ``run[1]`` found no files."""
    store = DataStore(tmp_path / name)
    store.write("raw", "spend", _one_week())
    assert store.query("SELECT count(*) AS n FROM raw.spend")["n"].item() == 1
    store.append_part("raw", "spend", _one_week())  # a new part is seen by the kept connection
    assert store.query("SELECT count(*) AS n FROM raw.spend")["n"].item() == 2


def test_a_star_in_the_store_path_reads_only_that_store(tmp_path: Path) -> None:
    """``data*`` as a glob also matched a sibling store ``dataXX`` and read its rows as this store's."""
    other = DataStore(tmp_path / "dataXX")
    other.write("raw", "spend", pd.concat([_one_week()] * 5))
    store = DataStore(tmp_path / "data*")
    store.write("raw", "spend", _one_week())
    assert store.query("SELECT count(*) AS n FROM raw.spend")["n"].item() == 1
