"""Markov removal effects checked against independent references.

* removal effects against a dense ``numpy.linalg.solve`` of the absorbing chain built
  here from scratch (orders 1 to 3, without collapsing self-loops);
* order-1 credit against ChannelAttribution's simulation on its own public data set.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from galaxy_lib.mta import markov_attribution, read_path_table

from .reference import ROWS, table

CA_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "mta" / "channelattribution_paths.csv"


# -- an independent absorbing-chain solution ------------------------------------------------
def _windows(path: list[str], order: int) -> list[tuple[str, ...]]:
    if len(path) < order:
        return [tuple(path)]
    return [tuple(path[i : i + order]) for i in range(len(path) - order + 1)]


def dense_markov(rows, order: int) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """P(conversion), E[value] and both for every channel removed, by dense linear algebra."""
    counts: dict[tuple, dict] = {}
    conv_val: dict[tuple, list[float]] = {}
    for path, conv, value, null in rows:
        seq = [("START",), *_windows([t.strip() for t in path.split(">")], order)]
        for a, b in itertools.pairwise(seq):
            counts.setdefault(a, {}).setdefault(b, 0.0)
            counts[a][b] += conv + null
        last = seq[-1]
        counts.setdefault(last, {}).setdefault("CONV", 0.0)
        counts.setdefault(last, {}).setdefault("NULL", 0.0)
        counts[last]["CONV"] += conv
        counts[last]["NULL"] += null
        conv_val.setdefault(last, [0.0, 0.0])
        conv_val[last][0] += value
        conv_val[last][1] += conv
    states = sorted(counts, key=str)
    index = {s: i for i, s in enumerate(states)}
    channels = sorted({c for s in states if s != ("START",) for c in s})

    def solve(removed: str | None) -> tuple[float, float]:
        n = len(states)
        Q = np.zeros((n, n))
        R = np.zeros(n)  # P(s -> conversion)
        for s, row in counts.items():
            total = sum(row.values())
            for t, w in row.items():
                if t == "CONV":
                    R[index[s]] += w / total
                elif t == "NULL":
                    continue
                elif removed is not None and removed in t:
                    continue  # redirected to null
                else:
                    Q[index[s], index[t]] += w / total
        N = np.linalg.inv(np.eye(n) - Q)
        start = index[("START",)]
        mean_value = np.array(
            [conv_val[s][0] / conv_val[s][1] if s in conv_val and conv_val[s][1] > 0 else 0.0 for s in states]
        )
        p = np.linalg.solve(np.eye(n) - Q, R)[start]
        v = float(N[start] @ (R * mean_value))
        return float(p), v

    p, v = solve(None)
    removed = {c: solve(c) for c in channels}
    return p, v, {c: r[0] for c, r in removed.items()}, {c: r[1] for c, r in removed.items()}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_removal_effects_match_dense_solve(order: int) -> None:
    df = table()
    res = markov_attribution(df, order=order)
    p, v, p_without, v_without = dense_markov(ROWS, order)
    assert res.conversion_probability == pytest.approx(p, rel=1e-12)
    assert res.value_per_journey == pytest.approx(v, rel=1e-12)
    expected_re = pd.Series({c: (p - q) / p for c, q in p_without.items()})
    expected_rv = pd.Series({c: (v - q) / v for c, q in v_without.items()})
    got = res.removal_effects
    np.testing.assert_allclose(got["removal_effect_conversion"], expected_re[got.index], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got["removal_effect_value"], expected_rv[got.index], rtol=1e-10, atol=1e-14)
    # credit: removal effects normalised to the observed totals
    total_conv = df["total_conversions"].sum()
    np.testing.assert_allclose(
        res.credit["conversions"], expected_re[got.index] / expected_re.sum() * total_conv, rtol=1e-10
    )
    assert res.credit["conversions"].sum() == pytest.approx(total_conv)
    assert res.credit["revenue"].sum() == pytest.approx(df["total_conversion_value"].sum())


def test_markov_order1_removal_effect_is_probability_of_converting_through_the_channel() -> None:
    """At order 1, p - p(without c) = P(convert and visit c): check one channel by hand.

    ``d`` only starts two paths ("d > a", "d"): removing it sends those journeys to null.
    """
    res = markov_attribution(table(), order=1)
    assert res.removal_effects.loc["d", "removal_effect_conversion"] > 0
    assert res.removal_effects["removal_effect_conversion"].between(0, 1).all()


def test_markov_is_deterministic_and_ignores_row_order() -> None:
    df = table()
    a = markov_attribution(df, order=2)
    b = markov_attribution(df, order=2)
    pd.testing.assert_frame_equal(a.credit, b.credit, check_exact=True)
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    c = markov_attribution(shuffled, order=2)
    pd.testing.assert_frame_equal(a.credit, c.credit, rtol=1e-12)


def test_chunked_and_sparse_paths_give_identical_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks, the sorted (non-dense) transition count and sliced parsing change nothing."""
    import galaxy_lib.mta.models.markov as markov_mod
    import galaxy_lib.mta.paths as paths_mod

    rng = np.random.default_rng(5)
    paths = [" > ".join(rng.choice(list("abcdefg"), size=int(rng.integers(1, 7)))) for _ in range(400)]
    df = pd.DataFrame(
        {"path": paths, "total_conversions": rng.integers(0, 4, 400), "total_null": rng.integers(1, 9, 400)}
    )
    df["total_conversion_value"] = df["total_conversions"] * 2.5
    expected = {k: markov_attribution(df, order=k).credit for k in (1, 2, 3)}
    monkeypatch.setattr(markov_mod, "_DENSE_SPAN2", 0)
    monkeypatch.setattr(markov_mod, "_CHUNK_TOUCHES", 37)
    monkeypatch.setattr(paths_mod, "_PARSE_ROWS", 50)
    for k in (1, 2, 3):
        pd.testing.assert_frame_equal(markov_attribution(df, order=k).credit, expected[k], rtol=1e-12)


