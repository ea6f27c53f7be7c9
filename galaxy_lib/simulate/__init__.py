"""The Galaxy world: one seeded generator for a coherent synthetic company with known truth.

Galaxy Home sells small home appliances online in four UK regions. The world
holds its customers (with fake PII) and their TCF 2.2 consent, marketing
touchpoints and conversions, weekly media spend and revenue per geo, geo lift
tests, creatives (real PNG images) with delivery, a randomised e-mail
experiment and a markdown content corpus. ``ground_truth.json`` records every
mechanism exactly as used, so each workflow can be checked against the truth:

* MMM (:mod:`.mmm`, :mod:`.lift`): geometric adstock + logistic saturation per
  channel, true ROI per channel, lift tests measured on the true curves;
* MTA (:mod:`.journeys`): every conversion has a known triggering touch (or is
  organic), so the true channel credit is known; navigational search/direct
  touches make last-touch attribution biased;
* consent (:mod:`.customers`): TCF 2.2 purposes with grants and withdrawals;
* uplift (:mod:`.uplift`): known individual effect ``tau(x)`` with sleeping dogs;
* creatives (:mod:`.creatives`): known logistic CTR effects of image metadata;
* creative history (:mod:`.creative_history`): daily performance per creative and
  audience (segment x age band) with known CTR, CVR and incremental value (annoying
  creatives do harm), and product master images with the object's known box.

Use :func:`build_world` (sizes ``ci``, ``demo``, ``bench``; see :mod:`.config`), or
:func:`ensure_world` for a world that is built and staged once and reused after.
"""

from galaxy_lib.simulate.config import BLOCK_SIZE, SIZE_PRESETS, WorldConfig, WorldSize
from galaxy_lib.simulate.creative_history import CreativeHistory, draw_master, simulate_creative_history
from galaxy_lib.simulate.ensure import ensure_world
from galaxy_lib.simulate.world import WorldSummary, build_world

__all__ = [
    "BLOCK_SIZE",
    "SIZE_PRESETS",
    "CreativeHistory",
    "WorldConfig",
    "WorldSize",
    "WorldSummary",
    "build_world",
    "draw_master",
    "ensure_world",
    "simulate_creative_history",
]
