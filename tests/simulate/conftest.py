"""Session fixtures: the ci world is built once (and once more with small chunks) per test session."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.core.store import DataStore
from galaxy_lib.simulate import WorldConfig, WorldSummary, build_world


@dataclass
class BuiltWorld:
    summary: WorldSummary

    @property
    def path(self) -> Path:
        return self.summary.path

    @cached_property
    def store(self) -> DataStore:
        return DataStore(self.path)

    @cached_property
    def truth(self) -> dict:
        return json.loads((self.path / "ground_truth.json").read_text())

    def table(self, name: str) -> pd.DataFrame:
        return self.store.read("raw", name)

    def truth_table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.path / "truth" / f"{name}.parquet")


@pytest.fixture(scope="session")
def ci_world(tmp_path_factory: pytest.TempPathFactory) -> BuiltWorld:
    """The ci world with the default chunk size (one Parquet part per customer table)."""
    out = tmp_path_factory.mktemp("galaxy") / "ci"
    return BuiltWorld(build_world(out, size="ci", seed=42, progress=False))


@pytest.fixture(scope="session")
def ci_world_chunked(tmp_path_factory: pytest.TempPathFactory) -> BuiltWorld:
    """The same world streamed in chunks of 500 customers (four parts per customer table)."""
    out = tmp_path_factory.mktemp("galaxy") / "ci_chunked"
    cfg = WorldConfig.for_size("ci", seed=42, chunk_size=500)
    return BuiltWorld(build_world(out, config=cfg, progress=False))
