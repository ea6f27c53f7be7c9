"""Creatives: metadata, real PNG images drawn from it, and a known click-through model.

Metadata and images
-------------------
The creative team mostly follows the brand rules, not always: backgrounds favour
the brand colours (:data:`COLOR_WEIGHTS`), text is dark on yellow, orange and teal
(:data:`DARK_INK_COLORS`) and white elsewhere, :data:`LOGO_SHARE` of creatives carry
the logo, most over-long headlines are rewritten (:data:`HEADLINE_REWRITE_SHARE`) and
most required disclaimers are given in the ``disclaimer`` column (:data:`DISCLAIMER_SHARE`,
rules in :data:`~galaxy_lib.simulate.catalogue.DISCLAIMER_TRIGGERS`). So a good share of
the creatives pass the brand guardrails and the rest fail a rule each can be traced to.

Creatives run on ``social`` (30 %), ``display`` (30 %), ``video`` (20 %) and
``email`` (20 %). Each has a ``format`` (``square`` 360x360, ``landscape``
480x270, ``story`` 270x480), a ``headline``, a ``dominant_color`` from
:data:`COLORS`, ``has_logo`` and a ``text_density``. The PNG is drawn with Pillow
so that the image shows the metadata:

* the background is the dominant colour and covers most of the canvas (a small
  tinted product shape and the text sit on top of it);
* the logo, when present, is a white disc with a purple ring and a purple "G" in
  the bottom-right corner (diameter 22 % of the shorter side, margin 5 %);
* the headline is drawn at the top-left in a large font, followed by body copy
  lines in a smaller font;
* ``text_density`` is the height of the text block (from the top of the headline
  to the bottom of the last body line) as a share of the image height, *measured
  on the drawn image*: the recorded value is what the PNG shows.

Click-through mechanism (``ground_truth["creative"]``)
-----------------------------------------------------
::

    logit(ctr) = intercept[channel] + has_logo * e["has_logo"] + text_density * e["text_density"]
                 + e["color:<dominant_color>"] + e["format:<format>"]
                 + headline_has_number * e["headline_has_number"]
                 + headline_banned_phrase * e["headline_banned_phrase"] + u,   u ~ Normal(0, 0.05)

``color:blue`` and ``format:square`` are the reference levels (effect 0). Each
creative gets log-normal tracked ``impressions`` and ``clicks ~ Binomial(impressions, ctr)``.
About one headline in seven uses a banned phrase of the brand guidelines (for
guardrail work); these are listed in ``ground_truth["creative"]["brand_violations"]``.
Touchpoints pick a creative of their channel with probability proportional to
its clicks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from galaxy_lib.simulate._util import rng_for
from galaxy_lib.simulate.catalogue import (
    BANNED_PHRASES,
    DISCLAIMER_TRIGGERS,
    MAX_HEADLINE_CHARS,
    PRODUCTS,
    REQUIRED_DISCLAIMERS,
)

__all__ = ["COLORS", "EFFECTS", "FORMATS", "INTERCEPTS", "CreativeSet", "draw_creative", "simulate_creatives"]

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (214, 48, 49),
    "orange": (230, 126, 34),
    "yellow": (241, 196, 15),
    "green": (39, 174, 96),
    "teal": (22, 160, 133),
    "blue": (41, 128, 185),
    "purple": (142, 68, 173),
    "black": (30, 30, 30),
}
#: How often the creative team picks each background (brand colours more often than others).
COLOR_WEIGHTS: dict[str, float] = {
    "red": 0.11,
    "orange": 0.12,
    "yellow": 0.11,
    "green": 0.10,
    "teal": 0.12,
    "blue": 0.12,
    "purple": 0.20,
    "black": 0.12,
}
#: Backgrounds the team sets dark text on (white text elsewhere).
DARK_INK_COLORS: tuple[str, ...] = ("yellow", "orange", "teal")
#: Share of creatives with the logo, of over-long headlines rewritten, of required disclaimers given.
LOGO_SHARE, HEADLINE_REWRITE_SHARE, DISCLAIMER_SHARE = 0.8, 0.8, 0.8
FORMATS: dict[str, tuple[int, int]] = {"square": (360, 360), "landscape": (480, 270), "story": (270, 480)}
CHANNEL_MIX: dict[str, float] = {"social": 0.3, "display": 0.3, "video": 0.2, "email": 0.2}
CHANNEL_FORMATS: dict[str, tuple[str, ...]] = {
    "social": ("square", "story"),
    "display": ("landscape", "square"),
    "video": ("landscape", "square", "story"),
    "email": ("landscape",),
}
#: Channel base CTRs on the logit scale.
INTERCEPTS: dict[str, float] = {
    "social": float(np.log(0.012 / 0.988)),
    "display": float(np.log(0.003 / 0.997)),
    "video": float(np.log(0.006 / 0.994)),
    "email": float(np.log(0.03 / 0.97)),
}
#: True effects on the logit of CTR.
EFFECTS: dict[str, float] = {
    "has_logo": 0.25,
    "text_density": -1.5,
    "color:red": 0.20,
    "color:orange": 0.15,
    "color:yellow": 0.05,
    "color:green": -0.05,
    "color:teal": 0.0,
    "color:blue": 0.0,
    "color:purple": 0.10,
    "color:black": -0.20,
    "format:square": 0.0,
    "format:landscape": -0.10,
    "format:story": 0.15,
    "headline_has_number": 0.15,
    "headline_banned_phrase": 0.10,
}
NOISE_SD: float = 0.05
LOGO_RING = (142, 68, 173)

_TEMPLATES = (
    "Meet the new {name}",
    "{name}: {tagline}",
    "Save {pct}% on the {name}",
    "{n} reasons to love the {name}",
    "Free delivery on the {name}",
    "{tagline} with {name}",
    "Say hello to {name}",
    "The {name} is back in stock",
    "{pct}% off {category} favourites",
    "Upgrade your {category} today",
)
_BODY_EXTRA = (
    "Two-year warranty as standard.",
    "Free returns within 30 days.",
    "Designed in Manchester, made to last.",
    "Rated 4.7 out of 5 by our customers.",
    "Order by 8pm for next-day delivery.",
    "Find it at galaxyhome.example.",
)
_VIOLATIONS = (
    "{name}: guaranteed results",
    "Act now: {pct}% off the {name}",
    "Risk-free trial of the {name}",
    "The best in the world for {category}",
    "{name} at our cheapest ever price",
    "A miracle for your {category}",
    "A once in a lifetime {name} deal",
)


@dataclass(frozen=True)
class CreativeSet:
    """The creatives table, the true CTR per creative and the brand violations."""

    table: pd.DataFrame
    true_ctr: dict[str, float]
    violations: dict[str, str]


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # Pillow's bundled font: identical on every machine, so images are reproducible.
    return ImageFont.load_default(size=size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        trial = f"{line} {w}".strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = w
    if line:
        lines.append(line)
    return lines


def draw_creative(
    path: Path | None,
    fmt: str,
    color: str,
    headline: str,
    has_logo: bool,
    target_density: float,
    body_copy: list[str],
    seed: int,
) -> tuple[Image.Image, float, list[str]]:
    """Draw one creative (see the module docstring); return it with its measured text density and body lines.

    Parameters
    ----------
    path
        Where to save the PNG (``None``: do not save).
    fmt, color, headline, has_logo
        Metadata to draw.
    target_density
        Wanted text-block height as a share of the image height (the drawn value is returned).
    body_copy
        Sentences used for the body text lines.
    seed
        Seed of the small layout jitter (product shape position).

    Returns
    -------
    tuple
        ``(image, density, body_lines)``: the image, the measured text density and the
        body-copy lines drawn under the headline, in order (what the PNG shows).
    """
    w, h = FORMATS[fmt]
    bg = COLORS[color]
    ink = (30, 30, 30) if color in DARK_INK_COLORS else (255, 255, 255)
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed)
    margin = int(0.06 * w)
    short = min(w, h)

    # A tinted product shape: keeps the dominant colour while looking like an ad.
    tint = tuple(int(c + (255 - c) * 0.18) for c in bg)
    cx, cy = int(w * rng.uniform(0.3, 0.7)), int(h * rng.uniform(0.55, 0.75))
    r = int(short * 0.16)
    draw.rounded_rectangle((cx - r, cy - r, cx + r, cy + r), radius=r // 3, fill=tint)

    head_font = _font(max(14, w // 13))
    body_font = _font(max(10, w // 26))
    text_width = w - 2 * margin
    top = int(0.06 * h)
    y = top
    rows: list[int] = []
    drawn: list[str] = []
    for line in _wrap(draw, headline, head_font, text_width):
        draw.text((margin, y), line, font=head_font, fill=ink)
        rows.append(y + head_font.getbbox(line)[3])
        y += int(head_font.size * 1.2)
    logo_d = int(0.22 * short)
    logo_top = h - int(0.05 * short) - logo_d
    limit = (logo_top - 4) if has_logo else h - int(0.05 * h)
    target_bottom = top + target_density * h
    k = 0
    while body_copy and y + body_font.size <= limit and (rows[-1] if rows else y) < target_bottom:
        lines = _wrap(draw, body_copy[k % len(body_copy)], body_font, text_width)
        for line in lines:
            if y + body_font.size > limit or rows[-1] >= target_bottom:
                break
            draw.text((margin, y), line, font=body_font, fill=ink)
            drawn.append(line)
            rows.append(y + body_font.getbbox(line)[3])
            y += int(body_font.size * 1.35)
        k += 1
    density = (max(rows) - top) / h if rows else 0.0

    if has_logo:
        x0 = w - int(0.05 * short) - logo_d
        draw.ellipse(
            (x0, logo_top, x0 + logo_d, logo_top + logo_d),
            fill=(255, 255, 255),
            outline=LOGO_RING,
            width=max(2, logo_d // 10),
        )
        g_font = _font(int(logo_d * 0.55))
        draw.text((x0 + logo_d / 2, logo_top + logo_d / 2), "G", font=g_font, fill=LOGO_RING, anchor="mm")
    if path is not None:
        img.save(path, format="PNG")
    return img, float(density), drawn


def _headline(rng: np.random.Generator, violate: bool) -> tuple[str, str | None]:
    p = PRODUCTS[int(rng.integers(len(PRODUCTS)))]
    fields = {
        "name": p.name,
        "tagline": p.tagline,
        "category": p.category,
        "pct": int(rng.choice([10, 15, 20, 25, 30])),
        "n": int(rng.choice([3, 5, 7])),
    }
    if violate:
        text = _VIOLATIONS[int(rng.integers(len(_VIOLATIONS)))].format(**fields)
        phrase = next(b for b in BANNED_PHRASES if b in text.lower())
        return text, phrase
    return _TEMPLATES[int(rng.integers(len(_TEMPLATES)))].format(**fields), None


def _required_disclaimers(copy: str, category: str) -> list[str]:
    """Disclaimer texts the copy calls for (:data:`~galaxy_lib.simulate.catalogue.DISCLAIMER_TRIGGERS`)."""
    return [
        REQUIRED_DISCLAIMERS[key]
        for key, categories, patterns in DISCLAIMER_TRIGGERS
        if (not categories or category in categories) and any(re.search(p, copy, re.IGNORECASE) for p in patterns)
    ]


def simulate_creatives(seed: int, n_creatives: int, asset_dir: Path | None) -> CreativeSet:
    """Draw ``n_creatives`` creatives, their PNGs (into ``asset_dir``) and their delivery."""
    rng = rng_for(seed, "creatives")
    channels = list(CHANNEL_MIX)
    counts = np.floor(np.array(list(CHANNEL_MIX.values())) * n_creatives).astype(int)
    counts[0] += n_creatives - counts.sum()
    if asset_dir is not None:
        asset_dir.mkdir(parents=True, exist_ok=True)
    rows, true_ctr, violations = [], {}, {}
    number = 0
    for channel, count in zip(channels, counts, strict=True):
        for _ in range(count):
            number += 1
            cid = f"CR{number:04d}"
            fmt = str(rng.choice(CHANNEL_FORMATS[channel]))
            color = str(rng.choice(list(COLOR_WEIGHTS), p=list(COLOR_WEIGHTS.values())))
            has_logo = bool(rng.random() < LOGO_SHARE)
            violate = bool(rng.random() < 0.15)
            headline, phrase = _headline(rng, violate)
            if len(headline) > MAX_HEADLINE_CHARS and not violate and rng.random() < HEADLINE_REWRITE_SHARE:
                for _ in range(20):  # the team rewrites a headline that breaks the length rule, mostly
                    headline, phrase = _headline(rng, False)
                    if len(headline) <= MAX_HEADLINE_CHARS:
                        break
            product = (
                next(p for p in PRODUCTS if p.name in headline)
                if any(p.name in headline for p in PRODUCTS)
                else PRODUCTS[int(rng.integers(len(PRODUCTS)))]
            )
            body = [f"{f}." for f in product.features] + [f"{product.tagline}."] + list(_BODY_EXTRA)
            target = float(rng.uniform(0.12, 0.65))
            rel = f"assets/creatives/{cid}.png"
            _, density, body_lines = draw_creative(
                asset_dir / f"{cid}.png" if asset_dir is not None else None,
                fmt,
                color,
                headline,
                has_logo,
                target,
                body,
                seed=int(rng.integers(2**31)),
            )
            density = round(density, 3)
            small_print = [
                text
                for text in _required_disclaimers(f"{headline} {' '.join(body_lines)}", product.category)
                if rng.random() < DISCLAIMER_SHARE
            ]
            has_number = any(ch.isdigit() for ch in headline)
            logit = (
                INTERCEPTS[channel]
                + EFFECTS["has_logo"] * has_logo
                + EFFECTS["text_density"] * density
                + EFFECTS[f"color:{color}"]
                + EFFECTS[f"format:{fmt}"]
                + EFFECTS["headline_has_number"] * has_number
                + EFFECTS["headline_banned_phrase"] * (phrase is not None)
                + rng.normal(0, NOISE_SD)
            )
            ctr = float(1 / (1 + np.exp(-logit)))
            impressions = int(np.round(rng.lognormal(np.log(150_000), 0.7)))
            clicks = int(rng.binomial(impressions, ctr))
            true_ctr[cid] = ctr
            if phrase is not None:
                violations[cid] = phrase
            rows.append(
                {
                    "creative_id": cid,
                    "channel": channel,
                    "format": fmt,
                    "headline": headline,
                    "product_sku": product.sku,
                    "body": " ".join(body_lines),
                    "disclaimer": " ".join(small_print),
                    "dominant_color": color,
                    "has_logo": has_logo,
                    "text_density": density,
                    "image_path": rel,
                    "impressions": float(impressions),
                    "clicks": float(clicks),
                }
            )
    return CreativeSet(table=pd.DataFrame(rows), true_ctr=true_ctr, violations=violations)
