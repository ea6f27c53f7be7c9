"""The readout on a real randomised e-mail test: Kevin Hillstrom's MineThatData challenge (64,000 customers).

Three arms (No E-Mail, Mens E-Mail, Womens E-Mail), assigned at random; outcomes visit,
conversion and spend in the two weeks after; ``history`` is the spend of the year before
(a pre-period covariate for CUPED). Read from ``../shared/datasets/uplift/``; skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.experiments import ab_readout, srm_check

HILLSTROM = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "uplift" / "hillstrom.csv"


@pytest.fixture(scope="module")
def hillstrom() -> pd.DataFrame:
    if not HILLSTROM.exists():
        pytest.skip(f"{HILLSTROM} is not there (the shared public datasets sit beside the repository)")
    return pd.read_csv(HILLSTROM)


def test_the_split_is_balanced_and_the_visit_lift_is_the_difference_in_means(hillstrom: pd.DataFrame) -> None:
    assert srm_check(hillstrom["segment"]).ok
    rates = hillstrom.groupby("segment")["visit"].mean()
    out = {r.arm: r for r in ab_readout(hillstrom, "segment", "visit", "No E-Mail")}
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        assert out[arm].diff == pytest.approx(rates[arm] - rates["No E-Mail"], abs=0.002)
        assert out[arm].significant
    # the published challenge numbers: visits 10.6% without e-mail, 18.3% men's, 15.1% women's
    assert rates["No E-Mail"] == pytest.approx(0.106, abs=0.001)
    assert out["Mens E-Mail"].diff == pytest.approx(0.183 - 0.106, abs=0.002)
    assert out["Womens E-Mail"].diff == pytest.approx(0.151 - 0.106, abs=0.002)


def test_cuped_with_last_years_spend_never_widens_the_spend_interval(hillstrom: pd.DataFrame) -> None:
    plain = {r.arm: r for r in ab_readout(hillstrom, "segment", "spend", "No E-Mail", metric_type="continuous")}
    cuped = {
        r.arm: r
        for r in ab_readout(
            hillstrom, "segment", "spend", "No E-Mail", metric_type="continuous", covariate_col="history"
        )
    }
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        assert cuped[arm].diff_high - cuped[arm].diff_low <= plain[arm].diff_high - plain[arm].diff_low
        assert cuped[arm].diff == pytest.approx(plain[arm].diff, abs=0.15)  # unbiased: the same effect
