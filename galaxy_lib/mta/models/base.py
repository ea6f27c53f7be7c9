"""What every attribution model shares: the result type and the path-table helpers.

Every model family (:mod:`~galaxy_lib.mta.models.heuristic`,
:mod:`~galaxy_lib.mta.models.markov`, :mod:`~galaxy_lib.mta.models.shapley`)
returns an :class:`AttributionResult` (credit per channel in conversions and
revenue) and accepts a :class:`~galaxy_lib.mta.paths.PathTable` or a DataFrame in
ChannelAttribution's format (:func:`as_path_table`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.mta.paths import DEFAULT_SEPARATOR, PathTable, PathTableError, parse_path_table

__all__ = ["AttributionResult", "as_path_table", "credit_frame", "token_path_ids"]


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
        """Channels credited, in the order of :attr:`credit`."""
        return tuple(self.credit.index)

    def shares(self, basis: str = "conversions") -> pd.Series:
        """Share of credit per channel (``basis`` = ``"conversions"`` or ``"revenue"``)."""
        if basis not in ("conversions", "revenue"):
            raise ValueError(f"basis must be 'conversions' or 'revenue', got {basis!r}.")
        col = "conversion_share" if basis == "conversions" else "revenue_share"
        return self.credit[col].rename(self.model)


def credit_frame(channels: Sequence[str], conversions: np.ndarray, revenue: np.ndarray) -> pd.DataFrame:
    """Build the credit table of a result: conversions, revenue and their shares, indexed by channel.

    Parameters
    ----------
    channels
        Channel names, in the order of ``conversions`` and ``revenue``.
    conversions, revenue
        Credit per channel.

    Returns
    -------
    pd.DataFrame
        ``conversions``, ``revenue``, ``conversion_share``, ``revenue_share`` (a share is 0
        everywhere when its total is 0).
    """
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
    with the first reasons (use :func:`~galaxy_lib.mta.paths.parse_path_table` to get the
    quarantine and go on with the valid rows).
    """
    if isinstance(paths, PathTable):
        return paths
    if isinstance(paths, pd.DataFrame):
        table = parse_path_table(paths, separator=separator, source="paths")
        if len(table.quarantine):
            q = table.quarantine
            first = "; ".join(f"row {r}: {why}" for r, why in zip(q["_row"].head(3), q["_reason"].head(3), strict=True))
            raise PathTableError(
                f"{len(q)} of {len(paths)} path rows are invalid ({first}). Fix them, or call "
                "galaxy_lib.mta.parse_path_table(...) to quarantine them and pass the PathTable."
            )
        return table
    raise TypeError(f"paths must be a PathTable or a pandas DataFrame, got {type(paths).__name__}.")


def token_path_ids(table: PathTable) -> np.ndarray:
    """Return the path index of every touch (int32 while it fits: memory is per touch)."""
    dtype = np.int32 if table.n_paths < 2**31 - 1 else np.int64
    return np.repeat(np.arange(table.n_paths, dtype=dtype), table.lengths)
