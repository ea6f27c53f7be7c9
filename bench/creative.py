"""Benchmark: throughput of the creative workflow, each stage against a peer or a limit timed in the same run.

The machine is shared and noisy, so every rate comes with a ratio to a cheaper thing that
does part of the same work, timed in the same process a moment earlier or later. A ratio
says what the workflow's extra work costs; an absolute rate alone says mostly how busy the
machine was. Ratios are of **CPU seconds** (steadier than wall time when other jobs take
the cores); rates are items per **wall** second. Everything runs in one process with one
native thread (OpenMP and BLAS are limited to 1 before NumPy is imported, and again with
threadpoolctl), so CPU and wall seconds differ only by time spent waiting for the machine.

Stages (printed in this order; variants are made before the guardrails run, since the
guardrails also check them):

1. **Guardrail checks**: ``galaxy_lib.creative.guardrails.check_batch`` on the world's
   creatives (``simulate_creatives``: 270-480 px PNGs, ``--creatives`` of them) and on the
   variants of stage 2 (300x250 to 1080x1920 px, with their text boxes), one call per image
   set. **Peer**: Pillow's bare decode of the same files (``Image.open(p).load()``), so
   ``check/decode`` is how many times a full check costs over reading the pixels. The check
   is then split into its two halves: the image features alone
   (``images.image_feature_table``: colours, contrast, edges, logo search) and the rules
   with those features given (``check_batch(..., feature_table=...)``: the copy rules and
   every verdict); ``features %`` is the first half's share of the two. The split must
   reproduce the full check's verdicts.
2. **Variant generation**: ``galaxy_lib.creative.variants.generate_variants`` with
   ``DEFAULT_TEMPLATES`` and ``parameters/brand.yaml``, for ``--variants-products`` catalogue
   products (``products_table``; masters drawn by ``draw_master`` into ``--workdir``), one call
   per platform size so each size has its own rate. **Peer**: a bare Pillow pipeline per
   variant at the same size (open the master, crop to the aspect ratio and resize with
   LANCZOS, save the PNG with ``optimize=True``), the least any generator pays; ``gen/peer``
   is the cost of the salient crop, layout, type, logo and contrast choices. Each call reads
   every master and computes its saliency map once; one call over all sizes would do that
   once per product instead of once per size (the saving is printed).
3. **Scoring**: ``galaxy_lib.creative.model.fit_preflight`` on a simulated 56-day history
   of the world's creatives (``simulate_creative_history``; features from the creatives'
   metadata, as the image and copy readers would measure them), then
   ``PreflightModel.score`` of ``--score-rows`` new creatives (feature rows resampled from
   the world's, each on its own platform, blended over the platform's audiences: 12 model
   rows per creative), CTR and CVR with intervals. **Peer**: the bare scikit-learn
   ``predict_proba`` of the two point estimators (CTR and CVR) on the same model rows;
   ``score/bare`` is the cost of the bootstrap refits (20 per target), the interval
   arithmetic and the blending. The bare predictions, blended, must equal the scores.
4. **Bandit simulation**: ``galaxy_lib.creative.allocation_sim.simulate_allocation``, 10 arms
   (a portfolio of true conversion rates 5e-5 to 1.5e-3 against a 3e-4 baseline), 100,000
   impressions a day, ``--days`` days, ``--bandit-runs`` seeds; simulated days per second of
   Thompson sampling and of the even split (whose days need no posterior draws). **Limit**:
   the same day loop's bare binomial draws of the outcomes with NumPy; ``x bare`` is a
   policy day over a bare-draw day. The posterior update feeds mabwiser one row per
   impression, so a day's cost grows with the day's impressions.

Peak resident memory (``VmHWM`` of ``/proc/self/status``) is printed per stage (the peak is
reset before each stage where the kernel allows) and for the whole run. Peers too small to
time once (decoding 40 small PNGs, drawing 28 days of binomials) are repeated until they
have run for a while, and their time per pass is used.

The results also go to ``results.json`` in ``--workdir`` (default: a new temporary folder,
printed); the images go to ``images/`` there and are removed at the end unless
``--keep-images``. The exit status is 1 when a stage failed or a check of its results did
not hold (the split guardrail check disagrees with the full one, no variant was made, the
bare predictions do not reproduce the scores, a day's impressions do not add up).

Usage::

    python bench/creative.py                    # the full run (a few minutes on 2 cores)
    python bench/creative.py --quick            # small sizes, well under a minute
    nice python bench/creative.py --creatives 400 --score-rows 50000 --workdir /tmp/creative-bench
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from galaxy_lib.creative.brand import BrandRules
    from galaxy_lib.creative.guardrails import CreativeInput

ROOT = Path(__file__).resolve().parents[1]
BRAND_FILE = ROOT / "parameters" / "brand.yaml"
#: Days of performance history the pre-flight model is fitted on (a Galaxy world's).
HISTORY_DAYS = 56
HISTORY_END = "2026-11-30"
#: The bandit's arms: a few strong creatives, a long middle, one mildly and one clearly harmful one.
PORTFOLIO: tuple[float, ...] = (1.5e-3, 1.2e-3, 1.0e-3, 8.5e-4, 7e-4, 6e-4, 5e-4, 4.5e-4, 2e-4, 5e-5)
BASELINE = 3e-4
DAILY_IMPRESSIONS = 100_000
#: Sizes of the full run and of --quick (an option given on the command line wins over both).
FULL = {"creatives": 200, "variants_products": 10, "score_rows": 10_000, "days": 28, "bandit_runs": 5}
QUICK = {"creatives": 40, "variants_products": 1, "score_rows": 1_000, "days": 28, "bandit_runs": 1}
#: A peer pass shorter than this is repeated until its passes add up to it (seconds).
MIN_PEER_SECONDS = 0.5
#: Thread-count variables of OpenMP (scikit-learn's k-means) and the BLAS libraries; set to 1 before NumPy loads.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- measuring ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """Wall and CPU seconds of one measured call (per pass, for a repeated peer).

    Attributes
    ----------
    wall, cpu
        Seconds per pass.
    passes
        How many passes were timed (1 unless the work was repeated to be long enough to time).
    """

    wall: float
    cpu: float
    passes: int = 1


def timed(fn: Callable[[], Any]) -> tuple[Any, Timing]:
    """Call ``fn`` once; return its result and its wall and CPU seconds."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, Timing(time.perf_counter() - wall0, time.process_time() - cpu0)


