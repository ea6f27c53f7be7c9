"""From fitted attribution results to report tables: credit, calibration, truth, publication.

* :func:`credit_table` / :func:`credit_long`: credit per channel for every model.
* :func:`calibrate`: rescales a model's channel credit to agree with per-channel
  incremental estimates (:func:`~galaxy_lib.mta.incremental.incremental_from_lift_tests`,
  :func:`~galaxy_lib.mta.incremental.read_incremental`, e.g. the MMM's contribution per channel).
* :func:`compare_to_truth`: distance of every model's channel shares to a known truth
  (the Galaxy world's ``ground_truth["mta"]["channel_credit"]``).
* :func:`publishable_paths`: the path table with paths seen by fewer than ``k``
  journeys suppressed (k-anonymity, through :mod:`galaxy_lib.governance.kanon`).
* :func:`top_paths`: the most travelled paths, for the Sankey chart.

The run's gates and its ``metrics.json`` are built in :mod:`galaxy_lib.mta.report`.

Calibration
-----------
Path-based models split conversions by position and sequence, which is not
causation: a navigational search just before a purchase collects credit it did not
cause. Experiments (lift tests) and the MMM measure incrementality per channel but
not per journey. :func:`calibrate` combines them:

* ``mode="relative"`` (default): for the channels that have an incremental estimate,
  their combined credit stays what the path model says, but it is re-split between
  them in proportion to their incremental estimates. Factor
  ``f_c = (I_c / sum I) / (A_c / sum A)`` over those channels. This needs no common
  unit: the MMM may measure national revenue while the path table counts tracked
  conversions. Channels without an estimate keep their credit.
* ``mode="absolute"``: each calibrated channel's credit becomes its incremental
  estimate (``I_c`` must be in the units of ``basis``); the other basis is scaled by
  the same factor.

Within a channel every path, campaign or creative keeps its share of the channel's
credit, so the factor can be applied to any finer table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.mta.incremental import IncrementalEstimate
from galaxy_lib.mta.models import AttributionResult, MarkovResult, ShapleyResult
from galaxy_lib.mta.paths import PathTable

__all__ = [
    "CalibrationResult",
    "PublishedPaths",
    "calibrate",
    "calibrate_if_available",
    "calibration_columns",
    "compare_if_known",
    "compare_to_truth",
    "credit_long",
    "credit_table",
    "inputs_table",
    "publishable_paths",
    "shares_with_calibration",
    "top_paths",
]

_BASES = ("conversions", "revenue")


# -- what the models were fitted on ---------------------------------------------------------------
def inputs_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """Lay out the inputs summary (:meth:`MtaInputs.summary`) as a two-column table a person reads.

    Counts get thousands separators, fractions two decimals, and names their spaces
    (``consent_excluded_customers`` -> ``consent excluded customers``).
    """

    def fmt(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(value)
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"

    rows = [(str(k).replace("_", " "), fmt(v)) for k, v in summary.items()]
    return pd.DataFrame(rows, columns=["input", "value"]).set_index("input")


# -- credit tables ------------------------------------------------------------------------------
def credit_table(results: Mapping[str, AttributionResult], value: str = "conversion_share") -> pd.DataFrame:
    """Wide table: one row per channel, one column per model.

    Parameters
    ----------
    results
        Model name -> result (e.g. from :func:`~galaxy_lib.mta.models.fit_all_models`).
    value
        Which credit column: ``conversions``, ``revenue``, ``conversion_share`` or ``revenue_share``.
    """
    if value not in ("conversions", "revenue", "conversion_share", "revenue_share"):
        raise ValueError(f"value must be conversions, revenue, conversion_share or revenue_share (got {value!r}).")
    if not results:
        raise ValueError("results is empty: fit at least one model.")
    table = pd.DataFrame({name: r.credit[value] for name, r in results.items()})
    table.index.name = "channel"
    return table.fillna(0.0)


def credit_long(results: Mapping[str, AttributionResult]) -> pd.DataFrame:
    """Long table of the credit of every model.

    Columns ``model, channel, conversions, revenue, conversion_share, revenue_share``, plus
    ``removal_effect`` for Markov and ``std_error`` for sampled Shapley.
    """
    frames = []
    for name, r in results.items():
        f = r.credit.reset_index()
        f.insert(0, "model", name)
        if isinstance(r, MarkovResult):
            f["removal_effect"] = r.removal_effects["removal_effect_conversion"].to_numpy()
        if isinstance(r, ShapleyResult) and r.method == "permutation":
            f["std_error"] = r.std_error["conversions"].to_numpy()
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


# -- calibration ------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """A model's credit rescaled to incremental estimates.

    Attributes
    ----------
    model
        The calibrated model's name.
    table
        Indexed by channel: ``attributed_conversions``, ``attributed_revenue``,
        ``attributed_share``, ``incremental``, ``incremental_share`` (among calibrated
        channels), ``factor``, ``calibrated_conversions``, ``calibrated_revenue``,
        ``calibrated_share`` and ``calibrated`` (whether an estimate was available).
    mode, basis
        See :func:`calibrate`.
    ignored_channels
        Channels with an estimate but no touch in the paths (e.g. TV).
    source
        Where the incremental estimates came from.
    """

    model: str
    table: pd.DataFrame
    mode: str
    basis: str
    ignored_channels: tuple[str, ...]
    source: str

    def shares(self) -> pd.Series:
        """Calibrated share of conversions per channel."""
        return self.table["calibrated_share"].rename(f"{self.model}_calibrated")

    def as_result(self) -> AttributionResult:
        """Return the calibrated credit as an :class:`AttributionResult` (for tables and charts)."""
        t = self.table
        tc, tr = t["calibrated_conversions"].sum(), t["calibrated_revenue"].sum()
        credit = pd.DataFrame(
            {
                "conversions": t["calibrated_conversions"],
                "revenue": t["calibrated_revenue"],
                "conversion_share": t["calibrated_conversions"] / tc if tc else 0.0,
                "revenue_share": t["calibrated_revenue"] / tr if tr else 0.0,
            }
        )
        return AttributionResult(
            model=f"{self.model}_calibrated",
            credit=credit,
            total_conversions=float(tc),
            total_revenue=float(tr),
            params={"model": self.model, "calibration": self.mode, "basis": self.basis, "source": self.source},
        )


def calibrate(
    result: AttributionResult,
    incremental: IncrementalEstimate | Mapping[str, float] | pd.Series,
    mode: str = "relative",
    basis: str = "revenue",
) -> CalibrationResult:
    """Rescale each channel's credit to agree with incremental estimates (MMM or lift tests).

    Parameters
    ----------
    result
        Credit from any model.
    incremental
        Incremental effect per channel (an :class:`IncrementalEstimate`, or channel -> value).
    mode
        ``"relative"`` (re-split the calibrated channels' combined credit in proportion to
        the estimates; units need not match) or ``"absolute"`` (credit := estimate).
    basis
        For ``"absolute"``: the unit of the estimates, ``"revenue"`` or ``"conversions"``.

    Returns
    -------
    CalibrationResult
    """
    if mode not in ("relative", "absolute"):
        raise ValueError(f"mode must be 'relative' or 'absolute' (got {mode!r}).")
    if basis not in _BASES:
        raise ValueError(f"basis must be 'revenue' or 'conversions' (got {basis!r}).")
    if isinstance(incremental, IncrementalEstimate):
        inc = incremental.table["incremental"].astype(float)
        source = incremental.source
    else:
        inc = pd.Series(dict(incremental) if isinstance(incremental, Mapping) else incremental, dtype=float)
        source = "given"
    if (inc < 0).any() or not np.isfinite(inc).all():
        raise ValueError(f"incremental estimates must be finite and >= 0 (got {inc.to_dict()}).")
    credit = result.credit
    channels = list(credit.index)
    known = [c for c in channels if c in inc.index]
    ignored = tuple(sorted(c for c in inc.index if c not in channels))
    if not known:
        raise ValueError(
            f"No channel of the model ({channels}) has an incremental estimate (estimates for: {list(inc.index)})."
        )
    att_c = credit["conversions"].astype(float)
    att_r = credit["revenue"].astype(float)
    cal_c, cal_r = att_c.copy(), att_r.copy()
    inc_k = inc[known]
    if mode == "relative":
        if inc_k.sum() <= 0:
            raise ValueError("The incremental estimates of the model's channels sum to 0: nothing to split by.")
        w = inc_k / inc_k.sum()
        cal_c[known] = att_c[known].sum() * w
        cal_r[known] = att_r[known].sum() * w
    else:
        primary = att_r if basis == "revenue" else att_c
        ratio = pd.Series(
            np.divide(
                inc_k.to_numpy(),
                primary[known].to_numpy(),
                out=np.full(len(known), np.nan),
                where=primary[known].to_numpy() > 0,
            ),
            index=known,
        )
        if basis == "revenue":
            cal_r[known] = inc_k
            cal_c[known] = att_c[known] * ratio.fillna(0.0)
        else:
            cal_c[known] = inc_k
            cal_r[known] = att_r[known] * ratio.fillna(0.0)
    factor = pd.Series(np.nan, index=channels)
    pos = att_c[known] > 0
    factor[np.asarray(known)[pos.to_numpy()]] = (cal_c[known][pos] / att_c[known][pos]).to_numpy()
    factor[[c for c in channels if c not in known]] = 1.0
    table = pd.DataFrame(
        {
            "attributed_conversions": att_c,
            "attributed_revenue": att_r,
            "attributed_share": att_c / att_c.sum() if att_c.sum() else 0.0,
            "incremental": inc.reindex(channels),
            "incremental_share": (inc_k / inc_k.sum()).reindex(channels) if inc_k.sum() else np.nan,
            "factor": factor,
            "calibrated_conversions": cal_c,
            "calibrated_revenue": cal_r,
            "calibrated_share": cal_c / cal_c.sum() if cal_c.sum() else 0.0,
            "calibrated": [c in known for c in channels],
        },
        index=pd.Index(channels, name="channel"),
    )
    return CalibrationResult(
        model=result.model, table=table, mode=mode, basis=basis, ignored_channels=ignored, source=source
    )


# -- truth ---------------------------------------------------------------------------------------
def compare_to_truth(shares: pd.DataFrame, truth: Mapping[str, float]) -> pd.DataFrame:
    """Distance of each model's channel shares to the true shares.

    Parameters
    ----------
    shares
        Channels x models (e.g. :func:`credit_table` with ``value="conversion_share"``).
    truth
        Channel -> true share (summing to 1).

    Returns
    -------
    pd.DataFrame
        One row per model: ``total_variation`` (half the L1 distance: the share of credit
        that sits on the wrong channels; 0 = perfect, 1 = disjoint), ``mae`` (mean absolute
        error per channel) and ``max_abs_error`` with the channel where it occurs; sorted
        best first.
    """
    t = pd.Series(dict(truth), dtype=float)
    if not np.isclose(t.sum(), 1.0, atol=1e-6):
        raise ValueError(f"truth shares must sum to 1 (sum {t.sum():.4f}).")
    idx = t.index.union(shares.index)
    s = shares.reindex(idx).fillna(0.0)
    err = s.sub(t.reindex(idx).fillna(0.0), axis=0)
    out = pd.DataFrame(
        {
            "total_variation": err.abs().sum() / 2.0,
            "mae": err.abs().mean(),
            "max_abs_error": err.abs().max(),
            "worst_channel": err.abs().idxmax(),
        }
    )
    out.index.name = "model"
    return out.sort_values("total_variation")


def calibrate_if_available(
    results: Mapping[str, AttributionResult],
    model: str,
    incremental: IncrementalEstimate | None,
    mode: str = "relative",
) -> CalibrationResult | None:
    """Calibrate ``results[model]`` when incremental estimates exist (``None`` otherwise)."""
    if model not in results:
        raise ValueError(f"Model {model!r} was not fitted; fitted models: {list(results)}.")
    if incremental is None:
        return None
    return calibrate(results[model], incremental, mode=mode, basis=incremental.unit)


def shares_with_calibration(
    results: Mapping[str, AttributionResult], calibration: CalibrationResult | None
) -> pd.DataFrame:
    """:func:`credit_table` of conversion shares plus the calibrated model's column, if any."""
    shares = credit_table(results)
    if calibration is not None:
        shares[f"{calibration.model}_calibrated"] = calibration.shares().reindex(shares.index).fillna(0.0)
    return shares


