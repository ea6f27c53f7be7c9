"""A small user table (weekly sales, two channels, a price control, an event column) for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_lib.mmm import MMMDataConfig

__all__ = ["file_config", "weekly_table", "write_table"]


def weekly_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """``n`` weeks from 2022-01-03: ``DATE, sales, tv_spend, search_spend, price, events``."""
    rng = np.random.default_rng(seed)
    tv = rng.gamma(2.0, 50.0, n) * (rng.random(n) < 0.7)
    search = rng.gamma(5.0, 20.0, n)
    price = 1 + 0.02 * rng.standard_normal(n)
    sales = 1000 + 2 * tv + 1.5 * search - 300 * (price - 1) + rng.normal(0, 20, n)
    return pd.DataFrame(
        {
            "DATE": pd.date_range("2022-01-03", periods=n, freq="7D").strftime("%Y-%m-%d"),
            "sales": sales,
            "tv_spend": tv,
            "search_spend": search,
            "price": price,
            "events": np.where(np.arange(n) % 40 == 5, "promo", "na"),
        }
    )


def file_config(path: Path, **kw) -> MMMDataConfig:
    """The data config naming :func:`weekly_table`'s columns, for the file at ``path``; ``kw`` overrides."""
    base = dict(
        data_path=str(path),
        date_column="DATE",
        target_column="sales",
        channel_columns=("tv_spend", "search_spend"),
        control_columns=("price",),
    )
    base.update(kw)
    return MMMDataConfig(**base)


def write_table(df: pd.DataFrame, tmp_path: Path, name: str = "data.csv") -> Path:
    """Write ``df`` as ``name`` (Parquet for ``.parquet``, else comma-separated text) and return its path."""
    path = tmp_path / name
    if name.endswith(".parquet"):
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)
    return path
