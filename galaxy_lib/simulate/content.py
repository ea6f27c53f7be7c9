"""The markdown content corpus of Galaxy Home (for retrieval-augmented drafting).

Written under ``<world>/content/``:

* ``brand_guidelines.md``: voice and tone rules, banned phrases, required
  disclaimers, colour and logo usage, with good and bad examples;
* ``products/<sku>.md``: one page per product (name, SKU, price, features);
* ``faqs.md``: customer questions and answers (delivery, returns, warranty, ...);
* ``campaigns/<channel>-<year>.md``: past campaigns per channel and year with the
  results the team *observed* (spend, impressions, clicks, CTR, CPC, featured
  creatives), plus ``campaigns/geo-lift-tests.md`` and
  ``campaigns/email-experiment.md``. Campaign pages report observed numbers only,
  never the simulator's ground truth.

Everything is derived from the catalogue (:mod:`.catalogue`) and the world's
tables, so the corpus is deterministic for a seed and size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from galaxy_lib.simulate.catalogue import (
    BANNED_PHRASES,
    BRAND_COLOUR,
    MAX_HEADLINE_CHARS,
    PRODUCTS,
    REQUIRED_DISCLAIMERS,
    TONE_RULES,
    Product,
)

__all__ = ["write_content"]

_CHANNEL_LABEL = {
    "tv": "TV",
    "search": "Paid search",
    "social": "Paid social",
    "display": "Programmatic display",
    "video": "Online video",
}
_OBJECTIVE = {
    "tv": "Build brand awareness nationally with flighted bursts around key retail moments.",
    "search": "Capture existing demand on brand and category keywords.",
    "social": "Reach new audiences with product-led creative and seasonal promotions.",
    "display": "Retarget site visitors and extend reach on premium publishers.",
    "video": "Tell product stories in 15- and 30-second spots on streaming and social video.",
}


def _money(x: float) -> str:
    return f"-£{-x:,.0f}" if x < 0 else f"£{x:,.0f}"


def _brand_guidelines() -> str:
    lines = [
        "# Galaxy Home brand guidelines",
        "",
        "Galaxy Home designs small home and kitchen appliances that make everyday routines "
        "easier. These guidelines apply to every piece of marketing copy: ads, e-mails, "
        "product pages and social posts.",
        "",
        "## Tone of voice",
        "",
        *[f"- {r}" for r in TONE_RULES],
        "",
        "## Banned phrases",
        "",
        "Never use these phrases, in any capitalisation. They make claims we cannot "
        "substantiate or put pressure on the customer:",
        "",
        *[f'- "{p}"' for p in BANNED_PHRASES],
        "",
        "## Required disclaimers",
        "",
        "When copy mentions one of these topics, the matching disclaimer must appear in the same asset:",
        "",
        "| Topic | Disclaimer |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in REQUIRED_DISCLAIMERS.items()],
        "",
        "## Visual identity",
        "",
        f"- Our brand colour is Galaxy {BRAND_COLOUR} (#8E44AD). Backgrounds may use any colour "
        "of the approved palette: red, orange, yellow, green, teal, blue, purple and black.",
        '- The logo is a white disc with a purple ring and a purple "G". Place it in the '
        "bottom-right corner at about a fifth of the shorter side, with clear space around it.",
        "- Keep text to less than half of the image; one headline and at most a few lines of body copy.",
        "",
        "## Headlines",
        "",
        f"- At most {MAX_HEADLINE_CHARS} characters, sentence case, no exclamation marks.",
        '- Lead with the benefit or one concrete fact ("Boils a cup in 45 seconds").',
        '- Numbers are welcome when true ("Save 20% on the Nova Kettle" needs the price disclaimer).',
        "",
        "### Examples",
        "",
        "| Good | Why |",
        "|---|---|",
        "| Meet the new Orbit Coffee Grinder | Clear, friendly, names the product |",
        "| Save 20% on the Meteor Cordless Vacuum | Concrete offer (add the price disclaimer) |",
        "",
        "| Bad | Why |",
        "|---|---|",
        "| ACT NOW: 30% off the Nova Kettle | Banned phrase, all caps, pressure |",
        "| The best in the world for kitchen | Unprovable superlative (banned phrase) |",
        '| Risk-free trial of the Quasar Robot Mop | Banned phrase; say "Free returns within 30 days" |',
        "",
    ]
    return "\n".join(lines)


def _product_page(p: Product) -> str:
    return "\n".join(
        [
            f"# {p.name}",
            "",
            f"- SKU: {p.sku}",
            f"- Category: {p.category}",
            f"- Price: £{p.price:.2f} (including VAT)",
            f"- Tagline: {p.tagline}",
            "",
            "## Features",
            "",
            *[f"- {f}" for f in p.features],
            "",
            "## Good to know",
            "",
            "- Two-year warranty as standard; register in the Galaxy Home app for a third year.",
            "- Free returns within 30 days.",
            "- Free standard UK mainland delivery on orders over £40.",
            "",
        ]
    )


_FAQS = (
    (
        "How much is delivery?",
        "Standard UK mainland delivery is free on orders over £40 and £3.95 below that. "
        "Next-day delivery costs £5.95 when you order by 8pm.",
    ),
    (
        "Do you deliver outside the UK mainland?",
        "We deliver to Northern Ireland, the Highlands and islands in "
        "three to five working days. We do not ship outside the UK yet.",
    ),
    (
        "How do I return something?",
        "Start a return in your account within 30 days of delivery. Returns are "
        "free; we refund to your original payment method within five working days of receiving the item.",
    ),
    (
        "What warranty do products have?",
        "Every product has a two-year warranty. Register it in the Galaxy Home "
        "app within 60 days and we extend it to three years.",
    ),
    (
        "Can I change or cancel my filter subscription?",
        "Yes. Change the frequency or cancel any time in your account; it renews monthly until cancelled.",
    ),
    (
        "Which payment methods do you accept?",
        "Visa, Mastercard, American Express, PayPal, Apple Pay and Google "
        "Pay. Pay-in-three is available on orders over £99.",
    ),
    (
        "Does the Galaxy Home app work with my smart speaker?",
        "The app connects Aurora bulbs and the Comet "
        "purifier to Alexa and Google Home; set it up under Settings > Integrations.",
    ),
    (
        "How do you use my data?",
        "We use your data only for the purposes you consented to (for example "
        "measurement or personalised content). Change your choices any time under Privacy in your account.",
    ),
    (
        "How do I unsubscribe from e-mails?",
        "Use the unsubscribe link at the bottom of any e-mail or switch off "
        "marketing e-mails under Privacy in your account.",
    ),
    (
        "Is there a price-match promise?",
        "We do not price-match, but our prices include VAT and delivery is free over £40.",
    ),
    (
        "How do I clean the Pulsar Blender?",
        "Add warm water and a drop of washing-up liquid, then run the self-cleaning programme for 60 seconds.",
    ),
    (
        "Where are your products designed?",
        "Our design team is in Manchester; products are made by audited partners and tested in our own lab.",
    ),
)


def _faqs() -> str:
    out = ["# Frequently asked questions", ""]
    for q, a in _FAQS:
        out += [f"## {q}", "", a, ""]
    return "\n".join(out)


def _campaign_pages(spend: pd.DataFrame, creatives: pd.DataFrame) -> dict[str, str]:
    pages: dict[str, str] = {}
    df = spend.assign(year=spend["week"].dt.year)
    for (channel, year), g in df.groupby(["channel", "year"], sort=True):
        by_geo = g.groupby("geo")["spend"].sum().sort_values(ascending=False)
        total, imps, clicks = g["spend"].sum(), g["impressions"].sum(), g["clicks"].sum()
        weekly = g.groupby("week")["spend"].sum()
        active = int((weekly > 0).sum())
        heads = creatives.loc[creatives["channel"] == channel].sort_values("clicks", ascending=False)["headline"]
        lines = [
            f"# {_CHANNEL_LABEL[channel]} {year}",
            "",
            f"- Campaign ids: `{channel}-{year}Q1` to `{channel}-{year}Q4`",
            f"- Objective: {_OBJECTIVE[channel]}",
            f"- Weeks on air: {active} of {len(weekly)}",
            f"- Spend: {_money(total)} ({', '.join(f'{geo} {_money(v)}' for geo, v in by_geo.items())})",
            f"- Impressions: {imps:,.0f}",
        ]
        if clicks > 0:
            lines += [
                f"- Clicks: {clicks:,.0f} (CTR {clicks / imps:.2%}, CPC £{total / clicks:.2f})",
            ]
        lines += [f"- CPM: £{1000 * total / imps:.2f}", ""]
        if len(heads):
            lines += ["## Featured creatives", "", *[f'- "{h}"' for h in heads.head(3)], ""]
        peak = weekly.idxmax()
        lines += [
            "## Notes",
            "",
            f"The heaviest week was the week of {peak:%d %B %Y} ({_money(weekly.max())}). "
            "Results are as reported by the media platforms; incremental impact is estimated "
            "separately in the media mix model.",
            "",
        ]
        pages[f"{channel}-{year}.md"] = "\n".join(lines)
    return pages


def _lift_page(lift: pd.DataFrame) -> str:
    lines = [
        "# Geo lift tests",
        "",
        "Each test changed one channel's spend in one region for a few weeks and compared "
        "revenue against the other regions. `delta_y` is the measured incremental revenue "
        "per test week (including the carry-over weeks after the test), with its standard error.",
        "",
        "| Test | Channel | Geo | Weeks | Planned weekly spend | Change | Incremental revenue / week | Std. error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in lift.itertuples():
        lines.append(
            f"| {r.test_id} | {r.channel} | {r.geo} | {r.start_week:%d %b %Y} to {r.end_week:%d %b %Y} | "
            f"{_money(r.x)} | {_money(r.delta_x)} | {_money(r.delta_y)} | {_money(r.sigma)} |"
        )
    return "\n".join([*lines, ""])


def _experiment_page(arms: dict[str, dict[str, float]]) -> str:
    """Write the campaign page a marketer would keep: arms, counts and the measured lift of each."""
    (control, ctrl), *treated = arms.items()
    rc = ctrl["purchases"] / max(ctrl["customers"], 1)
    rows = []
    for arm, stats in arms.items():
        rate = stats["purchases"] / max(stats["customers"], 1)
        rows.append(
            f"| {arm.capitalize()} | {stats['customers']:,} | {stats['purchases']:,} | {rate:.2%} | "
            f"{_money(stats['revenue'])} |"
        )
    lifts = []
    for arm, stats in treated:
        rt = stats["purchases"] / max(stats["customers"], 1)
        se = float(np.sqrt(rt * (1 - rt) / max(stats["customers"], 1) + rc * (1 - rc) / max(ctrl["customers"], 1)))
        lifts.append(f"- {arm.capitalize()}: {rt - rc:+.2%} points against {control} (standard error {se:.2%}).")
    return "\n".join(
        [
            "# Spring campaign experiment: newsletter e-mail and discount coupon",
            "",
            "Customers were randomly split in three equal groups: the e-mail group received the spring "
            "product newsletter, the coupon group a 15% discount coupon, the control group nothing. "
            "Outcome: a purchase within 14 days.",
            "",
            "| Group | Customers | Purchases | Conversion rate | Revenue |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Measured lift:",
            "",
            *lifts,
            "",
            "The effect differs between customers; the uplift model targets those who respond.",
            "",
        ]
    )


def write_content(
    root: Path,
    spend: pd.DataFrame,
    creatives: pd.DataFrame,
    lift: pd.DataFrame,
    experiment: dict[str, dict[str, float]],
) -> list[Path]:
    """Write the corpus under ``root/content`` and return the files written."""
    content = root / "content"
    (content / "products").mkdir(parents=True, exist_ok=True)
    (content / "campaigns").mkdir(parents=True, exist_ok=True)
    files: dict[Path, str] = {
        content / "brand_guidelines.md": _brand_guidelines(),
        content / "faqs.md": _faqs(),
        content / "campaigns" / "geo-lift-tests.md": _lift_page(lift),
        content / "campaigns" / "email-experiment.md": _experiment_page(experiment),
    }
    for p in PRODUCTS:
        files[content / "products" / f"{p.sku.lower()}-{p.name.split()[0].lower()}.md"] = _product_page(p)
    for name, text in _campaign_pages(spend, creatives).items():
        files[content / "campaigns" / name] = text
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return sorted(files)