def calibration_columns(shares: pd.DataFrame, calibration: CalibrationResult | None) -> list[str]:
    """List the calibrated model's column and its calibrated column in ``shares`` (for charts)."""
    if calibration is None:
        return []
    return [c for c in (calibration.model, f"{calibration.model}_calibrated") if c in shares.columns]


def compare_if_known(shares: pd.DataFrame, truth: Mapping[str, float] | None) -> pd.DataFrame | None:
    """:func:`compare_to_truth` when the truth is known (a Galaxy world), else ``None``."""
    return None if truth is None else compare_to_truth(shares, truth)


# -- publication -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PublishedPaths:
    """A path table safe to publish: paths seen by fewer than ``k`` people merged and blanked.

    Attributes
    ----------
    table
        ``path``, ``journeys``, ``conversions``, ``revenue``, ``conversion_rate`` (and
        ``customers`` when counted by customers); suppressed paths are merged into one row
        labelled :attr:`OTHER` (itself blanked when it cannot be shown to reach ``k``).
    suppressed_paths, suppressed_journeys
        How many paths (and their journeys) were merged away.
    k
        The threshold.
    counted_by
        ``"customers"`` (distinct customers per path: a table built from events) or
        ``"journeys"`` (an aggregated table from a file, which cannot say who travelled a path).
    """

    table: pd.DataFrame
    suppressed_paths: int
    suppressed_journeys: float
    k: int
    counted_by: str = "journeys"

    OTHER = "(paths with fewer than k journeys)"

    def summary(self) -> str:
        """Say in one sentence what was suppressed (for the notebook)."""
        return (
            f"{self.suppressed_paths} paths seen by fewer than {self.k} {self.counted_by} "
            f"({self.suppressed_journeys:,.0f} journeys) were merged and not shown."
        )


