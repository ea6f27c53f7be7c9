"""Creative performance history per audience, product master images, and the truth behind them.

Audiences
---------
Twelve audiences: customer ``segment`` (``new``, ``regular``, ``loyal``, ``lapsed``)
crossed with an age band (``18-34``, ``35-54``, ``55+``); the id is ``"<segment> <band>"``,
e.g. ``"loyal 35-54"``. An audience's population ``share`` is
``SEGMENT_SHARES[segment] * AGE_BAND_SHARES[band]`` (age and segment are drawn
independently in :mod:`.customers`).

Mechanism (``ground_truth["creative"]["history"]``)
--------------------------------------------------
For creative ``c`` (attributes from the creatives table) and audience ``a``::

    ctr[c, a] = sigmoid(logit(true_ctr[c]) + AUDIENCE_CTR[a]
                        + sum over target in (segment(a), age_band(a)) of
                          sum over attr of AUDIENCE_AFFINITIES[target][attr] * x[c, attr])
    cvr[c, a] = sigmoid(logit(0.03) + 0.3 * discount[c] - 0.5 * log(price[c] / 100)
                        + AUDIENCE_CVR[a] + v[c]),             v[c] ~ Normal(0, 0.1)
    incremental[c, a] = ctr[c, a] * cvr[c, a] * (1 - CANNIBALISATION[segment(a)]) - harm[c]
    harm[c] = HARM_MULTIPLIER * sum_a share[a] * ctr[c, a] * cvr[c, a]   for annoying c, else 0

``true_ctr[c]`` is the creative's own CTR (:mod:`.creatives`: logo, text density,
colour, format, headline), so a creative's overall ranking is driven mostly by its
own attributes; the affinities make the best creative differ between audiences.
``x[c, attr]`` is: ``format:<f>``, ``color:<c>``, ``channel:<ch>``, ``category:<cat>``
(1 when the creative has that level, else 0), ``has_logo`` (0/1),
``headline_has_number`` (1 when the headline holds a digit: a discount or a number,
also called ``discount`` above) and ``text_density`` (the measured share, 0..1).
``price`` and ``category`` are those of the creative's ``product_sku``.
``incremental`` is the extra conversions per impression caused by showing the
creative (clicks that convert, minus the share that would have bought anyway,
minus the harm an annoying creative does to people who see it). About
:data:`ANNOYING_SHARE` of the creatives, drawn at random, are *annoying*: their
share-weighted mean incremental value is at most ``(0.9 - HARM_MULTIPLIER)`` times
their mean ``ctr * cvr`` (negative), and it is negative in almost every audience
(about 1 % of annoying creative x audience cells, where affinities lift ``ctr * cvr``
far above the creative's mean, stay positive). Every other creative's incremental
value is positive in every audience.
``baseline[a]`` (:data:`BASELINE`) is the conversion probability per person of the
audience without any ad (a holdout's rate over the same window).

Delivery is *not* performance-driven (an even test-and-learn history): per creative
and day, ``impressions ~ round(LogNormal(log(CHANNEL_VOLUME[channel]), VOLUME_SD))``,
split over the audiences by ``Multinomial(impressions, Dirichlet(CONCENTRATION * share))``;
``clicks ~ Binomial(impressions, ctr[c, a])``, ``conversions ~ Binomial(clicks, cvr[c, a])``.

Product master images
---------------------
:func:`draw_master` draws a 1600x1000 "product photo": a soft vertical gradient from
``#F1ECF5`` (top) to ``#FFFFFF`` (bottom), a faint floor shadow, and the product as
a high-contrast object (rounded body, lighter panel, cap, dark base) in one of
:data:`MASTER_COLORS`, about 30 % of the image height, centred at ``x`` uniform in
``[0.14, 0.30]`` or ``[0.70, 0.86]`` of the width and ``y`` in ``[0.35, 0.65]`` of the
height: off-centre, so a centre crop to 9:16 cuts it off. Its bounding box is
``ground_truth["creative"]["masters"][sku]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from galaxy_lib.simulate._util import rng_for
from galaxy_lib.simulate.catalogue import PRODUCTS, Product

__all__ = [
    "AGE_BANDS",
    "AGE_BAND_SHARES",
    "ANNOYING_SHARE",
    "AUDIENCES",
    "AUDIENCE_AFFINITIES",
    "AUDIENCE_CTR",
    "AUDIENCE_CVR",
    "BASELINE",
    "CANNIBALISATION",
    "CHANNEL_VOLUME",
    "CONCENTRATION",
    "CVR_EFFECTS",
    "FORMULA",
    "HARM_MULTIPLIER",
    "HISTORY_DAYS",
    "MASTER_COLORS",
    "MASTER_SIZE",
    "SEGMENT_SHARES",
    "VOLUME_SD",
    "CreativeHistory",
    "audiences_table",
    "draw_master",
    "master_path",
    "metadata_features",
    "products_table",
    "simulate_creative_history",
]

#: Customer segments (as in ``customers.segment``) and their population shares.
SEGMENT_SHARES: dict[str, float] = {"new": 0.40, "regular": 0.34, "loyal": 0.15, "lapsed": 0.11}
#: Age bands and their population shares (age is 18 + Gamma(4, 7) in :mod:`.customers`).
AGE_BAND_SHARES: dict[str, float] = {"18-34": 0.23, "35-54": 0.54, "55+": 0.23}
AGE_BANDS: tuple[str, ...] = tuple(AGE_BAND_SHARES)
#: Audience ids, segment-major: ``"new 18-34"``, ``"new 35-54"``, ..., ``"lapsed 55+"``.
AUDIENCES: tuple[str, ...] = tuple(f"{s} {b}" for s in SEGMENT_SHARES for b in AGE_BANDS)

_SEGMENT_CTR = {"new": 0.0, "regular": -0.05, "loyal": 0.20, "lapsed": -0.25}
_AGE_CTR = {"18-34": 0.15, "35-54": 0.0, "55+": -0.15}
#: Audience shift of the CTR logit: segment part + age part.
AUDIENCE_CTR: dict[str, float] = {
    f"{s} {b}": round(_SEGMENT_CTR[s] + _AGE_CTR[b], 4) for s in SEGMENT_SHARES for b in AGE_BANDS
}
#: Audience x attribute affinities on the CTR logit, by segment or age band (see the module docstring).
AUDIENCE_AFFINITIES: dict[str, dict[str, float]] = {
    "18-34": {"format:story": 0.50, "category:audio": 0.40, "format:landscape": -0.25, "text_density": -0.60},
    "35-54": {"category:home": 0.25, "category:cleaning": 0.30, "format:story": -0.10},
    "55+": {"format:story": -0.45, "category:kitchen": 0.40, "channel:email": 0.30, "text_density": 0.50},
    "new": {"has_logo": 0.35, "color:purple": 0.25, "headline_has_number": 0.15},
    "regular": {"category:cleaning": 0.20, "color:black": -0.30},
    "loyal": {"headline_has_number": -0.35, "has_logo": 0.20, "category:audio": 0.20},
    "lapsed": {"headline_has_number": 0.50, "color:red": 0.25, "channel:email": -0.30},
}
#: Conversion-per-click model: intercept (logit of 3 %), discount headline, log(price / 100), creative noise sd.
CVR_EFFECTS: dict[str, float] = {
    "intercept": float(np.log(0.03 / 0.97)),
    "headline_has_number": 0.3,
    "log_price_over_100": -0.5,
    "noise_sd": 0.1,
}
_SEGMENT_CVR = {"new": -0.3, "regular": 0.0, "loyal": 0.4, "lapsed": -0.1}
#: Audience shift of the CVR logit (by segment).
AUDIENCE_CVR: dict[str, float] = {f"{s} {b}": _SEGMENT_CVR[s] for s in SEGMENT_SHARES for b in AGE_BANDS}
_SEGMENT_BASELINE = {"new": 2.0e-4, "regular": 3.0e-4, "loyal": 5.0e-4, "lapsed": 1.5e-4}
_AGE_BASELINE = {"18-34": 0.8, "35-54": 1.0, "55+": 1.1}
#: Conversion probability per person of an audience without any ad (holdout).
BASELINE: dict[str, float] = {
    f"{s} {b}": round(_SEGMENT_BASELINE[s] * _AGE_BASELINE[b], 8) for s in SEGMENT_SHARES for b in AGE_BANDS
}
#: Share of ad-driven conversions that would have happened anyway, by segment.
CANNIBALISATION: dict[str, float] = {"new": 0.1, "regular": 0.3, "loyal": 0.5, "lapsed": 0.1}
#: Share of creatives that are annoying (harm = HARM_MULTIPLIER * their mean ctr * cvr).
ANNOYING_SHARE = 0.10
HARM_MULTIPLIER = 1.6
#: Days of history in a Galaxy world (every size).
HISTORY_DAYS = 56
#: Median daily impressions of one creative, by channel; day-to-day log-normal spread.
CHANNEL_VOLUME: dict[str, float] = {"social": 20_000.0, "display": 40_000.0, "video": 15_000.0, "email": 6_000.0}
VOLUME_SD = 0.4
#: Dirichlet concentration of the daily audience split around the population shares.
CONCENTRATION = 200.0
#: Master image size (width, height) and object colours.
MASTER_SIZE: tuple[int, int] = (1600, 1000)
MASTER_COLORS: tuple[tuple[int, int, int], ...] = (
    (142, 68, 173),
    (41, 128, 185),
    (22, 160, 133),
    (230, 126, 34),
    (30, 30, 30),
)
_BG_TOP, _BG_BOTTOM = (241, 236, 245), (255, 255, 255)

FORMULA = (
    "ctr[c,a] = sigmoid(logit(true_ctr[c]) + audience_ctr[a] + sum_{t in (segment(a), age_band(a))} "
    "sum_attr affinities[t][attr] * x[c,attr]); "
    "cvr[c,a] = sigmoid(cvr_effects.intercept + cvr_effects.headline_has_number*has_digit(headline) "
    "+ cvr_effects.log_price_over_100*log(price/100) + audience_cvr[a] + Normal(0, cvr_effects.noise_sd) per c); "
    "incremental[c,a] = ctr*cvr*(1 - cannibalisation[segment(a)]) - harm[c], "
    "harm[c] = harm_multiplier * sum_a share[a]*ctr[c,a]*cvr[c,a] if c annoying else 0; "
    "daily impressions per creative ~ round(LogNormal(log(volume[channel]), volume_sd)) split by "
    "Multinomial(Dirichlet(concentration*share)); clicks ~ Binomial(impressions, ctr); "
    "conversions ~ Binomial(clicks, cvr)"
)

_HISTORY_COLUMNS = ["date", "creative_id", "audience", "platform", "impressions", "clicks", "conversions"]
_TRUTH_COLUMNS = [
    "creative_id",
    "audience",
    "platform",
    "true_ctr",
    "true_cvr",
    "true_incremental",
    "baseline",
    "annoying",
]


@dataclass(frozen=True)
class CreativeHistory:
    """A simulated creative performance history and its truth.

    Attributes
    ----------
    table
        Raw ``creative_performance``: ``date, creative_id, audience, platform,
        impressions, clicks, conversions`` (one row per day, creative and audience).
    truth
        Per creative and audience: ``creative_id, audience, platform, true_ctr, true_cvr,
        true_incremental, baseline, annoying``.
    audiences
        ``audience, segment, age_band, share`` (see :func:`audiences_table`).
    meta
        The mechanism's parameters and realised choices (``ground_truth["creative"]["history"]``
        without the truth-table path): formula, audiences, audience_ctr, audience_cvr,
        affinities, cvr_effects, baseline, cannibalisation, annoying ids, harm per
        annoying creative, channel volume, days, start and end.
    """

    table: pd.DataFrame
    truth: pd.DataFrame
    audiences: pd.DataFrame
    meta: dict[str, Any]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def audiences_table() -> pd.DataFrame:
    """Return the twelve audiences: ``audience, segment, age_band, share`` (shares sum to 1).

    Returns
    -------
    pandas.DataFrame
        One row per audience, in :data:`AUDIENCES` order.
    """
    rows = [
        {"audience": f"{s} {b}", "segment": s, "age_band": b, "share": SEGMENT_SHARES[s] * AGE_BAND_SHARES[b]}
        for s in SEGMENT_SHARES
        for b in AGE_BANDS
    ]
    return pd.DataFrame(rows)


def _products_of(creatives: pd.DataFrame) -> list[Product | None]:
    """Find each creative's catalogue product: its ``product_sku``, else the first product named in its headline."""
    by_sku = {p.sku: p for p in PRODUCTS}
    skus = creatives["product_sku"] if "product_sku" in creatives else pd.Series(None, index=creatives.index)
    out: list[Product | None] = []
    for sku, headline in zip(skus, creatives["headline"].astype(str), strict=True):
        product = by_sku.get(sku) if isinstance(sku, str) else None
        if product is None:
            product = next((p for p in PRODUCTS if p.name in headline), None)
        out.append(product)
    return out


