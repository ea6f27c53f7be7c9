"""Build a whole Galaxy world: every raw table, the ground truth, images and content.

Output layout under ``out_dir`` (the store root)::

    raw/<table>/part-NNNNN.parquet   every table of core.contracts (customers, consent,
                                     touchpoints, conversions, spend, kpi, lift_tests,
                                     creatives, email_experiment, creative_performance, products)
    truth/uplift.parquet             customer_id, base, tau_email, tau_coupon (true uplift on P(purchase)), latent
    truth/conversions.parquet        conversion_id, customer_id, ts, cause, trigger_event_id
    truth/creative_effects.parquet   creative_id, audience, platform, true_ctr, true_cvr, true_incremental,
                                     baseline, annoying (see simulate.creative_history)
    assets/creatives/<id>.png        one image per creative
    assets/masters/<sku>.png         one 1600x1000 product master image per catalogue product
    content/...                      markdown corpus (see simulate.content)
    ground_truth.json                every mechanism parameter and realised truth
    world.json                       size, seed, config, row counts, timings and the raw parts
                                     written (``raw_parts``: path -> bytes), written last

Customer-level tables are generated block by block (``BLOCK_SIZE`` customers,
one random stream each) and written one Parquet part per chunk with
:meth:`DataStore.append_part`, so memory stays bounded by the chunk size
whatever the world size. Truth tables are streamed with a ``ParquetWriter``.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from galaxy_lib.core.contracts import CONSENT_PURPOSES, MMM_CHANNELS, TOUCH_CHANNELS
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.ingest import INGEST_PREFIX, user_raw_files
from galaxy_lib.simulate import creative_history as history_mod
from galaxy_lib.simulate import creatives as creatives_mod
from galaxy_lib.simulate import journeys as journeys_mod
from galaxy_lib.simulate import uplift as uplift_mod
from galaxy_lib.simulate._util import rng_for
from galaxy_lib.simulate.catalogue import BANNED_PHRASES, PRODUCTS
from galaxy_lib.simulate.config import BLOCK_SIZE, WorldConfig, WorldSize
from galaxy_lib.simulate.content import write_content
from galaxy_lib.simulate.customers import (
    GRANT_PROB,
    PRIVACY_CONSCIOUS,
    TCF_MAP,
    WITHDRAW_PROB,
    consent_table,
    simulate_customers,
)
from galaxy_lib.simulate.mmm import simulate_mmm

__all__ = ["WORLD_FILES", "WORLD_FORMAT", "WorldSummary", "build_world", "rebuild_refusal", "user_files"]

#: Version of the world's tables; bumped when a table's columns change, so
#: :func:`galaxy_lib.simulate.ensure_world` rebuilds a simulator-only world of an older format
#: (2: the campaign experiment's arms are labels, with a coupon arm, pre-period and send dates;
#: 3: creatives name their product_sku, drawn body and disclaimer, and the creative_performance and products
#: tables, product master images and truth/creative_effects.parquet are new).
WORLD_FORMAT = 3

#: Files and folders a build owns (removed before a rebuild).
WORLD_FILES: tuple[str, ...] = (
    "raw",
    "staged",
    "curated",
    "quarantine",
    "truth",
    "assets",
    "content",
    "ground_truth.json",
    "world.json",
)
_STAGES = (
    "mmm",
    "creatives",
    "creative_history",
    "customers",
    "consent",
    "journeys",
    "email_experiment",
    "content",
    "write",
)


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`build_world` produced.

    Attributes
    ----------
    path
        The world folder (store root).
    size, seed
        Size preset and master seed.
    rows
        Row count of every raw table.
    seconds
        Wall-clock build time.
    peak_memory_mb
        Peak resident memory of the process so far (``VmHWM`` on Linux), in MiB.
    stage_seconds
        Time per stage (``mmm``, ``creatives``, ``creative_history``, ``customers``, ``consent``, ``journeys``,
        ``email_experiment``, ``content``, ``write``) for throughput reporting.
    deleted
        User files a ``force`` rebuild deleted (empty otherwise).
    """

    path: Path
    size: str
    seed: int
    rows: dict[str, int]
    seconds: float
    peak_memory_mb: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    deleted: tuple[Path, ...] = ()


