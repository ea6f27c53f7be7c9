"""Benchmark: peak memory of ``build_journeys`` against loading every event into pandas.

``galaxy_lib.mta.build_journeys`` streams the staged events through the consent filter
in batches of ``BATCH_ROWS`` rows and does the join and the aggregation in DuckDB. Until
issue 15 it first read every touchpoint and conversion into pandas and filtered them
there. This script runs, each in its own fresh Python process on the same store:

* ``pandas``: the old way: read every touchpoint and conversion into pandas, filter them
  by consent, register the kept frames in DuckDB (default settings) and run the same
  journey SQL as ``build_journeys`` (its ``_ASSIGN_SQL``, ``_JOURNEYS_SQL``, ``_PATHS_SQL``);
* ``duckdb``: ``build_journeys`` itself (batches, consent filter, DuckDB under its
  ``MEMORY_LIMIT``, spilling to a temporary folder beyond it).

It prints, per mode, wall seconds and peak resident memory of the call (peak RSS minus
RSS before the call), and the ratio pandas / duckdb (> 1: the streaming build needs
less). The pandas mode grows with the number of events; the streaming build's pandas
part is one batch of ``BATCH_ROWS`` rows.

Usage::

    python bench/mta_journeys_memory.py                      # data/demo (built if missing)
    python bench/mta_journeys_memory.py --data-dir data/ci --size ci
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-06-01"


def _rss_kb() -> int:
    """Current resident memory (KiB) from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _child(mode: str, data_dir: str) -> None:
    """Run one mode in this process and print its numbers as JSON."""
    from galaxy_lib.core.store import DataStore
    from galaxy_lib.governance.consent import filter_by_consent
    from galaxy_lib.mta import build_journeys

    store = DataStore(data_dir)
    before = _rss_kb()
    t0 = time.perf_counter()
    if mode == "pandas":
        import duckdb

        from galaxy_lib.mta import journeys as j

        consent = store.read("staged", "consent")
        touch = store.read("staged", "touchpoints", columns=["event_id", "customer_key", "ts", "channel"])
        conv = store.read("staged", "conversions", columns=["conversion_id", "customer_key", "ts", "revenue"])
        touch_in, conv_in = (
            filter_by_consent(df, consent, "measurement", as_of=AS_OF, key="customer_key", time_col="ts").kept
            for df in (touch, conv)
        )
        con = duckdb.connect()
        con.register("touch_in", touch_in[["customer_key", "event_id", "ts", "channel"]])
        con.register("conv_in", conv_in.rename(columns={"ts": "conv_ts"}))
        con.execute(j._ASSIGN_SQL.replace("$lookback_us", str(round(30 * 86400e6))))
        con.execute(j._JOURNEYS_SQL, {"sep": " > "})
        rows = len(con.execute(j._PATHS_SQL).df())
        con.close()
    else:
        journeys = build_journeys(store, lookback_days=30, as_of=AS_OF)
        rows = journeys.paths.n_paths
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"mode": mode, "seconds": seconds, "peak_mb": (peak - before) / 1024, "path_rows": rows}))


def _run(mode: str, data_dir: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--data-dir", data_dir],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=str(ROOT / "data" / "demo"), help="store to read (built when missing)")
    ap.add_argument("--size", default="demo", help="world size to build when the store is missing")
    ap.add_argument("--child", choices=("pandas", "duckdb"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.data_dir)
        return

    from galaxy_lib.core.store import DataStore
    from galaxy_lib.simulate import ensure_world

    store = ensure_world(args.data_dir, size=args.size, progress=False)
    events = sum(
        int(DataStore(store.root).query(f"SELECT COUNT(*) AS n FROM staged.{t}")["n"][0])
        for t in ("touchpoints", "conversions")
    )
    print(f"store {store.root}: {events:,} events (touchpoints + conversions)")
    results = {mode: _run(mode, str(store.root)) for mode in ("pandas", "duckdb")}
    for r in results.values():
        print(f"  {r['mode']:7s} {r['seconds']:7.2f} s   peak +{r['peak_mb']:8.1f} MB   {r['path_rows']:,} path rows")
    if results["pandas"]["path_rows"] != results["duckdb"]["path_rows"]:
        raise SystemExit("the two ways built different path tables: the comparison is void")
    ratio = results["pandas"]["peak_mb"] / max(results["duckdb"]["peak_mb"], 1e-9)
    print(f"peak memory pandas / duckdb: {ratio:.2f}x (> 1: build_journeys needs less than loading the events)")


if __name__ == "__main__":
    main()
