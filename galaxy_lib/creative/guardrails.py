"""Brand guardrails: every enabled rule of the brand file, pass or fail, with the reason and the measured value.

A creative is checked before it is scored or gets budget. Each rule of
:data:`galaxy_lib.creative.brand.RULES` that the brand file switches on gets one
:class:`RuleResult`, in that order, with status ``"pass"``, ``"fail"`` or ``"not checked"``
(it could not be measured: the image could not be read, the platform is unknown, or no
text colour was found for the contrast estimate). The reason is a sentence naming the
measured value and the threshold, e.g. "dominant colour #D63031 is 25.3 ΔE2000 from the
nearest palette colour ember; the brand allows 12.0".

Image rules use :mod:`galaxy_lib.creative.images` (the contrast is an estimate, see
there); copy rules use :mod:`galaxy_lib.creative.copy`. :func:`check_batch` measures each
image file once, and one unreadable file fails its own ``readable_image`` rule without
stopping the batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from galaxy_lib.creative.brand import RULES, BrandRules, Platform
from galaxy_lib.creative.copy import copy_features
from galaxy_lib.creative.images import ImageFeatures, ImageReadError, image_features

__all__ = [
    "FAIL",
    "NOT_CHECKED",
    "PASS",
    "CreativeInput",
    "GuardrailResults",
    "RuleResult",
    "check_batch",
    "check_creative",
]

PASS, FAIL, NOT_CHECKED = "pass", "fail", "not checked"
#: Rules measured on the image file, and those that also need the platform's spec.
IMAGE_RULES: tuple[str, ...] = ("aspect_ratio", "pixel_size", "file_size", "palette", "contrast", "logo")
PLATFORM_RULES: tuple[str, ...] = ("aspect_ratio", "pixel_size", "file_size")
#: Image feature columns the rules read (from :func:`~galaxy_lib.creative.images.image_feature_table`).
FEATURE_COLUMNS: tuple[str, ...] = (
    "width",
    "height",
    "aspect_ratio",
    "file_kb",
    "dominant_hex",
    "palette_distance",
    "palette_name",
    "contrast_ratio",
    "text_hex",
    "background_hex",
    "logo_score",
    "has_logo",
)
_FIELD_NAMES = {"headline": "headline", "body": "body", "cta": "call to action", "disclaimer": "disclaimer"}
_MATRIX_SYMBOL = {PASS: "pass", FAIL: "fail", NOT_CHECKED: "–"}


@dataclass(frozen=True)
class CreativeInput:
    """One creative to check: its copy, its image file and where it will run.

    Attributes
    ----------
    creative_id
        Id shown in the results.
    platform
        A platform of the brand file (``social``, ``display``, ...).
    category
        Product category, for category-specific disclaimers (``None``: unknown, all apply).
    headline, body, cta, disclaimer
        The copy (``cta`` is the call to action, ``disclaimer`` the small print).
    image_path
        The creative's image file.
    text_box
        ``(x0, y0, x1, y1)`` of the text on the image, in pixels, for the contrast estimate;
        ``None``: estimated over the whole image (logo masked out).
    """

    creative_id: str
    platform: str
    category: str | None
    headline: str
    body: str
    cta: str
    disclaimer: str
    image_path: str | Path
    text_box: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if not str(self.creative_id).strip():
            raise ValueError("CreativeInput.creative_id is blank: give every creative an id")
        if self.text_box is not None:
            box = tuple(float(v) for v in self.text_box)
            if len(box) != 4 or not (box[2] > box[0] and box[3] > box[1]):
                raise ValueError(
                    f"creative {self.creative_id}: text_box {box} must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0"
                )
            object.__setattr__(self, "text_box", box)  # a hashable tuple, whatever sequence was given


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule for one creative.

    Attributes
    ----------
    creative_id, rule
        Which creative and which rule (a name of :data:`~galaxy_lib.creative.brand.RULES`).
    status
        ``"pass"``, ``"fail"`` or ``"not checked"``.
    reason
        A sentence naming the measured value and the threshold.
    value
        The measured value (a number or text; ``None`` when nothing was measured).
    """

    creative_id: str
    rule: str
    status: str
    reason: str
    value: float | int | str | None


