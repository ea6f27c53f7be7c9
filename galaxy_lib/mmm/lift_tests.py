"""Lift tests: validate a table of experiments and express it in the model's units.

A lift test measured what a change of spend did to the KPI in one channel (and
often one geo); pymc-marketing adds each as an extra likelihood term that pins
the channel's saturation curve. :func:`prepare_lift_tests` checks the table
(columns, channels, signs, standard errors) and, for a national model, scales
geo tests to national units by the geo's share of spend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.mmm.curated import NATIONAL
from galaxy_lib.mmm.validation import MMMDataError, missing_columns

__all__ = ["LIFT_TEST_COLUMNS", "prepare_lift_tests"]

#: Columns a lift-test table must have (pymc-marketing ``add_lift_test_measurements`` semantics).
LIFT_TEST_COLUMNS: tuple[str, ...] = ("channel", "x", "delta_x", "delta_y", "sigma")


def _geo_spend_share(geo_frame: pd.DataFrame, channel: str, geo: str, start: Any, end: Any) -> float:
    """Share of national spend of ``channel`` that ran in ``geo``, outside the test window."""
    part = geo_frame
    if start is not None and end is not None and not (pd.isna(start) or pd.isna(end)):
        inside = (part["date"] >= pd.Timestamp(start)) & (part["date"] <= pd.Timestamp(end))
        part = part.loc[~inside]
    total = float(part[channel].sum())
    mine = float(part.loc[part["geo"] == geo, channel].sum())
    if total <= 0:
        return float("nan")
    return mine / total


def prepare_lift_tests(
    tests: pd.DataFrame,
    data_frame: pd.DataFrame,
    channel_columns: dict[str, str],
    geos: tuple[str, ...],
    geo_frame: pd.DataFrame | None = None,
    source: str = "lift tests",
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Validate a lift-test table and express it in the model's units.

    Rows follow pymc-marketing's ``add_lift_test_measurements`` semantics: ``x`` is
    the spend per period without the test, ``delta_x`` the change of spend per
    period, ``delta_y`` the measured change of the KPI per period (carry-over
    included), ``sigma`` its standard error.

    For a national model, a test run in one geo is scaled to national units with
    that geo's share ``s`` of national spend (column ``geo_share`` when given,
    otherwise the share of the channel's spend in that geo outside the test window,
    measured on ``geo_frame``): ``x / s``, ``delta_x / s``, ``delta_y / s`` and
    ``sigma / s``. This assumes the geo's response curve is the national curve at
    population scale, ``f_g(x) = s f(x / s)``.

    Parameters
    ----------
    tests
        Raw lift tests.
    data_frame
        The model's canonical frame (for channel labels and geos).
    channel_columns
        Label -> source column; a test's ``channel`` may be either.
    geos
        The model's geos (empty for national).
    geo_frame
        Per-geo canonical frame (``date``, ``geo``, channel labels) used to estimate
        geo shares for a national model.
    source
        Name of the table in errors.

    Returns
    -------
    tests, notes
        Lift tests with ``channel`` as labels (and ``geo`` for a per-geo model), and
        notes for the report.
    """
    missing_columns(tests, list(LIFT_TEST_COLUMNS), "lift_tests_path", source)
    out = tests.copy()
    lookup = {**{lab: lab for lab in channel_columns}, **{col: lab for lab, col in channel_columns.items()}}
    unknown = sorted(set(out["channel"].astype(str)) - set(lookup))
    if unknown:
        raise MMMDataError(
            f"{source}: channel(s) {unknown} are not channels of the model ({sorted(channel_columns)}). "
            "Use the channel names (or their spend column names), or drop those tests."
        )
    out["channel"] = out["channel"].astype(str).map(lookup)
    for c in ("x", "delta_x", "delta_y", "sigma"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
        if out[c].isna().any():
            raise MMMDataError(
                f"{source}: column {c!r} has missing or non-numeric values; "
                "every test needs x, delta_x, delta_y, sigma."
            )
    if (out["sigma"] <= 0).any():
        raise MMMDataError(
            f"{source}: sigma must be > 0 (the standard error of delta_y); "
            f"fix rows {list(np.flatnonzero(out['sigma'] <= 0))}."
        )
    if (out["x"] < 0).any() or ((out["x"] + out["delta_x"]) < 0).any():
        raise MMMDataError(f"{source}: spend x and x + delta_x must be >= 0.")
    if (out["delta_x"] == 0).any():
        raise MMMDataError(f"{source}: a test with delta_x = 0 changed no spend; remove it.")
    same_sign = np.sign(out["delta_x"]) == np.sign(out["delta_y"])
    if (~same_sign).any():
        raise MMMDataError(
            f"{source}: tests {out.loc[~same_sign].index.tolist()} measured an effect of the opposite sign to the "
            "spend change; the model (saturating, positive effects) cannot use them. Check or drop those tests."
        )
    notes: list[str] = []
    has_geo = "geo" in out.columns
    if geos:
        if not has_geo:
            raise MMMDataError(f"{source}: the model is per geo, so each lift test needs a 'geo' column.")
        bad = sorted(set(out["geo"].astype(str)) - set(geos))
        if bad:
            raise MMMDataError(f"{source}: geo(s) {bad} are not geos of the data ({list(geos)}).")
        out["geo"] = out["geo"].astype(str)
        return out.reset_index(drop=True), tuple(notes)

    # National model: scale geo tests to national units.
    if has_geo:
        geo_values = out["geo"].astype("string")
        national = geo_values.isna() | geo_values.isin([NATIONAL, "national", ""])
    else:
        national = pd.Series(True, index=out.index)
    if "geo_share" in out.columns:
        share = pd.to_numeric(out["geo_share"], errors="coerce")
        share = share.where(~national, 1.0)
        how = "the geo_share column"
    elif (~national).any():
        if geo_frame is None:
            raise MMMDataError(
                f"{source}: tests {out.loc[~national].index.tolist()} ran in single geos but the model is national "
                "and the data has no per-geo rows to measure each geo's share of spend. Add a 'geo_share' column "
                "(the geo's share of national spend, 0-1) or fit per geo (geo_column)."
            )
        starts = out["start_week"] if "start_week" in out.columns else pd.Series(None, index=out.index)
        ends = out["end_week"] if "end_week" in out.columns else pd.Series(None, index=out.index)
        share = pd.Series(
            [
                1.0
                if national[i]
                else _geo_spend_share(geo_frame, out.at[i, "channel"], str(out.at[i, "geo"]), starts[i], ends[i])
                for i in out.index
            ],
            index=out.index,
        )
        how = "each geo's share of the channel's national spend outside the test window"
    else:
        share = pd.Series(1.0, index=out.index)
        how = ""
    if share.isna().any() or (share <= 0).any() or (share > 1).any():
        raise MMMDataError(f"{source}: geo shares must be in (0, 1]; got {share.round(4).tolist()}.")
    for c in ("x", "delta_x", "delta_y", "sigma"):
        out[c] = out[c] / share
    out["geo_share"] = share
    if has_geo:
        out = out.rename(columns={"geo": "test_geo"})
    if how and (share < 1).any():
        notes.append(f"{int((share < 1).sum())} geo lift test(s) scaled to national units by {how}.")
    return out.reset_index(drop=True), tuple(notes)
