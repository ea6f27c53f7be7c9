"""Benchmark: fit time, predict time, peak memory and quality of each uplift learner.

The campaign experiment (``galaxy_lib.simulate.uplift.simulate_campaign``: control, an
e-mail and a coupon, with each customer's true uplift known) is simulated once per size
(default 100k and 1M rows) and split 70/30 with a fixed seed. Each learner of
``galaxy_lib.uplift.model`` (S, T, X, R, DR and the uplift forest) is then fitted on the
70% in its own fresh Python process, so its peak memory is its own, and the script prints,
per size and learner:

* fit seconds (wall, ``FittedUplift.fit_seconds``) and CPU seconds, worker processes
  included (the machine is shared: CPU time is the steadier number), training rows per
  second of fit; each learner process runs ``--threads`` OpenMP/BLAS threads (default 1);
* the **ratio** fit seconds / the T-learner's fit seconds at the same size in the same
  run (the T-learner is the cheapest causalml meta-learner here: two gradient-boosting
  fits per arm; it is always run, even when ``--learners`` leaves it out);
* predict seconds on the 30% split;
* memory: the fit's peak RSS minus the RSS after loading and encoding the data (the
  learner's own memory; the peak is reset through ``/proc/self/clear_refs`` after
  loading, and the RSS of worker processes, such as the R-learner's cross-fitting jobs,
  is sampled and added), and the total peak RSS with the **ratio** total peak / the
  ``--memory-limit-mb`` budget (default 4096 MiB: a fit runs in a notebook kernel on a
  23 GB machine that several engineers share, so one kernel should stay within about a
  sixth of it);
* quality on the 30% split: Spearman correlation of the predicted uplift with the true
  uplift, per arm, so a fast but useless learner shows.

A learner process that runs longer than ``--timeout`` seconds (start, imports, load, fit
and predict) is killed with its workers and reported as "timed out after N s"; it is never
skipped silently. The uplift forest builds its trees one at a time in causalml
(``n_jobs=1``): with the workflow's 30 trees it is the slowest learner (about 3 minutes at
1M rows on this 2-core machine, well inside the default 900 s); ``--forest-trees`` changes
the tree count (printed with the results).

The results also go to ``results.json`` in ``--workdir`` (default: a new temporary
folder, printed). The exit status is 1 when a learner failed or went over the memory
limit; a timeout is reported, not a failure.

Usage::

    python bench/uplift.py                                  # 100k and 1M rows, every learner
    python bench/uplift.py --sizes 20000                    # a quick run
    python bench/uplift.py --sizes 100000 --learners t x forest --forest-trees 10
    nice python bench/uplift.py --timeout 1800 --workdir /tmp/uplift-bench
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from galaxy_lib.uplift.model import LEARNER_LABELS, LEARNERS
from galaxy_lib.uplift.params import WORLD_FEATURES

ROOT = Path(__file__).resolve().parents[1]

#: Feature columns of the simulated campaign the learners get (the uplift notebook's defaults).
FEATURES: tuple[str, ...] = WORLD_FEATURES
CONTROL = "control"
ARMS: tuple[str, ...] = ("email", "coupon")
#: The peer every learner's fit time is divided by.
PEER = "t"
TRAIN_SHARE = 0.7
#: Thread-count variables of OpenMP (scikit-learn's gradient boosting) and the BLAS libraries.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- memory (Linux /proc) -------------------------------------------------------------------
def _status_mb(key: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False if the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _TreeMemory:
    """Peak resident memory of this process and its worker processes, sampled in a thread.

    causalml's R-learner cross-fits in joblib worker processes (``cross_val_predict(n_jobs=-1)``);
    their memory is real but invisible to this process's ``VmHWM``. Every ``interval`` seconds
    the sampler adds the RSS of every live descendant to this process's RSS and keeps the
    maximum (shared library pages are counted once per process, so this errs high).
    """

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak_mb = 0.0
        self.workers_peak_mb = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        workers = 0
        for proc in self._me.children(recursive=True):
            try:
                workers += proc.memory_info().rss
            except psutil.Error:  # a worker that just exited
                pass
        own = self._me.memory_info().rss
        self.peak_mb = max(self.peak_mb, (own + workers) / 2**20)
        self.workers_peak_mb = max(self.workers_peak_mb, workers / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> _TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def _workers_cpu_seconds() -> float:
    """CPU seconds of this process's live descendants plus those already waited for."""
    import psutil

    total = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    t = os.times()
    return total + t.children_user + t.children_system