def _attribute(creatives: pd.DataFrame, categories: np.ndarray, name: str) -> np.ndarray:
    """Value of attribute ``name`` (see the module docstring) for every creative."""
    kind, _, level = name.partition(":")
    columns = {"format": "format", "color": "dominant_color", "channel": "channel"}
    if kind in columns and level:
        return (creatives[columns[kind]].astype(str).to_numpy() == level).astype(float)
    if kind == "category" and level:
        return (categories == level).astype(float)
    if name == "has_logo":
        return creatives["has_logo"].astype(bool).to_numpy().astype(float)
    if name == "headline_has_number":
        return creatives["headline"].astype(str).str.contains(r"\d").to_numpy().astype(float)
    if name == "text_density":
        return creatives["text_density"].astype(float).to_numpy()
    raise ValueError(f"unknown creative attribute {name!r} in AUDIENCE_AFFINITIES")


def _true_rates(
    creatives: pd.DataFrame, true_ctr: Mapping[str, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return the true CTR and CVR per creative x audience (two n x 12 arrays)."""
    ids = creatives["creative_id"].astype(str).to_numpy()
    missing = [c for c in ids if c not in true_ctr]
    if missing:
        raise KeyError(f"true_ctr lacks creatives {missing[:5]}")
    products = _products_of(creatives)
    categories = np.array([p.category if p else "" for p in products], dtype=object)
    prices = np.array([p.price if p else 100.0 for p in products], dtype=float)
    base = np.array([true_ctr[c] for c in ids], dtype=float)
    logit = np.log(base / (1 - base))[:, None] + np.array([AUDIENCE_CTR[a] for a in AUDIENCES])[None, :]
    segs = [a.split(" ")[0] for a in AUDIENCES]
    bands = [a.split(" ")[1] for a in AUDIENCES]
    for target, effects in AUDIENCE_AFFINITIES.items():
        hit = np.array([target in (s, b) for s, b in zip(segs, bands, strict=True)], dtype=float)
        for attr, eff in effects.items():
            logit += eff * _attribute(creatives, categories, attr)[:, None] * hit[None, :]
    ctr = _sigmoid(logit)
    discount = _attribute(creatives, categories, "headline_has_number")
    noise = rng.normal(0.0, CVR_EFFECTS["noise_sd"], len(ids))
    cvr_logit = (
        CVR_EFFECTS["intercept"]
        + CVR_EFFECTS["headline_has_number"] * discount
        + CVR_EFFECTS["log_price_over_100"] * np.log(prices / 100.0)
        + noise
    )[:, None] + np.array([AUDIENCE_CVR[a] for a in AUDIENCES])[None, :]
    return ctr, _sigmoid(cvr_logit)


def simulate_creative_history(
    creatives: pd.DataFrame,
    true_ctr: Mapping[str, float],
    end: pd.Timestamp,
    days: int,
    seed: int,
) -> CreativeHistory:
    """Simulate a daily creative x audience performance history with known truth (see the module docstring).

    Parameters
    ----------
    creatives
        Creatives table (``creative_id, channel, format, headline, dominant_color, has_logo,
        text_density`` and, optionally, ``product_sku``; without it the product is the
        first catalogue product named in the headline).
    true_ctr
        Each creative's own CTR (``CreativeSet.true_ctr``), before audience effects.
    end
        End of the history: the rows cover the ``days`` days before ``end``'s date.
    days
        Number of days (at least 1).
    seed
        Master seed (the stream ``"creative_history"`` is derived from it).

    Returns
    -------
    CreativeHistory
        The raw table, the truth per creative and audience, the audiences and the parameters.

    Examples
    --------
    >>> from galaxy_lib.simulate.creatives import simulate_creatives
    >>> cre = simulate_creatives(seed=1, n_creatives=10, asset_dir=None)
    >>> h = simulate_creative_history(cre.table, cre.true_ctr, pd.Timestamp("2024-03-01"), days=7, seed=1)
    >>> len(h.table) == 7 * 10 * 12
    True
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    rng = rng_for(seed, "creative_history")
    creatives = creatives.reset_index(drop=True)
    n = len(creatives)
    ids = creatives["creative_id"].astype(str).to_numpy()
    channels = creatives["channel"].astype(str).to_numpy()
    ctr, cvr = _true_rates(creatives, true_ctr, rng)
    shares = np.array([SEGMENT_SHARES[a.split(" ")[0]] * AGE_BAND_SHARES[a.split(" ")[1]] for a in AUDIENCES])

    n_annoying = min(n, max(1, round(ANNOYING_SHARE * n))) if n else 0
    annoying = np.zeros(n, dtype=bool)
    annoying[rng.choice(n, size=n_annoying, replace=False)] = True
    conv_rate = ctr * cvr
    harm = np.where(annoying, HARM_MULTIPLIER * (conv_rate @ shares), 0.0)
    cannib = np.array([CANNIBALISATION[a.split(" ")[0]] for a in AUDIENCES])
    incremental = conv_rate * (1.0 - cannib)[None, :] - harm[:, None]

    # delivery: even, not performance-driven
    volume = np.array([CHANNEL_VOLUME.get(ch, float(np.median(list(CHANNEL_VOLUME.values())))) for ch in channels])
    totals = np.round(rng.lognormal(np.log(volume)[None, :], VOLUME_SD, size=(days, n))).astype(np.int64)
    split = rng.dirichlet(CONCENTRATION * shares, size=(days, n))
    impressions = rng.multinomial(totals, split)
    clicks = rng.binomial(impressions, ctr[None, :, :])
    conversions = rng.binomial(clicks, cvr[None, :, :])

    last = pd.Timestamp(end).normalize()
    if last == pd.Timestamp(end):
        last -= pd.Timedelta(days=1)
    dates = pd.date_range(end=last, periods=days, freq="D")
    k = len(AUDIENCES)
    table = pd.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), n * k),
            "creative_id": np.tile(np.repeat(ids, k), days).astype(object),
            "audience": np.tile(np.array(AUDIENCES, dtype=object), days * n),
            "platform": np.tile(np.repeat(channels, k), days).astype(object),
            "impressions": impressions.reshape(-1).astype(np.int64),
            "clicks": clicks.reshape(-1).astype(np.int64),
            "conversions": conversions.reshape(-1).astype(np.int64),
        },
        columns=_HISTORY_COLUMNS,
    )
    truth = pd.DataFrame(
        {
            "creative_id": np.repeat(ids, k).astype(object),
            "audience": np.tile(np.array(AUDIENCES, dtype=object), n),
            "platform": np.repeat(channels, k).astype(object),
            "true_ctr": ctr.reshape(-1),
            "true_cvr": cvr.reshape(-1),
            "true_incremental": incremental.reshape(-1),
            "baseline": np.tile([BASELINE[a] for a in AUDIENCES], n),
            "annoying": np.repeat(annoying, k),
        },
        columns=_TRUTH_COLUMNS,
    )
    meta = {
        "formula": FORMULA,
        "audiences": list(AUDIENCES),
        "segment_shares": dict(SEGMENT_SHARES),
        "age_band_shares": dict(AGE_BAND_SHARES),
        "audience_ctr": dict(AUDIENCE_CTR),
        "audience_cvr": dict(AUDIENCE_CVR),
        "affinities": {t: dict(e) for t, e in AUDIENCE_AFFINITIES.items()},
        "cvr_effects": dict(CVR_EFFECTS),
        "baseline": dict(BASELINE),
        "cannibalisation": dict(CANNIBALISATION),
        "harm_multiplier": HARM_MULTIPLIER,
        "annoying": [str(c) for c in ids[annoying]],
        "harm": {str(c): float(h) for c, h in zip(ids[annoying], harm[annoying], strict=True)},
        "channel_volume": dict(CHANNEL_VOLUME),
        "volume_sd": VOLUME_SD,
        "concentration": CONCENTRATION,
        "days": int(days),
        "start": dates[0].isoformat(),
        "end": (dates[-1] + pd.Timedelta(days=1)).isoformat(),
    }
    return CreativeHistory(table=table, truth=truth, audiences=audiences_table(), meta=meta)


