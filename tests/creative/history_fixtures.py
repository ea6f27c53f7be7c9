"""Simulated creative history and stand-in features for the pre-flight and recommender tests.

The world comes from the simulator (``simulate_creatives`` without images and
``simulate_creative_history``: 56 days, twelve audiences, a truth table per
creative and audience).

Features are built from the creatives table's metadata, as the image and copy
readers would measure them: the dominant colour in CIE Lab, the aspect ratio of
the format, the logo, the text density, the headline's length and digits, and
the price of the product it shows (from the catalogue).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd

from galaxy_lib.simulate.catalogue import PRODUCTS
from galaxy_lib.simulate.creative_history import CreativeHistory, metadata_features, simulate_creative_history
from galaxy_lib.simulate.creatives import simulate_creatives

END = pd.Timestamp("2026-11-30")
DAYS = 56
_CATEGORY = {p.sku: p.category for p in PRODUCTS}


def creative_attributes(creatives: pd.DataFrame) -> pd.DataFrame:
    """Categorical item attributes for the recommender (platform, format, colour, logo, number, category)."""
    headline = creatives["headline"].astype(str)
    return pd.DataFrame(
        {
            "creative_id": creatives["creative_id"],
            "platform": creatives["channel"],
            "format": creatives["format"],
            "dominant_color": creatives["dominant_color"],
            "has_logo": creatives["has_logo"].astype(bool),
            "has_number": headline.str.contains(r"\d"),
            "category": creatives["product_sku"].map(_CATEGORY).fillna("unknown"),
        }
    )


@dataclass(frozen=True)
class World:
    """One simulated world for the tests."""

    creatives: pd.DataFrame
    true_ctr: dict[str, float]
    history: CreativeHistory
    features: pd.DataFrame
    attributes: pd.DataFrame


@cache
def world(seed: int, n_creatives: int = 80) -> World:
    """The simulated world of ``seed`` (cached: the tests of both files share it)."""
    cs = simulate_creatives(seed, n_creatives, asset_dir=None)
    history = simulate_creative_history(cs.table, cs.true_ctr, end=END, days=DAYS, seed=seed)
    return World(
        creatives=cs.table,
        true_ctr=dict(cs.true_ctr),
        history=history,
        features=metadata_features(cs.table),
        attributes=creative_attributes(cs.table),
    )
