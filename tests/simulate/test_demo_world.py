"""The demo world (50k customers): sizes, streaming, and the uplift truth with a tight sampling error."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from galaxy_lib.core.contracts import CONTRACTS
from galaxy_lib.simulate import build_world


@pytest.mark.slow
def test_demo_world(tmp_path):
    # A fresh interpreter: peak_memory_mb is the process's peak so far, and a test worker
    # may already have fitted an MMM; the limit is about building the world.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        s = pool.submit(build_world, tmp_path / "demo", size="demo", progress=False).result()
    assert s.rows["customers"] == 50_000
    assert 500_000 <= s.rows["touchpoints"] <= 1_000_000
    assert s.peak_memory_mb < 2048
    parts = sorted((s.path / "raw" / "touchpoints").glob("part-*.parquet"))
    assert len(parts) == 2  # chunks of 25k customers
    for name in ("touchpoints", "consent", "conversions"):
        CONTRACTS[name].schema.validate(pd.read_parquet(s.path / "raw" / name / "part-00001.parquet"), lazy=True)

    truth = json.loads((s.path / "ground_truth.json").read_text())
    exp = pq.read_table(s.path / "raw" / "email_experiment").to_pandas()
    tau = pq.read_table(s.path / "truth" / "uplift.parquet").to_pandas()
    assert tau["customer_id"].equals(exp["customer_id"])
    c = exp.loc[exp.treatment == "control", "converted"]
    for arm in ("email", "coupon"):
        t = exp.loc[exp.treatment == arm, "converted"]
        diff = t.mean() - c.mean()
        se = np.sqrt(t.var() / len(t) + c.var() / len(c))
        assert truth["uplift"]["ate"][arm] == pytest.approx(tau[f"tau_{arm}"].mean(), abs=1e-12)
        assert abs(diff - truth["uplift"]["ate"][arm]) < 4 * se
        assert se < 0.005

    credit = truth["mta"]["channel_credit"]
    assert sum(credit.values()) == pytest.approx(1.0)
    assert 0.8 <= truth["consent"]["coverage_at_end"]["measurement"] <= 0.9
