"""The brand file: Galaxy Home's loads; each kind of mistake fails naming its field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from galaxy_lib.creative.brand import RULES, BrandFileError, hex_to_rgb, load_brand, parse_ratio

BRAND = Path(__file__).resolve().parents[2] / "parameters" / "brand.yaml"


def _write(tmp_path: Path, **changes) -> Path:
    raw = yaml.safe_load(BRAND.read_text())
    raw.update(changes)
    path = tmp_path / "brand.yaml"
    path.write_text(yaml.safe_dump(raw))
    (tmp_path / "brand").mkdir(exist_ok=True)
    (tmp_path / "brand" / "galaxy_logo.png").write_bytes((BRAND.parent / "brand" / "galaxy_logo.png").read_bytes())
    return path


def test_galaxy_brand_loads_with_its_fonts_and_logo():
    brand = load_brand(BRAND)
    assert brand.palette_rgb["galaxy_purple"] == (142, 68, 173)
    assert brand.font_path("headline").suffix == ".ttf" and brand.font_path("body").is_file()
    assert brand.logo_path().is_file()
    assert brand.rules == list(RULES)
    assert brand.platform("social").accepts_ratio(1080 / 1920)
    assert not brand.platform("social").accepts_ratio(4 / 3)


def test_conversions():
    assert hex_to_rgb("#8e44ad") == (142, 68, 173) == hex_to_rgb("8E44AD")
    assert parse_ratio("16:9") == pytest.approx(16 / 9)
    with pytest.raises(ValueError, match="six hex digits"):
        hex_to_rgb("purple")
    with pytest.raises(ValueError, match="width:height"):
        parse_ratio("16x9")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"palette": {"galaxy_purple": "#8E44AZ"}}, r"palette\.galaxy_purple: .*six hex digits"),
        ({"rules": ["palette", "sparkle"]}, r"unknown rule\(s\) \['sparkle'\]"),
        ({"claims": ["(best"]}, r"claims\.0: .*not a regular expression"),
        ({"text_colours": ["gold"]}, r"text_colours \['gold'\] are not palette names"),
        ({"colour_scheme": "dark"}, r"colour_scheme: unknown field"),
        (
            {"platforms": {"social": {"aspect_ratios": ["1:1"], "variant_sizes": [[1080, 1920]]}}},
            r"variant size \[1080, 1920\].*matches none of aspect_ratios",
        ),
    ],
)
def test_invalid_brand_files_name_the_field(tmp_path, changes, expected):
    with pytest.raises(BrandFileError, match=expected):
        load_brand(_write(tmp_path, **changes))


def test_missing_file_font_and_logo(tmp_path):
    with pytest.raises(BrandFileError, match="does not exist: pass brand_file="):
        load_brand(tmp_path / "nope.yaml")
    brand = load_brand(_write(tmp_path, fonts={"headline": "NoSuchFont.ttf", "body": "DejaVuSans.ttf"}))
    with pytest.raises(BrandFileError, match=r"fonts\.headline: font 'NoSuchFont.ttf' was not found"):
        brand.font_path("headline")
    brand = load_brand(_write(tmp_path, logo={"file": "missing.png"}))
    with pytest.raises(BrandFileError, match=r"logo\.file: .*missing.png does not exist"):
        brand.logo_path()
    with pytest.raises(KeyError, match="unknown platform 'tiktok'"):
        brand.platform("tiktok")