def timed_repeat(fn: Callable[[], Any], min_seconds: float = MIN_PEER_SECONDS, max_passes: int = 100_000) -> Timing:
    """Call ``fn`` until the passes have taken ``min_seconds`` of wall time; return the seconds per pass."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    passes = 0
    while True:
        fn()
        passes += 1
        wall = time.perf_counter() - wall0
        if wall >= min_seconds or passes >= max_passes:
            break
    return Timing(wall / passes, (time.process_time() - cpu0) / passes, passes)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


def measure_row(name: str, items: int, own: Timing, peer: Timing | None = None) -> dict[str, Any]:
    """One table row: items, seconds and rate of the workflow's call, and of its peer with the ratio."""
    row: dict[str, Any] = {
        "name": name,
        "items": items,
        "wall_seconds": own.wall,
        "cpu_seconds": own.cpu,
        "items_per_second": _ratio(items, own.wall),
    }
    if peer is not None:
        row |= {
            "peer_wall_seconds": peer.wall,
            "peer_cpu_seconds": peer.cpu,
            "peer_passes": peer.passes,
            "peer_items_per_second": _ratio(items, peer.wall),
            "ratio_cpu": _ratio(own.cpu, peer.cpu),
            "ratio_wall": _ratio(own.wall, peer.wall),
        }
    return row


