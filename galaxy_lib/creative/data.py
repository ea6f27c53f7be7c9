"""Load and check what the creative workflow reads: creatives, performance history, catalogue, truth.

Two ways in, one checked result (:class:`CreativeInputs`):

* the store at ``data_dir`` (a Galaxy world is built and staged there when it is
  empty): ``staged/creatives`` with their PNGs under ``assets/``, ``staged/products``
  with their master images, ``staged/creative_performance`` and, in a Galaxy world,
  the true effects (``truth/creative_effects.parquet``);
* your own files: a creatives manifest (``creatives_path``: one row per creative with
  ``image_path``, ``platform`` and its copy), a performance history (``history_path``)
  and a catalogue (``products_path``). Relative image paths are read against the
  manifest's folder. Each replaces its store table; the others still come from the store.

A creative whose image is missing or unreadable is kept: the guardrails fail it with
the reason, so one bad file never stops the batch. History rows that cannot be
counted (negative counts, more clicks than impressions, an unknown creative, a date
that is not a date) go to :attr:`CreativeInputs.rejected` with ``_rule`` and
``_reason``; a missing column stops the run with the column and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from galaxy_lib.core.config import resolve_path
from galaxy_lib.core.files import read_table_file
from galaxy_lib.creative.brand import BrandRules, load_brand

__all__ = [
    "CATALOGUE_COLUMNS",
    "CREATIVE_COLUMNS",
    "HISTORY_COLUMNS",
    "CreativeDataError",
    "CreativeInputs",
    "check_history",
    "load_creative_inputs",
]

#: Columns a performance history needs.
HISTORY_COLUMNS: tuple[str, ...] = (
    "date",
    "creative_id",
    "audience",
    "platform",
    "impressions",
    "clicks",
    "conversions",
)
#: Columns of the creatives table the workflow works with (``image_path`` and ``platform`` are required).
CREATIVE_COLUMNS: tuple[str, ...] = (
    "creative_id",
    "platform",
    "category",
    "product_sku",
    "headline",
    "body",
    "cta",
    "disclaimer",
    "image_path",
)
#: Columns a catalogue needs (``feature_1`` ... are optional).
CATALOGUE_COLUMNS: tuple[str, ...] = ("sku", "name", "category", "price", "master_image")
_AUDIENCE = re.compile(r"^(?P<segment>[a-z]+) (?P<age_band>\d+(?:-\d+|\+))$")


class CreativeDataError(ValueError):
    """An input cannot be used as it is; the message names the file, the column and the fix."""


@dataclass(frozen=True)
class CreativeInputs:
    """Everything the creative notebook reads, checked.

    Attributes
    ----------
    brand
        The validated brand file.
    creatives
        One row per creative: :data:`CREATIVE_COLUMNS` with absolute ``image_path``.
    products
        The catalogue with absolute ``master_image`` (empty when there is none).
    history
        Performance history rows that passed the checks (:data:`HISTORY_COLUMNS`), or ``None``.
    rejected
        History rows that did not, with ``_row`` (data row from 1), ``_rule`` and ``_reason``.
    audiences
        ``audience`` plus its attributes (``segment``, ``age_band`` in a Galaxy world), or ``None``.
    truth
        True effects per creative and audience in a Galaxy world (``true_ctr``, ``true_cvr``,
        ``true_incremental``, ``baseline``), else ``None``.
    source
        Where the inputs came from, for the report.
    """

    brand: BrandRules
    creatives: pd.DataFrame
    products: pd.DataFrame
    history: pd.DataFrame | None
    rejected: pd.DataFrame
    audiences: pd.DataFrame | None
    truth: pd.DataFrame | None
    source: str

    def summary(self) -> dict[str, Any]:
        """Count what was read, for the report's first table and ``metrics.json``."""
        return {
            "source": self.source,
            "brand_file": self.brand.source,
            "creatives": len(self.creatives),
            "products": len(self.products),
            "history_rows": 0 if self.history is None else len(self.history),
            "history_rows_rejected": len(self.rejected),
            "audiences": 0 if self.audiences is None else len(self.audiences),
            "truth_known": self.truth is not None,
        }


def _reject(frame: pd.DataFrame, mask: pd.Series, rule: str, reason: str, source: str) -> pd.DataFrame:
    out = frame.loc[mask].astype(str)
    out.insert(0, "_row", frame.index[mask] + 1)
    return out.assign(_rule=rule, _reason=reason, _source=source)


