"""Shapley-value attribution over channel coalitions.

Exact through subset transforms for up to ``max_exact_channels`` channels, and a
permutation Monte-Carlo estimate with standard errors above that. ChannelAttribution
(the field's reference package) has no Shapley model.

The Shapley game
----------------
For a channel set ``U`` let ``p(U)`` be the conversion rate of the journeys whose
set of distinct channels is exactly ``U`` (``r(U)``: revenue per journey). When
``U`` was never observed, ``p(U)`` is the largest rate observed on a subset of
``U`` (touches are assumed not to hurt), and ``p({})`` is ``baseline_rate``
(0 by default: a path table has no untouched journeys). The value of a coalition
``S`` is the number of conversions the observed journeys would have produced had
they been exposed only to the channels in ``S``::

    v(S) = sum over journeys j of p(channels(j) & S)

``v(all channels)`` is the observed number of conversions, ``v({})`` the
baseline, and the Shapley values split the difference between the channels. This
is a counterfactual version of the path-based game of Zhao et al. (2018, "Shapley
value methods for attribution modeling in online advertising"): it uses the
non-converting journeys (nulls) as well, so a channel that appears in many paths
that do not convert gets less credit than under a pure conversion count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from galaxy_lib.mta.models.base import AttributionResult, as_path_table, credit_frame
from galaxy_lib.mta.paths import PathTable, PathTableError

__all__ = ["ShapleyAttribution", "ShapleyResult", "shapley_attribution"]


@dataclass(frozen=True, eq=False)
class ShapleyResult(AttributionResult):
    """Shapley attribution.

    Attributes
    ----------
    method
        ``"exact"`` or ``"permutation"`` (Monte-Carlo).
    n_permutations
        Permutations sampled (0 when exact).
    baseline_conversions, baseline_revenue
        ``v({})``: what the journeys would produce with no channel (``baseline_rate`` x journeys);
        not credited to any channel.
    std_error
        Indexed by channel: standard errors of ``conversions`` and ``revenue`` (0 when exact).
    """

    method: str = "exact"
    n_permutations: int = 0
    baseline_conversions: float = 0.0
    baseline_revenue: float = 0.0
    std_error: pd.DataFrame = field(default_factory=pd.DataFrame)


def _channel_sets(table: PathTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct channel set (bit mask) of every path, aggregated: masks, journeys, conversions, value."""
    bits = np.left_shift(np.int64(1), table.codes.astype(np.int64))
    masks = np.bitwise_or.reduceat(bits, table.offsets[:-1])
    uniq, inv = np.unique(masks, return_inverse=True)
    n = np.bincount(inv, weights=table.conversions + table.nulls)
    conv = np.bincount(inv, weights=table.conversions)
    val = np.bincount(inv, weights=table.value)
    return uniq, n, conv, val


def _blocks(arr: np.ndarray, bit: int) -> np.ndarray:
    """View of a length ``2**n`` array as ``[high, bit_i, low]`` blocks."""
    return arr.reshape(-1, 2, bit)


def _completed_rates(n_ch: int, masks: np.ndarray, rates: np.ndarray, baseline: float) -> np.ndarray:
    """Rate of every subset: observed where observed, else the best observed proper subset."""
    size = 1 << n_ch
    env = np.full(size, -np.inf)
    env[masks] = rates
    env[0] = max(env[0], baseline)
    for i in range(n_ch):  # subset-max transform (envelope over all subsets)
        b = _blocks(env, 1 << i)
        np.maximum(b[:, 1, :], b[:, 0, :], out=b[:, 1, :])
    proper = np.full(size, -np.inf)
    for i in range(n_ch):
        pb, eb = _blocks(proper, 1 << i), _blocks(env, 1 << i)
        np.maximum(pb[:, 1, :], eb[:, 0, :], out=pb[:, 1, :])
    full = proper
    full[masks] = rates
    full[0] = baseline
    return full


def _exact_shapley(
    n_ch: int, masks: np.ndarray, journeys: np.ndarray, rates: np.ndarray, baseline: float
) -> tuple[np.ndarray, float]:
    """Exact Shapley values of ``v(S) = sum_T n_T p(T & S)`` through subset transforms.

    ``p = sum over subsets of its Moebius transform d``, hence
    ``v(S) = sum_{W <= S} d(W) M(W)`` with ``M(W)`` the journeys whose set contains ``W``:
    the Harsanyi dividends of ``v`` are ``d(W) M(W)`` and the Shapley value of a channel
    is the sum of the dividends of the sets containing it, each divided by the set size.
    O(n 2^n) instead of enumerating coalitions.
    """
    size = 1 << n_ch
    d = _completed_rates(n_ch, masks, rates, baseline)
    for i in range(n_ch):  # Moebius transform over subsets
        b = _blocks(d, 1 << i)
        b[:, 1, :] -= b[:, 0, :]
    M = np.zeros(size)
    np.add.at(M, masks, journeys)
    for i in range(n_ch):  # sum over supersets
        b = _blocks(M, 1 << i)
        b[:, 0, :] += b[:, 1, :]
    dividends = d * M
    popcount = np.zeros(size, dtype=np.int64)
    for i in range(n_ch):
        _blocks(popcount, 1 << i)[:, 1, :] += 1
    per = np.zeros(size)
    nz = popcount > 0
    per[nz] = dividends[nz] / popcount[nz]
    phi = np.array([_blocks(per, 1 << i)[:, 1, :].sum() for i in range(n_ch)])
    return phi, float(dividends[0])