@dataclass(frozen=True, eq=False)
class GuardrailResults:
    """Guardrail results of a batch.

    Attributes
    ----------
    table
        One row per creative and enabled rule: ``creative_id``, ``rule``, ``status``, ``reason``,
        ``value`` (object: number or text), creatives in input order, rules in
        :data:`~galaxy_lib.creative.brand.RULES` order.
    features
        The image features the rules used, one row per creative whose image was read
        (``creative_id`` then the columns of :meth:`ImageFeatures.as_dict`).
    rules
        The enabled rules, in order.
    """

    table: pd.DataFrame
    features: pd.DataFrame
    rules: tuple[str, ...]

    def passed_ids(self) -> list[str]:
        """Ids of the creatives that passed every enabled rule, in input order."""
        ok = self.table.groupby("creative_id", sort=False)["status"].agg(lambda s: bool((s == PASS).all()))
        return [str(c) for c in ok.index[ok.to_numpy(dtype=bool)]]

    def failures(self) -> pd.DataFrame:
        """Return the rows of :attr:`table` whose status is ``"fail"``."""
        return self.table[self.table["status"] == FAIL].reset_index(drop=True)

    def matrix(self) -> pd.DataFrame:
        """Creatives x rules of ``"pass"``, ``"fail"`` and ``"–"`` (not checked), for people to read."""
        ids = list(dict.fromkeys(self.table["creative_id"]))
        wide = self.table.pivot(index="creative_id", columns="rule", values="status")
        return wide.reindex(index=ids, columns=list(self.rules)).replace(_MATRIX_SYMBOL).rename_axis(None, axis=1)

    def counts(self) -> pd.DataFrame:
        """Per rule: how many creatives passed, failed and were not checked."""
        counts = pd.crosstab(self.table["rule"], self.table["status"])
        counts = counts.reindex(index=list(self.rules), columns=[PASS, FAIL, NOT_CHECKED], fill_value=0)
        return counts.fillna(0).astype(int).rename_axis(None, axis=1)


# --------------------------------------------------------------------------- helpers


def _ratio_text(width: int, height: int) -> str:
    g = math.gcd(int(width), int(height)) or 1
    a, b = int(width) // g, int(height) // g
    ratio = width / height
    return f"{a}:{b} ({ratio:.3f})" if max(a, b) <= 50 else f"{ratio:.3f} ({width}x{height} px)"


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _image_rules(
    feats: Mapping[str, Any], platform: Platform | None, item: CreativeInput, brand: BrandRules
) -> dict[str, tuple[str, str, Any]]:
    """Results of the image rules as ``rule -> (status, reason, value)``; platform rules skipped without a platform."""
    out: dict[str, tuple[str, str, Any]] = {}
    w, h = int(feats["width"]), int(feats["height"])
    size = f"{w}x{h}"
    if platform is not None:
        name, ratio = item.platform, w / h
        accepted = ", ".join(platform.aspect_ratios)
        if platform.accepts_ratio(ratio):
            reason = f"aspect ratio {_ratio_text(w, h)} is one of {accepted} for {name}"
            out["aspect_ratio"] = (PASS, reason, round(ratio, 3))
        else:
            reason = f"aspect ratio {_ratio_text(w, h)} is not one of {accepted} for {name}"
            out["aspect_ratio"] = (FAIL, f"{reason} (tolerance ±{platform.aspect_tolerance:.0%})", round(ratio, 3))
        short, long = min(w, h), max(w, h)
        if short < platform.min_side:
            out["pixel_size"] = (
                FAIL,
                f"shorter side {short} px ({size}) is below the {platform.min_side} px minimum for {name}",
                size,
            )
        elif long > platform.max_side:
            out["pixel_size"] = (
                FAIL,
                f"longer side {long} px ({size}) is above the {platform.max_side} px maximum for {name}",
                size,
            )
        else:
            limits = f"{platform.min_side}-{platform.max_side} px"
            out["pixel_size"] = (PASS, f"{size} px is within {limits} per side for {name}", size)
        kb = float(feats["file_kb"])
        verdict = PASS if kb <= platform.max_file_kb else FAIL
        word = "within" if verdict == PASS else "above"
        reason = f"file is {kb:.1f} KiB, {word} the {platform.max_file_kb:.0f} KiB {name} takes"
        out["file_size"] = (verdict, reason, round(kb, 1))

    dist, hex_, near = float(feats["palette_distance"]), feats["dominant_hex"], feats["palette_name"]
    where = f"dominant colour {hex_} is {dist:.1f} ΔE2000 from the nearest palette colour {near}"
    if dist <= brand.palette_tolerance:
        out["palette"] = (PASS, f"{where}, within the {brand.palette_tolerance:.1f} the brand allows", round(dist, 1))
    else:
        out["palette"] = (FAIL, f"{where}; the brand allows {brand.palette_tolerance:.1f}", round(dist, 1))

    ratio = float(feats["contrast_ratio"])
    if math.isnan(ratio):
        reason = "no text colour stands out from the background, so contrast could not be estimated"
        out["contrast"] = (NOT_CHECKED, reason, None)
    else:
        pair = f"text {feats['text_hex']} on background {feats['background_hex']} has an estimated contrast of"
        need = f"{brand.min_contrast:.1f}:1 (WCAG)"
        if ratio >= brand.min_contrast:
            out["contrast"] = (PASS, f"{pair} {ratio:.2f}:1, at least the {need} the brand requires", round(ratio, 2))
        else:
            out["contrast"] = (FAIL, f"{pair} {ratio:.2f}:1; the brand requires at least {need}", round(ratio, 2))

    score = float(feats["logo_score"])
    if bool(feats["has_logo"]):
        out["logo"] = (
            PASS,
            f"brand logo found (match {score:.2f}, at least {brand.logo.min_match:.2f})",
            round(score, 3),
        )
    else:
        reason = (
            f"brand logo not found: best match {score:.2f}, below the {brand.logo.min_match:.2f} the brand requires"
        )
        out["logo"] = (FAIL, reason, round(score, 3))
    return out