def _path_frame(paths: PathTable) -> pd.DataFrame:
    """One row per path: journeys, conversions, revenue, conversion rate and, when known, distinct customers."""
    agg = paths.aggregate()
    df = pd.DataFrame(
        {
            "path": agg.table["path"].to_numpy(),
            "journeys": agg.journeys,
            "conversions": agg.conversions,
            "revenue": agg.value,
        }
    )
    df["conversion_rate"] = df["conversions"] / df["journeys"]
    if paths.customers is not None:
        # a path without a count is treated as seen by nobody: it can only be suppressed
        df["customers"] = df["path"].map(paths.customers).fillna(0).astype("int64")
    return df


def _people(df: pd.DataFrame) -> str:
    """Return the column k-anonymity counts: distinct customers when known, else journeys."""
    return "customers" if "customers" in df.columns else "journeys"


def publishable_paths(paths: PathTable, k: int) -> PublishedPaths:
    """Suppress paths seen by fewer than ``k`` distinct customers (k-anonymity on published tables).

    k-anonymity protects people, so it counts distinct customers per path
    (:attr:`PathTable.customers`, known for tables built from events): twelve journeys of
    two customers are two people. A path table read from a file carries no customers;
    then the journey count is used and :attr:`PublishedPaths.counted_by` says so.
    Suppression uses :func:`galaxy_lib.governance.kanon.suppress_small_cells`; the
    suppressed rows are merged into a single row so that neither their paths nor their
    numbers are shown. The merged row is blanked too when it is below ``k``; counted by
    customers it is always blanked, because the per-path counts cannot tell how many
    distinct customers the merged paths share.
    """
    from galaxy_lib.governance.kanon import suppress_small_cells

    df = _path_frame(paths).sort_values(["journeys", "path"], ascending=[False, True]).reset_index(drop=True)
    count_col = _people(df)
    value_cols = ["journeys", "conversions", "revenue", "conversion_rate"]
    value_cols += ["customers"] if count_col == "customers" else []
    res = suppress_small_cells(df, count_col=count_col, k=k, value_cols=value_cols)
    small = res.table["suppressed"].to_numpy()
    shown = res.table.loc[~small].drop(columns="suppressed")
    hidden = df.loc[small]
    if len(hidden):
        other = pd.DataFrame(
            {
                "path": [PublishedPaths.OTHER.replace("k journeys", f"{res.k} {count_col}")],
                "journeys": [hidden["journeys"].sum()],
                "conversions": [hidden["conversions"].sum()],
                "revenue": [hidden["revenue"].sum()],
            }
        )
        other["conversion_rate"] = other["conversions"] / other["journeys"]
        if count_col == "customers" or other["journeys"].iloc[0] < res.k:
            other.loc[:, ["journeys", "conversions", "revenue", "conversion_rate"]] = np.nan
        if count_col == "customers":
            other["customers"] = np.nan
        shown = pd.concat([shown, other], ignore_index=True)
    return PublishedPaths(
        table=shown.reset_index(drop=True),
        suppressed_paths=int(small.sum()),
        suppressed_journeys=float(hidden["journeys"].sum()),
        k=res.k,
        counted_by=count_col,
    )


def top_paths(paths: PathTable, n: int = 15, by: str = "journeys", min_journeys: int = 1) -> pd.DataFrame:
    """Return the ``n`` most frequent paths seen by at least ``min_journeys`` people.

    ``by`` is ``journeys`` or ``conversions``; pass the publication ``k`` as ``min_journeys``
    so charts respect it. Like :func:`publishable_paths`, the threshold counts distinct
    customers when the table knows them (built from events), else journeys.
    """
    if by not in ("journeys", "conversions"):
        raise ValueError(f"by must be 'journeys' or 'conversions' (got {by!r}).")
    df = _path_frame(paths)
    df = df[df[_people(df)] >= min_journeys]
    return df.sort_values([by, "path"], ascending=[False, True]).head(int(n)).reset_index(drop=True)