# -- the child: one learner on one data set ---------------------------------------------------
def child(data: Path, learner: str, out: Path, seed: int, forest_trees: int, threads: int = 1) -> None:
    """Fit ``learner`` on the training rows of ``data``, predict the test rows, write the numbers to ``out``.

    Parameters
    ----------
    data
        Parquet file written by :func:`prepare` (features, treatment, outcome, true uplift, split).
    learner
        A key of :data:`galaxy_lib.uplift.model.LEARNERS`.
    out
        JSON file the measurements go to.
    seed
        Random state of the learner.
    forest_trees
        Trees of the uplift forest.
    threads
        Native threads of the fit and the prediction (``fit_learner(threads=...)``).
    """
    import numpy as np
    import pandas as pd
    from scipy.stats import spearmanr

    from galaxy_lib.uplift.model import FeatureEncoder, _quiet_causalml, fit_learner

    _quiet_causalml()  # imports are not the learner's memory or time
    rss_start = _status_mb("VmRSS")
    frame = pd.read_parquet(data)
    train = frame["train"].to_numpy()
    encoder = FeatureEncoder.fit(frame[train], FEATURES)
    x_train, x_test = encoder.transform(frame[train]), encoder.transform(frame[~train])
    t_train = frame.loc[train, "treatment"].to_numpy().astype(str)
    y_train = frame.loc[train, "converted"].to_numpy()
    truth = {arm: frame.loc[~train, f"tau_{arm}"].to_numpy() for arm in ARMS}
    del frame
    load_peak = _status_mb("VmHWM")
    rss_loaded = _status_mb("VmRSS")
    reset = _reset_peak()

    cpu0, workers_cpu0 = time.process_time(), _workers_cpu_seconds()
    with _TreeMemory() as tree:
        fitted = fit_learner(
            learner, x_train, t_train, y_train, CONTROL, seed=seed, forest_trees=forest_trees, threads=threads
        )
        fit_cpu = time.process_time() - cpu0 + _workers_cpu_seconds() - workers_cpu0
        fit_peak = max(_status_mb("VmHWM"), tree.peak_mb)
        t0 = time.perf_counter()
        pred = fitted.predict(x_test)
        predict_seconds = time.perf_counter() - t0
    run_peak = max(_status_mb("VmHWM"), tree.peak_mb)

    quality = {}
    for arm in ARMS:
        p = pred[arm].to_numpy()
        rho = spearmanr(p, truth[arm]).statistic if np.ptp(p) > 0 else float("nan")
        quality[arm] = {
            "spearman": float(rho),
            "predicted_ate": float(p.mean()),
            "true_ate": float(truth[arm].mean()),
        }
    result = {
        "learner": learner,
        "status": "ok",
        "train_rows": len(y_train),
        "test_rows": len(x_test),
        "fit_seconds": fitted.fit_seconds,
        "fit_cpu_seconds": fit_cpu,
        "predict_seconds": predict_seconds,
        "rss_start_mb": rss_start,
        "rss_loaded_mb": rss_loaded,
        "fit_peak_mb": (fit_peak - rss_loaded) if reset else float("nan"),
        "peak_total_mb": max(load_peak, fit_peak, run_peak) if reset else run_peak,
        "peak_reset": reset,
        "workers_peak_mb": tree.workers_peak_mb,
        "quality": quality,
    }
    out.write_text(json.dumps(result))


# -- the parent -------------------------------------------------------------------------------
def prepare(n_rows: int, seed: int, workdir: Path) -> Path:
    """Simulate ``n_rows`` campaign rows with their true uplift and a 70/30 split; write them to Parquet."""
    import numpy as np

    from galaxy_lib.simulate.uplift import simulate_campaign

    path = workdir / f"campaign_{n_rows}_seed{seed}.parquet"
    if path.is_file():
        return path
    table, truth = simulate_campaign(n_rows, seed=seed)
    frame = table[["treatment", "converted", *FEATURES]].copy()
    for arm in ARMS:
        frame[f"tau_{arm}"] = truth[f"tau_{arm}"].to_numpy()
    train = np.zeros(n_rows, dtype=bool)
    train[np.random.default_rng(seed).permutation(n_rows)[: round(TRAIN_SHARE * n_rows)]] = True
    frame["train"] = train
    frame.to_parquet(path, index=False)
    return path


