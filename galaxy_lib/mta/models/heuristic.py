"""Rule-based attribution: first touch, last touch, last non-direct, linear, time decay, position based.

Each rule gives every touch of a path a weight (the weights of a path sum to 1)
and credits the path's conversions and revenue to its channels by those weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.mta.models.base import AttributionResult, as_path_table, credit_frame, token_path_ids
from galaxy_lib.mta.paths import PathTable

__all__ = ["HEURISTIC_MODELS", "HeuristicAttribution", "heuristic_attribution"]

#: Names accepted by :func:`heuristic_attribution`.
HEURISTIC_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
)


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
            raise ValueError(f"first_weight and last_weight must be >= 0 and sum to at most 1 (got {fw} and {lw}).")

    def _weights(self, table: PathTable) -> np.ndarray:
        """Weight of every touch within its path (weights of a path sum to 1)."""
        lengths = table.lengths
        n_tok = table.codes.size
        pid = token_path_ids(table)
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
        pid = token_path_ids(table)
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
            credit=credit_frame(table.channels, conv, rev),
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
    return (
        HeuristicAttribution(
            model,
            half_life=half_life,
            direct_channels=direct_channels,
            first_weight=first_weight,
            last_weight=last_weight,
        )
        .fit(paths)
        .result_
    )
