"""Creatives (PNG images that show their metadata, known CTR model) and the content corpus."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from galaxy_lib.simulate.catalogue import BANNED_PHRASES, PRODUCTS, REQUIRED_DISCLAIMERS
from galaxy_lib.simulate.creatives import COLORS, DARK_INK_COLORS, EFFECTS, FORMATS, INTERCEPTS, NOISE_SD


@pytest.fixture(scope="module")
def creatives(ci_world):
    return ci_world.table("creatives")


def _pixels(ci_world, row) -> np.ndarray:
    with Image.open(ci_world.path / row.image_path) as im:
        assert im.format == "PNG"
        assert im.size == FORMATS[row.format]
        return np.asarray(im.convert("RGB"))


def test_pngs_show_their_dominant_colour(ci_world, creatives):
    assert creatives["dominant_color"].nunique() >= 5
    means = {}
    for row in creatives.itertuples():
        px = _pixels(ci_world, row)
        flat = px.reshape(-1, 3)
        colours, counts = np.unique(flat, axis=0, return_counts=True)
        top = tuple(int(v) for v in colours[counts.argmax()])
        assert top == COLORS[row.dominant_color], row.creative_id
        assert counts.max() / len(flat) > 0.5
        means.setdefault(row.dominant_color, []).append(flat.mean(axis=0))
    # images of different colours differ in their average colour
    avg = {k: np.mean(v, axis=0) for k, v in means.items()}
    keys = list(avg)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            assert np.abs(avg[a] - avg[b]).max() > 20, (a, b)


def test_logo_is_drawn_when_and_only_when_has_logo(ci_world, creatives):
    assert creatives["has_logo"].any() and (~creatives["has_logo"]).any()
    for row in creatives.itertuples():
        px = _pixels(ci_world, row)
        h, w = px.shape[:2]
        short = min(w, h)
        d = int(0.22 * short)
        x0, y0 = w - int(0.05 * short) - d, h - int(0.05 * short) - d
        box = px[y0 : y0 + d, x0 : x0 + d]
        white = (box == 255).all(axis=2).mean()
        assert (white > 0.3) == row.has_logo, (row.creative_id, white)


def test_text_density_is_what_the_image_shows(ci_world, creatives):
    assert creatives["text_density"].max() - creatives["text_density"].min() > 0.25
    for row in creatives.itertuples():
        px = _pixels(ci_world, row)
        h, w = px.shape[:2]
        ink = np.array((30, 30, 30) if row.dominant_color in DARK_INK_COLORS else (255, 255, 255))
        is_ink = np.abs(px.astype(int) - ink).max(axis=2) < 80  # anti-aliased glyphs
        if row.has_logo:  # ignore the logo box
            short = min(w, h)
            is_ink[h - int(0.05 * short) - int(0.22 * short) :, w - int(0.05 * short) - int(0.22 * short) :] = False
        rows = np.flatnonzero(is_ink.any(axis=1))
        measured = (rows.max() - int(0.06 * h)) / h
        assert measured == pytest.approx(row.text_density, abs=0.02), row.creative_id


def test_ctr_follows_the_recorded_logistic_model(ci_world, creatives):
    truth = ci_world.truth["creative"]
    assert truth["effects"] == EFFECTS and truth["intercepts"] == pytest.approx(INTERCEPTS)
    resid = []
    for row in creatives.itertuples():
        logit = (
            INTERCEPTS[row.channel]
            + EFFECTS["has_logo"] * row.has_logo
            + EFFECTS["text_density"] * row.text_density
            + EFFECTS[f"color:{row.dominant_color}"]
            + EFFECTS[f"format:{row.format}"]
            + EFFECTS["headline_has_number"] * any(ch.isdigit() for ch in row.headline)
            + EFFECTS["headline_banned_phrase"] * any(b in row.headline.lower() for b in BANNED_PHRASES)
        )
        p = truth["true_ctr"][row.creative_id]
        resid.append(np.log(p / (1 - p)) - logit)
        se = np.sqrt(p * (1 - p) / row.impressions)
        assert abs(row.clicks / row.impressions - p) < 5 * se
    assert np.std(resid) == pytest.approx(NOISE_SD, rel=0.5)
    assert abs(np.mean(resid)) < 3 * NOISE_SD / np.sqrt(len(resid))


def test_some_headlines_break_brand_rules_and_are_listed(ci_world, creatives):
    violations = ci_world.truth["creative"]["brand_violations"]
    assert 2 <= len(violations) <= 0.35 * len(creatives)
    for row in creatives.itertuples():
        found = [b for b in BANNED_PHRASES if b in row.headline.lower()]
        if row.creative_id in violations:
            assert violations[row.creative_id] in found
        else:
            assert not found, row.headline
        assert len(row.headline) > 10


def test_content_corpus(ci_world):
    content = ci_world.path / "content"
    guide = (content / "brand_guidelines.md").read_text()
    for phrase in BANNED_PHRASES:
        assert phrase in guide
    for disclaimer in REQUIRED_DISCLAIMERS.values():
        assert disclaimer in guide
    assert "## Tone of voice" in guide
    products = sorted((content / "products").glob("*.md"))
    assert len(products) == len(PRODUCTS)
    for p in PRODUCTS:
        page = next(f.read_text() for f in products if f.name.startswith(p.sku.lower()))
        assert p.name in page and f"£{p.price:.2f}" in page and all(feat in page for feat in p.features)
    assert (content / "faqs.md").read_text().count("## ") >= 10
    campaigns = {f.name for f in (content / "campaigns").glob("*.md")}
    for channel in ("tv", "search", "social", "display", "video"):
        assert {f"{channel}-2023.md", f"{channel}-2024.md", f"{channel}-2025.md"} <= campaigns
    assert {"geo-lift-tests.md", "email-experiment.md"} <= campaigns
    tv = (content / "campaigns" / "tv-2024.md").read_text()
    spend = ci_world.table("spend")
    total = spend[(spend.channel == "tv") & (spend.week.dt.year == 2024)]["spend"].sum()
    assert f"£{total:,.0f}" in tv


def test_content_holds_no_personal_data(ci_world):
    pii = re.compile(r"[\w.]+@[\w.]+\.\w+|\+44 ?7\d{3}|\bC\d{8}\b")
    for f in (ci_world.path / "content").rglob("*.md"):
        assert not pii.search(f.read_text()), f
