"""Attribution models on an aggregated path table.

Three families, one result type (:class:`AttributionResult`, credit per channel in
conversions and revenue):

* **Heuristics** (:class:`HeuristicAttribution`): first touch, last touch, last
  non-direct, linear, time decay (half-life) and position based (40/20/40).
* **Markov removal effects** (:class:`MarkovAttribution`, order 1 to 3). The
  journeys define an absorbing Markov chain (start -> channel states -> conversion
  or null). For order ``k`` a state is the tuple of the last ``k`` channels (a path
  shorter than ``k`` is one state, as in ChannelAttribution). The removal effect of a
  channel is the relative drop of the conversion probability when every state that
  contains it is removed (transitions into it go to null). The probabilities are
  computed **exactly** from the fundamental matrix: solve ``(I - Q) x = r`` with a
  sparse LU factorisation (scipy.sparse.linalg.splu) instead of simulating random
  walks as ChannelAttribution does, so the same input always gives the same output.
* **Shapley values** (:class:`ShapleyAttribution`) of a coalition game over channel
  sets (defined below), exact through subset transforms for up to
  ``max_exact_channels`` channels and a permutation Monte-Carlo estimate with
  standard errors above that.

Why hand-written: ChannelAttribution (the field's reference package) estimates the
Markov removal effects by simulation, is GPL-licensed, and has no Shapley model; the
exact absorbing-chain solution is a few lines of scipy and is faster on the same
input (see ``bench/mta_vs_channelattribution.py``). Everything here is vectorised
over unique paths, so memory grows with unique paths, not with journeys.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from galaxy_lib.mta.data import DEFAULT_SEPARATOR, PathTable, PathTableError, parse_path_table

__all__ = [
    "HEURISTIC_MODELS",
    "AttributionResult",
    "MarkovResult",
    "ShapleyResult",
    "HeuristicAttribution",
    "MarkovAttribution",
    "ShapleyAttribution",
    "heuristic_attribution",
    "markov_attribution",
    "shapley_attribution",
    "fit_all_models",
    "as_path_table",
]

#: Names accepted by :func:`heuristic_attribution`.
HEURISTIC_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
)
_MAX_ORDER = 3


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AttributionResult:
    """Credit per channel from one model.

    Attributes
    ----------
    model
        Model name, e.g. ``"last_touch"``, ``"markov_order_2"``, ``"shapley"``.
    credit
        Indexed by channel: ``conversions`` and ``revenue`` credited to the channel, and
        ``conversion_share`` / ``revenue_share`` (each column sums to 1 over channels).
    total_conversions, total_revenue
        Totals of the path table the credit splits.
    params
        Settings used (order, half-life, weights, ...), for the report.
    """

    model: str
    credit: pd.DataFrame
    total_conversions: float
    total_revenue: float
    params: Mapping[str, Any]

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.credit.index)

    def shares(self, basis: str = "conversions") -> pd.Series:
        """Share of credit per channel (``basis`` = ``"conversions"`` or ``"revenue"``)."""
        if basis not in ("conversions", "revenue"):
            raise ValueError(f"basis must be 'conversions' or 'revenue', got {basis!r}.")
        col = "conversion_share" if basis == "conversions" else "revenue_share"
        return self.credit[col].rename(self.model)


@dataclass(frozen=True, eq=False)
class MarkovResult(AttributionResult):
    """Markov chain attribution with its removal effects.

    Attributes
    ----------
    order
        Markov order (1 to 3).
    removal_effects
        Indexed by channel: ``removal_effect_conversion`` and ``removal_effect_value``,
        the relative drop in conversion probability (expected value) when the channel is removed.
    conversion_probability
        Probability that a journey from the start state converts.
    value_per_journey
        Expected conversion value per journey.
    n_states
        Transient states of the chain (start + channel states).
    n_transitions
        Non-zero transitions between transient states.
    """

    order: int = 1
    removal_effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    conversion_probability: float = 0.0
    value_per_journey: float = 0.0
    n_states: int = 0
    n_transitions: int = 0


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


def _credit_frame(channels: Sequence[str], conversions: np.ndarray, revenue: np.ndarray) -> pd.DataFrame:
    conversions = np.asarray(conversions, dtype=np.float64)
    revenue = np.asarray(revenue, dtype=np.float64)
    tc, tr = conversions.sum(), revenue.sum()
    frame = pd.DataFrame(
        {
            "conversions": conversions,
            "revenue": revenue,
            "conversion_share": conversions / tc if tc != 0 else np.zeros_like(conversions),
            "revenue_share": revenue / tr if tr != 0 else np.zeros_like(revenue),
        },
        index=pd.Index(list(channels), name="channel"),
    )
    return frame


def as_path_table(paths: PathTable | pd.DataFrame, separator: str = DEFAULT_SEPARATOR) -> PathTable:
    """Accept a :class:`PathTable` or a DataFrame in ChannelAttribution's format.

    A DataFrame is validated strictly: any rejected row raises :class:`PathTableError`
    with the first reasons (use :func:`~galaxy_lib.mta.data.parse_path_table` to get the
    quarantine and go on with the valid rows).
    """
    if isinstance(paths, PathTable):
        return paths
    if isinstance(paths, pd.DataFrame):
        table = parse_path_table(paths, separator=separator, source="paths")
        if len(table.quarantine):
            q = table.quarantine
            first = "; ".join(f"row {r}: {why}" for r, why in zip(q["_row"].head(3), q["_reason"].head(3)))
            raise PathTableError(
                f"{len(q)} of {len(paths)} path rows are invalid ({first}). Fix them, or call "
                "galaxy_lib.mta.parse_path_table(...) to quarantine them and pass the PathTable."
            )
        return table
    raise TypeError(f"paths must be a PathTable or a pandas DataFrame, got {type(paths).__name__}.")


def _token_path_ids(table: PathTable) -> np.ndarray:
    """Path index of every touch (int32 while it fits: memory is per touch)."""
    dtype = np.int32 if table.n_paths < 2**31 - 1 else np.int64
    return np.repeat(np.arange(table.n_paths, dtype=dtype), table.lengths)


# -- heuristics ------------------------------------------------------------------------------
class HeuristicAttribution:
    """Rule-based attribution (scikit-learn style: ``__init__`` stores, ``fit`` computes).

    Parameters
    ----------
    model
        One of :data:`HEURISTIC_MODELS`:

        - ``first_touch`` / ``last_touch``: all credit to the first / last touch;
        - ``last_non_direct``: to the last touch that is not in ``direct_channels``
          (to the last touch when every touch is direct);
        - ``linear``: equal credit to every touch;
        - ``time_decay``: touch weight ``0.5 ** (lag / half_life)``, normalised per path, where
          ``lag`` is days to the journey end when the table has ``lag_days`` (tables built
          from events), else the number of touches before the last one;
        - ``position_based``: ``first_weight`` to the first touch, ``last_weight`` to the last
          and the rest split over the touches in between (two touches: split in proportion).
    half_life
        Half-life for ``time_decay`` (days, or touches when the table has no timing).
    direct_channels
        Channels skipped by ``last_non_direct``.
    first_weight, last_weight
        Position-based weights (defaults 0.4 / 0.4, the usual 40/20/40).
    """

    def __init__(
        self,
        model: str,
        half_life: float = 7.0,
        direct_channels: Sequence[str] = ("direct",),
        first_weight: float = 0.4,
        last_weight: float = 0.4,
    ) -> None:
        self.model = model
        self.half_life = half_life
        self.direct_channels = direct_channels
        self.first_weight = first_weight
        self.last_weight = last_weight

    def _validate(self) -> None:
        if self.model not in HEURISTIC_MODELS:
            raise ValueError(f"Unknown heuristic model {self.model!r}; choose one of {HEURISTIC_MODELS}.")
        if not (self.half_life and self.half_life > 0):
            raise ValueError(f"half_life must be > 0 (got {self.half_life!r}).")
        fw, lw = float(self.first_weight), float(self.last_weight)
        if fw < 0 or lw < 0 or fw + lw > 1 + 1e-12:
            raise ValueError(
                f"first_weight and last_weight must be >= 0 and sum to at most 1 (got {fw} and {lw})."
            )

    def _weights(self, table: PathTable) -> np.ndarray:
        """Weight of every touch within its path (weights of a path sum to 1)."""
        lengths = table.lengths
        n_tok = table.codes.size
        pid = _token_path_ids(table)
        starts = table.offsets[:-1]
        ends = table.offsets[1:] - 1
        w = np.zeros(n_tok, dtype=np.float64)
        m = self.model
        if m == "first_touch":
            w[starts] = 1.0
        elif m == "last_touch":
            w[ends] = 1.0
        elif m == "last_non_direct":
            direct = np.isin(np.asarray(table.channels, dtype=object), list(self.direct_channels))
            is_direct = direct[table.codes] if direct.any() else np.zeros(n_tok, dtype=bool)
            idx = np.where(is_direct, -1, np.arange(n_tok))
            last_nd = np.maximum.reduceat(idx, starts)
            w[np.where(last_nd >= 0, last_nd, ends)] = 1.0
        elif m == "linear":
            w = 1.0 / lengths[pid]
        elif m == "time_decay":
            if table.lags is not None:
                lag = table.lags
            else:
                pos = np.arange(n_tok) - table.offsets[pid]
                lag = (lengths[pid] - 1 - pos).astype(np.float64)
            raw = np.exp2(-lag / float(self.half_life))
            w = raw / np.add.reduceat(raw, starts)[pid]
        elif m == "position_based":
            fw, lw = float(self.first_weight), float(self.last_weight)
            length = lengths[pid]
            pos = np.arange(n_tok) - table.offsets[pid]
            first, last = pos == 0, pos == length - 1
            w = np.where(length > 2, (1.0 - fw - lw) / np.maximum(length - 2, 1), 0.0)
            w[first] = fw
            w[last] = lw
            two = length == 2  # only a first and a last touch: split in proportion
            w[two] = np.where(first[two], fw, lw) / (fw + lw) if fw + lw > 0 else 0.5
            w[length == 1] = 1.0
        return w

    def fit(self, paths: PathTable | pd.DataFrame) -> HeuristicAttribution:
        """Compute the credit; sets ``weights_`` (per touch) and ``result_``."""
        self._validate()
        table = as_path_table(paths)
        w = self._weights(table)
        pid = _token_path_ids(table)
        C = len(table.channels)
        conv = np.bincount(table.codes, weights=w * table.conversions[pid], minlength=C)
        rev = np.bincount(table.codes, weights=w * table.value[pid], minlength=C)
        params: dict[str, Any] = {"model": self.model}
        if self.model == "time_decay":
            params.update(half_life=float(self.half_life), decay_unit="days" if table.lags is not None else "touches")
        if self.model == "last_non_direct":
            params["direct_channels"] = list(self.direct_channels)
        if self.model == "position_based":
            params.update(first_weight=float(self.first_weight), last_weight=float(self.last_weight))
        self.weights_ = w
        self.result_ = AttributionResult(
            model=self.model,
            credit=_credit_frame(table.channels, conv, rev),
            total_conversions=table.total_conversions,
            total_revenue=table.total_value,
            params=params,
        )
        return self


def heuristic_attribution(
    paths: PathTable | pd.DataFrame,
    model: str,
    half_life: float = 7.0,
    direct_channels: Sequence[str] = ("direct",),
    first_weight: float = 0.4,
    last_weight: float = 0.4,
) -> AttributionResult:
    """Rule-based credit per channel (see :class:`HeuristicAttribution` for the models).

    Parameters
    ----------
    paths
        Aggregated path table (:class:`PathTable` or a DataFrame with ``path``,
        ``total_conversions``, ``total_conversion_value``, ``total_null``; separator ``" > "``).
    model
        One of :data:`HEURISTIC_MODELS`.
    half_life, direct_channels, first_weight, last_weight
        Model settings, see :class:`HeuristicAttribution`.

    Returns
    -------
    AttributionResult
    """
    return HeuristicAttribution(
        model, half_life=half_life, direct_channels=direct_channels, first_weight=first_weight, last_weight=last_weight
    ).fit(paths).result_


# -- Markov ------------------------------------------------------------------------------------
_CHUNK_TOUCHES = 1 << 19  # touches per chunk when building the chain (bounds temporary memory)
_DENSE_SPAN2 = 4_000_000  # count transitions in a dense array when (C + 1) ** (2 * order) is at most this


def _encode_states(codes: np.ndarray, offsets: np.ndarray, order: int, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows of ``order`` channels per path, consecutive repeats collapsed.

    Returns the window codes (mixed radix ``base = C + 1``, digit 0 = padding, so 0 itself
    is free for the start state) and the path of every window (indices into ``offsets``).
    A path shorter than ``order`` is a single (shorter) window, as in ChannelAttribution.
    A repeated consecutive window is a self-loop of the chain; dropping it leaves every
    absorption probability unchanged (the chain leaves the state with the same
    distribution), and ChannelAttribution drops it too.
    """
    lengths = np.diff(offsets)
    n_paths = lengths.size
    pid = np.repeat(np.arange(n_paths, dtype=np.int32 if n_paths < 2**31 - 1 else np.int64), lengths)
    dtype = np.int32 if base**order < 2**31 else np.int64
    if order == 1:
        code = codes.astype(dtype) + 1
        wpath = pid
    else:
        pos = np.arange(codes.size, dtype=np.int64) - offsets[:-1][pid]
        room = lengths[pid] - pos  # touches left in the path from here (this one included)
        del pos
        # a window starts where `order` touches remain, or at the start of a shorter path
        idx = np.flatnonzero((room >= order) | ((room == lengths[pid]) & (room < order)))
        room = room[idx]
        code = np.zeros(idx.size, dtype=dtype)
        for j in range(order):
            digit = np.zeros(idx.size, dtype=dtype)
            ok = room > j
            digit[ok] = codes[idx[ok] + j] + 1
            code = code * base + digit
        wpath = pid[idx]
    keep = np.ones(code.size, dtype=bool)
    keep[1:] = (code[1:] != code[:-1]) | (wpath[1:] != wpath[:-1])
    return code[keep], wpath[keep]