def run_child(data: Path, learner: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`child` in a fresh process under the timeout; a timeout or a crash becomes a status."""
    out = data.with_name(f"{data.stem}_{learner}.json")
    out.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        learner,
        "--data",
        str(data),
        "--out",
        str(out),
        "--seed",
        str(args.seed),
        "--forest-trees",
        str(args.forest_trees),
        "--threads",
        str(args.threads),
    ]
    threads = str(args.threads)
    env = {**os.environ, **{var: threads for var in _THREAD_VARS}}
    start = time.perf_counter()
    # own session: on a timeout the whole process group goes, OpenMP threads and all
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, stderr = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"learner": learner, "status": "timeout", "wall_seconds": time.perf_counter() - start}
    if proc.returncode != 0 or not out.is_file():
        tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
        return {"learner": learner, "status": "error", "error": " | ".join(tail) or f"exit {proc.returncode}"}
    result = json.loads(out.read_text())
    out.unlink()
    result["wall_seconds"] = time.perf_counter() - start
    return result


def add_ratios(rows: list[dict[str, Any]], limit_mb: float) -> None:
    """Add fit / T-learner, rows per second and peak / limit to every finished row (in place)."""
    peer = {r["rows"]: r["fit_seconds"] for r in rows if r["learner"] == PEER and r["status"] == "ok"}
    for r in rows:
        if r["status"] != "ok":
            continue
        r["fit_over_t"] = r["fit_seconds"] / peer[r["rows"]] if r["rows"] in peer else float("nan")
        r["train_rows_per_second"] = r["train_rows"] / r["fit_seconds"]
        r["peak_over_limit"] = r["peak_total_mb"] / limit_mb


def _fmt(value: float, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The human tables: one block per size (learners as rows), then fit seconds of learners x sizes."""
    lines = []
    head = (
        f"{'learner':<14}{'fit s':>9}{'CPU s':>9}{'fit/T':>7}{'rows/s':>10}{'pred s':>8}"
        f"{'fit +MB':>9}{'peak MB':>9}{'peak/lim':>9}{'rho email':>10}{'rho coupon':>11}"
    )
    for n in args.sizes:
        lines += ["", f"{n:,} rows ({round(TRAIN_SHARE * n):,} fit, {n - round(TRAIN_SHARE * n):,} scored)", head]
        for r in (r for r in rows if r["rows"] == n):
            label = LEARNER_LABELS[r["learner"]]
            if r["status"] == "timeout":
                lines.append(f"{label:<14}  timed out after {args.timeout:.0f} s (killed; no numbers)")
                continue
            if r["status"] == "error":
                lines.append(f"{label:<14}  FAILED: {r['error'][:110]}")
                continue
            q = r["quality"]
            lines.append(
                f"{label:<14}{r['fit_seconds']:>9.1f}{r['fit_cpu_seconds']:>9.1f}{_fmt(r['fit_over_t'], '.2f'):>7}"
                f"{r['train_rows_per_second']:>10,.0f}{r['predict_seconds']:>8.2f}{_fmt(r['fit_peak_mb'], ',.0f'):>9}"
                f"{r['peak_total_mb']:>9,.0f}{r['peak_over_limit']:>9.2f}"
                f"{_fmt(q['email']['spearman'], '.3f'):>10}{_fmt(q['coupon']['spearman'], '.3f'):>11}"
            )
    if len(args.sizes) > 1:
        lines += ["", "fit seconds, learners x sizes", f"{'learner':<14}" + "".join(f"{n:>12,}" for n in args.sizes)]
        for learner in args.learners:
            cells = []
            for n in args.sizes:
                r = next(r for r in rows if r["rows"] == n and r["learner"] == learner)
                cells.append(
                    f"{r['fit_seconds']:>12.1f}"
                    if r["status"] == "ok"
                    else f"{'>' + format(args.timeout, '.0f') if r['status'] == 'timeout' else 'failed':>12}"
                )
            lines.append(f"{LEARNER_LABELS[learner]:<14}" + "".join(cells))
    lines += [
        "",
        f"fit/T: fit seconds over the T-learner's at the same size, this run. peak/lim: total peak RSS over the "
        f"{args.memory_limit_mb:,.0f} MiB budget. fit +MB: the fit's peak RSS above the RSS after loading the data. "
        f"rho: Spearman of predicted vs true uplift on the scored rows. Uplift forest: {args.forest_trees} trees.",
    ]
    return "\n".join(lines)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the option help (not an absent one), the epilog's layout kept."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


_EPILOG = """\
columns of the table:
  fit s, CPU s  wall and CPU seconds of the fit on 70% of the rows
  fit/T         fit seconds over the T-learner's at the same size, this run
  rows/s        training rows over fit seconds
  pred s        seconds to predict the other 30%
  fit +MB       the fit's peak RSS above the RSS after loading the data
  peak MB       the learner process's total peak RSS; peak/lim: over --memory-limit-mb
  rho <arm>     Spearman of predicted vs true uplift on the 30%, per arm

A learner over --timeout is killed and reported as "timed out after N s", never skipped.

examples:
  python bench/uplift.py                              100k and 1M rows, every learner
  python bench/uplift.py --sizes 20000                a quick run (about a minute)
  python bench/uplift.py --learners x forest --forest-trees 10 --timeout 1800
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/uplift.py",
        description=(
            "Fit every uplift learner on simulated campaigns of each size, each in a fresh process, and print fit "
            "and predict seconds, the fit time over the T-learner's, peak memory over a budget and the Spearman "
            "correlation with the true uplift. Exit status 1 if a learner failed or went over the memory budget."
        ),
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="rows of each campaign")
    p.add_argument(
        "--learners",
        nargs="+",
        choices=LEARNERS,
        default=list(LEARNERS),
        help="learners to fit (the T-learner is always added: it is the peer of the fit-time ratio)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds one learner process may take (start, imports, load, fit, predict)",
    )
    p.add_argument(
        "--memory-limit-mb",
        type=float,
        default=4096.0,
        help="peak memory budget of one fit (a notebook kernel's share of a shared 23 GB machine)",
    )
    p.add_argument("--forest-trees", type=int, default=30, help="trees of the uplift forest (the workflow default)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="native (OpenMP/BLAS) threads of each fit, passed to fit_learner(threads=...) and set for worker "
        "processes; on a busy shared machine more threads than free cores make the gradient-boosting fits many "
        "times slower (threads spin-wait for each other), so 1, the workflow's default, keeps runs comparable",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the simulation, the split and the learners")
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for the simulated data and results.json; a new temporary folder when not given",
    )
    p.add_argument("--keep-data", action="store_true", help="keep the simulated Parquet files in --workdir")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--child", choices=LEARNERS, help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with ``--child``, one learner); return the exit status."""
    args = _parser().parse_args(argv)
    if args.child:
        child(args.data, args.child, args.out, args.seed, args.forest_trees, args.threads)
        return 0

    from tqdm.auto import tqdm

    args.learners = [name for name in LEARNERS if name in set(args.learners) | {PEER}]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="uplift_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"uplift learners {', '.join(args.learners)} at {', '.join(f'{n:,}' for n in args.sizes)} rows; "
        f"timeout {args.timeout:.0f} s each; forest {args.forest_trees} trees; {args.threads} thread(s) per learner "
        f"on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}); "
        f"results in {workdir}"
    )
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(args.sizes) * len(args.learners), desc="uplift bench", disable=args.no_progress)
    for n in args.sizes:
        bar.set_postfix_str(f"simulating {n:,} rows")
        t0 = time.perf_counter()
        data = prepare(n, args.seed, workdir)
        tqdm.write(f"{n:,} rows simulated in {time.perf_counter() - t0:.1f} s -> {data.name}")
        for learner in args.learners:
            bar.set_postfix_str(f"{n:,} rows, {LEARNER_LABELS[learner]}")
            r = {"rows": n, **run_child(data, learner, args)}
            rows.append(r)
            status = f"fit {r['fit_seconds']:.1f} s" if r["status"] == "ok" else r["status"]
            tqdm.write(f"  {n:,} rows {LEARNER_LABELS[learner]}: {status}")
            bar.update()
        if not args.keep_data:
            data.unlink(missing_ok=True)
    bar.close()

    add_ratios(rows, args.memory_limit_mb)
    print(report(rows, args))
    payload = {
        "benchmark": "uplift",
        "sizes": args.sizes,
        "learners": args.learners,
        "train_share": TRAIN_SHARE,
        "forest_trees": args.forest_trees,
        "timeout_seconds": args.timeout,
        "memory_limit_mb": args.memory_limit_mb,
        "peer": PEER,
        "seed": args.seed,
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg()[0],
        "results": rows,
    }
    (workdir / "results.json").write_text(json.dumps(payload, indent=2))
    print(f"\nresults: {workdir / 'results.json'}")
    failed = [r for r in rows if r["status"] == "error"]
    over = [r for r in rows if r["status"] == "ok" and r["peak_over_limit"] > 1]
    timed_out = [r for r in rows if r["status"] == "timeout"]
    for r in timed_out:
        print(f"TIMED OUT: {LEARNER_LABELS[r['learner']]} at {r['rows']:,} rows after {args.timeout:.0f} s")
    for r in over:
        print(
            f"OVER BUDGET: {LEARNER_LABELS[r['learner']]} at {r['rows']:,} rows peaked at {r['peak_total_mb']:,.0f} MiB"
        )
    for r in failed:
        print(f"FAILED: {LEARNER_LABELS[r['learner']]} at {r['rows']:,} rows: {r['error']}")
    if not (failed or over):
        print(f"Within the {args.memory_limit_mb:,.0f} MiB budget in every finished run; no learner failed.")
    return 1 if failed or over else 0


if __name__ == "__main__":
    raise SystemExit(main())
