"""The brand file (``parameters/brand.yaml``): palette, type, copy rules and platform specs.

One file holds every rule a creative is checked against, so a brand team changes
a rule without touching code. It is validated into :class:`BrandRules` when it is
loaded: an invalid colour, an unknown rule, a disclaimer pattern that is not a
regular expression or a platform without sizes fails at once with the field, the
value and what would fix it (:class:`BrandFileError`).

The fields are documented on the models below and in the README section
"The brand file".
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from galaxy_lib.core.config import GalaxyConfig, error_parts

__all__ = [
    "RULES",
    "BrandFileError",
    "BrandRules",
    "Disclaimer",
    "Platform",
    "hex_to_rgb",
    "load_brand",
    "parse_ratio",
]

#: Every guardrail rule, in the order results are shown. ``rules:`` in the brand file
#: switches a subset on; a name outside this tuple is refused.
RULES: tuple[str, ...] = (
    "readable_image",
    "platform_known",
    "aspect_ratio",
    "pixel_size",
    "file_size",
    "palette",
    "contrast",
    "logo",
    "text_present",
    "headline_length",
    "banned_words",
    "claims",
    "disclaimer",
)

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


class BrandFileError(ValueError):
    """The brand file is missing or invalid; the message names the field and the fix."""


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    """``"#8E44AD"`` -> ``(142, 68, 173)``; raises ``ValueError`` naming the expected form."""
    match = _HEX.match(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a colour: write it as six hex digits, e.g. '#8E44AD'")
    digits = match.group(1)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _colour(value: str) -> str:
    r, g, b = hex_to_rgb(value)
    return f"#{r:02X}{g:02X}{b:02X}"


Colour = Annotated[str, AfterValidator(_colour)]


def parse_ratio(value: str) -> float:
    """``"16:9"`` -> ``1.777...`` (width over height); raises ``ValueError`` naming the expected form."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*", str(value))
    if match is None or float(match.group(2)) == 0 or float(match.group(1)) == 0:
        raise ValueError(f"{value!r} is not an aspect ratio: write width:height, e.g. '16:9'")
    return float(match.group(1)) / float(match.group(2))


def _ratio(value: str) -> str:
    parse_ratio(value)
    return str(value).replace(" ", "")


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"{value!r} is not a regular expression ({err})") from None
    return value


Ratio = Annotated[str, AfterValidator(_ratio)]
Pattern = Annotated[str, AfterValidator(_pattern)]


class Platform(GalaxyConfig):
    """What one platform accepts, and the sizes variants are made at.

    Attributes
    ----------
    aspect_ratios
        Accepted width:height ratios (``"1:1"``, ``"9:16"``); an image within
        ``aspect_tolerance`` (relative) of one of them passes.
    variant_sizes
        ``[width, height]`` pixel sizes the variant generator renders for this platform;
        each must match one of ``aspect_ratios``.
    min_side, max_side
        Bounds on the shorter and the longer side, in pixels.
    max_file_kb
        Largest file the platform takes, in KiB.
    """

    aspect_ratios: list[Ratio] = Field(min_length=1)
    variant_sizes: list[tuple[int, int]] = Field(min_length=1)
    min_side: int = Field(200, ge=1)
    max_side: int = Field(4096, ge=1)
    max_file_kb: float = Field(1024.0, gt=0)
    aspect_tolerance: float = Field(0.02, ge=0, le=0.5)

    @model_validator(mode="after")
    def _sizes_fit(self) -> Platform:
        if self.min_side > self.max_side:
            raise ValueError(f"min_side ({self.min_side}) must not exceed max_side ({self.max_side})")
        for w, h in self.variant_sizes:
            if w <= 0 or h <= 0:
                raise ValueError(f"variant size [{w}, {h}] must be positive")
            if not self.accepts_ratio(w / h):
                raise ValueError(
                    f"variant size [{w}, {h}] (ratio {w / h:.3f}) matches none of aspect_ratios "
                    f"{self.aspect_ratios}: add its ratio or change the size"
                )
        return self

    @cached_property
    def ratios(self) -> tuple[float, ...]:
        """The accepted ratios as numbers (width over height)."""
        return tuple(parse_ratio(r) for r in self.aspect_ratios)

    def accepts_ratio(self, ratio: float) -> bool:
        """Whether ``ratio`` (width over height) is within tolerance of an accepted ratio."""
        return any(abs(ratio - r) / r <= self.aspect_tolerance for r in self.ratios)


class Disclaimer(GalaxyConfig):
    """A disclaimer the copy must carry when the creative is in ``categories`` and its copy matches ``when``.

    Attributes
    ----------
    name
        Short name shown in guardrail results (``price_or_discount``).
    text
        The required wording; the creative's copy must contain it (case and spacing ignored).
    categories
        Product categories it applies to; empty means every category.
    when
        Regular expressions over the copy (headline, body, call to action); the disclaimer
        is required when any matches. Empty means always (for the categories above).
    """

    name: str = Field(min_length=1)
    text: str = Field(min_length=1)
    categories: list[str] = []
    when: list[Pattern] = []


class Fonts(GalaxyConfig):
    """Font files for headline and body: a path (absolute or relative to the brand file) or a font name.

    A name is looked up among the fonts matplotlib ships and the system's fonts, never downloaded.
    """

    headline: str = "DejaVuSans-Bold.ttf"
    body: str = "DejaVuSans.ttf"


