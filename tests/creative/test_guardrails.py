"""Brand guardrails on real PNG creatives drawn with Pillow, checked against parameters/brand.yaml."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from galaxy_lib.creative.brand import RULES, BrandRules
from galaxy_lib.creative.guardrails import (
    FAIL,
    NOT_CHECKED,
    PASS,
    CreativeInput,
    GuardrailResults,
    check_batch,
    check_creative,
)
from galaxy_lib.creative.images import image_feature_table, image_features
from tests.creative.drawing import (
    LIGHT_GREY,
    MIST,
    RED,
    brand,
    draw_ad,
    write_text_as_png,
    write_truncated_png,
)

IMAGES = {
    "on_brand": {},
    "low_contrast": {"background": MIST, "ink": LIGHT_GREY},
    "off_palette": {"background": RED},  # white on #D63031 is 4.85:1, so only the palette fails
    "wrong_ratio": {"size": (1000, 750)},
    "no_logo": {"logo": False},
    "no_text": {"headline": ""},
}


@pytest.fixture(scope="module")
def rules() -> BrandRules:
    return brand()


@pytest.fixture(scope="module")
def files(rules: BrandRules, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("creatives")
    paths = {name: folder / f"{name}.png" for name in IMAGES}
    for name, kw in IMAGES.items():
        draw_ad(paths[name], rules, **kw)
    paths["corrupt"] = folder / "corrupt.png"
    write_truncated_png(paths["corrupt"], rules)
    paths["not_image"] = folder / "not_image.png"
    write_text_as_png(paths["not_image"])
    return paths


def _item(creative_id: str, path: Path, **copy: str) -> CreativeInput:
    fields = {
        "platform": "social",
        "category": "kitchen",
        "headline": "Meet the new Nova Kettle",
        "body": "Boils a cup in 45 seconds.",
        "cta": "Shop now",
        "disclaimer": "",
        **copy,
    }
    return CreativeInput(creative_id=creative_id, image_path=path, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def items(files: dict[str, Path]) -> list[CreativeInput]:
    return [
        _item("on_brand", files["on_brand"]),
        _item("banned_word", files["on_brand"], headline="Act now: the Nova Kettle"),
        _item("low_contrast", files["low_contrast"]),
        _item("off_palette", files["off_palette"]),
        _item("wrong_ratio", files["wrong_ratio"]),
        _item("corrupt", files["corrupt"]),
        _item("not_image", files["not_image"]),
        _item("unknown_platform", files["on_brand"], platform="billboard"),
        _item("no_text", files["no_text"], headline="", body=""),
        _item("price_claim", files["on_brand"], headline="Save 20% on the Nova Kettle"),
        _item("no_logo", files["no_logo"]),
    ]


@pytest.fixture(scope="module")
def results(items: list[CreativeInput], rules: BrandRules) -> GuardrailResults:
    return check_batch(items, rules)


def _statuses(results: GuardrailResults, creative_id: str) -> dict[str, str]:
    rows = results.table[results.table["creative_id"] == creative_id]
    return dict(zip(rows["rule"], rows["status"], strict=True))


def _row(results: GuardrailResults, creative_id: str, rule: str) -> pd.Series:
    t = results.table
    return t[(t["creative_id"] == creative_id) & (t["rule"] == rule)].iloc[0]


def test_on_brand_creative_passes_every_rule(results: GuardrailResults) -> None:
    assert _statuses(results, "on_brand") == dict.fromkeys(RULES, PASS)
    assert results.passed_ids() == ["on_brand"]


@pytest.mark.parametrize(
    ("creative_id", "rule", "words"),
    [
        ("banned_word", "banned_words", ["banned phrase 'act now' in the headline"]),
        ("low_contrast", "contrast", [LIGHT_GREY, MIST, "1.34:1", "at least 4.5:1"]),
        ("off_palette", "palette", [RED, "25.3 ΔE2000", "ember", "allows 12.0"]),
        ("wrong_ratio", "aspect_ratio", ["aspect ratio 4:3 (1.333) is not one of 1:1, 9:16, 4:5 for social"]),
        ("price_claim", "disclaimer", ["price_or_discount", "Prices include VAT"]),
    ],
)
def test_each_violation_fails_exactly_its_rule(
    results: GuardrailResults, creative_id: str, rule: str, words: list[str]
) -> None:
    expected = dict.fromkeys(RULES, PASS) | {rule: FAIL}
    assert _statuses(results, creative_id) == expected
    reason = _row(results, creative_id, rule)["reason"]
    assert all(w in reason for w in words), reason


def test_measured_values_are_kept(results: GuardrailResults) -> None:
    assert _row(results, "low_contrast", "contrast")["value"] == pytest.approx(1.34, abs=0.02)
    assert _row(results, "off_palette", "palette")["value"] == pytest.approx(25.3, abs=0.2)
    assert _row(results, "wrong_ratio", "aspect_ratio")["value"] == pytest.approx(1.333)
    assert _row(results, "banned_word", "banned_words")["value"] == "act now"
    assert _row(results, "on_brand", "readable_image")["value"] == "1080x1080"


@pytest.mark.parametrize("creative_id", ["corrupt", "not_image"])
def test_unreadable_files_fail_readable_image_without_stopping_the_batch(
    results: GuardrailResults, creative_id: str
) -> None:
    status = _statuses(results, creative_id)
    assert status["readable_image"] == FAIL
    image_rules = ("aspect_ratio", "pixel_size", "file_size", "palette", "contrast", "logo")
    assert all(status[r] == NOT_CHECKED for r in image_rules)
    assert all(status[r] == PASS for r in RULES if r not in (*image_rules, "readable_image"))
    assert "could not be read" in _row(results, creative_id, "readable_image")["reason"]


def test_unknown_platform(results: GuardrailResults) -> None:
    status = _statuses(results, "unknown_platform")
    assert status["platform_known"] == FAIL
    assert {status[r] for r in ("aspect_ratio", "pixel_size", "file_size")} == {NOT_CHECKED}
    assert status["palette"] == status["logo"] == status["banned_words"] == PASS
    reason = _row(results, "unknown_platform", "platform_known")["reason"]
    assert "'billboard'" in reason and "social, display, video, email" in reason


def test_no_text_and_no_logo(results: GuardrailResults) -> None:
    assert _statuses(results, "no_text")["text_present"] == FAIL
    assert _statuses(results, "no_logo") == dict.fromkeys(RULES, PASS) | {"logo": FAIL}
    assert "below the 0.70" in _row(results, "no_logo", "logo")["reason"]


def test_matrix_counts_and_failures(results: GuardrailResults, items: list[CreativeInput]) -> None:
    matrix = results.matrix()
    assert list(matrix.index) == [i.creative_id for i in items] and list(matrix.columns) == list(RULES)
    assert set(matrix.to_numpy().ravel()) <= {"pass", "fail", "–"}
    assert matrix.loc["corrupt", "palette"] == "–" and matrix.loc["off_palette", "palette"] == "fail"
    counts = results.counts()
    assert list(counts.index) == list(RULES) and list(counts.columns) == [PASS, FAIL, NOT_CHECKED]
    assert (counts.sum(axis=1) == len(items)).all()
    assert counts.loc["readable_image", FAIL] == 2
    assert set(results.failures()["status"]) == {FAIL}
    assert list(results.table.columns) == ["creative_id", "rule", "status", "reason", "value"]
    assert set(results.features["creative_id"]) == {i.creative_id for i in items} - {"corrupt", "not_image"}


def test_given_features_are_used_as_is(items: list[CreativeInput], rules: BrandRules, files: dict[str, Path]) -> None:
    item = items[3]  # off_palette
    features = image_features(item.image_path, rules)
    direct = check_creative(item, rules, features)
    assert [r.status for r in direct] == [r.status for r in check_creative(item, rules)]
    table, _ = image_feature_table([files["off_palette"]], rules, creative_ids=["off_palette"])
    again = check_batch([item], rules, feature_table=table)
    assert _statuses(again, "off_palette")["palette"] == FAIL
    with pytest.raises(ValueError, match="lack"):
        check_creative(item, rules, {"width": 10})


def test_only_enabled_rules_run(items: list[CreativeInput], rules: BrandRules) -> None:
    fewer = rules.model_copy(update={"rules": ["logo", "banned_words", "readable_image"]})
    out = check_creative(items[1], fewer)
    assert [r.rule for r in out] == ["readable_image", "logo", "banned_words"]
    assert [r.status for r in out] == [PASS, PASS, FAIL]


def test_text_box_and_input_validation(items: list[CreativeInput], rules: BrandRules) -> None:
    outside = replace(items[0], text_box=(5000, 5000, 6000, 6000))
    contrast = next(r for r in check_creative(outside, rules) if r.rule == "contrast")
    assert contrast.status == NOT_CHECKED and "text_box" in contrast.reason
    with pytest.raises(ValueError, match="x1 > x0"):
        replace(items[0], text_box=(10, 10, 5, 20))
    with pytest.raises(ValueError, match="repeated"):
        check_batch([items[0], items[0]], rules)
