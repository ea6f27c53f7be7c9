"""Load and validate everything the MTA notebook reads.

Two ways in, one validated result (:class:`MtaInputs`):

* a user's own path table (``paths_path``), read and validated by
  :func:`galaxy_lib.mta.paths.read_path_table` (bad rows quarantined);
* the Galaxy world at ``data_dir`` (built and staged by
  :func:`galaxy_lib.simulate.ensure_world` when empty), whose events become
  journeys with :func:`galaxy_lib.mta.journeys.build_journeys`.

Calibration targets come from ``incremental_path`` (a file, a ``02_mmm`` run or
``latest:mmm``: :mod:`galaxy_lib.mta.incremental`) or the store's lift tests, and
the true channel credit from the world's ``ground_truth.json`` when there is one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from galaxy_lib.core.config import resolve_path
from galaxy_lib.mta.incremental import (
    LATEST_MMM_RUN,
    IncrementalEstimate,
    incremental_from_lift_tests,
    incremental_from_mmm_run,
    latest_mmm_run,
    read_incremental,
)
from galaxy_lib.mta.journeys import JourneyData, build_journeys
from galaxy_lib.mta.params import MtaParams
from galaxy_lib.mta.paths import PathTable, read_path_table

__all__ = ["MtaInputs", "load_inputs"]


@dataclass(frozen=True, eq=False)
class MtaInputs:
    """Everything the MTA notebook reads, validated.

    Attributes
    ----------
    paths
        The path table the models run on.
    journeys
        Journey statistics when built from events (``None`` for an external path table).
    truth
        True channel shares (``ground_truth["mta"]["channel_credit"]``) when the store is a Galaxy world.
    incremental
        Calibration targets (from ``incremental_path`` or the store's lift tests), or ``None``.
    source
        Human-readable origin of the paths.
    """

    paths: PathTable
    journeys: JourneyData | None
    truth: dict[str, float] | None
    incremental: IncrementalEstimate | None
    source: str

    def summary(self) -> dict[str, Any]:
        """Return one flat dict of counts for the report (the ``inputs`` of ``metrics.json``)."""
        out: dict[str, Any] = {**self.paths.aggregate().summary(), "source": self.source}
        out["quarantined_path_rows"] = len(self.paths.quarantine)
        if self.journeys is not None:
            out.update(self.journeys.summary())
        out["calibration_source"] = self.incremental.source if self.incremental is not None else "none"
        out["truth_known"] = self.truth is not None
        return out

    def quarantine(self) -> pd.DataFrame:
        """Return the rejected path rows and conversions, with rule and reason (for the report)."""
        parts = [self.paths.quarantine]
        if self.journeys is not None:
            parts.append(self.journeys.quarantine)
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame(columns=["_rule", "_reason", "_source"])
        return pd.concat(parts, ignore_index=True)


def load_inputs(params: MtaParams) -> MtaInputs:
    """Load the path table (your file or the world's journeys), the calibration targets and the truth.

    With ``paths_path`` the table is read and validated (bad rows quarantined). Otherwise
    the Galaxy world at ``data_dir`` is built and staged if needed
    (:func:`galaxy_lib.simulate.ensure_world`) and journeys are built from its events.
    Calibration targets come from ``incremental_path`` or, failing that, from the store's
    staged ``lift_tests`` and ``spend``.

    Parameters
    ----------
    params
        The notebook's validated parameters.

    Returns
    -------
    MtaInputs
    """
    store = None
    journeys: JourneyData | None = None
    if params.paths_path:
        paths = read_path_table(resolve_path(params.paths_path), separator=params.separator)
        source = f"path table {Path(params.paths_path).name}"
    else:
        from galaxy_lib.simulate import ensure_world

        store = ensure_world(params.data_dir, size=params.world_size, progress=False)
        journeys = build_journeys(store, lookback_days=params.lookback_days, as_of=params.as_of or None)
        paths = journeys.paths
        source = f"events in {store.root.name} ({params.lookback_days:g}-day lookback)"

    incremental: IncrementalEstimate | None = None
    if params.incremental_path == LATEST_MMM_RUN:
        incremental = incremental_from_mmm_run(latest_mmm_run())
    elif params.incremental_path:
        spend = store.read("staged", "spend") if store is not None and store.exists("staged", "spend") else None
        incremental = read_incremental(resolve_path(params.incremental_path), spend=spend)
    elif store is not None and store.exists("staged", "lift_tests") and store.exists("staged", "spend"):
        incremental = incremental_from_lift_tests(store.read("staged", "lift_tests"), store.read("staged", "spend"))

    truth = None
    if store is not None and (store.root / "ground_truth.json").is_file():
        gt = json.loads((store.root / "ground_truth.json").read_text())
        credit = gt.get("mta", {}).get("channel_credit")
        truth = {str(k): float(v) for k, v in credit.items()} if credit else None
    return MtaInputs(paths=paths, journeys=journeys, truth=truth, incremental=incremental, source=source)
