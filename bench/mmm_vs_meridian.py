"""Benchmark: this workbench's MMM (pymc-marketing + numpyro) against Google Meridian.

Both models are fitted on the same Galaxy-world data (national weekly revenue, spend of
the five channels, price index and holiday flag) and judged against the world's true ROI:

* fit seconds (model construction + sampling; both libraries are imported and the data
  loaded before the clock starts),
* peak memory of the fitting process (max RSS),
* ROI coverage: channels whose 94% HDI holds the true ROI,
* ROI error: mean absolute percentage error of the posterior mean ROI,

and the ratio of fit times (Meridian / ours; target >= 2 with equal or better coverage).

Meridian runs with its default ``ModelSpec`` (ROI priors, Hill saturation, geometric
adstock with ``max_lag=8``), spend given as both media and media spend, 2 chains, and the
same warm-up and kept draws as ours: our ``tune`` warm-up draws are split between
Meridian's adaptation and burn-in phases (``n_adapt = ceil(tune / 2)``, ``n_burnin =
floor(tune / 2)``), ``n_keep = draws``. Ours runs twice: without lift tests (like for like
with Meridian) and with the world's geo lift tests (the workbench default).

google-meridian pins numpy < 2.4 and pandas < 3, so it cannot share the main
environment: this script creates ``bench/.venv-peers`` (``python3.11 -m venv`` +
``pip install google-meridian==2.1.0``) on first use, and each fit runs as a subprocess
that exchanges data and results through files in a temporary folder.

Usage::

    .venv/bin/python bench/mmm_vs_meridian.py                # ci world, 2 x (500 + 500)
    .venv/bin/python bench/mmm_vs_meridian.py --tune 1000 --draws 1000 --data-dir data/bench_mmm
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / ".venv-peers"
MERIDIAN_SPEC = "google-meridian==2.1.0"
HDI_PROB = 0.94


# ------------------------------------------------------------------------ shared helpers
def hdi(samples, prob: float = HDI_PROB) -> tuple[float, float]:
    """Narrowest interval holding ``prob`` of the samples (ArviZ's HDI), in plain NumPy.

    Hand-written because the Meridian worker runs in the peer environment and both
    workers must compute the interval the same way.
    """
    import numpy as np

    x = np.sort(np.asarray(samples, dtype=float).ravel())
    n = len(x)
    k = math.floor(prob * n)
    widths = x[k:] - x[: n - k]
    i = int(np.argmin(widths))
    return float(x[i]), float(x[i + k])


def peak_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def roi_table(samples_by_channel: dict) -> dict:
    import numpy as np

    out = {}
    for ch, s in samples_by_channel.items():
        lo, hi = hdi(s)
        out[ch] = {"mean": float(np.mean(s)), "hdi_low": lo, "hdi_high": hi}
    return out


# ------------------------------------------------------------------------ workers
def worker_ours(exchange: Path, tune: int, draws: int, chains: int, lift: bool, seed: int) -> None:
    """Fit the workbench MMM on the exchanged data; write ours[_lift].json."""
    import pymc_marketing.mmm.multidimensional  # noqa: F401  (imported before the clock, like Meridian's)

    from galaxy_lib.mmm import MediaMixModel, MMMConfig, MMMDataConfig, load_mmm_data, roi_samples

    cfg = MMMDataConfig(
        data_path=str(exchange / "national.csv"),
        date_column="week",
        target_column="revenue",
        channel_columns=tuple(json.loads((exchange / "channels.json").read_text())),
        control_columns=("price_index", "holiday"),
        lift_tests_path=str(exchange / "lift_tests.csv") if lift else "",
        use_lift_tests=lift,
    )
    data = load_mmm_data(cfg)
    model = MediaMixModel(MMMConfig(chains=chains, tune=tune, draws=draws, random_seed=seed))
    t0 = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - t0
    roi = roi_samples(model)
    samples = {str(ch): roi.sel(channel=ch).values.ravel().tolist() for ch in roi["channel"].values}
    result = {
        "model": "galaxy MMM (pymc-marketing, numpyro)" + (" + lift tests" if lift else ""),
        "fit_seconds": seconds,
        "peak_mb": peak_mb(),
        "roi": roi_table(samples),
        "divergences": int(model.idata_.sample_stats["diverging"].sum()),
    }
    (exchange / f"ours{'_lift' if lift else ''}.json").write_text(json.dumps(result))


def worker_meridian(exchange: Path, tune: int, draws: int, chains: int, seed: int) -> None:
    """Fit Meridian (default ModelSpec) on the exchanged data; write meridian.json. Runs in bench/.venv-peers."""
    import numpy as np
    import pandas as pd
    from meridian.analysis import analyzer
    from meridian.data import data_frame_input_data_builder as dib
    from meridian.model import model as meridian_model
    from meridian.model import spec

    df = pd.read_csv(exchange / "national.csv")
    df["week"] = pd.to_datetime(df["week"]).dt.strftime("%Y-%m-%d")
    channels = json.loads((exchange / "channels.json").read_text())
    names = [c.removeprefix("spend_") for c in channels]
    builder = (
        dib.DataFrameInputDataBuilder(kpi_type="revenue", default_time_column="week")
        .with_kpi(df, kpi_col="revenue")
        .with_controls(df, control_cols=["price_index", "holiday"])
        .with_media(df, media_cols=channels, media_spend_cols=channels, media_channels=names)
    )
    data = builder.build()
    t0 = time.perf_counter()
    mmm = meridian_model.Meridian(input_data=data, model_spec=spec.ModelSpec())
    mmm.sample_posterior(n_chains=chains, n_adapt=math.ceil(tune / 2), n_burnin=tune // 2, n_keep=draws, seed=seed)
    seconds = time.perf_counter() - t0
    roi = np.asarray(analyzer.Analyzer(mmm).roi())  # (chains, draws, channels): incremental revenue / spend
    samples = {ch: roi[..., i].ravel() for i, ch in enumerate(names)}
    div = mmm.inference_data.sample_stats.get("diverging")
    result = {
        "model": "Google Meridian 2.1 (default ModelSpec)",
        "fit_seconds": seconds,
        "peak_mb": peak_mb(),
        "roi": roi_table(samples),
        "divergences": int(np.asarray(div).sum()) if div is not None else None,
    }
    (exchange / "meridian.json").write_text(json.dumps(result))


# ------------------------------------------------------------------------ orchestration
def ensure_peers() -> Path:
    """Create bench/.venv-peers with google-meridian if it is not there yet; return its python."""
    py = PEERS / "bin" / "python"
    ok = py.is_file() and subprocess.run([str(py), "-c", "import meridian"], capture_output=True).returncode == 0
    if not ok:
        print(f"creating {PEERS} with {MERIDIAN_SPEC} (tensorflow; a few minutes the first time) ...", flush=True)
        subprocess.run(["python3.11", "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", MERIDIAN_SPEC], check=True)
    return py


def export_world(data_dir: str, size: str, exchange: Path) -> dict:
    """National table, lift tests and truth of the Galaxy world, written for the workers."""
    from galaxy_lib.simulate import ensure_world

    store = ensure_world(data_dir, size=size, progress=False)
    table = store.read("curated", "mmm_weekly")
    nat = table.loc[table["geo"] == "ALL"].drop(columns=["geo"]).sort_values("week")
    channels = [c for c in nat.columns if c.startswith("spend_")]
    nat[["week", "revenue", *channels, "price_index", "holiday"]].to_csv(exchange / "national.csv", index=False)
    (exchange / "channels.json").write_text(json.dumps(channels))
    store.read("staged", "lift_tests").to_csv(exchange / "lift_tests.csv", index=False)
    truth = json.loads((Path(store.root) / "ground_truth.json").read_text())
    # lift tests are per geo: the national model needs each geo's share, measured from per-geo rows
    geo = table.loc[table["geo"] != "ALL"]
    geo.to_csv(exchange / "per_geo.csv", index=False)
    true_roi = {c: v["roi"] for c, v in truth["mmm"]["channels"].items()}
    (exchange / "truth.json").write_text(json.dumps(true_roi))
    return true_roi


def add_geo_shares(exchange: Path) -> None:
    """Put each geo test's share of national spend (outside the test window) into lift_tests.csv."""
    import pandas as pd

    lift = pd.read_csv(exchange / "lift_tests.csv", parse_dates=["start_week", "end_week"])
    geo = pd.read_csv(exchange / "per_geo.csv", parse_dates=["week"])
    shares = []
    for _, t in lift.iterrows():
        outside = geo.loc[(geo["week"] < t["start_week"]) | (geo["week"] > t["end_week"])]
        col = f"spend_{t['channel']}"
        shares.append(outside.loc[outside["geo"] == t["geo"], col].sum() / outside[col].sum())
    lift.assign(geo_share=shares).to_csv(exchange / "lift_tests.csv", index=False)


def score(result: dict, truth: dict) -> dict:
    covered = [c for c, v in result["roi"].items() if v["hdi_low"] <= truth[c] <= v["hdi_high"]]
    mape = sum(abs(v["mean"] - truth[c]) / truth[c] for c, v in result["roi"].items()) / len(result["roi"])
    return {**result, "covered": covered, "coverage": f"{len(covered)}/{len(result['roi'])}", "roi_mape": mape}


def run_worker(python: Path | str, kind: str, exchange: Path, args: argparse.Namespace, extra: list[str] = ()) -> None:
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--exchange",
        str(exchange),
        "--tune",
        str(args.tune),
        "--draws",
        str(args.draws),
        "--chains",
        str(args.chains),
        "--seed",
        str(args.seed),
        *extra,
    ]
    # cold compiles on both sides: our JAX compilation cache would otherwise skip XLA on re-runs
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "2", "GALAXY_JAX_CACHE": "off"}
    if kind == "meridian":
        env.pop("XLA_FLAGS", None)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise SystemExit(f"{kind} worker failed (exit {proc.returncode})")
    print(f"  {kind}{' '.join(extra)}: done in {time.perf_counter() - t0:.0f} s (process, incl. imports)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="data/ci", help="Galaxy world store (built when missing)")
    ap.add_argument("--size", default="ci", help="world size to build when missing")
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-meridian", action="store_true", help="fit only ours (no peer environment)")
    ap.add_argument("--worker", choices=["ours", "meridian"], help=argparse.SUPPRESS)
    ap.add_argument("--exchange", help=argparse.SUPPRESS)
    ap.add_argument("--lift", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker == "ours":
        worker_ours(Path(args.exchange), args.tune, args.draws, args.chains, args.lift, args.seed)
        return
    if args.worker == "meridian":
        worker_meridian(Path(args.exchange), args.tune, args.draws, args.chains, args.seed)
        return

    with tempfile.TemporaryDirectory(prefix="mmm_bench_") as tmp:
        exchange = Path(tmp)
        truth = export_world(args.data_dir, args.size, exchange)
        add_geo_shares(exchange)
        print(f"world {args.data_dir}: {len(truth)} channels, true ROI {truth}")
        print(f"sampler: {args.chains} chains x ({args.tune} warm-up + {args.draws} draws); fitting one at a time")
        run_worker(sys.executable, "ours", exchange, args)
        run_worker(sys.executable, "ours", exchange, args, ["--lift"])
        results = {
            "ours": score(json.loads((exchange / "ours.json").read_text()), truth),
            "ours_lift": score(json.loads((exchange / "ours_lift.json").read_text()), truth),
        }
        if not args.skip_meridian:
            run_worker(ensure_peers(), "meridian", exchange, args)
            results["meridian"] = score(json.loads((exchange / "meridian.json").read_text()), truth)

    print()
    print(f"{'model':48s} {'fit s':>8s} {'peak MB':>8s} {'ROI coverage':>13s} {'ROI MAPE':>9s} {'divergences':>12s}")
    for r in results.values():
        print(
            f"{r['model']:48s} {r['fit_seconds']:8.1f} {r['peak_mb']:8.0f} {r['coverage']:>13s} "
            f"{r['roi_mape']:9.3f} {r['divergences']!s:>12s}"
        )
    print()
    print("ROI per channel: true | ours [94% HDI] | meridian [94% HDI]")
    for ch, t in truth.items():
        line = f"  {ch:8s} {t:5.2f}"
        for key in ("ours", "meridian"):
            if key in results:
                v = results[key]["roi"][ch]
                line += f" | {v['mean']:5.2f} [{v['hdi_low']:5.2f}, {v['hdi_high']:5.2f}]"
        print(line)
    if "meridian" in results:
        ratio = results["meridian"]["fit_seconds"] / results["ours"]["fit_seconds"]
        print()
        print(
            f"fit-time ratio Meridian / ours (no lift tests, like for like): {ratio:.2f}x "
            f"(target >= 2x); coverage ours {results['ours']['coverage']} vs Meridian {results['meridian']['coverage']}"
        )
        ratio_lift = results["meridian"]["fit_seconds"] / results["ours_lift"]["fit_seconds"]
        print(f"fit-time ratio Meridian / ours with lift tests: {ratio_lift:.2f}x")


if __name__ == "__main__":
    main()