def _peak_rss_mb() -> float:
    """Peak resident memory of this process's own address space, in MiB.

    Linux's ``VmHWM`` (``/proc/self/status``) starts afresh when a process execs;
    ``ru_maxrss`` keeps the peak of the process it was forked from, so a world built
    in a fresh interpreter started by a large process (a test worker that fitted an
    MMM) would report the parent's memory. ``ru_maxrss`` is the fallback elsewhere.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _prepare(out: Path, force: bool = False) -> list[Path]:
    """Empty the world files of ``out``; returns the user files deleted (only with ``force``).

    Raises
    ------
    FileExistsError
        When ``out`` holds other files and no world, or its raw zone holds data the
        simulator did not write (:func:`galaxy_lib.pipeline.ingest.user_raw_files`,
        e.g. rows loaded with ``galaxy ingest``) and ``force`` is not set.
    """
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"World folder {out} is a file; give build_world a folder path.")
    if out.is_dir() and any(out.iterdir()) and not (out / "world.json").is_file():
        owned = [p.name for p in out.iterdir() if p.name in WORLD_FILES or p.name.startswith(".")]
        if len(owned) != len(list(out.iterdir())):
            raise FileExistsError(
                f"{out} is not empty and holds no world.json: refusing to build a world over other files. "
                "Point out_dir at an empty or new folder (or an existing world folder to rebuild it)."
            )
    user = user_files(out)
    if user and not force:
        raise FileExistsError(rebuild_refusal(out, user))
    for name in WORLD_FILES:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return user


def _ingested_quarantine(out: Path) -> list[Path]:
    """Quarantine parts written by ``ingest_file``: a user's rejected rows, deleted by a rebuild too."""
    return sorted((out / "quarantine").glob(f"*/{INGEST_PREFIX}-*.parquet"))


def rebuild_refusal(out: Path, user: list[Path]) -> str:
    """Say which files a rebuild of ``out`` would delete and what to do instead."""
    shown = ", ".join(p.relative_to(out).as_posix() for p in user[:10])
    more = f" and {len(user) - 10} more" if len(user) > 10 else ""
    return (
        f"{out} holds data the simulator did not write ({shown}{more}): rebuilding the world would delete it. "
        "Build the world into another folder (galaxy world build --out data/<name>), or pass --force "
        "(build_world(..., force=True)) to delete these files together with raw/, staged/, curated/ and quarantine/."
    )


def user_files(out_dir: str | Path) -> list[Path]:
    """Files of ``out_dir`` a rebuild would delete that the simulator did not write (raw data, ingest quarantine)."""
    out = Path(out_dir)
    return user_raw_files(out) + _ingested_quarantine(out)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, (pd.Timestamp,)):
        return x.isoformat()
    return x