class _LazyGame:
    """``v(S)`` for many channels (conversion and value games at once).

    Rates of unobserved channel sets are completed on demand, in vectorised batches,
    and cached in sorted arrays, so repeated coalitions cost one ``searchsorted``.
    """

    def __init__(self, masks: np.ndarray, journeys: np.ndarray, rates: np.ndarray, baseline: np.ndarray) -> None:
        self.masks = masks  # sorted, unique (np.unique)
        self.journeys = journeys
        self.rates = rates  # (K, 2): conversion rate, value per journey
        self.baseline = baseline  # (2,)
        self.keys = np.concatenate([[0], masks]).astype(np.int64)
        self.vals = np.vstack([baseline[None, :], rates])

    def _fill(self, missing: np.ndarray) -> None:
        out = np.empty((missing.size, 2))
        step = max(1, 2_000_000 // max(self.masks.size, 1))
        for i in range(0, missing.size, step):
            chunk = missing[i : i + step]
            inside = (self.masks[None, :] & ~chunk[:, None]) == 0
            for col in range(2):
                best = np.where(inside, self.rates[None, :, col], -np.inf).max(axis=1)
                out[i : i + step, col] = np.maximum(best, self.baseline[col])
        keys = np.concatenate([self.keys, missing])
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.vals = np.vstack([self.vals, out])[order]

    def _lookup(self, subsets: np.ndarray) -> np.ndarray:
        idx = np.minimum(np.searchsorted(self.keys, subsets), self.keys.size - 1)
        hit = self.keys[idx] == subsets
        if not hit.all():
            self._fill(np.unique(subsets[~hit]))
            idx = np.searchsorted(self.keys, subsets)
        return self.vals[idx]

    def values(self, coalitions: np.ndarray) -> np.ndarray:
        """``v`` of each coalition mask: array (len(coalitions), 2) for conversions and value."""
        sub = self.masks[None, :] & coalitions[:, None]
        rates = self._lookup(sub.ravel()).reshape(coalitions.size, self.masks.size, 2)
        return np.einsum("ckr,k->cr", rates, self.journeys)


class ShapleyAttribution:
    """Shapley-value attribution over channel coalitions (game defined in the module docstring).

    Parameters
    ----------
    max_exact_channels
        Up to this many channels the values are exact (O(n 2^n) subset transforms);
        above it they are estimated from ``n_permutations`` random channel orders.
    n_permutations
        Permutations for the Monte-Carlo estimate (antithetic pairs: each order and its reverse).
    baseline_rate
        Conversion rate of a journey with no channel (``p({})``); 0 for a path table.
    baseline_value
        Revenue per journey with no channel (``r({})``).
    seed
        Seed of the permutation sampler (the exact method uses no randomness).
    """

    def __init__(
        self,
        max_exact_channels: int = 20,
        n_permutations: int = 1000,
        baseline_rate: float = 0.0,
        baseline_value: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.max_exact_channels = max_exact_channels
        self.n_permutations = n_permutations
        self.baseline_rate = baseline_rate
        self.baseline_value = baseline_value
        self.seed = seed

    def _validate(self, n_ch: int) -> None:
        if n_ch > 62:
            raise PathTableError(f"Shapley attribution supports up to 62 channels (the table has {n_ch}).")
        if not (1 <= int(self.max_exact_channels) <= 24):
            raise ValueError(f"max_exact_channels must be from 1 to 24 (got {self.max_exact_channels!r}).")
        if int(self.n_permutations) < 2:
            raise ValueError(f"n_permutations must be at least 2 (got {self.n_permutations!r}).")
        if not (0 <= self.baseline_rate <= 1):
            raise ValueError(f"baseline_rate must be in [0, 1] (got {self.baseline_rate!r}).")
        if self.baseline_value < 0:
            raise ValueError(f"baseline_value must be >= 0 (got {self.baseline_value!r}).")

    def _permutation(
        self, n_ch: int, masks: np.ndarray, journeys: np.ndarray, conv_rate: np.ndarray, value_rate: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """Estimate the values by antithetic permutation sampling.

        Each random channel order and its reverse form a pair; the pair means are the
        samples whose spread gives the standard errors.
        """
        rng = np.random.default_rng(self.seed)
        game = _LazyGame(
            masks,
            journeys,
            np.column_stack([conv_rate, value_rate]),
            np.array([self.baseline_rate, self.baseline_value], dtype=np.float64),
        )
        n_pairs = max(1, int(self.n_permutations) // 2)
        perms = np.array([rng.permutation(n_ch) for _ in range(n_pairs)])
        bits = np.left_shift(np.int64(1), np.arange(n_ch, dtype=np.int64))
        samples = np.zeros((n_pairs, n_ch, 2))
        batch = max(1, 2_000_000 // max(masks.size * (n_ch + 1) * 2, 1))
        for start in range(0, n_pairs, batch):
            block = perms[start : start + batch]
            orders = np.concatenate([block, block[:, ::-1]])  # (2b, n)
            prefix = np.zeros((orders.shape[0], n_ch + 1), dtype=np.int64)
            np.cumsum(bits[orders], axis=1, out=prefix[:, 1:])
            v = game.values(prefix.ravel()).reshape(orders.shape[0], n_ch + 1, 2)
            marginal = np.diff(v, axis=1)  # (2b, n, 2): contribution of orders[:, j]
            contrib = np.zeros_like(marginal)
            np.put_along_axis(contrib, orders[:, :, None], marginal, axis=1)
            b = block.shape[0]
            samples[start : start + b] = 0.5 * (contrib[:b] + contrib[b:])
        mean = samples.mean(axis=0)
        se = samples.std(axis=0, ddof=1) / math.sqrt(n_pairs) if n_pairs > 1 else np.zeros_like(mean)
        return mean[:, 0], mean[:, 1], se[:, 0], se[:, 1], 2 * n_pairs

    def fit(self, paths: PathTable | pd.DataFrame) -> ShapleyAttribution:
        """Compute the Shapley values (``credit_``, ``std_error_``, ``result_``)."""
        table = as_path_table(paths).aggregate()
        n_ch = len(table.channels)
        self._validate(n_ch)
        masks, journeys, conv, val = _channel_sets(table)
        conv_rate = conv / journeys
        value_rate = val / journeys
        total_j = float(journeys.sum())
        if n_ch <= int(self.max_exact_channels):
            phi_c, base_c = _exact_shapley(n_ch, masks, journeys, conv_rate, float(self.baseline_rate))
            phi_v, base_v = _exact_shapley(n_ch, masks, journeys, value_rate, float(self.baseline_value))
            se_c = np.zeros(n_ch)
            se_v = np.zeros(n_ch)
            method, n_perm = "exact", 0
        else:
            phi_c, phi_v, se_c, se_v, n_perm = self._permutation(n_ch, masks, journeys, conv_rate, value_rate)
            base_c = float(self.baseline_rate) * total_j
            base_v = float(self.baseline_value) * total_j
            method = "permutation"
        index = pd.Index(table.channels, name="channel")
        self.std_error_ = pd.DataFrame({"conversions": se_c, "revenue": se_v}, index=index)
        self.credit_ = credit_frame(table.channels, phi_c, phi_v)
        self.result_ = ShapleyResult(
            model="shapley",
            credit=self.credit_,
            total_conversions=table.total_conversions,
            total_revenue=table.total_value,
            params={
                "model": "shapley",
                "method": method,
                "baseline_rate": float(self.baseline_rate),
                "max_exact_channels": int(self.max_exact_channels),
                **({"n_permutations": n_perm, "seed": int(self.seed)} if method == "permutation" else {}),
            },
            method=method,
            n_permutations=n_perm,
            baseline_conversions=base_c,
            baseline_revenue=base_v,
            std_error=self.std_error_,
        )
        return self


def shapley_attribution(
    paths: PathTable | pd.DataFrame,
    max_exact_channels: int = 20,
    n_permutations: int = 1000,
    baseline_rate: float = 0.0,
    seed: int = 0,
) -> ShapleyResult:
    """Shapley-value credit per channel (exact up to ``max_exact_channels``, else sampled).

    Parameters
    ----------
    paths
        Aggregated path table.
    max_exact_channels
        Largest channel count solved exactly.
    n_permutations
        Channel orders sampled above that (the result carries standard errors).
    baseline_rate
        Conversion rate without any channel; its conversions are not credited.
    seed
        Seed of the sampler (unused when exact).

    Returns
    -------
    ShapleyResult
    """
    return (
        ShapleyAttribution(
            max_exact_channels=max_exact_channels, n_permutations=n_permutations, baseline_rate=baseline_rate, seed=seed
        )
        .fit(paths)
        .result_
    )
