"""Galaxy Home's product catalogue and brand rules (shared by creatives and the content corpus).

Galaxy Home is a direct-to-consumer retailer of small home and kitchen
appliances sold online in four UK regions. Everything here is fictional.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BANNED_PHRASES",
    "BRAND_COLOUR",
    "DISCLAIMER_TRIGGERS",
    "MAX_HEADLINE_CHARS",
    "PRODUCTS",
    "REQUIRED_DISCLAIMERS",
    "TONE_RULES",
    "Product",
]


@dataclass(frozen=True)
class Product:
    """One catalogue item."""

    sku: str
    name: str
    category: str
    price: float
    tagline: str
    features: tuple[str, ...]


PRODUCTS: tuple[Product, ...] = (
    Product(
        "GH-101",
        "Nova Kettle",
        "kitchen",
        59.0,
        "Boils a cup in 45 seconds",
        (
            "1.5 litre capacity",
            "Five temperature presets for tea and coffee",
            "Keep-warm for 30 minutes",
            "Brushed steel with a cool-touch handle",
        ),
    ),
    Product(
        "GH-102",
        "Orbit Coffee Grinder",
        "kitchen",
        89.0,
        "Fresh grounds, every morning",
        (
            "40 grind settings from espresso to cafetiere",
            "Conical steel burrs",
            "Quiet motor under 60 dB",
            "Removable hopper for easy cleaning",
        ),
    ),
    Product(
        "GH-103",
        "Pulsar Blender",
        "kitchen",
        129.0,
        "Smoothies in one press",
        ("1200 W motor", "Self-cleaning programme", "BPA-free 1.8 litre jug", "Six-blade stainless assembly"),
    ),
    Product(
        "GH-201",
        "Comet Air Purifier",
        "home",
        199.0,
        "Cleaner air in every room",
        ("True HEPA H13 filter", "Covers rooms up to 40 square metres", "Sleep mode at 22 dB", "Filter-life indicator"),
    ),
    Product(
        "GH-202",
        "Nebula Desk Lamp",
        "home",
        49.0,
        "Light that follows your day",
        ("Adjustable colour temperature 2700-6500 K", "USB-C charging port", "Touch dimmer", "Energy class A"),
    ),
    Product(
        "GH-203",
        "Aurora Smart Bulb (4 pack)",
        "home",
        39.0,
        "Sixteen million colours, one app",
        ("Works with the Galaxy Home app", "Schedules and scenes", "Up to 25,000 hours life", "E27 and B22 fittings"),
    ),
    Product(
        "GH-301",
        "Meteor Cordless Vacuum",
        "cleaning",
        279.0,
        "Up to 60 minutes of power",
        ("Removable battery", "Anti-tangle brush bar", "Whole-machine filtration", "Converts to a handheld"),
    ),
    Product(
        "GH-302",
        "Quasar Robot Mop",
        "cleaning",
        349.0,
        "Floors done while you are out",
        ("Lidar mapping", "Auto-empty dock", "No-go zones in the app", "Carpet detection"),
    ),
    Product(
        "GH-401",
        "Stellar Bluetooth Speaker",
        "audio",
        99.0,
        "Room-filling sound, pocket-sized",
        ("20 hours battery", "IP67 waterproof", "Stereo pairing", "Built-in microphone"),
    ),
    Product(
        "GH-402",
        "Halo Sleep Headphones",
        "audio",
        79.0,
        "Soft sound for better sleep",
        (
            "Ultra-thin speakers in a washable band",
            "Ten hours playback",
            "White-noise library",
            "Side-sleeper friendly",
        ),
    ),
)

#: Phrases the brand never uses (legal and tone reasons).
BANNED_PHRASES: tuple[str, ...] = (
    "guaranteed results",
    "best in the world",
    "risk-free",
    "cheapest ever",
    "miracle",
    "act now",
    "100% safe",
    "once in a lifetime",
)

#: Disclaimers that must accompany certain claims.
REQUIRED_DISCLAIMERS: dict[str, str] = {
    "price or discount": "Prices include VAT. Offer ends on the date shown; while stocks last.",
    "free delivery": "Free standard UK mainland delivery on orders over £40.",
    "subscription": "Cancel any time in your account. Renews monthly until cancelled.",
    "comparison": "Based on Galaxy Home lab tests; results vary with use.",
    "battery": "Battery life varies with use and settings.",
}

#: When copy needs a disclaimer: (key of :data:`REQUIRED_DISCLAIMERS`, product categories (empty = all),
#: regular expressions over the copy). ``parameters/brand.yaml`` states the same rules for the guardrails.
DISCLAIMER_TRIGGERS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("price or discount", (), (r"£\s?\d", r"\d+\s?%", r"\bsave\b", r"\boff\b")),
    ("free delivery", (), (r"\bfree delivery\b",)),
    ("battery", ("cleaning",), (r"\bbattery\b", r"\bcordless\b", r"\bminutes of power\b")),
)

TONE_RULES: tuple[str, ...] = (
    "Warm, clear and confident; never pushy or fear-based.",
    "British English spelling (colour, organise, programme).",
    "Sentence case for headlines; no words in ALL CAPS.",
    "Headlines at most 45 characters.",
    "Talk about what the product does for the customer, with one concrete fact.",
    "No superlatives we cannot prove (best, cheapest, fastest) and none of the banned phrases.",
    "Use 'we' for Galaxy Home and 'you' for the customer.",
)

BRAND_COLOUR: str = "purple"
MAX_HEADLINE_CHARS: int = 45
