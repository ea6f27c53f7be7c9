"""Crash consistency of ingestion: the ingester killed at seeded points (issue 15, ingester half).

An ingest writes two parts under the store lock: the accepted rows to
``raw/<table>/ingest-NNNNN.parquet``, then the rejected ones to
``quarantine/<table>/ingest-NNNNN.parquet``. Each part is written under a hidden
temporary name and renamed (:meth:`DataStore._write_part`). Wherever the process
dies, the store must:

* still read (every table through DuckDB and pyarrow, the inventory's profile);
* show no half part: every visible ``*.parquet`` opens whole;
* take the same file again without doubling a row: rows already stored are
  quarantined as duplicates, the others are added.

Two kinds of crash: the ``galaxy ingest`` process SIGKILLed after seeded random
delays (wherever it is), and an exception injected at each write (inside the raw
part, between the raw and the quarantine part, inside the quarantine part).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from galaxy_lib.core.quarantine import read_quarantine
from galaxy_lib.core.store import DataStore
from galaxy_lib.inventory import profile_store
from galaxy_lib.pipeline.ingest import ingest_file

ROOT = Path(__file__).resolve().parents[2]
SEED = 15
N_ROWS = 40_000
N_BAD = 50

#: The child: imports first, says so, then ingests (the parent kills it after a seeded delay).
_CHILD = """
import sys
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.ingest import ingest_file
print("ready", flush=True)
ingest_file(sys.argv[1], "touchpoints", DataStore(sys.argv[2]))
print("done", flush=True)
"""


def _touchpoints_file(path: Path) -> tuple[int, int]:
    """A touchpoint export with ``N_BAD`` bad rows; returns (good rows, bad rows)."""
    ts = pd.Timestamp("2023-03-01") + pd.to_timedelta(range(N_ROWS), unit="min")
    df = pd.DataFrame(
        {
            "event_id": [f"E{i:08d}" for i in range(N_ROWS)],
            "customer_id": [f"C{i % 997:08d}" for i in range(N_ROWS)],
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S"),
            "channel": ["search", "social", "display", "email"] * (N_ROWS // 4),
            "campaign_id": "cmp_1",
            "creative_id": "",
            "ingested_at": (ts + pd.Timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    df.loc[: N_BAD - 1, "ts"] = "not a time"
    df.to_csv(path, index=False)
    return N_ROWS - N_BAD, N_BAD


def _assert_consistent(store: DataStore) -> None:
    """The store reads, every visible part is whole, and raw holds no duplicate key."""
    for info in store.tables(count_rows=False):
        for part in store.parts(info.zone, info.name):
            assert pq.ParquetFile(part).metadata.num_rows >= 0  # a truncated part raises here
        n = store.query(f'SELECT count(*) AS n FROM "{info.zone}"."{info.name}"')["n"].item()
        assert n == len(store.read(info.zone, info.name))
    if store.tables(count_rows=False):
        profile_store(store)
    if store.exists("raw", "touchpoints"):
        dup = store.query("SELECT count(*) - count(DISTINCT event_id) AS d FROM raw.touchpoints")["d"].item()
        assert dup == 0, f"{dup} duplicated event_id in raw.touchpoints"


def _assert_reingest_completes(store: DataStore, path: Path, good: int, bad: int) -> None:
    """Loading the file again succeeds and leaves every good row stored exactly once."""
    result = ingest_file(path, "touchpoints", store)
    assert result.rows_in == good + bad == result.rows_accepted + result.rows_quarantined
    _assert_consistent(store)
    raw = store.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM raw.touchpoints")
    assert raw["n"].item() == raw["d"].item() == good
    q = read_quarantine(store, "touchpoints")
    assert set(q.loc[q["_rule"] == "unparseable_date", "event_id"]) == {f"E{i:08d}" for i in range(bad)}


# --------------------------------------------------------------------------- SIGKILL at seeded points


@pytest.mark.slow
def test_a_killed_ingest_leaves_a_readable_store_and_a_rerun_completes(tmp_path: Path) -> None:
    path = tmp_path / "touchpoints.csv"
    good, bad = _touchpoints_file(path)
    rng = random.Random(SEED)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start(root: Path) -> tuple[subprocess.Popen, float]:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), str(root)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        return child, time.perf_counter()

    # one whole run tells how long an ingest takes here
    child, t0 = start(tmp_path / "timing")
    assert child.wait(timeout=300) == 0
    duration = time.perf_counter() - t0

    killed_during = 0
    for i in range(4):
        store = DataStore(tmp_path / f"store{i}")
        delay = rng.uniform(0.05, 0.75 * duration)  # seeded: reading, checking, writing, ...
        child, t0 = start(store.root)
        time.sleep(max(0.0, delay - (time.perf_counter() - t0)))
        child.send_signal(signal.SIGKILL)
        killed_during += child.wait(timeout=60) == -signal.SIGKILL
        _assert_consistent(store)
        _assert_reingest_completes(store, path, good, bad)
    assert killed_during >= 2, "the ingests ended before the kills: the file is too small to test anything"


# --------------------------------------------------------------------------- an exception at each write


class Crash(Exception):
    """Injected: the process dies here."""


@pytest.mark.parametrize(
    ("crash_at", "raw_after", "quarantined_after"),
    [
        ("raw-part", False, False),  # inside the raw part's write: neither part is visible
        ("between", True, False),  # raw part renamed, quarantine part not written
        ("quarantine-part", True, False),  # inside the quarantine part's write
    ],
)
def test_an_ingest_failing_at_a_write_leaves_whole_parts_and_a_rerun_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: str, raw_after: bool, quarantined_after: bool
) -> None:
    path = tmp_path / "touchpoints.csv"
    good, bad = _touchpoints_file(path)
    store = DataStore(tmp_path / "store")
    real_write_table, real_replace = pq.write_table, os.replace
    writes: list[str] = []

    def write_table(table, where, **kwargs):
        writes.append(str(where))
        if crash_at == "raw-part" or (crash_at == "quarantine-part" and len(writes) == 2):
            Path(where).write_bytes(b"PAR1 half a part")  # what a killed writer leaves on disk
            raise Crash(where)
        return real_write_table(table, where, **kwargs)

    def replace(src, dst):
        real_replace(src, dst)
        if crash_at == "between" and "raw" in Path(dst).parts:
            raise Crash(dst)

    monkeypatch.setattr("galaxy_lib.core.store.pq.write_table", write_table)
    monkeypatch.setattr("galaxy_lib.core.store.os.replace", replace)
    with pytest.raises(Crash):
        ingest_file(path, "touchpoints", store)
    monkeypatch.undo()

    assert store.exists("raw", "touchpoints") == raw_after
    assert store.exists("quarantine", "touchpoints") == quarantined_after
    leftovers = [p.name for p in store.root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    assert all(name.startswith(".") for name in leftovers)  # hidden: never read as a part
    _assert_consistent(store)
    _assert_reingest_completes(store, path, good, bad)