class Logo(GalaxyConfig):
    """The logo file and how it is placed and detected.

    Attributes
    ----------
    file
        PNG of the logo (relative to the brand file), with transparency where it has none.
    size
        Logo width as a share of the creative's shorter side when the generator places it.
    margin
        Gap to the image edge as a share of the shorter side.
    corner
        Where the generator places it: ``bottom_right``, ``bottom_left``, ``top_right``, ``top_left``.
    min_match
        Normalised cross-correlation (0-1) above which the logo counts as present.
    """

    file: str = "brand/galaxy_logo.png"
    size: float = Field(0.22, gt=0, lt=1)
    margin: float = Field(0.05, ge=0, lt=0.5)
    corner: str = Field("bottom_right", pattern=r"^(bottom|top)_(left|right)$")
    min_match: float = Field(0.7, gt=0, le=1)


class BrandRules(GalaxyConfig):
    r"""A validated brand file (see the module docstring and the README section "The brand file").

    Attributes
    ----------
    name
        The brand's name, shown in reports.
    palette
        Named brand colours (``"#8E44AD"``). A creative's dominant colour further than
        ``palette_tolerance`` (CIEDE2000) from every one fails ``palette``.
    text_colours
        Colours the generator may set text in (names of ``palette`` entries).
    min_contrast
        Smallest WCAG 2.x contrast ratio of text over its background (4.5 is AA for body text).
    max_headline_chars
        Longest headline, in characters.
    banned_phrases
        Words and phrases the brand never uses (case-insensitive, whole words).
    claims
        Regular expressions of unprovable claims (``'\bbest\b'`` in YAML single quotes); a match fails ``claims``.
    disclaimers
        Disclaimers required by product category and copy (:class:`Disclaimer`).
    platforms
        Platform name -> :class:`Platform`.
    rules
        The guardrail rules switched on (names from :data:`RULES`); all by default.
    source
        The file the rules were read from (set by :func:`load_brand`).
    """

    name: str = Field(min_length=1)
    palette: dict[str, Colour] = Field(min_length=1)
    palette_tolerance: float = Field(12.0, gt=0, le=100)
    text_colours: list[str] = Field(min_length=1)
    min_contrast: float = Field(4.5, ge=1, le=21)
    max_headline_chars: int = Field(45, ge=1)
    fonts: Fonts = Fonts()
    logo: Logo = Logo()
    banned_phrases: list[str] = []
    claims: list[Pattern] = []
    disclaimers: list[Disclaimer] = []
    platforms: dict[str, Platform] = Field(min_length=1)
    rules: list[str] = list(RULES)
    source: str = ""

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, rules: list[str]) -> list[str]:
        unknown = [r for r in rules if r not in RULES]
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}: the rules are {', '.join(RULES)}")
        return rules

    @model_validator(mode="after")
    def _text_colours_in_palette(self) -> BrandRules:
        missing = [c for c in self.text_colours if c not in self.palette]
        if missing:
            raise ValueError(
                f"text_colours {missing} are not palette names: use names of palette ({', '.join(self.palette)})"
            )
        return self

    @property
    def palette_rgb(self) -> dict[str, tuple[int, int, int]]:
        """Palette as RGB triples."""
        return {name: hex_to_rgb(value) for name, value in self.palette.items()}

    @property
    def folder(self) -> Path:
        """Folder relative paths in the brand file are resolved against."""
        return Path(self.source).parent if self.source else Path.cwd()

    def platform(self, name: str) -> Platform:
        """Return the spec of platform ``name``; ``KeyError`` names the known platforms."""
        try:
            return self.platforms[name]
        except KeyError:
            raise KeyError(f"unknown platform {name!r}: the brand file knows {', '.join(self.platforms)}") from None

    def font_path(self, role: str) -> Path:
        """Font file for ``role`` (``headline`` or ``body``): a path, or a name found among installed fonts."""
        value = getattr(self.fonts, role)
        path = Path(value) if Path(value).is_absolute() else self.folder / value
        if path.is_file():
            return path
        from matplotlib import font_manager  # installed with the plotting stack; only its font list is used

        for candidate in (Path(font_manager.__file__).parent / "mpl-data" / "fonts" / "ttf" / value,):
            if candidate.is_file():
                return candidate
        for found in font_manager.findSystemFonts():
            if Path(found).name == value or Path(found).stem == value:
                return Path(found)
        raise BrandFileError(
            f"{self.source or 'brand file'}: fonts.{role}: font {value!r} was not found as a file next to the "
            "brand file or among installed fonts: give a path to a .ttf/.otf file"
        )

    def logo_path(self) -> Path:
        """Return the logo PNG's path; :class:`BrandFileError` when it is missing."""
        path = Path(self.logo.file) if Path(self.logo.file).is_absolute() else self.folder / self.logo.file
        if not path.is_file():
            raise BrandFileError(
                f"{self.source or 'brand file'}: logo.file: {path} does not exist: give the path of the logo PNG"
            )
        return path


def load_brand(path: str | Path) -> BrandRules:
    """Read and validate a brand file.

    Parameters
    ----------
    path
        YAML file, e.g. ``parameters/brand.yaml``.

    Raises
    ------
    BrandFileError
        When the file is missing, is not YAML, or a field is invalid (each problem on its own line,
        named by its place in the file).
    """
    path = Path(path)
    if not path.is_file():
        raise BrandFileError(f"brand file {path} does not exist: pass brand_file= the path of a brand YAML file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise BrandFileError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise BrandFileError(f"{path} must be a mapping of brand fields (name, palette, platforms, ...)")
    try:
        return BrandRules.model_validate({**raw, "source": str(path.resolve())})
    except ValidationError as err:
        lines = [f"Invalid brand file {path}:"]
        for e in err.errors():
            where, message = error_parts(e)
            if e["type"] == "extra_forbidden":
                lines.append(f"  - {where}: unknown field; remove it or check its spelling.")
            else:
                lines.append(f"  - {where or 'brand'}: {message}.")
        raise BrandFileError("\n".join(lines)) from None
