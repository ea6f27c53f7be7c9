"""Ad variants: salient crop, layout rules (size, contrast, logo, disclaimer), the batch and its problems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from galaxy_lib.creative.brand import Platform, load_brand
from galaxy_lib.creative.ids import file_id
from galaxy_lib.creative.templates import (
    DEFAULT_TEMPLATES,
    ContrastError,
    CopyTemplate,
    contrast_ratio,
    disclaimer_text,
    fill_template,
)
from galaxy_lib.creative.variants import (
    PROBLEM_COLUMNS,
    VARIANT_COLUMNS,
    LayoutError,
    VariantError,
    contact_sheet,
    generate_variants,
    parse_box,
    render_variant,
    saliency_map,
    salient_crop,
)
from galaxy_lib.simulate.catalogue import PRODUCTS

BRAND = Path(__file__).resolve().parents[2] / "parameters" / "brand.yaml"
MASTER_SIZE = (1600, 1000)
TEMPLATES = [t for t in DEFAULT_TEMPLATES if t.name in ("price", "feature")]


def draw_master(path: Path, side: str = "left", accent: tuple[int, int, int] = (230, 126, 34)) -> tuple[Path, tuple]:
    """A product "photo" in the simulator's style; returns its path and the object's box (x1, y1 exclusive)."""
    w, h = MASTER_SIZE
    t = np.linspace(0, 1, h)[:, None, None]
    gradient = np.array([0xF1, 0xEC, 0xF5]) * (1 - t) + np.array([255, 255, 255]) * t
    image = Image.fromarray(np.broadcast_to(gradient, (h, w, 3)).round().astype(np.uint8))
    ow, oh = 210, 300  # 30% of the height, in the left or right third
    x0 = 230 if side == "left" else w - 230 - ow
    y0 = 360
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((x0, y0, x0 + ow - 1, y0 + oh - 1), 24, fill=(30, 30, 30))
    draw.rounded_rectangle((x0 + 40, y0 + 50, x0 + ow - 41, y0 + 140), 10, fill=(250, 250, 252))
    draw.ellipse((x0 + 75, y0 + 180, x0 + 135, y0 + 240), fill=accent)
    image.save(path)
    return path, (x0, y0, x0 + ow, y0 + oh)


def _row(product, master: Path | str | None) -> dict:
    features = {f"feature_{i + 1}": f for i, f in enumerate(product.features)}
    return {
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "tagline": product.tagline,
        **features,
        "master_image": None if master is None else str(master),
    }


def _inside(inner, outer) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def brand():
    return load_brand(BRAND)


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("masters")
    left = draw_master(folder / "left.png", "left")
    right = draw_master(folder / "right.png", "right", accent=(22, 160, 133))
    corrupt = folder / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return {"left": left, "right": right, "corrupt": corrupt}


@pytest.fixture(scope="module")
def products(masters):
    kettle, vacuum, mop, speaker = PRODUCTS[0], PRODUCTS[6], PRODUCTS[7], PRODUCTS[8]
    return pd.DataFrame(
        [
            _row(kettle, masters["left"][0]),
            _row(mop, masters["corrupt"]),
            _row(vacuum, masters["right"][0]),
            _row(speaker, None),
        ]
    )


@pytest.fixture(scope="module")
def batch(products, brand, tmp_path_factory):
    templates = [*TEMPLATES, CopyTemplate(name="colour", headline="{name} in {colour}", cta="Shop")]
    out = tmp_path_factory.mktemp("variants")
    return generate_variants(products, templates, brand, out, platforms=[*brand.platforms, "tiktok"], progress=True)


# --------------------------------------------------------------------------- saliency and crop


def test_saliency_peaks_on_the_object(masters):
    image = Image.open(masters["left"][0])
    smap = saliency_map(image)
    assert smap.shape == (80, 128) and smap.min() >= 0 and smap.max() == pytest.approx(1.0)
    x0, y0, x1, y1 = (round(v * 128 / 1600) for v in masters["left"][1])
    assert smap[y0 - 3 : y1 + 3, x0 - 3 : x1 + 3].sum() > 0.95 * smap.sum()  # the blur spreads it ~2 cells
    assert not saliency_map(Image.new("RGB", (300, 200), "#F1ECF5")).any()


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("size", [(1080, 1920), (1080, 1080), (300, 100)])
def test_salient_crop_keeps_the_off_centre_object(masters, side, size):
    path, box = masters[side]
    crop, window = salient_crop(Image.open(path), *size)
    assert crop.size == size
    assert _inside(box, window), (box, window)
    assert abs((window[2] - window[0]) / (window[3] - window[1]) - size[0] / size[1]) < 0.01
    assert window[2] - window[0] == MASTER_SIZE[0] or window[3] - window[1] == MASTER_SIZE[1]  # largest window
    if size[0] / size[1] < 1.6:  # a centre crop of the same window would cut the object off
        cw = window[2] - window[0]
        centre = ((MASTER_SIZE[0] - cw) // 2, 0, (MASTER_SIZE[0] + cw) // 2, MASTER_SIZE[1])
        assert not _inside(box, centre)


# --------------------------------------------------------------------------- one variant


@pytest.mark.parametrize("size", [(1080, 1920), (1200, 675), (300, 250)])
def test_render_variant_layout_rules(masters, brand, size):
    master = Image.open(masters["left"][0])
    copy = fill_template(TEMPLATES[0], _row(PRODUCTS[0], None))
    disclaimer = disclaimer_text(copy, "kitchen", brand)
    assert disclaimer.startswith("Prices include VAT")
    variant = render_variant(master, copy, brand, size, disclaimer)
    w, h = size
    assert variant.image.size == size and variant.image.mode == "RGB"
    assert contrast_ratio(variant.text_colour, variant.band_colour) >= brand.min_contrast >= 4.5
    assert variant.band_colour == brand.palette["galaxy_purple"] and variant.text_colour == brand.palette["cloud"]
    assert _inside(variant.logo_box, (0, 0, w, h)) and _inside(variant.logo_box, variant.band_box)
    assert not _overlap(variant.logo_box, variant.text_box)
    assert _inside(variant.text_box, variant.band_box) and _inside(variant.text_box, (0, 0, w, h))
    bx0, by0, bx1, by1 = variant.band_box
    assert (bx1 - bx0) * (by1 - by0) >= 0.35 * w * h
    assert variant.image.getpixel((bx0 + 1, by0 + 1)) == brand.palette_rgb["galaxy_purple"]
    lx0, ly0, lx1, ly1 = variant.logo_box
    assert lx1 - lx0 == round(brand.logo.size * min(size))
    assert variant.image.getpixel(((lx0 + lx1) // 2, ly0 + (ly1 - ly0) // 4)) == (255, 255, 255)  # the logo's disc
    if w / h >= 1.5:  # object in the left third: the band goes down the right side
        assert variant.band_box[2] == w and variant.band_box[0] > 0
    else:
        assert variant.band_box[3] == h and variant.band_box[1] > 0
    without = render_variant(master, copy, brand, size, "")
    assert without.text_box != variant.text_box  # the disclaimer is set in the band


def test_band_moves_away_from_a_right_hand_object(masters, brand):
    copy = fill_template(TEMPLATES[1], _row(PRODUCTS[0], None))
    variant = render_variant(Image.open(masters["right"][0]), copy, brand, (600, 300))
    assert variant.band_box[0] == 0 and variant.logo_box[0] < 300  # band and logo on the left
    assert not _overlap(variant.logo_box, variant.text_box)


def test_render_errors_name_the_fix(masters, brand):
    master = Image.open(masters["left"][0])
    copy = fill_template(TEMPLATES[1], _row(PRODUCTS[0], None))
    with pytest.raises(VariantError, match="band_colour 'purple' is not a palette colour: use one of galaxy_purple"):
        render_variant(master, copy, brand, (600, 300), band_colour="purple")
    with pytest.raises(ContrastError, match="choose another band colour"):
        render_variant(
            master, copy, brand.model_copy(update={"text_colours": ["mist"]}), (600, 300), band_colour="cloud"
        )
    long = CopyTemplate(name="long", headline="{name}", body=" ".join(["{tagline}."] * 12), cta="Shop")
    with pytest.raises(LayoutError, match=r"does not fit 300x250 .*shorten the template.s text"):
        render_variant(master, fill_template(long, _row(PRODUCTS[0], None)), brand, (300, 250))


# --------------------------------------------------------------------------- batch


def test_batch_sizes_ids_and_columns(batch, brand):
    table = batch.table
    assert list(table.columns) == list(VARIANT_COLUMNS)
    assert len(table) == 2 * len(TEMPLATES) * sum(len(p.variant_sizes) for p in brand.platforms.values())
    for platform, rows in table.groupby("platform"):
        assert {(w, h) for w, h in brand.platforms[platform].variant_sizes} == set(
            zip(rows.width, rows.height, strict=True)
        )
    for row in table.itertuples():
        path = Path(row.path)
        with Image.open(path) as image:
            assert image.size == (row.width, row.height)
        assert path.stem == row.variant_id == file_id("variant", path)
        assert row.file_kb <= brand.platforms[row.platform].max_file_kb
    assert table.variant_id.is_unique
    assert set(table.sku) == {"GH-101", "GH-301"} and table.master_id.str.startswith("mst-").all()
    assert set(table.template_name) == {"price", "feature"}
    assert not list(Path(table.path.iloc[0]).parent.glob(".variant-*"))  # no temporary files left behind


def test_batch_rules_hold_on_every_variant(batch, brand):
    for row in batch.table.itertuples():
        text, logo = parse_box(row.text_box), parse_box(row.logo_box)
        assert contrast_ratio(row.text_colour, row.band_colour) >= brand.min_contrast
        assert _inside(logo, (0, 0, row.width, row.height)) and _inside(text, (0, 0, row.width, row.height))
        assert not _overlap(logo, text)
    price = batch.table[batch.table.template_name == "price"]
    assert price.disclaimer.str.startswith("Prices include VAT.").all()
    kettle_feature = batch.table[(batch.table.template_name == "feature") & (batch.table.sku == "GH-101")]
    assert (kettle_feature.disclaimer == "").all()
    vacuum = batch.table[batch.table.sku == "GH-301"]
    assert vacuum.disclaimer.str.contains("Battery life varies").all()


def test_batch_records_problems_without_stopping(batch):
    problems = batch.problems
    assert list(problems.columns) == list(PROBLEM_COLUMNS)
    by_sku = {sku: rows for sku, rows in problems.groupby("sku")}
    assert "cannot be read" in by_sku["GH-302"].reason.item() and by_sku["GH-302"].template.item() == ""
    assert "no master_image" in by_sku["GH-401"].reason.item()
    unknown = problems[problems.platform == "tiktok"]
    assert (
        unknown.sku.item() == "" and "unknown platform 'tiktok': the brand file knows social" in unknown.reason.item()
    )
    colour = problems[problems.template == "colour"]
    assert set(colour.sku) == {"GH-101", "GH-301"}
    assert colour.reason.str.contains(r"placeholder \{colour\} is not a catalogue field").all()
    assert len(problems) == 5


def test_same_inputs_give_the_same_files(batch, products, brand, tmp_path):
    again = generate_variants(products.iloc[:1], TEMPLATES, brand, tmp_path, platforms=["email", "display"])
    first = batch.table.set_index(["sku", "template_name", "platform", "width", "height"])
    assert len(again.table) == len(TEMPLATES) * 3
    for row in again.table.itertuples():
        before = first.loc[(row.sku, row.template_name, row.platform, row.width, row.height)]
        assert row.variant_id == before.variant_id
        assert Path(row.path).read_bytes() == Path(before.path).read_bytes()


def test_oversized_files_are_quantised_then_reported(products, brand, tmp_path):
    sized = {
        "email_small": Platform(aspect_ratios=["2:1"], variant_sizes=[(600, 300)], max_file_kb=11),
        "email_tiny": Platform(aspect_ratios=["2:1"], variant_sizes=[(600, 300)], max_file_kb=0.5),
    }
    result = generate_variants(
        products.iloc[:1], TEMPLATES[1:], brand.model_copy(update={"platforms": sized}), tmp_path
    )
    assert len(result.table) == 2  # kept for both platforms (the guardrail fails the large one)
    assert result.table.path.nunique() == 1  # the same quantised PNG, so one file
    with Image.open(result.table.path.iloc[0]) as image:
        assert image.mode == "P"
    assert result.problems.platform.tolist() == ["email_tiny"]
    assert "over max_file_kb 0.5" in result.problems.reason.item()


def test_missing_column_stops_the_batch(products, brand, tmp_path):
    with pytest.raises(VariantError, match=r"lacks column\(s\) \['master_image'\]"):
        generate_variants(products.drop(columns="master_image"), TEMPLATES, brand, tmp_path)


def test_contact_sheet(batch, tmp_path):
    paths = [*batch.table.path.iloc[:7], tmp_path / "missing.png"]
    sheet = contact_sheet(paths, thumb=100, columns=3)
    assert sheet.mode == "RGB"
    assert sheet.size[0] == 3 * (100 + 2 * 4) and sheet.size[1] == 3 * (100 + 12 + 2 * 4)
    with pytest.raises(ValueError, match="at least one image"):
        contact_sheet([])
