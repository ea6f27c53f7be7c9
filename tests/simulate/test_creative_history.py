"""Creative performance history per audience, product masters, and their truth."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from galaxy_lib.core.contracts import CONTRACTS
from galaxy_lib.core.store import DataStore
from galaxy_lib.pipeline.rowchecks import check_rows
from galaxy_lib.pipeline.staging import stage_table
from galaxy_lib.simulate.catalogue import PRODUCTS
from galaxy_lib.simulate.creative_history import (
    AUDIENCE_AFFINITIES,
    AUDIENCES,
    HISTORY_DAYS,
    MASTER_SIZE,
    CreativeHistory,
    audiences_table,
    draw_master,
    products_table,
    simulate_creative_history,
)
from galaxy_lib.simulate.creatives import simulate_creatives

END = pd.Timestamp("2025-12-29")
DAYS = 56


@pytest.fixture(scope="module")
def creatives():
    return simulate_creatives(seed=3, n_creatives=40, asset_dir=None)


@pytest.fixture(scope="module")
def history(creatives) -> CreativeHistory:
    return simulate_creative_history(creatives.table, creatives.true_ctr, END, DAYS, seed=3)


def test_creatives_name_their_product_and_body(creatives):
    t = creatives.table
    skus = {p.sku for p in PRODUCTS}
    assert t["product_sku"].isin(skus).all()
    names = {p.sku: p.name for p in PRODUCTS}
    named = [names[s] in h for s, h in zip(t["product_sku"], t["headline"], strict=True)]
    assert np.mean(named) > 0.5  # most headlines name their product; the others are about its category
    # the body is what the image shows: empty when the headline alone fills the wanted text density
    assert t["body"].map(type).eq(str).all() and (t["body"].str.len() > 0).mean() > 0.8
    CONTRACTS["creatives"].schema.validate(t, lazy=True)


def test_shape_columns_and_dates(history, creatives):
    t = history.table
    assert list(t.columns) == ["date", "creative_id", "audience", "platform", "impressions", "clicks", "conversions"]
    assert len(t) == DAYS * 40 * 12 == len(t.drop_duplicates(["date", "creative_id", "audience"]))
    assert t["date"].min() == END - pd.Timedelta(days=DAYS) and t["date"].max() == END - pd.Timedelta(days=1)
    assert (t["date"] == t["date"].dt.normalize()).all()
    assert set(t["audience"]) == set(AUDIENCES) and len(AUDIENCES) == 12
    channel = creatives.table.set_index("creative_id")["channel"]
    assert (t["platform"] == t["creative_id"].map(channel)).all()
    assert ((t["impressions"] >= t["clicks"]) & (t["clicks"] >= t["conversions"]) & (t["conversions"] >= 0)).all()
    assert list(history.truth.columns) == [
        "creative_id",
        "audience",
        "platform",
        "true_ctr",
        "true_cvr",
        "true_incremental",
        "baseline",
        "annoying",
    ]
    assert len(history.truth) == 40 * 12
    checked = check_rows(t, CONTRACTS["creative_performance"])
    assert checked.rejected.empty and len(checked.accepted) == len(t)


def test_audiences_table():
    a = audiences_table()
    assert list(a.columns) == ["audience", "segment", "age_band", "share"]
    assert a["share"].sum() == pytest.approx(1.0)
    assert (a["audience"] == a["segment"] + " " + a["age_band"]).all()
    assert set(a["segment"]) == {"new", "loyal", "lapsed", "regular"}
    assert set(AUDIENCE_AFFINITIES) <= set(a["segment"]) | set(a["age_band"])


def test_observed_ctr_and_cvr_match_the_truth(history):
    obs = history.table.groupby(["creative_id", "audience"])[["impressions", "clicks", "conversions"]].sum()
    m = obs.join(history.truth.set_index(["creative_id", "audience"]))
    z = (m["clicks"] - m["impressions"] * m["true_ctr"]) / np.sqrt(
        m["impressions"] * m["true_ctr"] * (1 - m["true_ctr"])
    )
    assert np.abs(z).max() < 5 and 0.7 < float((z**2).mean()) < 1.4
    q = m["true_cvr"]
    zc = (m["conversions"] - m["clicks"] * q) / np.sqrt(m["clicks"] * q * (1 - q))
    assert np.abs(zc).max() < 5 and 0.6 < float((zc**2).mean()) < 1.5


def test_delivery_is_even_not_performance_driven(history):
    a = audiences_table().set_index("audience")["share"]
    share = history.table.groupby("audience")["impressions"].sum() / history.table["impressions"].sum()
    assert np.abs(share - a.reindex(share.index)).max() < 0.01
    # volume follows the channel, not the CTR: within a channel the two are unrelated
    per = np.log(history.table.groupby("creative_id")["impressions"].sum())
    tr = history.truth.groupby("creative_id").agg(ctr=("true_ctr", "mean"), platform=("platform", "first"))
    ctr = np.log(tr["ctr"].reindex(per.index))
    channel = tr["platform"].reindex(per.index)
    resid_v = per - per.groupby(channel).transform("mean")
    resid_c = ctr - ctr.groupby(channel).transform("mean")
    assert abs(np.corrcoef(resid_v, resid_c)[0, 1]) < 0.5


def test_affinities_show_in_the_data(history, creatives):
    fmt = creatives.table.set_index("creative_id")["format"]
    t = history.table.assign(
        format=history.table["creative_id"].map(fmt), band=history.table["audience"].str.split(" ").str[1]
    )
    sums = t.groupby(["format", "band"])[["clicks", "impressions"]].sum()
    ctr = sums["clicks"] / sums["impressions"]
    tr = history.truth.assign(
        format=history.truth["creative_id"].map(fmt), band=history.truth["audience"].str.split(" ").str[1]
    )
    truth = tr.groupby(["format", "band"])["true_ctr"].mean()
    # story against square, young against old: the truth's direction shows in the data
    obs = (ctr["story", "18-34"] / ctr["story", "55+"]) / (ctr["square", "18-34"] / ctr["square", "55+"])
    true = (truth["story", "18-34"] / truth["story", "55+"]) / (truth["square", "18-34"] / truth["square", "55+"])
    assert true > 1.8 and obs > 1.5


def test_some_incremental_values_are_negative_exactly_for_annoying_creatives(history):
    tr = history.truth
    ann = set(history.meta["annoying"])
    assert len(ann) == 4
    assert set(tr.loc[tr["annoying"], "creative_id"]) == ann
    assert (tr.loc[~tr["annoying"], "true_incremental"] > 0).all()
    shares = audiences_table().set_index("audience")["share"]
    mean = (tr["true_incremental"] * tr["audience"].map(shares)).groupby(tr["creative_id"]).sum()
    assert set(mean[mean < 0].index) == ann
    assert set(tr.loc[tr["true_incremental"] < 0, "creative_id"]) == ann
    assert tr["baseline"].between(1e-4, 1e-3).all()


def test_personalisation_matters_but_own_attributes_rank(history, creatives):
    tr = history.truth
    for channel in ("social", "display"):
        ctr = tr[tr["platform"] == channel].pivot(index="creative_id", columns="audience", values="true_ctr")
        own = pd.Series(creatives.true_ctr).reindex(ctr.index)
        # each audience's ranking follows the creative's own CTR, yet the best creative differs between audiences
        assert ctr.rank().corrwith(own.rank(), method="spearman").mean() > 0.5
        assert ctr.idxmax().nunique() >= 2


def test_same_seed_same_history_and_speed(creatives, history):
    t0 = time.perf_counter()
    again = simulate_creative_history(creatives.table, creatives.true_ctr, END, DAYS, seed=3)
    assert time.perf_counter() - t0 < 5
    pd.testing.assert_frame_equal(again.table, history.table)
    other = simulate_creative_history(creatives.table, creatives.true_ctr, END, DAYS, seed=4)
    assert not other.table["clicks"].equals(history.table["clicks"])


def test_history_without_product_sku_uses_the_headline(creatives):
    t = creatives.table.drop(columns=["product_sku", "body"]).head(5)
    h = simulate_creative_history(t, creatives.true_ctr, END, 3, seed=1)
    assert len(h.table) == 3 * 5 * 12
    with pytest.raises(ValueError, match="days"):
        simulate_creative_history(t, creatives.true_ctr, END, 0, seed=1)


def _object_pixels(img: Image.Image) -> np.ndarray:
    """Mask of pixels far from the background's colour on their row (the object, not its faint shadow)."""
    a = np.asarray(img).astype(int)
    bg = np.median(a[:, :40, :], axis=1)[:, None, :]  # the left edge is background on every row
    return np.abs(a - bg).max(axis=2) > 40


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_masters_hold_an_off_centre_object_inside_the_box(tmp_path, seed):
    for i, product in enumerate(PRODUCTS[::3]):
        path = tmp_path / f"{product.sku}.png"
        x0, y0, x1, y1 = draw_master(product, path, seed=seed * 100 + i)
        with Image.open(path) as im:
            assert im.size == MASTER_SIZE == (1600, 1000)
            mask = _object_pixels(im.convert("RGB"))
        ys, xs = np.nonzero(mask)
        assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
        # the object fills its box and is about 30 % of the image height
        assert xs.min() - x0 <= 2 and x1 - 1 - xs.max() <= 2 and ys.min() - y0 <= 2 and y1 - 1 - ys.max() <= 2
        assert 0.25 <= (y1 - y0) / 1000 <= 0.35
        cx, cy = (x0 + x1) / 2 / 1600, (y0 + y1) / 2 / 1000
        assert (0.13 <= cx <= 0.31 or 0.69 <= cx <= 0.87) and 0.34 <= cy <= 0.66
        # a centre 9:16 crop (x in 519..1081) leaves out the object's centre
        assert not 519 <= (x0 + x1) / 2 <= 1081