def _copy_rules(item: CreativeInput, brand: BrandRules) -> dict[str, tuple[str, str, Any]]:
    copy = copy_features(item.headline, item.body, item.cta, brand, disclaimer=item.disclaimer, category=item.category)
    out: dict[str, tuple[str, str, Any]] = {}
    if copy.has_text:
        out["text_present"] = (PASS, f"the copy has {copy.text_chars} characters of text", copy.text_chars)
    else:
        out["text_present"] = (FAIL, "headline and body are both blank", 0)
    n, limit = copy.headline_chars, brand.max_headline_chars
    if n <= limit:
        out["headline_length"] = (PASS, f"headline has {n} characters; the brand allows {limit}", n)
    else:
        out["headline_length"] = (FAIL, f"headline has {n} characters, {n - limit} over the {limit} allowed", n)
    if copy.banned_phrases:
        hits = "; ".join(f"banned phrase '{h.term}' in the {_FIELD_NAMES[h.field]}" for h in copy.banned_phrases)
        out["banned_words"] = (FAIL, hits, ", ".join(dict.fromkeys(h.term for h in copy.banned_phrases)))
    else:
        out["banned_words"] = (PASS, f"none of the {len(brand.banned_phrases)} banned phrases is in the copy", "")
    if copy.claims:
        hits = "; ".join(f"claim '{h.text}' (pattern {h.term}) in the {_FIELD_NAMES[h.field]}" for h in copy.claims)
        out["claims"] = (FAIL, hits, ", ".join(dict.fromkeys(h.text for h in copy.claims)))
    else:
        out["claims"] = (PASS, f"none of the {len(brand.claims)} claim patterns matches the copy", "")
    texts = {d.name: d.text for d in brand.disclaimers}
    if copy.missing_disclaimers:
        missing = " and ".join(f"the {n} disclaimer ('{texts[n]}')" for n in copy.missing_disclaimers)
        cat = f" (category {item.category})" if item.category else ""
        reason = f"the copy{cat} calls for {missing}, which it does not carry"
        out["disclaimer"] = (FAIL, reason, ", ".join(copy.missing_disclaimers))
    elif copy.required_disclaimers:
        reason = f"required disclaimer(s) {_quoted(copy.required_disclaimers)} present"
        out["disclaimer"] = (PASS, reason, ", ".join(copy.required_disclaimers))
    else:
        out["disclaimer"] = (PASS, "the copy calls for no disclaimer", "")
    return out


def _measure(item: CreativeInput, brand: BrandRules) -> tuple[ImageFeatures | None, str, str]:
    """``(features, read problem, text-box problem)``; a bad text box falls back to the whole image."""
    try:
        return image_features(item.image_path, brand, item.text_box), "", ""
    except ImageReadError as err:
        return None, err.reason, ""
    except ValueError as err:
        if item.text_box is None:
            return None, f"{type(err).__name__}: {err}", ""
        try:
            return image_features(item.image_path, brand, None), "", str(err)
        except (ImageReadError, ValueError) as again:
            return None, getattr(again, "reason", str(again)), ""
    except Exception as err:  # one bad file never stops a batch
        return None, f"{type(err).__name__}: {err}", ""


def _as_mapping(features: ImageFeatures | Mapping[str, Any]) -> Mapping[str, Any]:
    row = features.as_dict() if isinstance(features, ImageFeatures) else features
    missing = [c for c in FEATURE_COLUMNS if c not in row]
    if missing:
        raise ValueError(
            f"image features lack {missing}: pass an ImageFeatures or a row of image_feature_table's features"
        )
    return row


