"""Benchmark: galaxy_lib.mta.markov_attribution vs ChannelAttribution's markov_model.

Generates journeys (1M and 10M by default) from a seeded channel-transition process,
aggregating them to unique paths chunk by chunk, so generation memory grows with
unique paths, not journeys. Each model then runs in its own fresh Python process on
the same path table (read from Parquet into a pandas DataFrame of Python strings, the
input both libraries accept), at Markov order 1 and 3. The script prints, per run,
wall seconds of the attribution call, peak resident memory of the call (peak RSS
minus RSS before the call) and the ratios ChannelAttribution / Galaxy (> 1: Galaxy
is faster / smaller), plus the credit agreement on the largest channels. Each
measurement is the median of ``--repeat`` calls; CPU seconds are printed next to
wall seconds because the machine may be shared (the target is judged on CPU time,
both tools being single-threaded).

Usage::

    python bench/mta_vs_channelattribution.py                  # 1M and 10M, orders 1 and 3
    python bench/mta_vs_channelattribution.py --journeys 1000000 --orders 1
    python bench/mta_vs_channelattribution.py --peer-python bench/.venv-peers/bin/python

ChannelAttribution 2.2.5 (GPL-3) is the optional ``bench`` dependency group; when the
current interpreter cannot import it, pass ``--peer-python`` pointing to one that can.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("search", "social", "display", "video", "email", "direct", "affiliate", "tv_halo")
MAX_LEN = 18  # (len(CHANNELS) + 1) ** MAX_LEN < 2**63: a path fits one int64 key


# -- generation ------------------------------------------------------------------------
def _process(seed: int) -> dict[str, np.ndarray]:
    """A fixed journey process: start mix, channel transitions, stop and conversion rates."""
    rng = np.random.default_rng(seed)
    C = len(CHANNELS)
    start = rng.dirichlet(np.full(C, 0.8))
    trans = rng.dirichlet(np.full(C, 0.5), size=C)
    stop = rng.uniform(0.2, 0.4, size=C)  # P(journey ends after a touch of this channel)
    lift = rng.uniform(0.0, 0.6, size=C)  # per-channel lift of the log-odds of converting
    return {"start": start, "trans": trans, "stop": stop, "lift": lift}


def _chunk(n: int, proc: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` journeys: int64 path keys, converted flags, revenue."""
    C = len(CHANNELS)
    base = C + 1
    cum_trans = np.cumsum(proc["trans"], axis=1)
    cur = np.searchsorted(np.cumsum(proc["start"]), rng.random(n) * (1 - 1e-12))
    key = (cur + 1).astype(np.int64)
    seen = np.zeros((n, C), dtype=bool)
    seen[np.arange(n), cur] = True
    active = np.ones(n, dtype=bool)
    for _ in range(MAX_LEN - 1):
        active &= rng.random(n) >= proc["stop"][cur]
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        u = rng.random(idx.size)
        nxt = (u[:, None] > cum_trans[cur[idx]]).sum(axis=1)
        nxt = np.minimum(nxt, C - 1)
        cur[idx] = nxt
        key[idx] = key[idx] * base + nxt + 1
        seen[idx, nxt] = True
    logit = -2.6 + seen.astype(np.float64) @ proc["lift"]
    converted = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    revenue = np.where(converted, rng.gamma(2.0, 40.0, size=n), 0.0)
    return key, converted, revenue