def total_row(name: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sum rows of one stage into a total row (rates and ratios recomputed from the sums)."""
    own = Timing(sum(r["wall_seconds"] for r in rows), sum(r["cpu_seconds"] for r in rows))
    peer = None
    if rows and all("peer_cpu_seconds" in r for r in rows):
        peer = Timing(sum(r["peer_wall_seconds"] for r in rows), sum(r["peer_cpu_seconds"] for r in rows))
    return measure_row(name, sum(r["items"] for r in rows), own, peer)


# -- memory (Linux /proc) ----------------------------------------------------------------------
def status_mb(key: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB; NaN where there is none."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS; False if the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# -- setup: the world's creatives and the product masters -------------------------------------
@dataclass
class Setup:
    """What the stages share: the brand rules, the world's creatives and the catalogue with its masters."""

    brand: BrandRules
    creatives: pd.DataFrame  # simulate_creatives' table, image_path made absolute
    true_ctr: dict[str, float]
    products: pd.DataFrame  # products_table() rows, master_image pointing into the workdir
    images: Path


def make_setup(args: argparse.Namespace, images: Path) -> Setup:
    """Draw the world's creatives (PNGs) and the product masters into ``images``."""
    import pandas as pd

    from galaxy_lib.creative.brand import load_brand
    from galaxy_lib.simulate.catalogue import PRODUCTS
    from galaxy_lib.simulate.creative_history import draw_master, products_table
    from galaxy_lib.simulate.creatives import simulate_creatives

    brand = load_brand(BRAND_FILE)
    cs = simulate_creatives(args.seed, args.creatives, images / "creatives")
    creatives = cs.table.copy()
    creatives["image_path"] = [str(images / "creatives" / f"{cid}.png") for cid in creatives["creative_id"]]

    catalogue = products_table()
    by_sku = {p.sku: p for p in PRODUCTS}
    rows = []
    for i in range(args.variants_products):
        row = catalogue.iloc[i % len(catalogue)].to_dict()
        product = by_sku[row["sku"]]
        if i >= len(catalogue):  # more products than the catalogue has: the same products again, new masters
            row["sku"] = f"{row['sku']}-{i // len(catalogue)}"
        path = images / "masters" / f"{row['sku']}.png"
        draw_master(product, path, seed=args.seed + i)
        rows.append({**row, "master_image": str(path)})
    products = pd.DataFrame(rows, columns=list(catalogue.columns))
    return Setup(brand, creatives, dict(cs.true_ctr), products, images)


# -- stage 2: variant generation ----------------------------------------------------------------
def one_size_brand(brand: BrandRules, platform: str, size: tuple[int, int]) -> BrandRules:
    """The brand rules with one platform that renders one size (a per-size call of ``generate_variants``)."""
    spec = brand.platforms[platform].model_copy(update={"variant_sizes": [tuple(size)]})
    return brand.model_copy(update={"platforms": {platform: spec}})


def bare_variants(masters: Sequence[str], n_templates: int, size: tuple[int, int], out_dir: Path) -> int:
    """The peer: per variant, open the master, crop to the ratio and resize (LANCZOS), save a PNG (optimize)."""
    from PIL import Image, ImageOps

    out_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    for master in masters:
        for _ in range(n_templates):
            with Image.open(master) as im:
                rgb = im.convert("RGB")
            ImageOps.fit(rgb, size, Image.Resampling.LANCZOS).save(out_dir / f"{n}.png", "PNG", optimize=True)
            n += 1
    return n


def stage_variants(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    """Time ``generate_variants`` per platform size against the bare Pillow pipeline."""
    import pandas as pd
    from PIL import Image

    from galaxy_lib.creative.templates import DEFAULT_TEMPLATES
    from galaxy_lib.creative.variants import generate_variants, saliency_map

    brand, products = setup.brand, setup.products
    out_root, peer_root = setup.images / "variants", setup.images / "peer"
    sizes = [(name, (int(w), int(h))) for name, spec in brand.platforms.items() for w, h in spec.variant_sizes]
    # warm-up (untimed): fonts, logo and imports, so the timed calls measure steady-state work
    warm = one_size_brand(brand, sizes[0][0], sizes[0][1])
    generate_variants(products.head(1), DEFAULT_TEMPLATES[:1], warm, setup.images / "warmup")
    bare_variants(products["master_image"].head(1).tolist(), 1, sizes[0][1], setup.images / "warmup")

    rows, tables, problems = [], [], []
    masters = products["master_image"].tolist()
    for platform, size in sizes:
        label = f"{platform} {size[0]}x{size[1]}"
        out = out_root / f"{platform}_{size[0]}x{size[1]}"
        batch, own = timed(
            lambda out=out, platform=platform, size=size: generate_variants(
                products, DEFAULT_TEMPLATES, one_size_brand(brand, platform, size), out
            )
        )
        n_peer, peer = timed(
            lambda platform=platform, size=size: bare_variants(
                masters, len(DEFAULT_TEMPLATES), size, peer_root / f"{platform}_{size[0]}x{size[1]}"
            )
        )
        row = measure_row(label, len(batch.table), own, peer)
        row |= {"platform": platform, "width": size[0], "height": size[1], "peer_items": n_peer}
        row["mean_file_kb"] = float(batch.table["file_kb"].mean()) if len(batch.table) else float("nan")
        rows.append(row)
        tables.append(batch.table)
        problems += [f"{label}: {p['sku']} {p['template']}: {p['reason']}" for p in batch.problems.to_dict("records")]
        print(f"  variants {label}: {row['items']} in {own.wall:.1f} s (bare pipeline {peer.wall:.1f} s)", flush=True)

    # what one call over all sizes would save: each call reads every master and maps its saliency once
    def per_product() -> None:
        for master in masters:
            with Image.open(master) as im:
                saliency_map(im.convert("RGB"))

    prep = timed_repeat(per_product)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    expected = len(products) * len(DEFAULT_TEMPLATES) * len(sizes)
    total = total_row("all sizes", rows)
    total["mean_file_kb"] = float(table["file_kb"].mean()) if len(table) else float("nan")
    checks = {"variants_made": len(table), "variants_expected": expected, "problems": problems}
    failures = [] if len(table) else ["no variant was made"]
    return {
        "status": "ok" if not failures else "failed",
        "failures": failures,
        "rows": rows,
        "total": total,
        "products": len(products),
        "templates": len(DEFAULT_TEMPLATES),
        "sizes": [f"{p} {w}x{h}" for p, (w, h) in sizes],
        "master_and_saliency_seconds_per_product": prep.wall / max(len(masters), 1),
        "saving_of_one_call_seconds": prep.wall * (len(sizes) - 1),
        "checks": checks,
        "table": table,
    }


# -- stage 1: guardrail checks --------------------------------------------------------------------
def creative_inputs(setup: Setup) -> list[CreativeInput]:
    """The world's creatives as guardrail inputs (platform = channel, category from the catalogue)."""
    from galaxy_lib.creative.guardrails import CreativeInput
    from galaxy_lib.simulate.catalogue import PRODUCTS

    category = {p.sku: p.category for p in PRODUCTS}
    return [
        CreativeInput(
            creative_id=str(r.creative_id),
            platform=str(r.channel),
            category=category.get(str(r.product_sku)),
            headline=str(r.headline),
            body=str(r.body),
            cta="",
            disclaimer=str(r.disclaimer),
            image_path=str(r.image_path),
        )
        for r in setup.creatives.itertuples(index=False)
    ]


def variant_inputs(table: pd.DataFrame) -> list[CreativeInput]:
    """Generated variants as guardrail inputs, with their text boxes (as the notebook checks them)."""
    from galaxy_lib.creative.analysis import creative_inputs, variant_creatives

    return creative_inputs(variant_creatives(table))


def decode_all(paths: Sequence[str]) -> None:
    """The peer: Pillow's bare decode of every file."""
    from PIL import Image

    for p in paths:
        with Image.open(p) as im:
            im.load()


def check_set(name: str, items: list[CreativeInput], brand: BrandRules) -> tuple[dict[str, Any], list[str]]:
    """Time the full check, the decode peer and the two halves of the check on one image set."""
    from galaxy_lib.creative.guardrails import PASS, check_batch
    from galaxy_lib.creative.images import image_feature_table

    paths = [str(i.image_path) for i in items]
    for p in paths:  # every file in the page cache before either side is timed
        Path(p).read_bytes()
    peer = timed_repeat(lambda: decode_all(paths))
    full, own = timed(lambda: check_batch(items, brand))
    (features, problems), feat = timed(
        lambda: image_feature_table(
            paths, brand, [i.creative_id for i in items], [i.text_box for i in items] if items[0].text_box else None
        )
    )
    rules, rule = timed(lambda: check_batch(items, brand, feature_table=features))
    row = measure_row(name, len(items), own, peer)
    row |= {
        "features_wall_seconds": feat.wall,
        "features_cpu_seconds": feat.cpu,
        "rules_wall_seconds": rule.wall,
        "rules_cpu_seconds": rule.cpu,
        "features_share_cpu": _ratio(feat.cpu, feat.cpu + rule.cpu),
        "rules_per_second": _ratio(len(items), rule.wall),
        "rules_checked": len(full.rules),
        "passed_every_rule": len(full.passed_ids()),
    }
    failures = []
    key = ["creative_id", "rule", "status"]
    if not full.table[key].reset_index(drop=True).equals(rules.table[key].reset_index(drop=True)):
        failures.append(f"{name}: the rules on given features disagree with the full check")
    if len(full.table) != len(items) * len(full.rules):
        failures.append(f"{name}: {len(full.table)} results for {len(items)} creatives x {len(full.rules)} rules")
    unread = full.table[(full.table["rule"] == "readable_image") & (full.table["status"] != PASS)]
    if len(unread) or len(problems):
        failures.append(f"{name}: {max(len(unread), len(problems))} image(s) could not be read")
    return row, failures


def stage_guardrails(setup: Setup, variants: pd.DataFrame | None) -> dict[str, Any]:
    """Time ``check_batch`` on the world's creatives and on each size of variants, against a bare decode."""
    from galaxy_lib.creative.guardrails import check_batch
    from galaxy_lib.simulate.creatives import FORMATS

    world = creative_inputs(setup)
    check_batch(world[:1], setup.brand)  # warm-up (untimed): logo templates, k-means and imports
    sets: list[tuple[str, list[CreativeInput]]] = []
    sizes = sorted({f"{FORMATS[f][0]}x{FORMATS[f][1]}" for f in setup.creatives["format"]})
    sets.append((f"world creatives {', '.join(sizes)}", world))
    if variants is not None and len(variants):
        for (platform, w, h), part in variants.groupby(["platform", "width", "height"], sort=False):
            sets.append((f"variants {platform} {w}x{h}", variant_inputs(part.reset_index(drop=True))))
    rows, failures = [], []
    for name, items in sets:
        row, bad = check_set(name, items, setup.brand)
        rows.append(row)
        failures += bad
        print(f"  guardrails {name}: {len(items)} in {row['wall_seconds']:.1f} s", flush=True)
    variant_rows = [r for r in rows if r["name"].startswith("variants")]
    totals = [total_row("variants, all sizes", variant_rows)] if len(variant_rows) > 1 else []
    totals.append(total_row("all images", rows))
    for t in totals:
        part = [r for r in rows if t["name"] == "all images" or r["name"].startswith("variants")]
        feat, rule = sum(r["features_cpu_seconds"] for r in part), sum(r["rules_cpu_seconds"] for r in part)
        t["features_share_cpu"] = _ratio(feat, feat + rule)
        t["rules_per_second"] = _ratio(t["items"], sum(r["rules_wall_seconds"] for r in part))
    return {"status": "ok" if not failures else "failed", "failures": failures, "rows": rows, "totals": totals}


# -- stage 3: scoring -------------------------------------------------------------------------------
def stage_scoring(setup: Setup, args: argparse.Namespace) -> dict[str, Any]:
    """Fit the pre-flight model, then time ``score`` of new creatives against the bare point predictions."""
    import numpy as np
    import pandas as pd

    from galaxy_lib.creative.model import PreflightConfig, fit_preflight
    from galaxy_lib.simulate.creative_history import metadata_features, simulate_creative_history

    creatives = setup.creatives
    history = simulate_creative_history(
        creatives, setup.true_ctr, end=pd.Timestamp(HISTORY_END), days=HISTORY_DAYS, seed=args.seed
    )
    features = metadata_features(creatives)
    config = PreflightConfig(seed=args.seed, threads=1)
    model, fit = timed(lambda: fit_preflight(history.table, features, config, truth=history.truth))

    rng = np.random.default_rng(args.seed)
    pick = rng.integers(0, len(features), size=args.score_rows)
    new = features.iloc[pick].copy()
    new.index = pd.Index([f"new{i:06d}" for i in range(args.score_rows)], name="creative_id")
    channel = creatives.set_index(creatives["creative_id"].astype(str))["channel"].astype(str)
    platform = pd.Series(channel.loc[features.index[pick]].to_numpy(), index=new.index)
    model.score(new.head(10), platform.head(10).to_dict())  # warm-up (untimed)
    scores, own = timed(lambda: model.score(new, platform.to_dict()))

    # the peer: the two point estimators on the same model rows (creative x its platform's audiences)
    rows = pd.DataFrame({"creative_id": new.index, "platform": platform.to_numpy()})
    rows = rows.merge(model.audience_mix, on="platform").join(new, on="creative_id")
    ctr_point, cvr_point = model.fits["ctr"].estimator, model.fits["cvr"].estimator

    def bare() -> tuple[Any, Any]:
        return ctr_point.predict_proba(rows)[:, 1], cvr_point.predict_proba(rows)[:, 1]

    ctr_p, _ = bare()
    peer = timed_repeat(bare, min_seconds=1.0)

    failures = []
    blended = (pd.Series(ctr_p * rows["share"].to_numpy()).groupby(rows["creative_id"].to_numpy()).sum()) / (
        rows.groupby("creative_id")["share"].sum()
    )
    got = scores.set_index("creative_id")["ctr"]
    gap = float((blended.reindex(got.index) - got).abs().max())
    if len(scores) != args.score_rows:
        failures.append(f"score returned {len(scores)} rows for {args.score_rows} creatives")
    if not gap < 1e-9:
        failures.append(f"the bare CTR predictions, blended, differ from the scores by up to {gap:.3g}")
    for target in ("ctr", "cvr"):
        outside = int(((scores[f"{target}_low"] > scores[target]) | (scores[target] > scores[f"{target}_high"])).sum())
        if outside:
            failures.append(f"{outside} {target} scores lie outside their own interval")

    row = measure_row("score (point + intervals)", args.score_rows, own, peer)
    row |= {"model_rows": len(rows), "model_rows_per_creative": len(rows) / args.score_rows}
    metrics = {t: asdict(m) for t, m in model.metrics.items()}
    return {
        "status": "ok" if not failures else "failed",
        "failures": failures,
        "rows": [row],
        "fit": {
            "creatives": len(features),
            "history_rows": len(history.table),
            "days": HISTORY_DAYS,
            "bootstrap": config.bootstrap,
            "importance_repeats": config.importance_repeats,
            "wall_seconds": fit.wall,
            "cpu_seconds": fit.cpu,
            "fit_seconds_reported": model.fit_seconds,
        },
        "metrics": metrics,
        "max_abs_gap_bare_vs_score": gap,
    }


# -- stage 4: bandit simulation -----------------------------------------------------------------------
def stage_bandit(args: argparse.Namespace) -> dict[str, Any]:
    """Time ``simulate_allocation`` (Thompson, even) in days per second against bare binomial draws."""
    import numpy as np
    import pandas as pd

    from galaxy_lib.creative.allocation_sim import largest_remainder, simulate_allocation
    from galaxy_lib.creative.bandit import AllocationConfig

    arms = pd.DataFrame(
        {"arm_id": [f"cr{i:02d}" for i in range(len(PORTFOLIO))], "true_rate": PORTFOLIO, "baseline": BASELINE}
    )
    configs = [
        AllocationConfig(days=args.days, daily_impressions=DAILY_IMPRESSIONS, seed=args.seed + r)
        for r in range(args.bandit_runs)
    ]
    simulate_allocation(arms, configs[0].model_copy(update={"days": 2}), "thompson")  # warm-up (untimed)
    rows, failures, regret = [], [], {}
    runs: dict[str, list[Any]] = {}
    timings: dict[str, Timing] = {}
    for policy in ("thompson", "even"):
        out, t = timed(lambda policy=policy: [simulate_allocation(arms, c, policy) for c in configs])
        runs[policy], timings[policy] = out, t
        for run in out:
            per_day = run.daily.groupby("day")["impressions"].sum()
            if len(per_day) != args.days or (per_day != run.config.ad_impressions).any():
                failures.append(f"{policy} seed {run.config.seed}: a day's impressions do not add up to the budget")
        regret[policy] = float(np.mean([r.regret["cumulative_regret"].iloc[-1] for r in out]))

    cfg = configs[0]
    rates = np.asarray(PORTFOLIO)
    impressions = largest_remainder(np.full(len(rates), 1 / len(rates)), cfg.ad_impressions)
    draws = np.random.default_rng(args.seed)

    def bare_days() -> None:
        for _ in range(args.days * args.bandit_runs):
            draws.binomial(impressions, rates)
            draws.binomial(cfg.holdout_impressions, BASELINE)

    peer = timed_repeat(bare_days)
    days = args.days * args.bandit_runs
    for policy in ("thompson", "even"):
        row = measure_row(policy, days, timings[policy], peer)
        row["mean_cumulative_regret"] = regret[policy]
        row["arms_killed_mean"] = float(np.mean([len(r.killed) for r in runs[policy]]))
        rows.append(row)
    return {
        "status": "ok" if not failures else "failed",
        "failures": failures,
        "rows": rows,
        "arms": len(PORTFOLIO),
        "daily_impressions": DAILY_IMPRESSIONS,
        "days": args.days,
        "runs": args.bandit_runs,
        "thompson_over_even_cpu": _ratio(timings["thompson"].cpu, timings["even"].cpu),
        "regret_ratio_thompson_over_even": _ratio(regret["thompson"], regret["even"]),
        "bare_draw_days_per_second": _ratio(days, peer.wall),
    }


# -- report ----------------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def _table(
    rows: Sequence[dict[str, Any]], item: str, peer_label: str, ratio_label: str, extra: Sequence[tuple] = ()
) -> list[str]:
    """Rows of one stage: items, seconds and rate, the peer's rate and the CPU ratio, and extra columns.

    Parameters
    ----------
    rows
        Rows of :func:`measure_row`.
    item
        What is counted (``images``, ``variants``, ...), the heading of the count and rate columns.
    peer_label, ratio_label
        Headings of the peer's rate and of the CPU ratio.
    extra
        ``(heading, key, format spec, width)`` of further columns.
    """
    width = max([30, *(len(r["name"]) + 2 for r in rows)])
    head = (
        f"{'':<{width}}{item:>10}{'wall s':>9}{'CPU s':>9}{item + '/s':>12}{peer_label:>12}{ratio_label:>14}"
        + "".join(f"{label:>{w}}" for label, _, _, w in extra)
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['name']:<{width}}{r['items']:>10,}{r['wall_seconds']:>9.2f}{r['cpu_seconds']:>9.2f}"
            f"{_fmt(r['items_per_second'], ',.1f'):>12}{_fmt(r.get('peer_items_per_second'), ',.1f'):>12}"
            f"{_fmt(r.get('ratio_cpu'), '.1f'):>14}"
            + "".join(f"{_fmt(r.get(key), spec):>{w}}" for _, key, spec, w in extra)
        )
    return lines


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    """The human tables: one block per stage, in the issue's order, then peak memory."""
    lines: list[str] = []
    g, v, s, b = (results["stages"].get(k, {}) for k in ("guardrails", "variants", "scoring", "bandit"))

    lines += [
        "",
        "1. Guardrail checks: check_batch, every rule, each image measured; peer: Pillow decode of the same files",
    ]
    if g.get("rows"):
        extra = [("features %", "features_share_cpu", ".0%", 12), ("rules/s", "rules_per_second", ",.0f", 10)]
        lines += _table([*g["rows"], *g["totals"]], "images", "decode/s", "check/decode", extra)
        lines.append(
            "   features %: share of the image features (colours, contrast, edges, logo search) in a check's CPU "
            "time; rules/s: copy rules and verdicts with the features given"
        )
    lines += _stage_problems(g)

    lines += ["", "2. Variant generation: generate_variants, one call per size; peer: open, crop+resize, save PNG"]
    if v.get("rows"):
        lines += _table([*v["rows"], v["total"]], "variants", "bare/s", "gen/bare", [("KiB", "mean_file_kb", ".0f", 7)])
        lines.append(
            f"   {v['products']} products x {v['templates']} templates per size. Master read + saliency map "
            f"{v['master_and_saliency_seconds_per_product'] * 1000:.0f} ms per product and call: one call over all "
            f"sizes would save about {v['saving_of_one_call_seconds']:.1f} s of the total"
        )
    lines += _stage_problems(v)

    lines += ["", "3. Scoring: PreflightModel.score, CTR and CVR with intervals; peer: point predict_proba (CTR+CVR)"]
    if s.get("rows"):
        fit = s["fit"]
        lines += _table(s["rows"], "creatives", "bare/s", "score/bare")
        r = s["rows"][0]
        ctr = s["metrics"].get("ctr", {})
        lines.append(
            f"   {r['model_rows']:,} model rows ({r['model_rows_per_creative']:.0f} audiences per creative), "
            f"{fit['bootstrap']} bootstrap refits per target. Fit on {fit['creatives']} creatives x "
            f"{fit['days']} days ({fit['history_rows']:,} history rows): {fit['wall_seconds']:.1f} s wall, "
            f"{fit['cpu_seconds']:.1f} s CPU; held-out CTR Spearman {_fmt(ctr.get('spearman'), '.2f')}, "
            f"interval coverage {_fmt(ctr.get('interval_coverage'), '.2f')}"
        )
    lines += _stage_problems(s)

    lines += ["", "4. Bandit simulation: simulate_allocation, days per second; limit: bare binomial draws of a day"]
    if b.get("rows"):
        lines += _table(b["rows"], "days", "bare/s", "x bare", [("regret", "mean_cumulative_regret", ".1f", 9)])
        lines.append(
            f"   {b['arms']} arms, {b['daily_impressions']:,} impressions a day, {b['days']} days x {b['runs']} "
            f"seed(s); bare draws {b['bare_draw_days_per_second']:,.0f} days/s. Thompson / even CPU "
            f"{b['thompson_over_even_cpu']:.2f}; Thompson's regret at the horizon "
            f"{_fmt(b['regret_ratio_thompson_over_even'], '.2f')} of the even split's (expected conversions lost "
            "to the oracle)"
        )
    lines += _stage_problems(b)

    mem = results["memory"]
    peaks = ", ".join(f"{k} {_fmt(val, ',.0f')}" for k, val in mem["stage_peak_mb"].items())
    lines += [
        "",
        f"peak RSS (VmHWM) {_fmt(mem['peak_mb'], ',.0f')} MiB; per stage{'' if mem['reset'] else ' (cumulative)'}: "
        f"{peaks} MiB",
        "Rates (.../s): per wall second. Ratios (check/decode, gen/bare, score/bare, x bare): CPU seconds of the "
        "workflow's call over the peer's on the same items, this run; 1 native thread throughout.",
    ]
    return "\n".join(lines)


