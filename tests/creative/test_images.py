"""Image features measured on real PNG files drawn here with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from galaxy_lib.creative.brand import BrandRules, hex_to_rgb
from galaxy_lib.creative.ids import file_id
from galaxy_lib.creative.images import (
    ImageFeatures,
    ImageReadError,
    colourfulness,
    contrast_ratio,
    image_feature_table,
    image_features,
    read_image,
)
from galaxy_lib.simulate.creatives import COLORS, FORMATS, draw_creative, simulate_creatives
from tests.creative.drawing import (
    LIGHT_GREY,
    MIST,
    NIGHT,
    PURPLE,
    brand,
    draw_ad,
    write_png_bomb,
    write_text_as_png,
    write_truncated_png,
)


@pytest.fixture(scope="module")
def rules() -> BrandRules:
    return brand()


@pytest.fixture(scope="module")
def ads(rules: BrandRules, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, tuple[int, ...]]]:
    folder = tmp_path_factory.mktemp("ads")
    specs = {
        "on_brand": {},
        "low_contrast": {"background": MIST, "ink": LIGHT_GREY},
        "no_logo": {"logo": False},
        "small_logo_story": {"size": (1080, 1920), "logo_size": 0.14, "background": MIST, "ink": NIGHT},
        "large_logo_wide": {"size": (1200, 675), "logo_size": 0.3},
    }
    return {name: (folder / f"{name}.png", draw_ad(folder / f"{name}.png", rules, **kw)) for name, kw in specs.items()}


def _nearest(hex_colour: str, colours: dict[str, tuple[int, int, int]]) -> str:
    names = list(colours)
    lab = rgb2lab(np.array([colours[n] for n in names], dtype=float).reshape(-1, 1, 3) / 255).reshape(-1, 3)
    one = rgb2lab(np.array(hex_to_rgb(hex_colour), dtype=float).reshape(1, 1, 3) / 255).reshape(1, 3)
    return names[int(np.argmin(deltaE_ciede2000(np.broadcast_to(one, lab.shape), lab)))]


def test_wcag_contrast_and_colourfulness_formulas() -> None:
    assert contrast_ratio((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)
    assert contrast_ratio((142, 68, 173), (142, 68, 173)) == pytest.approx(1.0)
    assert contrast_ratio((255, 255, 255), (142, 68, 173)) == pytest.approx(5.87, abs=0.01)
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == contrast_ratio((255, 255, 255), (0, 0, 0))
    assert colourfulness(np.full((10, 10, 3), 128)) == 0.0
    assert colourfulness(np.array([[255, 0, 0], [0, 0, 255]])) > colourfulness(np.array([[200, 190, 180]] * 2))


def test_on_brand_creative_features(ads: dict, rules: BrandRules) -> None:
    path, _ = ads["on_brand"]
    f = image_features(path, rules)
    assert (f.width, f.height, f.pixels, f.aspect_ratio) == (1080, 1080, 1080 * 1080, 1.0)
    assert f.file_kb == pytest.approx(path.stat().st_size / 1024)
    assert f.image_id == file_id("creative", path)
    assert f.dominant_hex == PURPLE and f.palette_name == "galaxy_purple" and f.palette_distance < 0.5
    assert sum(s for _, s in f.dominant_colours) == pytest.approx(1.0)
    assert f.dominant_colours[0] == (f.dominant_hex, f.dominant_share)
    # white headline on purple: 5.87 by the WCAG formula
    assert f.contrast_region == "image" and f.text_hex == "#FFFFFF"
    assert f.contrast_ratio == pytest.approx(5.87, abs=0.05)
    assert f.has_logo and f.logo_score > 0.9
    d, gap = round(0.22 * 1080), round(rules.logo.margin * 1080)
    expected = (1080 - gap - d, 1080 - gap - d, 1080 - gap, 1080 - gap)
    assert np.abs(np.array(f.logo_box) - np.array(expected)).max() <= 0.05 * 1080
    assert 0 < f.edge_density < 0.2 and 0 < f.brightness < 0.5 and f.colourfulness > 30
    row = f.as_dict()
    assert "logo_box" not in row and row["logo_x0"] == f.logo_box[0] and row["dominant_colours"].startswith(PURPLE)
    with pytest.raises(AttributeError):
        f.width = 1  # type: ignore[misc]


def test_contrast_inside_a_text_box(ads: dict, rules: BrandRules) -> None:
    path, box = ads["low_contrast"]
    whole = image_features(path, rules)
    boxed = image_features(path, rules, text_box=box)
    assert boxed.contrast_region == "text_box"
    for f in (whole, boxed):
        assert f.text_hex == LIGHT_GREY and f.background_hex == MIST
        assert f.contrast_ratio == pytest.approx(contrast_ratio(hex_to_rgb(LIGHT_GREY), hex_to_rgb(MIST)), abs=0.05)
    with pytest.raises(ValueError, match=r"text_box .* leaves no area inside the 1080x1080 image"):
        image_features(path, rules, text_box=(2000, 2000, 2100, 2100))


def test_plain_image_has_no_text_contrast(tmp_path: Path, rules: BrandRules) -> None:
    Image.new("RGB", (400, 400), PURPLE).save(tmp_path / "plain.png")
    f = image_features(tmp_path / "plain.png", rules)
    assert np.isnan(f.contrast_ratio) and f.text_hex == "" and f.edge_density == 0.0
    assert f.dominant_colours == ((PURPLE, 1.0),) and not f.has_logo


@pytest.mark.parametrize("name", ["small_logo_story", "large_logo_wide"])
def test_logo_found_at_other_sizes_and_shapes(ads: dict, rules: BrandRules, name: str) -> None:
    assert image_features(ads[name][0], rules).has_logo


def test_missing_logo_scores_low(ads: dict, rules: BrandRules) -> None:
    f = image_features(ads["no_logo"][0], rules)
    assert not f.has_logo and f.logo_score < 0.5


def test_transparency_is_flattened_onto_white(tmp_path: Path, rules: BrandRules) -> None:
    img = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    img.paste((142, 68, 173, 255), (0, 0, 100, 300))
    img.save(tmp_path / "rgba.png")
    f = image_features(tmp_path / "rgba.png", rules)
    assert f.dominant_hex == "#FFFFFF" and dict(f.dominant_colours)[PURPLE] == pytest.approx(1 / 3, abs=0.02)


def test_world_creatives_drawn_by_the_simulator(tmp_path: Path, rules: BrandRules) -> None:
    paths, truth = [], []
    for i, colour in enumerate(COLORS):
        for j, fmt in enumerate(FORMATS):
            has_logo = (i + j) % 2 == 0
            path = tmp_path / f"{colour}_{fmt}.png"
            body = ["Two-year warranty as standard.", "Free returns within 30 days."]
            draw_creative(path, fmt, colour, f"Meet the new Nova {fmt}", has_logo, 0.3, body, seed=i * 3 + j)
            paths.append(path)
            truth.append((colour, has_logo))
    features, problems = image_feature_table(paths, rules)
    assert problems.empty and len(features) == len(paths)
    colours = [_nearest(h, COLORS) for h in features["dominant_hex"]]
    assert colours == [c for c, _ in truth]
    assert features["has_logo"].tolist() == [h for _, h in truth]


def test_world_creatives_agree_with_their_metadata(rules: BrandRules, tmp_path: Path) -> None:
    """The ci world's creatives (drawn as the world draws them): colour and logo read back from the pixels."""
    meta = simulate_creatives(seed=42, n_creatives=60, asset_dir=tmp_path / "assets" / "creatives").table
    paths = [tmp_path / p for p in meta["image_path"]]
    features, problems = image_feature_table(paths, rules, list(meta["creative_id"]))
    assert problems.empty
    both = meta.merge(features, on="creative_id", suffixes=("", "_measured"))
    colour_rate = np.mean(
        [_nearest(h, COLORS) == c for h, c in zip(both["dominant_hex"], both["dominant_color"], strict=True)]
    )
    logo_rate = float((both["has_logo"] == both["has_logo_measured"]).mean())
    assert colour_rate == 1.0 and logo_rate >= 0.95