def _absorbing_chain(table: PathTable, order: int) -> dict[str, Any]:
    """Transition matrix Q (transient -> transient) and one-step absorption vectors.

    Paths are processed in chunks of about ``_CHUNK_TOUCHES`` touches; transitions are
    counted by state code (dense when the code space is small, else by sorting), so
    memory is bounded by the chunk and the number of distinct transitions.
    """
    C = len(table.channels)
    base = C + 1
    if base**order >= 2**62:
        raise PathTableError(f"Too many channels ({C}) for a Markov model of order {order}.")
    span = base**order  # window codes are 1 .. span - 1; 0 is the start state
    dense = span * span <= _DENSE_SPAN2
    journeys = table.conversions + table.nulls
    offsets = table.offsets
    cuts = np.unique(np.searchsorted(offsets, np.arange(0, offsets[-1], _CHUNK_TOUCHES), side="right") - 1)
    cuts = np.append(cuts[cuts < table.n_paths], table.n_paths)
    counts = np.zeros(span * span) if dense else None
    sparse_parts: list[tuple[np.ndarray, np.ndarray]] = []
    end_keys: list[np.ndarray] = []
    end_w: list[np.ndarray] = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        off = offsets[a : b + 1]
        code, wpath = _encode_states(table.codes[off[0] : off[-1]], off - off[0], order, base)
        code = code.astype(np.int64)
        first = np.ones(code.size, dtype=bool)
        first[1:] = wpath[1:] != wpath[:-1]
        src = np.empty_like(code)
        src[0] = 0
        src[1:] = code[:-1]
        src[first] = 0
        key = src * span + code
        w = journeys[a:b][wpath]
        if dense:
            counts += np.bincount(key, weights=w, minlength=span * span)
        else:
            uk, inv = np.unique(key, return_inverse=True)
            sparse_parts.append((uk, np.bincount(inv, weights=w)))
        last = np.empty(code.size, dtype=bool)
        last[:-1] = first[1:]
        last[-1] = True
        end_keys.append(code[last])
        gp = wpath[last] + a
        end_w.append(np.column_stack([table.conversions[gp], table.nulls[gp], table.value[gp]]))
    if dense:
        keys = np.flatnonzero(counts)
        weights = counts[keys]
    else:
        allk = np.concatenate([k for k, _ in sparse_parts])
        allw = np.concatenate([w for _, w in sparse_parts])
        keys, inv = np.unique(allk, return_inverse=True)
        weights = np.bincount(inv, weights=allw)
    src_code, dst_code = keys // span, keys % span
    state_codes = np.union1d(np.zeros(1, dtype=np.int64), dst_code)  # sorted; 0 (start) first
    n_states = state_codes.size
    counts_q = sp.csr_matrix(
        (weights, (np.searchsorted(state_codes, src_code), np.searchsorted(state_codes, dst_code))),
        shape=(n_states, n_states),
    )
    ends = np.searchsorted(state_codes, np.concatenate(end_keys))
    ew = np.concatenate(end_w)
    to_conv = np.bincount(ends, weights=ew[:, 0], minlength=n_states)
    to_null = np.bincount(ends, weights=ew[:, 1], minlength=n_states)
    to_value = np.bincount(ends, weights=ew[:, 2], minlength=n_states)
    out = np.asarray(counts_q.sum(axis=1)).ravel() + to_conv + to_null
    inv_out = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    Q = sp.diags(inv_out) @ counts_q
    # which channels each state contains (digits of its code)
    member = np.zeros((n_states, C), dtype=bool)
    rest = state_codes.copy()
    for _ in range(order):
        digit = rest % base
        rest //= base
        has = digit > 0
        member[np.flatnonzero(has), digit[has] - 1] = True
    return {
        "Q": Q.tocsc(),
        "r_conv": to_conv * inv_out,
        "r_value": to_value * inv_out,
        "member": member,
        "n_states": n_states,
        "n_transitions": int(counts_q.nnz),
    }


