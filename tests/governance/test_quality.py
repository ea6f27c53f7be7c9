"""Quality gates: every gate's pass / warn / fail boundaries.

Grading itself (strict thresholds, unmeasurable values, the worst status) is
tested with :mod:`galaxy_lib.core.gates` in tests/core/test_gates.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.core.config import ConfigError, validate_params
from galaxy_lib.core.gates import Gate
from galaxy_lib.governance.quality import (
    Thresholds,
    cardinality_gates,
    duplicate_gate,
    freshness_gate,
    latency_gate,
    null_rate_gates,
    outlier_gate,
    robust_z,
    spend_outlier_gates,
)

TH = Thresholds()


def test_thresholds_are_validated():
    with pytest.raises(ConfigError, match="null_rate_warn"):
        validate_params(Thresholds, {"null_rate_warn": 0.5, "null_rate_fail": 0.1})
    with pytest.raises(ConfigError, match="unknown parameter"):
        validate_params(Thresholds, {"null_rate": 0.5})
    assert validate_params(Thresholds, {"stale_days_warn": 1, "stale_days_fail": 3}).stale_days_fail == 3


@pytest.mark.parametrize("nulls, status", [(0, "pass"), (5, "pass"), (6, "warn"), (20, "warn"), (21, "fail")])
def test_null_rate_boundaries(nulls, status):
    df = pd.DataFrame({"creative_id": [None] * nulls + ["c"] * (100 - nulls)})
    (g,) = null_rate_gates(df, "touchpoints", TH)
    assert (g.gate, g.table, g.column, g.status) == ("null_rate", "touchpoints", "creative_id", status)
    assert g.value == pytest.approx(nulls / 100)
    assert g.detail.startswith(f"{nulls}% of touchpoints.creative_id are null")
    assert "warn above 5%, fail above 20%" in g.detail


def test_null_rate_detail_and_empty_table():
    df = pd.DataFrame({"x": [None] * 32 + [1.0] * 968})
    (g,) = null_rate_gates(df, "touchpoints")
    assert g.detail == "3.2% of touchpoints.x are null (32 of 1,000 rows; warn above 5%, fail above 20%)."
    (e,) = null_rate_gates(df.iloc[:0], "touchpoints")
    assert e.status == "fail" and "no rows" in e.detail
    with pytest.raises(KeyError, match="'y'"):
        null_rate_gates(df, "touchpoints", columns=["y"])


def test_cardinality_boundaries():
    df = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(10)],  # id-like: skipped by default
            "channel": ["a", "b"] * 5,  # 2 distinct, ratio 0.2
            "constant": ["x"] * 10,  # 1 distinct -> warn
            "empty": [None] * 10,  # 0 distinct -> fail
            "free_text": [f"t{i}" for i in range(6)] + ["t0"] * 4,  # ratio 0.6 -> warn
            "spend": np.arange(10.0),  # numeric: no ratio gate
        }
    )
    res = {(g.gate, g.column): g for g in cardinality_gates(df, "touchpoints", TH)}
    assert not any(col == "event_id" for _, col in res)
    assert res["cardinality_min", "channel"].status == "pass"
    assert res["cardinality_min", "constant"].status == "warn"
    assert res["cardinality_min", "empty"].status == "fail"
    assert res["cardinality_ratio", "channel"].status == "pass"
    assert res["cardinality_ratio", "free_text"].status == "warn" and res["cardinality_ratio", "free_text"].value == 0.6
    assert ("cardinality_ratio", "spend") not in res
    ids = {(g.gate, g.column): g for g in cardinality_gates(df, "touchpoints", TH, columns=["event_id"])}
    assert ids["cardinality_ratio", "event_id"].status == "fail"  # 100% > 90%


@pytest.mark.parametrize("delay_h, status", [(24, "pass"), (25, "warn"), (72, "warn"), (73, "fail")])
def test_latency_boundaries(delay_h, status):
    ts = pd.date_range("2024-01-01", periods=100, freq="h")
    df = pd.DataFrame({"ts": ts, "ingested_at": ts + pd.Timedelta(hours=delay_h)})
    g = latency_gate(df, "ts", "ingested_at", "touchpoints", TH)
    assert g.value == pytest.approx(delay_h) and g.status == status


def test_latency_p95_and_clock_skew():
    ts = pd.Series(pd.date_range("2024-01-01", periods=100, freq="h"))
    delays = np.r_[np.ones(95), np.full(5, 500.0)]  # p95 sits between the groups
    df = pd.DataFrame({"ts": ts, "ingested_at": ts + pd.to_timedelta(delays, unit="h")})
    g = latency_gate(df, "ts", "ingested_at", "touchpoints")
    assert g.value == pytest.approx(np.percentile(delays, 95))
    skew = df.copy()
    skew.loc[0, "ingested_at"] = skew.loc[0, "ts"] - pd.Timedelta(hours=2)
    skew.loc[1, "ingested_at"] = pd.NaT
    g2 = latency_gate(skew.iloc[:90], "ts", "ingested_at", "touchpoints")
    assert g2.status == "warn" and "before their event time" in g2.detail and "1 row(s) lack a timestamp" in g2.detail


@pytest.mark.parametrize("dups, status", [(0, "pass"), (1, "warn"), (10, "warn"), (11, "fail")])
def test_duplicate_boundaries(dups, status):
    ids = [f"e{i}" for i in range(1000 - dups)] + ["e0"] * dups
    g = duplicate_gate(pd.DataFrame({"event_id": ids}), ["event_id"], "touchpoints", TH)
    assert g.value == pytest.approx(dups / 1000) and g.status == status


def test_duplicate_on_composite_key():
    df = pd.DataFrame({"week": [1, 1, 1, 2], "geo": ["UK", "UK", "DE", "UK"], "channel": ["tv"] * 4})
    g = duplicate_gate(df, ["week", "geo", "channel"], "spend")
    assert g.value == 0.25 and g.status == "fail" and g.column == "week, geo, channel"


def test_robust_z_matches_definition():
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan, np.inf])
    z = robust_z(x)
    med, mad = 3.0, 1.0 * 1.482602218505602
    assert z[:5] == pytest.approx((x[:5] - med) / mad)
    assert np.isnan(z[5:]).all()
    assert (robust_z([5.0] * 10) == 0).all()
    # MAD = 0 (most values equal) falls back to mean absolute deviation
    z0 = robust_z([1.0] * 9 + [11.0])
    assert z0[-1] == pytest.approx(10 / (1.0 * 1.2533))


@pytest.mark.parametrize("n_out, status", [(0, "pass"), (10, "pass"), (11, "warn"), (50, "warn"), (51, "fail")])
def test_outlier_boundaries(n_out, status):
    base = np.tile(np.linspace(-1, 1, 101), 10)[: 1000 - n_out]  # |z| <= ~1.5
    values = np.r_[base, np.full(n_out, 1e6)]
    g = outlier_gate(values, "spend[tv]", "spend", TH)
    assert g.value == pytest.approx(n_out / 1000) and g.status == status


def test_spend_outlier_gates_per_channel_and_cpc():
    rng = np.random.default_rng(3)
    rows = []
    for ch, level in (("tv", 1e5), ("display", 1e3)):
        spend = level * (1 + 0.1 * rng.standard_normal(200))
        clicks = spend / 2.0 * (1 + 0.05 * rng.standard_normal(200))
        rows.append(pd.DataFrame({"channel": ch, "spend": spend, "clicks": clicks}))
    df = pd.concat(rows, ignore_index=True)
    df.loc[df.index[df.channel == "display"][:20], "clicks"] = 1.0  # CPC explodes on 10% of display rows
    df.loc[df.index[df.channel == "display"][20], "clicks"] = 0.0  # no CPC for this row
    res = {g.column: g for g in spend_outlier_gates(df)}
    assert set(res) == {"spend[tv]", "cpc[tv]", "spend[display]", "cpc[display]"}
    assert res["spend[tv]"].status == "pass" and res["spend[display]"].status == "pass"
    assert res["cpc[display]"].status == "fail" and res["cpc[display]"].value == pytest.approx(20 / 199)
    assert "1 missing or infinite value(s)" in res["cpc[display]"].detail


@pytest.mark.parametrize("days, status", [(0, "pass"), (7, "pass"), (7.5, "warn"), (14, "warn"), (14.5, "fail")])
def test_freshness_boundaries(days, status):
    as_of = pd.Timestamp("2024-03-01")
    g = freshness_gate(as_of - pd.Timedelta(days=days), as_of, "spend", "week", TH)
    assert g.value == pytest.approx(days) and g.status == status
    series = pd.Series([as_of - pd.Timedelta(days=30), as_of - pd.Timedelta(days=days)])
    assert freshness_gate(series, as_of, "spend", "week").value == pytest.approx(days)


def test_freshness_missing_timestamps_fail():
    g = freshness_gate(pd.Series([pd.NaT, pd.NaT]), "2024-03-01", "spend", "week")
    assert g.status == "fail"


def test_every_gate_is_a_core_gate():
    df = pd.DataFrame({"channel": ["a", "b"] * 5, "ts": pd.date_range("2024-01-01", periods=10, freq="h")})
    df["ingested_at"] = df["ts"] + pd.Timedelta(hours=1)
    gates = [
        *null_rate_gates(df, "touchpoints"),
        *cardinality_gates(df, "touchpoints"),
        latency_gate(df, "ts", "ingested_at", "touchpoints"),
        duplicate_gate(df, ["ts"], "touchpoints"),
        outlier_gate(np.arange(10.0), "spend[tv]", "spend"),
        freshness_gate(df["ts"], "2024-01-02", "touchpoints", "ts"),
    ]
    assert gates and all(type(g) is Gate for g in gates)