# --------------------------------------------------------------------------- product masters


def master_path(sku: str) -> str:
    """Relative path of a product's master image in a world: ``assets/masters/<sku>.png``."""
    return f"assets/masters/{sku}.png"


@lru_cache(maxsize=2)
def _background(w: int, h: int) -> Image.Image:
    """Draw the vertical gradient (once per size; callers draw on a copy)."""
    t = np.linspace(0.0, 1.0, h)[:, None]
    col = np.array(_BG_TOP)[None, :] * (1 - t) + np.array(_BG_BOTTOM)[None, :] * t
    arr = np.broadcast_to(np.round(col).astype(np.uint8)[:, None, :], (h, w, 3))
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


_ASPECT = {"kitchen": 0.70, "home": 0.55, "cleaning": 0.42, "audio": 1.35}


def draw_master(product: Product, path: Path | None, seed: int) -> tuple[int, int, int, int]:
    """Draw a product's 1600x1000 master "photo" (see the module docstring) and return the object's box.

    Parameters
    ----------
    product
        Catalogue product (its category sets the object's proportions).
    path
        Where to save the PNG (``None``: do not save).
    seed
        Seed of the colour, size and off-centre position.

    Returns
    -------
    tuple of int
        ``(x0, y0, x1, y1)`` in pixels, right and bottom exclusive (``Image.crop`` convention):
        every pixel of the object lies in it, and the object touches each side.
    """
    w, h = MASTER_SIZE
    rng = np.random.default_rng(seed)
    color = MASTER_COLORS[int(rng.integers(len(MASTER_COLORS)))]
    oh = round(h * float(rng.uniform(0.28, 0.32)))
    ow = round(oh * _ASPECT.get(product.category, 0.6) * float(rng.uniform(0.9, 1.1)))
    left = bool(rng.random() < 0.5)
    cx = round(w * float(rng.uniform(0.14, 0.30) if left else rng.uniform(0.70, 0.86)))
    cy = round(h * float(rng.uniform(0.35, 0.65)))
    x0, y0 = cx - ow // 2, cy - oh // 2
    x1, y1 = x0 + ow, y0 + oh  # exclusive

    img = _background(w, h).copy()
    # a faint, blurred floor shadow just under the object (not part of the object)
    pad = 40
    shadow = Image.new("L", (ow + 2 * pad, 60 + 2 * pad), 0)
    ImageDraw.Draw(shadow).ellipse((pad, pad, pad + ow - 1, pad + 50), fill=60)
    shadow = shadow.filter(ImageFilter.GaussianBlur(12))
    img.paste((200, 190, 210), (x0 - pad, y1 - 25 - pad), shadow)

    draw = ImageDraw.Draw(img)
    base_h = max(12, oh // 10)
    cap_h = max(10, oh // 9)
    dark = (70, 70, 80) if color == (30, 30, 30) else (30, 30, 30)
    light = (250, 250, 252)
    # cap (narrower, on top), body, panel, button, base (full width, bottom)
    cap_w = ow // 3
    draw.rounded_rectangle((cx - cap_w // 2, y0, cx - cap_w // 2 + cap_w - 1, y0 + 2 * cap_h), 8, fill=dark)
    draw.rounded_rectangle((x0 + ow // 12, y0 + cap_h, x1 - 1 - ow // 12, y1 - base_h), ow // 8, fill=color)
    pw, ph = int(ow * 0.5), int(oh * 0.28)
    px0, py0 = cx - pw // 2, y0 + cap_h + int(oh * 0.14)
    draw.rounded_rectangle((px0, py0, px0 + pw, py0 + ph), 10, fill=light)
    r = max(6, ow // 14)
    by = py0 + ph + (y1 - base_h - py0 - ph) // 2
    draw.ellipse((cx - r, by - r, cx + r, by + r), fill=light, outline=dark, width=3)
    draw.rounded_rectangle((x0, y1 - base_h, x1 - 1, y1 - 1), base_h // 3, fill=dark)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, format="PNG", compress_level=1)  # fast; a gradient compresses well anyway
    return (x0, y0, x1, y1)


def products_table() -> pd.DataFrame:
    """Return the catalogue as the raw ``products`` table.

    Returns
    -------
    pandas.DataFrame
        ``sku, name, category, price, tagline, feature_1..feature_4, master_image``
        (``master_image`` = :func:`master_path`).
    """
    rows = []
    for p in PRODUCTS:
        feats = list(p.features[:4]) + [None] * (4 - min(4, len(p.features)))
        rows.append(
            {
                "sku": p.sku,
                "name": p.name,
                "category": p.category,
                "price": float(p.price),
                "tagline": p.tagline,
                **{f"feature_{i + 1}": f for i, f in enumerate(feats)},
                "master_image": master_path(p.sku),
            }
        )
    return pd.DataFrame(rows)


def metadata_features(creatives: pd.DataFrame) -> pd.DataFrame:
    """Model features of simulated creatives from their metadata, as the image and copy readers would measure them.

    For tests and benchmarks that need a pre-flight model's inputs without drawing and reading PNGs:
    the dominant colour in CIELAB, the format's aspect ratio, the logo, the text density, a digit and
    the length of the headline, and the catalogue price of the product.

    Parameters
    ----------
    creatives
        The creatives table of :func:`galaxy_lib.simulate.creatives.simulate_creatives`.

    Returns
    -------
    pandas.DataFrame
        One row per creative, indexed by ``creative_id``.
    """
    from skimage.color import rgb2lab

    from galaxy_lib.simulate.creatives import COLORS, FORMATS

    price = {p.sku: p.price for p in PRODUCTS}
    rgb = np.array([COLORS[c] for c in creatives["dominant_color"]], dtype=float) / 255.0
    lab = rgb2lab(rgb.reshape(-1, 1, 3)).reshape(-1, 3)
    size = np.array([FORMATS[f] for f in creatives["format"]], dtype=float)
    headline = creatives["headline"].astype(str)
    return pd.DataFrame(
        {
            "aspect_ratio": size[:, 0] / size[:, 1],
            "dominant_l": lab[:, 0],
            "dominant_a": lab[:, 1],
            "dominant_b": lab[:, 2],
            "has_logo": creatives["has_logo"].astype(float).to_numpy(),
            "text_density": creatives["text_density"].astype(float).to_numpy(),
            "has_number": headline.str.contains(r"\d").astype(float).to_numpy(),
            "headline_chars": headline.str.len().astype(float).to_numpy(),
            "price": creatives["product_sku"].map(price).astype(float).to_numpy(),
        },
        index=pd.Index(creatives["creative_id"].astype(str), name="creative_id"),
    )