def test_bad_files_are_problems_not_exceptions(tmp_path: Path, rules: BrandRules, ads: dict) -> None:
    good = ads["on_brand"][0]
    bad = {
        "truncated": tmp_path / "truncated.png",
        "text": tmp_path / "text.png",
        "empty": tmp_path / "empty.png",
        "bomb": tmp_path / "bomb.png",
        "big": tmp_path / "big.png",
        "missing": tmp_path / "missing.png",
        "folder": tmp_path,
    }
    write_truncated_png(bad["truncated"], rules)
    write_text_as_png(bad["text"])
    bad["empty"].write_bytes(b"")
    write_png_bomb(bad["bomb"])  # 100000 x 100000: refused from the header
    write_png_bomb(bad["big"], 8000, 8000)  # 64 Mpx: above this module's limit, below Pillow's
    ids = ["good", *bad]
    features, problems = image_feature_table([good, *bad.values()], rules, creative_ids=ids)
    assert features["creative_id"].tolist() == ["good"]
    reasons = dict(zip(problems["creative_id"], problems["reason"], strict=True))
    assert list(reasons) == list(bad)
    assert "truncated" in reasons["truncated"]
    assert "not an image" in reasons["text"]
    assert "empty" in reasons["empty"]
    assert "bomb" in reasons["bomb"] and "bomb" in reasons["big"] and "8000x8000" in reasons["big"]
    assert "does not exist" in reasons["missing"] and "not a file" in reasons["folder"]
    with pytest.raises(ImageReadError) as err:
        read_image(bad["text"])
    assert err.value.path == str(bad["text"]) and str(bad["text"]) in str(err.value)


def test_feature_table_ids_columns_and_arguments(ads: dict, rules: BrandRules) -> None:
    paths = [ads["on_brand"][0], ads["no_logo"][0]]
    features, problems = image_feature_table(paths, rules, text_boxes=[ads["on_brand"][1], None])
    assert problems.empty and list(problems.columns) == ["creative_id", "path", "reason"]
    assert features["creative_id"].tolist() == [file_id("creative", p) for p in paths]
    assert (features["creative_id"] == features["image_id"]).all()
    assert features["contrast_region"].tolist() == ["text_box", "image"]
    assert list(features.columns) == ["creative_id", *_row_keys(paths[0], rules)]
    with pytest.raises(ValueError, match="creative_ids has 1 entries for 2 paths"):
        image_feature_table(paths, rules, creative_ids=["a"])


def _row_keys(path: Path, rules: BrandRules) -> list[str]:
    return list(image_features(path, rules).as_dict())


def test_image_features_is_a_frozen_dataclass() -> None:
    assert ImageFeatures.__dataclass_params__.frozen  # type: ignore[attr-defined]