def _stage_problems(stage: dict[str, Any]) -> list[str]:
    out = []
    if stage.get("status") == "error":
        out.append(f"   FAILED: {stage['error']}")
    out += [f"   CHECK FAILED: {f}" for f in stage.get("failures", [])]
    problems = stage.get("checks", {}).get("problems", [])
    if problems:
        out.append(f"   {len(problems)} variant problem(s), e.g. {problems[0]}")
    return out


# -- command line --------------------------------------------------------------------------------------
class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The epilog's layout kept."""


_EPILOG = """\
what each stage prints (rates per wall second; ratios of CPU seconds, both sides timed in this run):
  1. guardrails  images checked/s by check_batch; decode/s of the same files by Pillow alone;
                 check/decode = how many times a full check costs over reading the pixels;
                 features % = the image features' share of a check; rules/s = copy rules and verdicts alone
  2. variants    variants/s per platform size; bare/s = open master, crop+resize, save PNG;
                 gen/bare = the cost of salient crop, layout, type, logo and contrast choices
  3. scoring     creatives scored/s with CTR and CVR intervals; bare/s = the two point estimators'
                 predict_proba on the same rows; score/bare = bootstrap replicates, intervals, blending;
                 also the fit's seconds and its held-out quality
  4. bandit      simulated days/s of Thompson sampling and of the even split, 10 arms, 100k impressions
                 a day; x bare = a policy's day over a day of bare numpy binomial draws
  then peak RSS (VmHWM) per stage and overall.

Exit status 1 if a stage failed or its results did not pass their checks.

examples:
  python bench/creative.py --quick                 small sizes, well under a minute
  nice python bench/creative.py                    the full run, a few minutes on 2 shared cores
  python bench/creative.py --creatives 400 --score-rows 50000 --days 56 --workdir /tmp/creative-bench
"""


