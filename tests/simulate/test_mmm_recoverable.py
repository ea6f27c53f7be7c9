"""The ci world is learnable: a national pymc-marketing MMM recovers every channel's true ROI.

This guards the world's design (spend variation, noise, media share), not the
MMM workflow: it uses pymc-marketing directly with the documented model
(geometric adstock l_max=8 + logistic saturation, yearly Fourier order 2,
price index, holiday and trend controls) on the national totals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from galaxy_lib.core.contracts import MMM_CHANNELS


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_national_mmm_recovers_true_roi_within_25_percent(ci_world):
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    spend = ci_world.table("spend").groupby(["week", "channel"])["spend"].sum().unstack()[list(MMM_CHANNELS)]
    kpi = (
        ci_world.table("kpi")
        .groupby("week")
        .agg(revenue=("revenue", "sum"), price_index=("price_index", "mean"), holiday=("holiday", "max"))
    )
    df = spend.join(kpi).reset_index().rename(columns={"week": "date"})
    df["t"] = np.arange(len(df)) / (len(df) - 1)
    mmm = MMM(
        date_column="date",
        channel_columns=list(MMM_CHANNELS),
        target_column="revenue",
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        control_columns=["price_index", "holiday", "t"],
        yearly_seasonality=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mmm.fit(
            df[["date", *MMM_CHANNELS, "price_index", "holiday", "t"]],
            df["revenue"],
            nuts_sampler="numpyro",
            chains=2,
            draws=500,
            tune=500,
            target_accept=0.9,
            random_seed=1,
            progressbar=False,
        )
    scale = float(np.asarray(mmm.idata.constant_data["target_scale"].values).ravel()[0])
    total = mmm.idata.posterior["channel_contribution"].sum("date").mean(("chain", "draw")) * scale
    for c in MMM_CHANNELS:
        roi = float(total.sel(channel=c)) / spend[c].sum()
        true = ci_world.truth["mmm"]["channels"][c]["roi"]
        assert roi == pytest.approx(true, rel=0.25), (c, roi, true)