def check_history(
    history: pd.DataFrame, creative_ids: set[str], source: str = "history"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a performance history into usable rows and rejected rows with reasons.

    Parameters
    ----------
    history
        One row per date, creative and audience with :data:`HISTORY_COLUMNS`.
    creative_ids
        Ids of the creatives table; a history row of another creative cannot be scored.
    source
        Name quoted in the rejected rows.

    Returns
    -------
    (clean, rejected)
        ``clean`` with typed columns (dates as timestamps, counts as float); ``rejected``
        with the original values as text plus ``_row``, ``_rule``, ``_reason``, ``_source``.

    Raises
    ------
    CreativeDataError
        When a required column is missing.
    """
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise CreativeDataError(
            f"{source} lacks column(s) {', '.join(map(repr, missing))}: a performance history has one row per "
            f"date, creative and audience with {', '.join(HISTORY_COLUMNS)}."
        )
    frame = history.reset_index(drop=True)
    typed = pd.DataFrame(
        {
            "date": pd.to_datetime(frame["date"], errors="coerce"),
            "creative_id": frame["creative_id"].astype("string").str.strip(),
            "audience": frame["audience"].astype("string").str.strip(),
            "platform": frame["platform"].astype("string").str.strip(),
        }
    )
    for col in ("impressions", "clicks", "conversions"):
        typed[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    checks = [
        ("date", typed["date"].isna(), "the date is missing or not a date (write YYYY-MM-DD)"),
        (
            "blank_key",
            typed[["creative_id", "audience", "platform"]].isna().any(axis=1)
            | (typed[["creative_id", "audience", "platform"]] == "").any(axis=1),
            "creative_id, audience and platform must all be filled",
        ),
        (
            "counts",
            typed[["impressions", "clicks", "conversions"]].isna().any(axis=1)
            | (typed[["impressions", "clicks", "conversions"]] < 0).any(axis=1),
            "impressions, clicks and conversions must be numbers >= 0",
        ),
        ("clicks_over_impressions", typed["clicks"] > typed["impressions"], "more clicks than impressions"),
        ("conversions_over_clicks", typed["conversions"] > typed["clicks"], "more conversions than clicks"),
        (
            "unknown_creative",
            ~typed["creative_id"].isin(creative_ids),
            "no creative with this creative_id in the creatives table (add it there, or fix the id)",
        ),
    ]
    bad = pd.Series(False, index=frame.index)
    rejected = []
    for rule, mask, reason in checks:
        mask = mask.fillna(True).astype(bool) & ~bad
        if mask.any():
            rejected.append(_reject(frame, mask, rule, reason, source))
            bad |= mask
    rejected_frame = (
        pd.concat(rejected, ignore_index=True)
        if rejected
        else pd.DataFrame(columns=["_row", *frame.columns, "_rule", "_reason", "_source"])
    )
    clean = typed.loc[~bad].reset_index(drop=True)
    clean[["creative_id", "audience", "platform"]] = clean[["creative_id", "audience", "platform"]].astype(str)
    return clean, rejected_frame


def _audience_table(history: pd.DataFrame) -> pd.DataFrame:
    """Audiences of the history with their share of impressions and the attributes their names carry.

    A Galaxy world's audience names carry segment and age band (``"loyal 35-54"``); other names are kept
    as they are, and the recommender then knows the audience by its name only.
    """
    share = history.groupby("audience")["impressions"].sum()
    rows = []
    for audience, impressions in share.items():
        match = _AUDIENCE.match(str(audience))
        rows.append({"audience": str(audience), **(match.groupdict() if match else {}), "share": impressions})
    table = pd.DataFrame(rows)
    table["share"] = table["share"] / max(float(table["share"].sum()), 1.0)
    return table


def _read(path: Path, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    frame = read_table_file(path)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CreativeDataError(
            f"{what} {path.name} lacks column(s) {', '.join(map(repr, missing))}; its columns are "
            f"{list(frame.columns)}. It needs {', '.join(required)}."
        )
    return frame


def _absolute(paths: pd.Series, folder: Path) -> pd.Series:
    return paths.astype(str).map(lambda p: str(p if Path(p).is_absolute() else (folder / p)))


def _creatives_from_manifest(path: Path, products: pd.DataFrame) -> pd.DataFrame:
    frame = _read(path, "creatives manifest", ("image_path", "platform"))
    frame = frame.reset_index(drop=True)
    for col in CREATIVE_COLUMNS:
        if col not in frame.columns:
            frame[col] = ""
    frame = frame[list(CREATIVE_COLUMNS)].fillna("").astype(str)
    frame["image_path"] = _absolute(frame["image_path"], path.parent)
    blank_id = frame["creative_id"].str.strip() == ""
    frame.loc[blank_id, "creative_id"] = [f"row-{i + 1}" for i in np.flatnonzero(blank_id)]
    duplicated = frame["creative_id"].duplicated(keep=False)
    if duplicated.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(duplicated)[:5])
        raise CreativeDataError(
            f"creatives manifest {path.name}: creative_id repeats in data row(s) {rows}; every creative needs "
            "its own id (or leave creative_id empty and rows are numbered)."
        )
    return _fill_category(frame, products)


def _fill_category(frame: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Category from the catalogue where the creative names its product and not its category."""
    if products.empty or "product_sku" not in frame.columns:
        return frame
    lookup = products.set_index("sku")["category"].astype(str)
    blank = frame["category"].astype(str).str.strip().isin(["", "nan", "None"])
    frame.loc[blank, "category"] = frame.loc[blank, "product_sku"].map(lookup).fillna("")
    return frame


def _creatives_from_store(store: Any, products: pd.DataFrame) -> pd.DataFrame:
    raw = store.read("staged", "creatives")
    frame = pd.DataFrame(
        {
            "creative_id": raw["creative_id"].astype(str),
            "platform": raw["channel"].astype(str),
            "category": "",
            "product_sku": raw.get("product_sku", pd.Series("", index=raw.index)).fillna("").astype(str),
            "headline": raw["headline"].fillna("").astype(str),
            "body": raw.get("body", pd.Series("", index=raw.index)).fillna("").astype(str),
            "cta": "",
            "disclaimer": raw.get("disclaimer", pd.Series("", index=raw.index)).fillna("").astype(str),
            "image_path": _absolute(raw["image_path"], store.root),
        }
    )
    return _fill_category(frame, products)


def _products(store: Any, products_path: str) -> pd.DataFrame:
    if products_path:
        path = resolve_path(products_path)
        frame = _read(path, "catalogue", CATALOGUE_COLUMNS)
        frame["master_image"] = _absolute(frame["master_image"], path.parent)
        return frame.reset_index(drop=True)
    if store is None or not store.exists("staged", "products"):
        return pd.DataFrame(columns=list(CATALOGUE_COLUMNS))
    frame = store.read("staged", "products")
    frame["master_image"] = _absolute(frame["master_image"], store.root)
    return frame


def load_creative_inputs(
    data_dir: str,
    world_size: str = "ci",
    brand_file: str = "parameters/brand.yaml",
    creatives_path: str = "",
    history_path: str = "",
    products_path: str = "",
) -> CreativeInputs:
    """Load, check and describe the creative workflow's inputs (see the module docstring).

    Parameters
    ----------
    data_dir, world_size
        The store (a Galaxy world of ``world_size`` is built there when it is empty and
        any of the three tables comes from it).
    brand_file
        The brand YAML (``parameters/brand.yaml``).
    creatives_path, history_path, products_path
        Your creatives manifest, performance history and catalogue (CSV or Parquet);
        empty = the store's table.

    Raises
    ------
    CreativeDataError
        When a file lacks a required column or repeats a creative id.
    BrandFileError
        When the brand file is missing or invalid.
    """
    brand = load_brand(resolve_path(brand_file))
    store = None
    if not (creatives_path and history_path and products_path):
        from galaxy_lib.simulate import ensure_world

        store = ensure_world(data_dir, size=world_size, progress=False)
    products = _products(store, products_path)
    if creatives_path:
        creatives = _creatives_from_manifest(resolve_path(creatives_path), products)
    else:
        creatives = _creatives_from_store(store, products)
    ids = set(creatives["creative_id"])
    history, rejected, audiences, truth = None, pd.DataFrame(), None, None
    if history_path:
        path = resolve_path(history_path)
        history, rejected = check_history(read_table_file(path), ids, source=path.name)
    elif store is not None and store.exists("staged", "creative_performance"):
        history, rejected = check_history(store.read("staged", "creative_performance"), ids, "creative_performance")
    if history is not None and not history.empty:
        audiences = _audience_table(history)
    if store is not None and not (creatives_path or history_path):
        truth_file = store.root / "truth" / "creative_effects.parquet"
        truth = pd.read_parquet(truth_file) if truth_file.is_file() else None
    parts = [
        f"creatives from {Path(creatives_path).name if creatives_path else 'the store'}",
        f"history from {Path(history_path).name if history_path else 'the store'}",
        f"catalogue from {Path(products_path).name if products_path else 'the store'}",
    ]
    return CreativeInputs(
        brand=brand,
        creatives=creatives,
        products=products,
        history=history,
        rejected=rejected,
        audiences=audiences,
        truth=truth,
        source="; ".join(parts),
    )