def _parser() -> argparse.ArgumentParser:
    full, quick = FULL, QUICK

    def sizes(key: str) -> str:
        return f"(default {full[key]:,}; {quick[key]:,} with --quick)"

    p = argparse.ArgumentParser(
        prog="bench/creative.py",
        description=(
            "Time the creative workflow's four stages (guardrail checks, variant generation, pre-flight scoring, "
            "bandit simulation), each against a peer or a limit measured in the same run, single-threaded, and print "
            "rates, wall and CPU seconds, ratios and peak memory. Exit status 1 if a stage failed or its results did "
            "not pass their checks."
        ),
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "--creatives",
        type=int,
        default=None,
        help="world creatives drawn as PNGs, checked by the guardrails and making the scoring history "
        + sizes("creatives"),
    )
    p.add_argument(
        "--variants-products",
        type=int,
        default=None,
        help="catalogue products to make variants of, each x 4 templates x 6 platform sizes; beyond the catalogue's "
        f"10 the products repeat with new masters {sizes('variants_products')}",
    )
    p.add_argument(
        "--score-rows",
        type=int,
        default=None,
        help=f"new creatives scored, each blended over its platform's 12 audiences {sizes('score_rows')}",
    )
    p.add_argument("--days", type=int, default=None, help=f"days of each simulated allocation {sizes('days')}")
    p.add_argument(
        "--bandit-runs",
        type=int,
        default=None,
        help=f"allocations per policy, seeds --seed, --seed + 1, ... {sizes('bandit_runs')}",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the creatives, masters, history, resampling and bandit (default 0)"
    )
    p.add_argument("--quick", action="store_true", help="small sizes (for a test; well under a minute)")
    p.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder for images/ and results.json (default: a new temporary folder, printed)",
    )
    p.add_argument("--keep-images", action="store_true", help="keep the drawn and generated PNGs in --workdir/images")
    return p


