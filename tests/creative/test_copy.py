"""Copy features, brand phrase checks, disclaimers and offline sentence embeddings."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import numpy as np
import pytest

from galaxy_lib.creative import copy as copy_module
from galaxy_lib.creative.brand import BrandRules
from galaxy_lib.creative.copy import (
    EMBEDDING_DIM,
    copy_features,
    disclaimer_present,
    embed_texts,
    find_banned,
    find_claims,
    required_disclaimers,
)
from tests.creative.drawing import brand

PRICE = "Prices include VAT. Offer ends on the date shown; while stocks last."
DELIVERY = "Free standard UK mainland delivery on orders over £40."


@pytest.fixture(scope="module")
def rules() -> BrandRules:
    return brand()


def test_lengths_numbers_and_text(rules: BrandRules) -> None:
    f = copy_features("  Meet the new Nova Kettle ", "Boils a cup fast.", "", rules, disclaimer=DELIVERY)
    assert f.headline_chars == 24 and f.text_chars == 24 + 17 + len(DELIVERY)
    assert f.has_text and not f.has_number  # the £40 of the small print is not the ad's number
    assert copy_features("Save 20% today", "", "", rules).has_number
    assert copy_features("Only £59", "", "", rules).has_number
    blank = copy_features(" ", "\n", "Shop now", rules)
    assert not blank.has_text and blank.headline_chars == 0


@pytest.mark.parametrize(
    ("headline", "body", "cta", "expected"),
    [
        ("Meet the Nova Kettle", "", "Buy now", True),
        ("Meet the Nova Kettle", "Boils fast. Shop the range today.", "", True),
        ("Discover the Orbit Grinder", "", "", True),
        ("Meet the Nova Kettle", "We shop for value.", "", False),
        ("Meet the Nova Kettle", "", "  ", False),
    ],
)
def test_call_to_action(rules: BrandRules, headline: str, body: str, cta: str, expected: bool) -> None:
    assert copy_features(headline, body, cta, rules).has_cta is expected


def test_banned_phrases_are_whole_words_in_any_case(rules: BrandRules) -> None:
    assert [h.term for h in find_banned("ACT  now: 20% off", rules)] == ["act now"]
    assert find_banned("We react nowhere near that; a miracles list", rules) == []
    assert {h.term for h in find_banned("Risk-free and 100% safe!", rules)} == {"risk-free", "100% safe"}
    f = copy_features("Nova Kettle", "Once in a lifetime.", "", rules, disclaimer="A miracle.")
    assert [(h.term, h.field) for h in f.banned_phrases] == [("once in a lifetime", "body"), ("miracle", "disclaimer")]


def test_claims_use_the_brand_patterns(rules: BrandRules) -> None:
    hits = find_claims("The BEST kettle, guaranteed. #1 in Leeds", rules, field="headline")
    assert {h.text.lower() for h in hits} == {"best", "guaranteed", "#1"}
    assert all(h.field == "headline" for h in hits)
    assert find_claims("Bestow a better kettle", rules) == []


def test_required_disclaimers_by_copy_and_category(rules: BrandRules) -> None:
    names = lambda text, cat: [d.name for d in required_disclaimers(text, cat, rules)]  # noqa: E731
    assert names("Save 20% on the Nova Kettle", "kitchen") == ["price_or_discount"]
    assert names("Meet the new Nova Kettle", "kitchen") == []
    assert names("Free delivery on the cordless vacuum", "cleaning") == ["free_delivery", "battery_life"]
    assert names("Free delivery on the cordless vacuum", "kitchen") == ["free_delivery"]
    assert names("The cordless vacuum", None) == ["battery_life"]  # unknown category: applies, to be safe
    assert names(f"Meet the Nova Kettle. {DELIVERY}", "kitchen") == []  # the small print's £40 demands nothing
    price = next(d for d in rules.disclaimers if d.name == "price_or_discount")
    assert disclaimer_present(price, "prices include vat.  Offer ends on the date\nshown; WHILE stocks last.")
    assert not disclaimer_present(price, "Prices include VAT.")


def test_missing_and_present_disclaimers(rules: BrandRules) -> None:
    missing = copy_features("Save 20% on the Nova Kettle", "", "Shop now", rules, category="kitchen")
    assert missing.required_disclaimers == missing.missing_disclaimers == ("price_or_discount",)
    given = copy_features("Save 20% on the Nova Kettle", "", "Shop now", rules, disclaimer=PRICE, category="kitchen")
    assert given.missing_disclaimers == ()
    row = missing.as_dict()
    assert row["missing_disclaimers"] == "price_or_discount" and row["banned_phrases"] == ""


# --------------------------------------------------------------------------- embeddings


@pytest.fixture(scope="module")
def offline_model() -> Iterator[None]:
    """Load the model once for this module with the network unreachable and the offline switches on."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access during the embedding test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        copy_module._model.cache_clear()
        embed_texts(["warm up"])
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        yield


def test_embeddings_offline_shape_and_norm(offline_model: None) -> None:
    texts = ["Meet the new Nova Kettle", "Boils a cup in 45 seconds", ""]
    vectors = embed_texts(texts)
    assert vectors.shape == (3, EMBEDDING_DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embed_texts(texts[:1]), vectors[:1], atol=1e-5)  # deterministic, batch-independent
    assert embed_texts([]).shape == (0, EMBEDDING_DIM)


def test_embeddings_place_similar_copy_closer(offline_model: None) -> None:
    kettle, kettle2, vacuum = embed_texts(
        ["A fast electric kettle for tea", "Boil water for your tea quickly", "A cordless vacuum for pet hair"]
    )
    assert kettle @ kettle2 > kettle @ vacuum


def test_embeddings_refuse_non_strings(offline_model: None) -> None:
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        embed_texts(["ok", 3])  # type: ignore[list-item]