def generate_paths(n_journeys: int, seed: int = 0, chunk: int = 500_000) -> tuple[pd.DataFrame, dict]:
    """Aggregate ``n_journeys`` generated journeys to a ChannelAttribution path table."""
    proc = _process(seed)
    rng = np.random.default_rng(seed + 1)
    keys = np.zeros(0, dtype=np.int64)
    conv = np.zeros(0)
    value = np.zeros(0)
    null = np.zeros(0)
    done = 0
    t0 = time.perf_counter()
    while done < n_journeys:
        m = min(chunk, n_journeys - done)
        k, c, v = _chunk(m, proc, rng)
        allk = np.concatenate([keys, k])
        allc = np.concatenate([conv, c.astype(np.float64)])
        allv = np.concatenate([value, v])
        alln = np.concatenate([null, (~c).astype(np.float64)])
        keys, inv = np.unique(allk, return_inverse=True)
        conv = np.bincount(inv, weights=allc)
        value = np.bincount(inv, weights=allv)
        null = np.bincount(inv, weights=alln)
        done += m
    # decode keys (unique paths only) into "a > b > c" strings
    base = len(CHANNELS) + 1
    names = np.array(CHANNELS, dtype=object)
    digits = []
    rest = keys.copy()
    while (rest > 0).any():
        digits.append(rest % base)
        rest //= base
    mat = np.stack(digits[::-1], axis=1) if digits else np.zeros((keys.size, 0), dtype=np.int64)
    paths = [" > ".join(names[row[row > 0] - 1]) for row in mat]
    df = pd.DataFrame(
        {"path": paths, "total_conversions": conv, "total_conversion_value": np.round(value, 2), "total_null": null}
    )
    info = {
        "journeys": n_journeys,
        "unique_paths": len(df),
        "conversions": float(conv.sum()),
        "generate_seconds": round(time.perf_counter() - t0, 2),
        "generate_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return df, info


# -- workers (one fresh process per measurement) -------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(tool: str, table: str, order: int, out: str, repeat: int) -> None:
    df = pd.read_parquet(table)
    df["path"] = df["path"].astype(object)
    if tool == "galaxy":
        sys.path.insert(0, str(ROOT))
        from galaxy_lib.mta import markov_attribution

        markov_attribution(df.head(200), order=order)  # warm the imports, not the data

        def call() -> dict[str, float]:
            return markov_attribution(df, order=order).credit["conversions"].to_dict()
    else:
        import ChannelAttribution as ca

        def call() -> dict[str, float]:
            res = ca.markov_model(
                df,
                "path",
                "total_conversions",
                var_value="total_conversion_value",
                var_null="total_null",
                order=order,
                sep=">",
                verbose=False,
                flg_pro=False,
            )
            return dict(zip(res["channel_name"], res["total_conversions"], strict=True))

    before = _rss_mb()
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        credit = call()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    peak = _peak_mb()
    Path(out).write_text(
        json.dumps(
            {
                "seconds": float(np.median(walls)),
                "cpu_seconds": float(np.median(cpus)),
                "peak_rss_mb": peak,
                "call_peak_mb": max(peak - before, 0.0),
                "rss_before_mb": before,
                "credit": credit,
            }
        )
    )


def run_worker(python: str, tool: str, table: Path, order: int, repeat: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        tool,
        "--table",
        str(table),
        "--order",
        str(order),
        "--out",
        out,
        "--repeat",
        str(repeat),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} worker failed (order {order}):\n{proc.stderr[-2000:]}")
    result = json.loads(Path(out).read_text())
    Path(out).unlink(missing_ok=True)
    return result


def _peer_python(requested: str | None) -> str | None:
    candidates = [requested] if requested else [sys.executable, str(ROOT / "bench" / ".venv-peers" / "bin" / "python")]
    for py in candidates:
        if py and Path(py).exists():
            ok = subprocess.run([py, "-c", "import ChannelAttribution"], capture_output=True).returncode == 0
            if ok:
                return py
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--journeys", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--orders", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="calls per measurement; the median is reported")
    ap.add_argument("--peer-python", default=None, help="Python that can import ChannelAttribution")
    ap.add_argument("--workdir", default=None, help="where the generated path tables go (default: a temp dir)")
    ap.add_argument("--reuse", action="store_true", help="reuse path tables already generated in --workdir")
    ap.add_argument("--worker", choices=["galaxy", "ca"], help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    ap.add_argument("--order", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.table, args.order, args.out, args.repeat)
        return 0

    peer = _peer_python(args.peer_python)
    if peer is None:
        print(
            "ChannelAttribution is not importable: install the bench extra (pip install '.[bench]') "
            "or pass --peer-python <python with ChannelAttribution>.",
            file=sys.stderr,
        )
        return 2
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mta_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"ChannelAttribution from {peer}; Galaxy from {sys.executable}; tables in {workdir}")
    for n in args.journeys:
        table = workdir / f"paths_{n}_seed{args.seed}.parquet"
        info_file = table.with_suffix(".json")
        if args.reuse and table.is_file() and info_file.is_file():
            info = json.loads(info_file.read_text())
        else:
            df, info = generate_paths(n, seed=args.seed)
            df.to_parquet(table, index=False)
            info_file.write_text(json.dumps(info))
            del df
        print(
            f"\n{n:,} journeys -> {info['unique_paths']:,} unique paths, {info['conversions']:,.0f} conversions "
            f"(generated in {info['generate_seconds']} s, generator peak RSS {info['generate_peak_rss_mb']} MB)"
        )
        for order in args.orders:
            g = run_worker(sys.executable, "galaxy", table, order, args.repeat)
            c = run_worker(peer, "ca", table, order, args.repeat)
            gc, cc = pd.Series(g["credit"]), pd.Series(c["credit"])
            big = cc.index[cc / cc.sum() >= 0.05]
            max_rel = float((gc[big] / cc[big] - 1).abs().max())
            row = {
                "journeys": n,
                "unique_paths": info["unique_paths"],
                "order": order,
                "galaxy_s": round(g["seconds"], 3),
                "ca_s": round(c["seconds"], 3),
                "speed_ratio_ca_over_galaxy": round(c["seconds"] / g["seconds"], 2),
                "galaxy_cpu_s": round(g["cpu_seconds"], 3),
                "ca_cpu_s": round(c["cpu_seconds"], 3),
                "cpu_ratio_ca_over_galaxy": round(c["cpu_seconds"] / g["cpu_seconds"], 2),
                "memory_ratio_ca_over_galaxy": round(c["call_peak_mb"] / max(g["call_peak_mb"], 1e-9), 2),
                "galaxy_call_mb": round(g["call_peak_mb"], 1),
                "ca_call_mb": round(c["call_peak_mb"], 1),
                "galaxy_peak_rss_mb": round(g["peak_rss_mb"], 1),
                "ca_peak_rss_mb": round(c["peak_rss_mb"], 1),
                "max_rel_diff_big_channels": round(max_rel, 4),
            }
            rows.append(row)
            print(
                f"  order {order}: galaxy {row['galaxy_s']:.3f} s wall / {row['galaxy_cpu_s']:.3f} s CPU, "
                f"{row['galaxy_call_mb']:.0f} MB; ChannelAttribution {row['ca_s']:.3f} s wall / "
                f"{row['ca_cpu_s']:.3f} s CPU, {row['ca_call_mb']:.0f} MB; ratio (CA / Galaxy) "
                f"{row['speed_ratio_ca_over_galaxy']:.2f}x wall, {row['cpu_ratio_ca_over_galaxy']:.2f}x CPU, "
                f"{row['memory_ratio_ca_over_galaxy']:.2f}x memory; credit max rel diff {max_rel:.2%}"
            )
    summary = pd.DataFrame(rows)
    print("\n" + summary.to_string(index=False))
    (workdir / "results.json").write_text(json.dumps(rows, indent=2))
    slower = summary[summary["cpu_ratio_ca_over_galaxy"] < 1.0]
    if len(slower):
        print(f"\nTARGET MISSED: Galaxy slower than ChannelAttribution in {len(slower)} run(s).")
        return 1
    print("\nTarget met: Galaxy at least as fast as ChannelAttribution in every run.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