def _start_absorption(A: sp.csc_matrix, rhs: np.ndarray) -> np.ndarray:
    """Row 0 of ``A^{-1} rhs``: absorption into conversion / value from the start state."""
    if A.shape[0] == 1:
        return rhs[0] / A[0, 0]
    lu = splu(A, permc_spec="COLAMD")
    return lu.solve(rhs)[0]


class MarkovAttribution:
    """Markov chain removal-effect attribution of order 1 to 3, solved exactly.

    Parameters
    ----------
    order
        Markov order: a state is the last ``order`` channels of the journey.

    Attributes
    ----------
    removal_effects_ : pd.DataFrame
        Relative drop of the conversion probability / expected value when a channel is removed.
    conversion_probability_ : float
        Conversion probability of a journey under the fitted chain.
    result_ : MarkovResult
    """

    def __init__(self, order: int = 1) -> None:
        self.order = order

    def fit(self, paths: PathTable | pd.DataFrame) -> MarkovAttribution:
        """Build the absorbing chain from the paths and compute every channel's removal effect."""
        if isinstance(self.order, bool) or not isinstance(self.order, (int, np.integer)) or not (
            1 <= int(self.order) <= _MAX_ORDER
        ):
            raise ValueError(f"order must be an integer from 1 to {_MAX_ORDER} (got {self.order!r}).")
        order = int(self.order)
        table = as_path_table(paths).aggregate()
        chain = _absorbing_chain(table, order)
        n = chain["n_states"]
        A = (sp.identity(n, format="csc") - chain["Q"]).tocsc()
        rhs = np.column_stack([chain["r_conv"], chain["r_value"]])
        base = _start_absorption(A, rhs)
        p_conv, p_value = float(base[0]), float(base[1])
        C = len(table.channels)
        removed = np.zeros((C, 2))
        member = chain["member"]
        for c in range(C):
            keep = ~member[:, c]
            keep[0] = True
            idx = np.flatnonzero(keep)
            removed[c] = _start_absorption(A[idx][:, idx].tocsc(), rhs[idx])
        with np.errstate(invalid="ignore", divide="ignore"):
            re_conv = np.where(p_conv > 0, (p_conv - removed[:, 0]) / p_conv, 0.0)
            re_value = np.where(p_value > 0, (p_value - removed[:, 1]) / p_value, 0.0)
        re_conv = np.clip(re_conv, 0.0, None)
        re_value = np.clip(re_value, 0.0, None)
        tc, tv = table.total_conversions, table.total_value
        conv_credit = re_conv / re_conv.sum() * tc if re_conv.sum() > 0 else np.zeros(C)
        value_credit = re_value / re_value.sum() * tv if re_value.sum() > 0 else np.zeros(C)
        index = pd.Index(table.channels, name="channel")
        self.removal_effects_ = pd.DataFrame(
            {"removal_effect_conversion": re_conv, "removal_effect_value": re_value}, index=index
        )
        self.conversion_probability_ = p_conv
        self.result_ = MarkovResult(
            model=f"markov_order_{order}",
            credit=_credit_frame(table.channels, conv_credit, value_credit),
            total_conversions=tc,
            total_revenue=tv,
            params={"model": "markov", "order": order},
            order=order,
            removal_effects=self.removal_effects_,
            conversion_probability=p_conv,
            value_per_journey=p_value,
            n_states=n,
            n_transitions=chain["n_transitions"],
        )
        return self


