"""Customer journeys for multi-touch attribution: touchpoints and conversions with known causes.

Mechanism (``ground_truth["mta"]`` records the parameters and the realised credit)
---------------------------------------------------------------------------------

**Touches.** For customer ``i`` in geo ``g`` and channel ``c``, touches form a
Poisson process over the customer's active window (signup or period start, to
period end) with a weekly intensity that is piecewise constant by week::

    rate[c,g,t] = base_rate_c * touch_rate * ((1 - k_c) + k_c * spend[c,g,t] / mean_t spend[c,g,.])
                  * propensity_i  (* email_engagement_i / 0.2857 for e-mail)

``k_c`` is the spend-linked share of the intensity: ``search``, ``social``,
``display`` and ``video`` follow that week's spend of the same channel in the
customer's geo (the MMM spend, so journeys and the MMM tell one story);
``email`` and ``direct`` do not depend on spend but rise 50 % / 30 % in holiday
weeks. Touch times are drawn by inverting the cumulative intensity, so every
touch lands in a week in proportion to that week's intensity.

**Conversions with a known cause.** Every such touch independently *triggers*
a conversion with the channel's probability ``p_c``; the conversion happens
``5 minutes + Exponential(lag_c)`` after the triggering touch (so never before
it, and never before the customer's first touch). Upper-funnel channels
(``video``, ``social``, ``display``) have high ``p_c`` and long lags; ``search``
and ``direct`` have low ``p_c``. Independently, each customer converts
organically (*baseline*) as a Poisson process with weekly hazard
``h0 * (0.7 + 0.3 * log1p(past_purchases))``. Conversions that would fall after
the period end are censored (never happen).

**Navigational touches make position matter.** Right before a conversion (any
cause), with probability ``NAV_PROB`` the customer arrives through a ``search``
(60 %) or ``direct`` (40 %) touch, ``1 minute + Exponential(3 hours)`` before the
conversion (and after the triggering touch). These touches are *effects* of the
purchase intent, never causes: they do not trigger. So ``search`` and ``direct``
are usually the last touch while carrying little causal credit, and last-touch
attribution over-credits them.

**Truth.** The cause of every conversion is written to ``truth/conversions.parquet``
(``conversion_id, customer_id, ts, cause, trigger_event_id``). The true channel
credit is the share of marketing-caused (non-baseline) conversions triggered by
each channel (sums to 1); ``baseline_share`` is the share of all conversions that
are organic.

Revenue per conversion is ``Gamma(shape 4, mean avg_order_value_i)``. Every event
gets ``ingested_at = ts + 1 s + Exponential(4 min)`` (conversions: 10 min), and
1 % arrive late by a further 1 to 72 hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from galaxy_lib.core.contracts import MMM_CHANNELS, TOUCH_CHANNELS
from galaxy_lib.simulate._util import NS_PER_DAY, NS_PER_HOUR, NS_PER_WEEK, format_ids, scramble
from galaxy_lib.simulate.customers import CustomerBlock

__all__ = [
    "BASELINE_HAZARD",
    "CAUSES",
    "NAV_PROB",
    "NAV_SEARCH_SHARE",
    "TOUCH_PARAMS",
    "JourneyBlock",
    "JourneyContext",
    "build_context",
    "simulate_journeys",
]

#: Per touch channel: weekly base intensity, spend-linked share k, trigger probability p, mean lag (days).
TOUCH_PARAMS: dict[str, dict[str, float]] = {
    "search": {"rate": 0.020, "spend_share": 0.7, "p": 0.006, "lag_days": 1.0},
    "social": {"rate": 0.026, "spend_share": 0.85, "p": 0.030, "lag_days": 6.0},
    "display": {"rate": 0.030, "spend_share": 0.9, "p": 0.018, "lag_days": 8.0},
    "video": {"rate": 0.014, "spend_share": 0.9, "p": 0.045, "lag_days": 10.0},
    "email": {"rate": 0.018, "spend_share": 0.0, "p": 0.022, "lag_days": 2.0},
    "direct": {"rate": 0.008, "spend_share": 0.0, "p": 0.004, "lag_days": 0.5},
}
HOLIDAY_LIFT: dict[str, float] = {"email": 0.5, "direct": 0.3}
#: Organic conversion hazard per customer-week (before the past-purchase factor).
BASELINE_HAZARD: float = 0.0012
NAV_PROB: float = 0.65
NAV_SEARCH_SHARE: float = 0.6
NAV_GAP_HOURS: float = 3.0
MEAN_ENGAGEMENT: float = 2 / 7  # mean of Beta(2, 5)
#: Conversion causes: the touch channels, then ``baseline``.
CAUSES: tuple[str, ...] = (*TOUCH_CHANNELS, "baseline")
_BLOCK_EVENTS = 1 << 20  # event-id space per block


@dataclass(frozen=True)
class JourneyContext:
    """World-level inputs shared by every block."""

    n_weeks: int
    start_ns: int
    end_ns: int
    rates: np.ndarray  # [channel, geo, week] weekly intensity
    cum: np.ndarray  # [channel, geo, week + 1] cumulative intensity
    flat: np.ndarray  # cum flattened with offsets (strictly increasing across segments)
    offsets: np.ndarray  # [channel, geo]
    trigger_p: np.ndarray  # [channel]
    lag_ns: np.ndarray  # [channel] mean lag in ns
    campaigns: pa.Array  # dictionary of campaign ids
    quarter0: int  # months-since-epoch // 3 of the first week
    n_quarters: int
    creative_ids: pa.Array  # dictionary of creative ids
    creative_cdf: dict[int, tuple[np.ndarray, int]]  # channel index -> (cumulative weights, first index)


@dataclass(frozen=True)
class JourneyBlock:
    """Tables of one customer block and the count of conversions per cause."""

    touchpoints: pa.Table
    conversions: pa.Table
    truth: pa.Table
    cause_counts: np.ndarray  # [len(CAUSES)]
    last_touch_counts: np.ndarray  # [len(TOUCH_CHANNELS)]: channel of the last touch before each conversion
    touch_counts: np.ndarray  # [len(TOUCH_CHANNELS)]


def build_context(
    spend: np.ndarray,
    holiday: np.ndarray,
    weeks: pd.DatetimeIndex,
    creatives: pd.DataFrame,
    touch_rate: float,
) -> JourneyContext:
    """Precompute intensities, campaign and creative dictionaries from the MMM spend and creatives."""
    n_geos, n_weeks = spend.shape[1:]
    rates = np.empty((len(TOUCH_CHANNELS), n_geos, n_weeks))
    for k, c in enumerate(TOUCH_CHANNELS):
        p = TOUCH_PARAMS[c]
        if c in MMM_CHANNELS:
            s = spend[MMM_CHANNELS.index(c)]
            rel = s / s.mean(axis=1, keepdims=True)
            rates[k] = p["rate"] * ((1 - p["spend_share"]) + p["spend_share"] * rel)
        else:
            rates[k] = p["rate"] * (1 + HOLIDAY_LIFT.get(c, 0.0) * holiday)[None, :]
    rates *= touch_rate
    cum = np.concatenate([np.zeros((*rates.shape[:2], 1)), np.cumsum(rates, axis=2)], axis=2)
    seg_total = cum[:, :, -1].ravel() + 1.0
    offsets = np.concatenate([[0.0], np.cumsum(seg_total)[:-1]]).reshape(rates.shape[:2])
    flat = (cum + offsets[:, :, None]).ravel()

    start = weeks[0]
    quarter0 = (start.year - 1970) * 4 + (start.month - 1) // 3
    last = weeks[-1] + pd.Timedelta(days=6)
    n_quarters = (last.year - 1970) * 4 + (last.month - 1) // 3 - quarter0 + 1
    names = []
    for c in TOUCH_CHANNELS:
        for q in range(n_quarters):
            qq = quarter0 + q
            names.append("direct" if c == "direct" else f"{c}-{1970 + qq // 4}Q{qq % 4 + 1}")

    creative_cdf: dict[int, tuple[np.ndarray, int]] = {}
    ids = creatives["creative_id"].tolist()
    for k, c in enumerate(TOUCH_CHANNELS):
        mask = (creatives["channel"] == c).to_numpy()
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            if not (np.flatnonzero(mask) == np.arange(first, first + mask.sum())).all():
                raise ValueError("creatives must be grouped by channel")
            w = creatives.loc[mask, "clicks"].to_numpy(dtype=float) + 1.0
            creative_cdf[k] = (np.cumsum(w) / w.sum(), first)

    return JourneyContext(
        n_weeks=n_weeks,
        start_ns=int(start.value),
        end_ns=int(start.value + n_weeks * NS_PER_WEEK),
        rates=rates,
        cum=cum,
        flat=flat,
        offsets=offsets,
        trigger_p=np.array([TOUCH_PARAMS[c]["p"] for c in TOUCH_CHANNELS]),
        lag_ns=np.array([TOUCH_PARAMS[c]["lag_days"] * NS_PER_DAY for c in TOUCH_CHANNELS]),
        campaigns=pa.array(names, pa.string()),
        quarter0=quarter0,
        n_quarters=n_quarters,
        creative_ids=pa.array(ids, pa.string()),
        creative_cdf=creative_cdf,
    )


def _ingestion_lag(rng: np.random.Generator, n: int, mean_seconds: float) -> np.ndarray:
    lag = (1.0 + rng.exponential(mean_seconds, n)) * 1e9
    late = rng.random(n) < 0.01
    lag = lag + late * rng.uniform(1, 72, n) * NS_PER_HOUR
    return lag.astype(np.int64)


def simulate_journeys(
    rng: np.random.Generator, block_index: int, block: CustomerBlock, ctx: JourneyContext
) -> JourneyBlock:
    """Touchpoints, conversions and conversion causes of one customer block (see the module docstring)."""
    n = len(block.number)
    n_ch = len(TOUCH_CHANNELS)
    T = ctx.n_weeks
    geo = block.geo
    s = block.active_start
    w0 = np.minimum(np.floor(s).astype(np.int64), T - 1)

    # -- organic / paid touches: Poisson process by inverting the cumulative intensity
    mult = np.repeat(block.propensity[:, None], n_ch, axis=1)
    mult[:, TOUCH_CHANNELS.index("email")] *= block.email_engagement / MEAN_ENGAGEMENT
    ch_idx = np.arange(n_ch)[None, :]
    lo = ctx.cum[ch_idx, geo[:, None], w0[:, None]] + ctx.rates[ch_idx, geo[:, None], w0[:, None]] * (s - w0)[:, None]
    total = ctx.cum[ch_idx, geo[:, None], T] - lo
    counts = rng.poisson(mult * np.maximum(total, 0.0))
    cust = np.repeat(np.repeat(np.arange(n), n_ch), counts.ravel())
    chan = np.repeat(np.tile(np.arange(n_ch), n), counts.ravel())
    u = lo[cust, chan] + rng.random(cust.size) * total[cust, chan]
    pos = np.searchsorted(ctx.flat, u + ctx.offsets[chan, geo[cust]], side="right") - 1
    week = np.clip(pos - (chan * len(ctx.offsets[0]) + geo[cust]) * (T + 1), 0, T - 1)
    frac = np.clip((u - ctx.cum[chan, geo[cust], week]) / ctx.rates[chan, geo[cust], week], 0.0, 1.0)
    ts = ctx.start_ns + ((week + frac) * NS_PER_WEEK).astype(np.int64)
    ts = np.maximum(ts, block.signup_ns[cust])

    # -- triggered conversions
    trig = np.flatnonzero(rng.random(cust.size) < ctx.trigger_p[chan])
    lag = (5 * 60 * 1e9 + rng.exponential(1.0, trig.size) * ctx.lag_ns[chan[trig]]).astype(np.int64)
    conv_ts_m = ts[trig] + lag
    keep = conv_ts_m < ctx.end_ns
    trig, conv_ts_m = trig[keep], conv_ts_m[keep]

    # -- baseline (organic) conversions
    hazard = BASELINE_HAZARD * (0.7 + 0.3 * np.log1p(block.past_purchases))
    n_base = rng.poisson(hazard * (T - s))
    b_cust = np.repeat(np.arange(n), n_base)
    b_ts = ctx.start_ns + ((s[b_cust] + rng.random(b_cust.size) * (T - s[b_cust])) * NS_PER_WEEK).astype(np.int64)
    b_ts = np.maximum(b_ts, block.signup_ns[b_cust] + 60 * 10**9)

    conv_cust = np.concatenate([cust[trig], b_cust])
    conv_ts = np.concatenate([conv_ts_m, b_ts])
    conv_cause = np.concatenate([chan[trig], np.full(b_cust.size, n_ch)])
    conv_trigger = np.concatenate([trig, np.full(b_cust.size, -1)])
    lower = np.where(
        conv_trigger >= 0, ts[np.maximum(conv_trigger, 0)], np.maximum(block.signup_ns[conv_cust], ctx.start_ns)
    )

    # -- navigational touches just before conversions (effects, not causes)
    nav = np.flatnonzero(rng.random(conv_cust.size) < NAV_PROB)
    nav_chan = np.where(
        rng.random(nav.size) < NAV_SEARCH_SHARE, TOUCH_CHANNELS.index("search"), TOUCH_CHANNELS.index("direct")
    )
    gap = 60e9 + rng.exponential(NAV_GAP_HOURS, nav.size) * NS_PER_HOUR
    gap = np.minimum(gap, 0.9 * (conv_ts[nav] - lower[nav])).astype(np.int64)
    nav_ts = conv_ts[nav] - gap

    all_cust = np.concatenate([cust, conv_cust[nav]])
    all_chan = np.concatenate([chan, nav_chan])
    all_ts = np.concatenate([ts, nav_ts])
    order = np.lexsort((all_ts, all_cust))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    all_cust, all_chan, all_ts = all_cust[order], all_chan[order], all_ts[order]
    if all_ts.size >= _BLOCK_EVENTS:
        raise RuntimeError(f"Block {block_index} has {all_ts.size} events; the id space holds {_BLOCK_EVENTS}.")
    event_num = scramble(np.uint64(block_index) * np.uint64(_BLOCK_EVENTS) + np.arange(all_ts.size, dtype=np.uint64))
    event_ids = format_ids("E", event_num, 15)

    # campaign: channel x quarter of the touch
    months = all_ts.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    quarter = np.clip(months // 3 - ctx.quarter0, 0, ctx.n_quarters - 1)
    campaign = pa.DictionaryArray.from_arrays(
        pa.array(all_chan * ctx.n_quarters + quarter, pa.int32()), ctx.campaigns
    ).cast(pa.string())
    # creative: picked in proportion to the creative's clicks, none for search and direct
    creative_idx = np.zeros(all_ts.size, dtype=np.int32)
    has_creative = np.zeros(all_ts.size, dtype=bool)
    for k, (cdf, first) in ctx.creative_cdf.items():
        m = np.flatnonzero(all_chan == k)
        creative_idx[m] = first + np.minimum(np.searchsorted(cdf, rng.random(m.size)), cdf.size - 1)
        has_creative[m] = True
    creative = pa.DictionaryArray.from_arrays(
        pa.array(creative_idx, pa.int32(), mask=~has_creative), ctx.creative_ids
    ).cast(pa.string())
    cid = block.customer_id
    touch_ingest = all_ts + _ingestion_lag(rng, all_ts.size, 240.0)
    touchpoints = pa.table(
        {
            "event_id": event_ids,
            "customer_id": cid.take(pa.array(all_cust)),
            "ts": pa.array(all_ts, pa.timestamp("ns")),
            "channel": pa.DictionaryArray.from_arrays(pa.array(all_chan, pa.int32()), pa.array(TOUCH_CHANNELS)).cast(
                pa.string()
            ),
            "campaign_id": campaign,
            "creative_id": creative,
            "ingested_at": pa.array(touch_ingest, pa.timestamp("ns")),
        }
    )

    # conversions, ordered by customer and time
    c_order = np.lexsort((conv_ts, conv_cust))
    conv_cust, conv_ts = conv_cust[c_order], conv_ts[c_order]
    conv_cause, conv_trigger = conv_cause[c_order], conv_trigger[c_order]
    conv_num = scramble(
        np.uint64(1 << 47)
        + np.uint64(block_index) * np.uint64(_BLOCK_EVENTS)
        + np.arange(conv_ts.size, dtype=np.uint64)
    )
    conv_ids = format_ids("V", conv_num, 15)
    aov = block.avg_order_value[conv_cust]
    revenue = np.round(rng.gamma(4.0, aov / 4.0), 2)
    conv_ingest = conv_ts + _ingestion_lag(rng, conv_ts.size, 600.0)
    conv_cid = cid.take(pa.array(conv_cust))
    conversions = pa.table(
        {
            "conversion_id": conv_ids,
            "customer_id": conv_cid,
            "ts": pa.array(conv_ts, pa.timestamp("ns")),
            "revenue": pa.array(revenue, pa.float64()),
            "ingested_at": pa.array(conv_ingest, pa.timestamp("ns")),
        }
    )
    attributed = conv_trigger >= 0
    trig_sorted = np.where(attributed, rank[np.maximum(conv_trigger, 0)], 0)
    truth = pa.table(
        {
            "conversion_id": conv_ids,
            "customer_id": conv_cid,
            "ts": pa.array(conv_ts, pa.timestamp("ns")),
            "cause": pa.DictionaryArray.from_arrays(pa.array(conv_cause, pa.int32()), pa.array(CAUSES)).cast(
                pa.string()
            ),
            "trigger_event_id": event_ids.take(pa.array(trig_sorted, mask=~attributed)),
        }
    )

    # channel of the last touch at or before each conversion (to document the last-touch bias)
    span = (T + 1) * NS_PER_WEEK // 1000
    touch_key = all_cust * span + (all_ts - ctx.start_ns) // 1000
    conv_key = conv_cust * span + (conv_ts - ctx.start_ns) // 1000
    idx = np.searchsorted(touch_key, conv_key, side="right") - 1
    has = idx >= 0
    has[has] = all_cust[idx[has]] == conv_cust[has]
    last_counts = np.bincount(all_chan[idx[has]], minlength=n_ch)
    return JourneyBlock(
        touchpoints=touchpoints,
        conversions=conversions,
        truth=truth,
        cause_counts=np.bincount(conv_cause, minlength=len(CAUSES)),
        last_touch_counts=last_counts,
        touch_counts=np.bincount(all_chan, minlength=n_ch),
    )