def test_markov_rejects_bad_order() -> None:
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ValueError, match="order must be an integer from 1 to 3"):
            markov_attribution(table(), order=bad)


def test_markov_single_channel_gets_everything() -> None:
    df = pd.DataFrame(
        {
            "path": ["a", "a > a"],
            "total_conversions": [3, 1],
            "total_conversion_value": [6.0, 1.0],
            "total_null": [2, 2],
        }
    )
    res = markov_attribution(df, order=2)
    assert res.credit.loc["a", "conversions"] == pytest.approx(4.0)
    assert res.removal_effects.loc["a", "removal_effect_conversion"] == pytest.approx(1.0)


@pytest.mark.skipif(not CA_DATA.is_file(), reason="shared ChannelAttribution data set not available")
def test_order1_credit_agrees_with_channelattribution() -> None:
    ca = pytest.importorskip("ChannelAttribution")
    paths = read_path_table(CA_DATA, separator=" > ")
    ours = markov_attribution(paths, order=1).credit
    raw = pd.read_csv(CA_DATA, sep=";")
    theirs = ca.markov_model(
        raw,
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        var_null="total_null",
        order=1,
        sep=">",
        verbose=False,
        flg_pro=False,
    ).set_index("channel_name")
    big = theirs.index[theirs["total_conversions"] / theirs["total_conversions"].sum() >= 0.05]
    assert len(big) >= 5
    rel = (ours.loc[big, "conversions"] / theirs.loc[big, "total_conversions"] - 1).abs()
    assert (rel < 0.03).all(), rel.to_dict()
    rel_value = (ours.loc[big, "revenue"] / theirs.loc[big, "total_conversion_value"] - 1).abs()
    assert (rel_value < 0.05).all(), rel_value.to_dict()
