"""Benchmark: build a Galaxy world and report throughput and peak memory.

Builds a world of the chosen size (default ``bench``: 1,000,000 customers and
about 14 million touchpoint events) into ``--out`` (default: a temporary folder,
removed afterwards unless ``--keep``) and prints

* rows and rows/s per table (rows divided by the seconds of the stage that
  generates the table; Parquet writing is reported as its own stage),
* overall events/s (all rows of all tables over the whole wall-clock time),
* the build's wall seconds and CPU seconds (the machine may be shared),
* peak resident memory of the process (``ru_maxrss``) and its ratio to a stated
  limit (``--memory-limit-mb``, default 2048): the customer-level tables are
  streamed chunk by chunk, so this ratio must stay well below 1.

The exit status is 1 when the peak memory exceeds the limit.

Usage::

    python bench/simulate.py                      # bench size, temporary folder
    python bench/simulate.py --size demo --out data/demo --keep
    python bench/simulate.py --size ci --seed 7
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from galaxy_lib.simulate import SIZE_PRESETS, WorldConfig, build_world

# Which build stage produces each table (for rows/s).
_STAGE_OF = {
    "customers": "customers",
    "consent": "consent",
    "touchpoints": "journeys",
    "conversions": "journeys",
    "email_experiment": "email_experiment",
    "spend": "mmm",
    "kpi": "mmm",
    "lift_tests": "mmm",
    "creatives": "creatives",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/simulate.py",
        description=(
            "Build a Galaxy world and print rows/s per table, overall events/s, seconds and peak memory "
            "against a memory limit. Exit status 1 if the peak memory exceeds the limit."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--size",
        choices=sorted(SIZE_PRESETS),
        default="bench",
        help="world size preset (ci: 2k customers, demo: 50k, bench: 1M customers / ~14M events)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="world folder to build into (default: a temporary folder, deleted afterwards)",
    )
    p.add_argument("--seed", type=int, default=42, help="master seed of the world")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="customers per Parquet part (multiple of 250; default: the size preset's)",
    )
    p.add_argument(
        "--memory-limit-mb", type=float, default=2048.0, help="peak resident memory the build must stay under"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary world folder")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {"chunk_size": args.chunk_size} if args.chunk_size else {}
    cfg = WorldConfig.for_size(args.size, seed=args.seed, **overrides)
    tmp = None
    if args.out is None:
        tmp = Path(tempfile.mkdtemp(prefix=f"galaxy-{args.size}-"))
        out = tmp / "world"
    else:
        out = args.out
    cpu0 = time.process_time()
    try:
        s = build_world(out, config=cfg, progress=not args.no_progress)
        cpu = time.process_time() - cpu0
        disk = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\nGalaxy world '{s.size}' (seed {s.seed}, {cfg.n_customers:,} customers, chunk {cfg.chunk_size:,})"
        f" -> {out}{' (deleted)' if tmp is not None and not args.keep else ''}"
    )
    print(f"{'table':<18}{'rows':>14}{'stage':>18}{'stage s':>10}{'rows/s':>14}")
    for name, rows in sorted(s.rows.items(), key=lambda kv: -kv[1]):
        stage = _STAGE_OF[name]
        sec = s.stage_seconds.get(stage, 0.0)
        rate = f"{rows / sec:,.0f}" if sec > 0 else "-"
        print(f"{name:<18}{rows:>14,}{stage:>18}{sec:>10.2f}{rate:>14}")
    for stage in ("write", "content"):
        print(f"{'(' + stage + ')':<18}{'':>14}{stage:>18}{s.stage_seconds.get(stage, 0.0):>10.2f}")
    total = sum(s.rows.values())
    events = s.rows["touchpoints"] + s.rows["conversions"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ratio = peak / args.memory_limit_mb
    print(f"total rows        {total:,} in {s.seconds:.1f} s wall ({cpu:.1f} s CPU): {total / s.seconds:,.0f} rows/s")
    print(f"events            {events:,} touchpoints+conversions: {events / s.seconds:,.0f} events/s overall")
    print(f"on disk           {disk / 2**20:,.1f} MiB")
    print(
        f"peak memory       {peak:,.0f} MiB; limit {args.memory_limit_mb:,.0f} MiB; "
        f"ratio peak/limit = {ratio:.2f} ({'OK' if ratio <= 1 else 'OVER LIMIT'})"
    )
    return 0 if ratio <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