def markov_attribution(paths: PathTable | pd.DataFrame, order: int = 1) -> MarkovResult:
    """Markov chain removal-effect attribution, computed exactly (no simulation).

    Parameters
    ----------
    paths
        Aggregated path table (:class:`PathTable` or DataFrame in ChannelAttribution's format).
    order
        1, 2 or 3: how many previous channels a state remembers.

    Returns
    -------
    MarkovResult
        Credit per channel (conversions and revenue, split in proportion to the removal
        effects, as ChannelAttribution does) and the removal effects themselves.
    """
    return MarkovAttribution(order=order).fit(paths).result_


# -- Shapley ------------------------------------------------------------------------------------
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


def _exact_shapley(n_ch: int, masks: np.ndarray, journeys: np.ndarray, rates: np.ndarray, baseline: float) -> tuple[np.ndarray, float]:
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

    def _permutation(self, n_ch: int, masks: np.ndarray, journeys: np.ndarray, conv_rate: np.ndarray,
                     value_rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """Antithetic permutation sampling: each random channel order and its reverse form a pair;
        the pair means are the samples whose spread gives the standard errors."""
        rng = np.random.default_rng(self.seed)
        game = _LazyGame(masks, journeys, np.column_stack([conv_rate, value_rate]),
                         np.array([self.baseline_rate, self.baseline_value], dtype=np.float64))
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
        self.credit_ = _credit_frame(table.channels, phi_c, phi_v)
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
    return ShapleyAttribution(
        max_exact_channels=max_exact_channels, n_permutations=n_permutations, baseline_rate=baseline_rate, seed=seed
    ).fit(paths).result_


def fit_all_models(
    paths: PathTable | pd.DataFrame,
    markov_orders: Sequence[int] = (1, 2, 3),
    half_life: float = 7.0,
    direct_channels: Sequence[str] = ("direct",),
    shapley: bool = True,
) -> dict[str, AttributionResult]:
    """Every heuristic, Markov of each order in ``markov_orders`` and (optionally) Shapley.

    Returns
    -------
    dict
        Model name -> result, in a stable order (heuristics, Markov, Shapley).
    """
    table = as_path_table(paths)
    out: dict[str, AttributionResult] = {}
    for name in HEURISTIC_MODELS:
        out[name] = heuristic_attribution(table, name, half_life=half_life, direct_channels=direct_channels)
    for k in markov_orders:
        res = markov_attribution(table, order=k)
        out[res.model] = res
    if shapley:
        out["shapley"] = shapley_attribution(table)
    return out