def _check(
    item: CreativeInput,
    brand: BrandRules,
    feats: Mapping[str, Any] | None,
    read_problem: str,
    box_problem: str = "",
) -> list[RuleResult]:
    results: dict[str, tuple[str, str, Any]] = {}
    if feats is None:
        results["readable_image"] = (FAIL, f"image {item.image_path} could not be read: {read_problem}", None)
    else:
        w, h, kb = int(feats["width"]), int(feats["height"]), float(feats["file_kb"])
        reason = f"image {Path(str(item.image_path)).name} was read ({w}x{h} px, {kb:.1f} KiB)"
        results["readable_image"] = (PASS, reason, f"{w}x{h}")
    platform = brand.platforms.get(item.platform)
    if platform is None:
        reason = (
            f"platform '{item.platform}' is not in the brand file; the known platforms are {', '.join(brand.platforms)}"
        )
        results["platform_known"] = (FAIL, reason, item.platform)
    else:
        results["platform_known"] = (PASS, f"platform '{item.platform}' is in the brand file", item.platform)
    if feats is not None:
        results.update(_image_rules(feats, platform, item, brand))
        if box_problem:
            reason = f"text_box could not be used ({box_problem}), so contrast was not estimated"
            results["contrast"] = (NOT_CHECKED, reason, None)
    for rule in IMAGE_RULES:
        if rule not in results:
            why = "the image could not be read" if feats is None else f"platform '{item.platform}' is unknown"
            results[rule] = (NOT_CHECKED, f"not checked: {why}", None)
    results.update(_copy_rules(item, brand))
    return [RuleResult(item.creative_id, r, *results[r]) for r in RULES if r in brand.rules]


def check_creative(
    item: CreativeInput, brand: BrandRules, features: ImageFeatures | Mapping[str, Any] | None = None
) -> list[RuleResult]:
    """Check one creative against every enabled rule of the brand file.

    Parameters
    ----------
    item
        The creative.
    brand
        Brand rules (``brand.rules`` says which rules run).
    features
        Its image features (an :class:`ImageFeatures` or a row of
        :func:`~galaxy_lib.creative.images.image_feature_table`); measured from
        ``item.image_path`` when ``None``.

    Returns
    -------
    list of RuleResult
        One per enabled rule, in :data:`~galaxy_lib.creative.brand.RULES` order. An unreadable
        image fails ``readable_image`` and leaves the image rules ``"not checked"``.
    """
    if features is not None:
        return _check(item, brand, _as_mapping(features), "")
    feats, read_problem, box_problem = _measure(item, brand)
    return _check(item, brand, feats.as_dict() if feats else None, read_problem, box_problem)


def check_batch(
    items: Sequence[CreativeInput], brand: BrandRules, feature_table: pd.DataFrame | None = None
) -> GuardrailResults:
    """Check many creatives; each image file is measured once, and a bad file never stops the batch.

    Parameters
    ----------
    items
        The creatives (ids must be unique).
    brand
        Brand rules.
    feature_table
        Image features by ``creative_id`` (the ``features`` of
        :func:`~galaxy_lib.creative.images.image_feature_table`); creatives missing from it are measured.

    Returns
    -------
    GuardrailResults
    """
    items = list(items)
    ids = [i.creative_id for i in items]
    dupes = sorted({c for c in ids if ids.count(c) > 1})
    if dupes:
        raise ValueError(f"creative ids must be unique; repeated: {dupes}")
    given: dict[str, Mapping[str, Any]] = {}
    if feature_table is not None:
        if "creative_id" not in feature_table.columns:
            raise ValueError("feature_table has no creative_id column: pass image_feature_table(...)[0]")
        if feature_table["creative_id"].duplicated().any():
            raise ValueError("feature_table has repeated creative_id values: keep one row per creative")
        given = {str(r["creative_id"]): _as_mapping(r) for r in feature_table.to_dict("records")}
    measured: dict[tuple[str, Any], tuple[ImageFeatures | None, str, str]] = {}
    rows: list[RuleResult] = []
    feature_rows = []
    for item in items:
        if item.creative_id in given:
            feats, read_problem, box_problem = dict(given[item.creative_id]), "", ""
        else:
            key = (str(Path(str(item.image_path)).resolve()), item.text_box)
            if key not in measured:
                measured[key] = _measure(item, brand)
            found, read_problem, box_problem = measured[key]
            feats = found.as_dict() if found is not None else None
        if feats is not None:
            feature_rows.append({**feats, "creative_id": item.creative_id})
        rows.extend(_check(item, brand, feats, read_problem, box_problem))
    table = pd.DataFrame([asdict(r) for r in rows], columns=["creative_id", "rule", "status", "reason", "value"])
    features = pd.DataFrame(feature_rows)
    if not features.empty:
        features = features[["creative_id", *[c for c in features.columns if c != "creative_id"]]]
    return GuardrailResults(table=table, features=features, rules=tuple(r for r in RULES if r in brand.rules))