def build_world(
    out_dir: str | Path,
    size: WorldSize = "ci",
    seed: int = 42,
    config: WorldConfig | None = None,
    progress: bool = True,
    force: bool = False,
) -> WorldSummary:
    """Generate a Galaxy world into ``out_dir``.

    Parameters
    ----------
    out_dir
        World folder (the store root). Must be empty, new, or a previous world
        (which is replaced, including its staged and curated zones). A folder whose
        raw zone holds data the simulator did not write (rows loaded with
        ``galaxy ingest``, files copied in) is refused unless ``force``.
    size
        Size preset (``ci``, ``demo``, ``bench``); ignored when ``config`` is given.
    seed
        Master seed; ignored when ``config`` is given.
    config
        Full configuration (e.g. ``WorldConfig.for_size("ci", chunk_size=500)``).
    progress
        Show tqdm progress bars.
    force
        Delete data the simulator did not write too (see :func:`user_files`); the
        files deleted are listed in ``WorldSummary.deleted``.

    Returns
    -------
    WorldSummary
        Paths, row counts, timings and peak memory.

    Raises
    ------
    FileExistsError
        When ``out_dir`` holds other files, or user data without ``force``; the
        message names the files and the fix (another folder, or ``force``).

    Examples
    --------
    >>> summary = build_world("data/ci", size="ci", progress=False)  # doctest: +SKIP
    >>> summary.rows["touchpoints"]  # doctest: +SKIP
    28745
    """
    cfg = config if config is not None else WorldConfig.for_size(size, seed=seed)
    t0 = time.perf_counter()
    out = Path(out_dir)
    deleted = _prepare(out, force=force)
    store = DataStore(out)
    stage = dict.fromkeys(_STAGES, 0.0)
    rows: dict[str, int] = {}

    def timed(name: str, t: float) -> float:
        now = time.perf_counter()
        stage[name] += now - t
        return now

    bar = tqdm(
        total=cfg.n_customers, unit="cust", desc=f"Galaxy {cfg.size} world", disable=not progress, unit_scale=True
    )

    # -- weekly media world -------------------------------------------------------------
    bar.set_postfix_str("mmm")
    t = time.perf_counter()
    mmm = simulate_mmm(cfg)
    spend_df, kpi_df = mmm.spend_table(), mmm.kpi_table()
    t = timed("mmm", t)
    for name, df in (("spend", spend_df), ("kpi", kpi_df), ("lift_tests", mmm.lift_tests)):
        store.write("raw", name, df)
        rows[name] = len(df)
    t = timed("write", t)

    # -- creatives ------------------------------------------------------------------------
    bar.set_postfix_str("creatives")
    cre = creatives_mod.simulate_creatives(cfg.seed, cfg.n_creatives, out / "assets" / "creatives")
    t = timed("creatives", t)
    store.write("raw", "creatives", cre.table)
    rows["creatives"] = len(cre.table)
    t = timed("write", t)

    # -- customers, consent, journeys, experiment: streamed in chunks ---------------------
    ctx = journeys_mod.build_context(mmm.spend, mmm.holiday, mmm.weeks, cre.table, cfg.touch_rate)
    start = pd.Timestamp(cfg.start_week)
    end_ns = ctx.end_ns
    (out / "truth").mkdir(exist_ok=True)

    # -- creative history per audience, product masters -------------------------------------
    bar.set_postfix_str("creative history")
    t = time.perf_counter()
    history = history_mod.simulate_creative_history(
        cre.table, cre.true_ctr, pd.Timestamp(end_ns), history_mod.HISTORY_DAYS, cfg.seed
    )
    master_seeds = rng_for(cfg.seed, "masters").integers(2**31, size=len(PRODUCTS))
    masters = {
        p.sku: list(history_mod.draw_master(p, out / history_mod.master_path(p.sku), seed=int(s)))
        for p, s in zip(PRODUCTS, master_seeds, strict=True)
    }
    products = history_mod.products_table()
    t = timed("creative_history", t)
    for name, df in (("creative_performance", history.table), ("products", products)):
        store.write("raw", name, df)
        rows[name] = len(df)
    history.truth.to_parquet(out / "truth" / "creative_effects.parquet", index=False, compression="zstd")
    t = timed("write", t)
    writers: dict[str, pq.ParquetWriter] = {}
    cause_counts = np.zeros(len(journeys_mod.CAUSES), dtype=np.int64)
    last_counts = np.zeros(len(TOUCH_CHANNELS), dtype=np.int64)
    touches_by_channel = np.zeros(len(TOUCH_CHANNELS), dtype=np.int64)
    coverage = dict.fromkeys(CONSENT_PURPOSES, 0)
    treated_arms = uplift_mod.ARMS[1:]
    tau_sum, tau_neg, n_exp = dict.fromkeys(treated_arms, 0.0), dict.fromkeys(treated_arms, 0), 0
    exp_stats = {arm: {"customers": 0, "purchases": 0, "revenue": 0.0} for arm in uplift_mod.ARMS}
    customer_tables = ("customers", "consent", "touchpoints", "conversions", "email_experiment")
    for name in customer_tables:
        rows[name] = 0
    n_blocks = cfg.n_customers // BLOCK_SIZE
    per_chunk = cfg.chunk_size // BLOCK_SIZE
    end_ts = pa.scalar(end_ns, pa.timestamp("ns"))
    bar.set_postfix_str("customers")
    for first_block in range(0, n_blocks, per_chunk):
        parts: dict[str, list[pa.Table]] = {k: [] for k in (*customer_tables, "truth_conv", "truth_uplift")}
        for b in range(first_block, min(first_block + per_chunk, n_blocks)):
            t = time.perf_counter()
            block = simulate_customers(
                rng_for(cfg.seed, "customers", b),
                b * BLOCK_SIZE + 1,
                BLOCK_SIZE,
                cfg.geo_shares,
                cfg.geos,
                start,
                cfg.n_weeks,
            )
            t = timed("customers", t)
            consent = consent_table(rng_for(cfg.seed, "consent", b), block, end_ns)
            t = timed("consent", t)
            jb = journeys_mod.simulate_journeys(rng_for(cfg.seed, "journeys", b), b, block, ctx)
            t = timed("journeys", t)
            exp, utruth = uplift_mod.simulate_experiment(
                rng_for(cfg.seed, "experiment", b), block, pd.Timestamp(end_ns)
            )
            t = timed("email_experiment", t)
            parts["customers"].append(block.table)
            parts["consent"].append(consent)
            parts["touchpoints"].append(jb.touchpoints)
            parts["conversions"].append(jb.conversions)
            parts["email_experiment"].append(exp)
            parts["truth_conv"].append(jb.truth)
            parts["truth_uplift"].append(utruth)
            cause_counts += jb.cause_counts
            last_counts += jb.last_touch_counts
            touches_by_channel += jb.touch_counts
            active = pc.and_(
                pc.less_equal(consent["granted_at"], end_ts),
                pc.or_kleene(pc.is_null(consent["withdrawn_at"]), pc.greater(consent["withdrawn_at"], end_ts)),
            )
            for purpose in CONSENT_PURPOSES:
                m = pc.and_(active, pc.equal(consent["purpose"], purpose))
                coverage[purpose] += int(pc.sum(m).as_py() or 0)
            for arm in treated_arms:
                tau = utruth.column(f"tau_{arm}").to_numpy()
                tau_sum[arm] += float(tau.sum())
                tau_neg[arm] += int((tau < 0).sum())
            n_exp += exp.num_rows
            arms = exp.column("treatment").to_numpy(zero_copy_only=False)
            conv = exp.column("converted").to_numpy()
            rev = exp.column("revenue").to_numpy()
            for arm, stats in exp_stats.items():
                mask = arms == arm
                stats["customers"] += int(mask.sum())
                stats["purchases"] += int(conv[mask].sum())
                stats["revenue"] += float(rev[mask].sum())
            bar.update(BLOCK_SIZE)
        t = time.perf_counter()
        for name in customer_tables:
            table = pa.concat_tables(parts[name])
            store.append_part("raw", name, table)
            rows[name] += table.num_rows
        for key, fname in (("truth_conv", "conversions.parquet"), ("truth_uplift", "uplift.parquet")):
            table = pa.concat_tables(parts[key])
            if key not in writers:
                writers[key] = pq.ParquetWriter(out / "truth" / fname, table.schema, compression="zstd")
            writers[key].write_table(table)
        del parts
        t = timed("write", t)
    for w in writers.values():
        w.close()

    # -- content corpus -------------------------------------------------------------------
    bar.set_postfix_str("content")
    t = time.perf_counter()
    write_content(out, spend_df, cre.table, mmm.lift_tests, exp_stats)
    t = timed("content", t)

    # -- ground truth -----------------------------------------------------------------------
    marketing = cause_counts[: len(TOUCH_CHANNELS)]
    n_conv = int(cause_counts.sum())
    truth = {
        "world": {
            "size": cfg.size,
            "seed": cfg.seed,
            "n_weeks": cfg.n_weeks,
            "start_week": cfg.start_week.isoformat(),
            "end": pd.Timestamp(end_ns).isoformat(),
            "geos": list(cfg.geos),
            "geo_shares": dict(zip(cfg.geos, cfg.geo_shares, strict=True)),
            "mmm_channels": list(MMM_CHANNELS),
            "touch_channels": list(TOUCH_CHANNELS),
            "n_customers": cfg.n_customers,
        },
        "mmm": mmm.truth,
        "lift_tests": mmm.lift_truth,
        "mta": {
            "channel_credit": {c: float(marketing[i] / max(marketing.sum(), 1)) for i, c in enumerate(TOUCH_CHANNELS)},
            "baseline_share": float(cause_counts[-1] / max(n_conv, 1)),
            "conversions": {c: int(v) for c, v in zip(journeys_mod.CAUSES, cause_counts, strict=True)},
            "last_touch_share": {
                c: float(last_counts[i] / max(last_counts.sum(), 1)) for i, c in enumerate(TOUCH_CHANNELS)
            },
            "touches": {c: int(v) for c, v in zip(TOUCH_CHANNELS, touches_by_channel, strict=True)},
            "trigger_prob": {c: journeys_mod.TOUCH_PARAMS[c]["p"] for c in TOUCH_CHANNELS},
            "lag_days": {c: journeys_mod.TOUCH_PARAMS[c]["lag_days"] for c in TOUCH_CHANNELS},
            "touch_params": journeys_mod.TOUCH_PARAMS,
            "baseline_hazard_per_week": journeys_mod.BASELINE_HAZARD,
            "navigational": {
                "prob": journeys_mod.NAV_PROB,
                "search_share": journeys_mod.NAV_SEARCH_SHARE,
                "mean_gap_hours": journeys_mod.NAV_GAP_HOURS,
            },
            "truth_table": "truth/conversions.parquet",
            "mechanism": (
                "Touches: Poisson process per customer and channel with weekly intensity following that week's "
                "geo spend (search/social/display/video). Each touch independently triggers a conversion with "
                "probability trigger_prob[c] after 5 min + Exponential(lag_days[c]); organic (baseline) "
                "conversions arrive with hazard baseline_hazard_per_week*(0.7+0.3*log1p(past_purchases)). "
                "Navigational search/direct touches are inserted just before conversions with probability "
                "navigational.prob and never trigger. channel_credit = share of non-baseline conversions "
                "triggered by each channel."
            ),
        },
        "uplift": {
            "formula": uplift_mod.FORMULA,
            "coefficients": {"base": uplift_mod.BASE_COEFS, "tau": uplift_mod.TAU_COEFS},
            "arms": list(uplift_mod.ARMS),
            "control": uplift_mod.CONTROL_ARM,
            "latent_sd": uplift_mod.LATENT_SD,
            "pre_period_days": uplift_mod.PRE_PERIOD_DAYS,
            "coupon_discount": uplift_mod.COUPON_DISCOUNT,
            "ate": {arm: tau_sum[arm] / max(n_exp, 1) for arm in treated_arms},
            "share_negative": {arm: tau_neg[arm] / max(n_exp, 1) for arm in treated_arms},
            "n": n_exp,
            "truth_table": "truth/uplift.parquet",
        },
        "creative": {
            "formula": (
                "logit(ctr) = intercepts[channel] + effects.has_logo*has_logo + effects.text_density*text_density "
                "+ effects['color:<dominant_color>'] + effects['format:<format>'] "
                "+ effects.headline_has_number*any_digit(headline) "
                "+ effects.headline_banned_phrase*contains_banned_phrase(headline) + Normal(0, noise_sd); "
                "clicks ~ Binomial(impressions, ctr)"
            ),
            "effects": creatives_mod.EFFECTS,
            "intercepts": creatives_mod.INTERCEPTS,
            "reference_levels": {"dominant_color": "blue", "format": "square"},
            "noise_sd": creatives_mod.NOISE_SD,
            "true_ctr": cre.true_ctr,
            "brand_violations": cre.violations,
            "banned_phrases": list(BANNED_PHRASES),
            "history": {**history.meta, "truth_table": "truth/creative_effects.parquet"},
            # object box per product master: [x0, y0, x1, y1] in pixels, right and bottom exclusive
            "masters": masters,
        },
        "consent": {
            "tcf_purposes": TCF_MAP,
            "grant_prob": GRANT_PROB,
            "withdraw_prob": WITHDRAW_PROB,
            "privacy_conscious_share": PRIVACY_CONSCIOUS,
            "coverage_at_end": {p: coverage[p] / cfg.n_customers for p in CONSENT_PURPOSES},
            "definition": (
                "No row = purpose never granted. A row counts at time t when granted_at <= t and "
                "(withdrawn_at is null or withdrawn_at > t); rows withdrawn before the period start never "
                "cover the period."
            ),
        },
    }
    (out / "ground_truth.json").write_text(json.dumps(_jsonable(truth), indent=2, sort_keys=False))
    bar.set_postfix_str("done")
    bar.close()

    seconds = time.perf_counter() - t0
    peak = _peak_rss_mb()
    world = {
        "size": cfg.size,
        "seed": cfg.seed,
        "format": WORLD_FORMAT,
        "created_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "rows": rows,
        "seconds": round(seconds, 3),
        "stage_seconds": {k: round(v, 3) for k, v in stage.items()},
        "peak_memory_mb": round(peak, 1),
        "config": json.loads(cfg.model_dump_json()),
        # the raw files this build wrote (path -> bytes): anything else in raw/ is a user's (holds_user_data)
        "raw_parts": {
            p.relative_to(out).as_posix(): p.stat().st_size for p in sorted((out / "raw").glob("*/*.parquet"))
        },
    }
    (out / "world.json").write_text(json.dumps(world, indent=2))
    return WorldSummary(
        path=out,
        size=cfg.size,
        seed=cfg.seed,
        rows=rows,
        seconds=seconds,
        peak_memory_mb=peak,
        stage_seconds=dict(stage),
        deleted=tuple(deleted),
    )
