"""Copy templates: filling from the catalogue, the errors that name what to fix, disclaimers and type setting."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from galaxy_lib.creative.brand import load_brand
from galaxy_lib.creative.copy import required_disclaimers
from galaxy_lib.creative.ids import text_id
from galaxy_lib.creative.templates import (
    DEFAULT_TEMPLATES,
    ContrastError,
    CopyTemplate,
    TemplateError,
    best_text_colour,
    button_colour,
    contrast_ratio,
    disclaimer_text,
    fill_template,
    fit_copy,
    load_templates,
    placeholders,
)
from galaxy_lib.simulate.catalogue import PRODUCTS

BRAND = Path(__file__).resolve().parents[2] / "parameters" / "brand.yaml"


@pytest.fixture(scope="module")
def brand():
    return load_brand(BRAND)


def _row(product) -> dict:
    features = {f"feature_{i + 1}": f for i, f in enumerate(product.features)}
    return {
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "tagline": product.tagline,
        **features,
    }


KETTLE = _row(PRODUCTS[0])


def test_default_templates_are_on_brand_for_every_product(brand):
    assert 3 <= len(DEFAULT_TEMPLATES) <= 4
    assert len({t.template_id for t in DEFAULT_TEMPLATES}) == len(DEFAULT_TEMPLATES)
    for product in PRODUCTS:
        for template in DEFAULT_TEMPLATES:
            copy = fill_template(template, _row(product))
            assert len(copy.headline) <= brand.max_headline_chars == 45, (template.name, copy.headline)
            for phrase in brand.banned_phrases:
                assert not re.search(rf"\b{re.escape(phrase)}\b", copy.text, re.IGNORECASE), (phrase, copy.text)
            for claim in brand.claims:
                assert not re.search(claim, copy.text, re.IGNORECASE), (claim, copy.text)
    price = next(t for t in DEFAULT_TEMPLATES if t.name == "price")
    assert [d.name for d in required_disclaimers(fill_template(price, KETTLE).text, "kitchen", brand)] == [
        "price_or_discount"
    ]


def test_fill_applies_format_specs_and_ids():
    template = CopyTemplate(name="p", headline="{name}: {tagline}", body="From £{price:.0f}. {feature_1}.", cta="Shop")
    copy = fill_template(template, KETTLE)
    assert copy.headline == "Nova Kettle: Boils a cup in 45 seconds"
    assert copy.body == "From £59. 1.5 litre capacity."
    assert copy.copy_id == text_id("Nova Kettle: Boils a cup in 45 seconds\nFrom £59. 1.5 litre capacity.\nShop")
    assert copy.template_id == template.template_id and copy.template_id.startswith("tpl-")
    bumped = template.model_copy(update={"version": 2})
    assert CopyTemplate(**bumped.model_dump()).template_id != template.template_id
    assert CopyTemplate(**template.model_dump()).template_id == template.template_id


def test_unknown_placeholder_names_template_field_placeholder_and_available_fields():
    template = CopyTemplate(name="promo", headline="{name}", body="Only {colour} today", cta="Shop", version=3)
    with pytest.raises(TemplateError) as err:
        fill_template(template, KETTLE)
    message = str(err.value)
    assert "template 'promo' (v3)" in message
    assert "field body" in message
    assert "{colour}" in message
    assert (
        "Available fields: category, feature_1, feature_2, feature_3, feature_4, name, price, sku, tagline" in message
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{name", "not a valid template text"),
        ("From {}", "positional placeholder"),
        ("{name.upper}", "plain field name"),
        ("{features[0]}", "plain field name"),
    ],
)
def test_malformed_texts_name_the_field(text, expected):
    template = CopyTemplate(name="bad", headline="{name}", body="ok", cta=text)
    with pytest.raises(TemplateError, match=expected) as err:
        fill_template(template, KETTLE)
    assert "template 'bad' (v1), field cta" in str(err.value)


def test_empty_value_and_bad_format_spec():
    template = CopyTemplate(name="f4", headline="{feature_4}", cta="Shop")
    with pytest.raises(TemplateError, match=r"\{feature_4\} is empty for product 'GH-101'"):
        fill_template(template, {**KETTLE, "feature_4": math.nan})
    price = CopyTemplate(name="pr", headline="£{price:.0f}", cta="Shop")
    with pytest.raises(TemplateError, match=r"cannot be formatted.*\{price:\.0f\} = '59'"):
        fill_template(price, {**KETTLE, "price": "59"})


def test_placeholders_lists_fields_and_specs():
    assert placeholders("{name} from £{price:.0f}") == [("name", ""), ("price", ".0f")]
    assert placeholders("no fields") == []


def test_load_templates_from_yaml_and_its_errors(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text(yaml.safe_dump([t.model_dump() for t in DEFAULT_TEMPLATES], allow_unicode=True))
    assert load_templates(path) == list(DEFAULT_TEMPLATES)
    path.write_text(yaml.safe_dump({"templates": [{"name": "a", "headline": "{name}", "cta": "Go"}]}))
    assert load_templates(path)[0].version == 1

    with pytest.raises(TemplateError, match="does not exist"):
        load_templates(tmp_path / "missing.yaml")
    path.write_text("name: a\n")
    with pytest.raises(TemplateError, match="must be a YAML list"):
        load_templates(path)
    with pytest.raises(TemplateError, match=r"templates\[0\] \('a'\).*\n  - colour: unknown field"):
        load_templates([{"name": "a", "headline": "x", "cta": "y", "colour": "red"}])
    with pytest.raises(TemplateError, match=r"templates\[1\]: template 'b', field headline: .*plain field name"):
        load_templates([{"name": "a", "headline": "x", "cta": "y"}, {"name": "b", "headline": "{a.b}", "cta": "y"}])
    with pytest.raises(TemplateError, match=r"unique; \['a'\]"):
        load_templates([{"name": "a", "headline": "x", "cta": "y"}, {"name": "a", "headline": "z", "cta": "y"}])


def test_disclaimers_follow_category_and_copy(brand):
    assert required_disclaimers("Up to 60 minutes of POWER", "cleaning", brand)[0].name == "battery_life"
    assert required_disclaimers("Up to 60 minutes of power", "kitchen", brand) == []
    assert [d.name for d in required_disclaimers("Free delivery, save 20%", "audio", brand)] == [
        "price_or_discount",
        "free_delivery",
    ]
    both = disclaimer_text("Cordless, from £279", "cleaning", brand)
    assert both.startswith("Prices include VAT.") and both.endswith("Battery life varies with use and settings.")


def test_contrast_and_text_colour(brand):
    assert contrast_ratio("#FFFFFF", "#000000") == pytest.approx(21.0)
    assert contrast_ratio((142, 68, 173), "#8E44AD") == pytest.approx(1.0)
    colour, contrast = best_text_colour(brand.palette["galaxy_purple"], brand)
    assert colour == brand.palette["cloud"] and contrast >= 4.5
    assert best_text_colour(brand.palette["mist"], brand)[0] == brand.palette["night"]
    assert button_colour(brand.palette["galaxy_purple"], brand) == brand.palette["cloud"]
    pale = brand.model_copy(update={"text_colours": ["mist"]})
    with pytest.raises(ContrastError, match=r"min_contrast 4.5 over #FFFFFF \(mist 1.1"):
        best_text_colour(brand.palette["cloud"], pale)


def test_fit_copy_shrinks_then_gives_up(brand):
    copy = fill_template(DEFAULT_TEMPLATES[0], KETTLE)
    roomy = fit_copy(copy, "", brand, 1080, (0, 0, 900, 600))
    tight = fit_copy(copy, "", brand, 1080, (0, 0, 400, 300))
    assert roomy is not None and tight is not None
    assert tight.headline.size < roomy.headline.size and len(tight.headline.lines) <= 2
    assert tight.height <= 300 and roomy.height <= 600
    assert fit_copy(copy, "", brand, 1080, (0, 0, 60, 40)) is None