def _resolve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> argparse.Namespace:
    base = QUICK if args.quick else FULL
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.creatives < 20:
        parser.error("--creatives must be at least 20 (the pre-flight model holds creatives out per platform)")
    for key in ("variants_products", "score_rows", "days", "bandit_runs"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be at least 1")
    return args


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("numpy", "pandas", "pillow", "scikit-image", "scikit-learn", "mabwiser"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _run_stage(name: str, fn: Callable[[], dict[str, Any]], memory: dict[str, Any]) -> dict[str, Any]:
    """Run one stage with its own peak-memory window; an exception becomes an ``error`` status."""
    memory["reset"] = reset_peak() and memory["reset"]
    print(f"{name} ...", flush=True)
    try:
        out = fn()
    except Exception as err:  # a failed stage is reported, and the others still run
        traceback.print_exc()
        out = {"status": "error", "error": f"{type(err).__name__}: {err}"}
    memory["stage_peak_mb"][name] = status_mb("VmHWM")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = _parser()
    args = _resolve(parser.parse_args(argv), parser)
    for var in _THREAD_VARS:  # nothing above has loaded NumPy: the heavy imports are inside the stages
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="creative_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    images = workdir / "images"
    shutil.rmtree(images, ignore_errors=True)
    print(
        f"creative bench: {args.creatives} world creatives, {args.variants_products} product(s) x 4 templates x 6 "
        f"sizes, {args.score_rows:,} creatives scored, {args.days} days x {args.bandit_runs} allocation(s) per policy; "
        f"1 thread on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}); results in {workdir}",
        flush=True,
    )
    memory: dict[str, Any] = {"reset": True, "stage_peak_mb": {}}
    stages: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        setup_out: dict[str, Any] = {}

        def setup_stage() -> dict[str, Any]:
            setup_out["setup"] = make_setup(args, images)
            return {"status": "ok"}

        stages["setup"] = _run_stage("setup", setup_stage, memory)
        setup = setup_out.get("setup")
        if setup is not None:
            stages["variants"] = _run_stage("variants", lambda: stage_variants(setup, args), memory)
            variants = stages["variants"].pop("table", None)
            stages["guardrails"] = _run_stage("guardrails", lambda: stage_guardrails(setup, variants), memory)
            stages["scoring"] = _run_stage("scoring", lambda: stage_scoring(setup, args), memory)
        stages["bandit"] = _run_stage("bandit", lambda: stage_bandit(args), memory)
    memory["peak_mb"] = max([status_mb("VmHWM"), *memory["stage_peak_mb"].values()])
    results = {
        "benchmark": "creative",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "threads": 1,
        "cpus": os.cpu_count(),
        "versions": _versions(),
        "load_average_at_end": os.getloadavg()[0],
        "total_wall_seconds": time.perf_counter() - start,
        "memory": memory,
        "stages": stages,
    }
    print(report(results, args))
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    if not args.keep_images:
        shutil.rmtree(images, ignore_errors=True)
    print(f"\nresults: {workdir / 'results.json'} ({results['total_wall_seconds']:.0f} s in all)")
    bad = {name: s for name, s in stages.items() if s.get("status") != "ok"}
    for name, s in bad.items():
        print(f"FAILED: {name}: {s.get('error') or '; '.join(s.get('failures', []))}")
    if not bad:
        print("Every stage ran and passed its checks.")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