def test_products_table_validates():
    p = products_table()
    assert list(p.columns) == [
        "sku",
        "name",
        "category",
        "price",
        "tagline",
        "feature_1",
        "feature_2",
        "feature_3",
        "feature_4",
        "master_image",
    ]
    assert len(p) == len(PRODUCTS) and (p["master_image"] == "assets/masters/" + p["sku"] + ".png").all()
    checked = check_rows(p, CONTRACTS["products"])
    assert checked.rejected.empty


# --------------------------------------------------------------------------- in the ci world


def test_ci_world_holds_the_history_products_and_masters(ci_world):
    rows = ci_world.summary.rows
    assert rows["creative_performance"] == HISTORY_DAYS * rows["creatives"] * 12 and rows["products"] == len(PRODUCTS)
    perf = ci_world.table("creative_performance")
    assert perf["date"].max() == pd.Timestamp(ci_world.truth["world"]["end"]) - pd.Timedelta(days=1)
    cre = ci_world.table("creatives")
    assert cre["product_sku"].notna().all() and cre["body"].notna().all()
    products = ci_world.table("products")
    truth = ci_world.truth["creative"]
    assert set(truth["masters"]) == set(products["sku"])
    for sku, rel in zip(products["sku"], products["master_image"], strict=True):
        with Image.open(ci_world.path / rel) as im:
            assert im.size == MASTER_SIZE
            mask = _object_pixels(im.convert("RGB"))
        x0, y0, x1, y1 = truth["masters"][sku]
        ys, xs = np.nonzero(mask)
        assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1, sku
    h = truth["history"]
    for key in (
        "formula",
        "audiences",
        "audience_ctr",
        "audience_cvr",
        "affinities",
        "cvr_effects",
        "cannibalisation",
        "annoying",
        "days",
        "truth_table",
    ):
        assert key in h, key
    assert h["days"] == HISTORY_DAYS and h["audiences"] == list(AUDIENCES)
    effects = pd.read_parquet(ci_world.path / h["truth_table"])
    assert len(effects) == ci_world.summary.rows["creatives"] * 12 and set(
        effects.loc[effects["annoying"], "creative_id"]
    ) == set(h["annoying"])
    assert "creative_history" in ci_world.summary.stage_seconds


def test_ci_world_stages_the_new_tables_without_quarantine(ci_world, tmp_path):
    # a copy of the three tables: the session world stays as built for the other tests
    root = tmp_path / "w"
    (root / "raw").mkdir(parents=True)
    shutil.copy(ci_world.path / "world.json", root / "world.json")
    names = ("creative_performance", "products", "creatives")
    for name in names:
        shutil.copytree(ci_world.path / "raw" / name, root / "raw" / name)
    store = DataStore(root)
    salt = "creative-history-test-salt-0123456789"
    for name in names:
        t = stage_table(store, name, salt, progress=False)
        assert t.rows_quarantined == 0 and t.rows_staged == ci_world.summary.rows[name], name
        assert not t.raw_only_columns, name
    assert {"product_sku", "body"} <= set(store.read("staged", "creatives").columns)
    staged = store.read("staged", "creative_performance")
    assert staged["impressions"].sum() == ci_world.table("creative_performance")["impressions"].sum()
