"""Copy templates: headline, body and call to action with ``{placeholder}`` fields filled from the catalogue.

A template is written once by the brand team (``{name}: {tagline}``,
``From £{price:.0f}. {feature_1}.``) and filled for every product from a catalogue
row (a mapping with ``sku``, ``name``, ``category``, ``price``, ``tagline``,
``feature_1`` ... ``feature_4``). Placeholders follow :meth:`str.format` with plain
field names only (no ``{name.attr}`` or ``{name[0]}``: a template cannot reach
into Python objects), and any format spec (``{price:.0f}``).

The copy a product gets also decides which of the brand's disclaimers it must
carry (:func:`required_disclaimers`): a price in the copy brings the price
disclaimer, a battery claim on a cleaning product the battery one.

The last section sets filled copy in type for a variant (:func:`fit_copy`,
:func:`draw_copy`): the brand's fonts, the largest size that fits an area, and the
text colour with the best WCAG contrast (:func:`best_text_colour`).
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from PIL import ImageDraw, ImageFont
from pydantic import Field, ValidationError

from galaxy_lib.core.config import GalaxyConfig, error_parts
from galaxy_lib.creative import images
from galaxy_lib.creative.brand import BrandRules, hex_to_rgb
from galaxy_lib.creative.copy import required_disclaimers
from galaxy_lib.creative.ids import json_id, text_id

__all__ = [
    "COPY_FIELDS",
    "DEFAULT_TEMPLATES",
    "MIN_TYPE_PX",
    "TYPE_SIZES",
    "ContrastError",
    "CopyLayout",
    "CopyTemplate",
    "FilledCopy",
    "TemplateError",
    "TextBlock",
    "best_text_colour",
    "button_colour",
    "contrast_ratio",
    "disclaimer_text",
    "draw_copy",
    "fill_template",
    "fit_copy",
    "load_templates",
    "placeholders",
]

#: The parts of a template, in the order they are filled and shown.
COPY_FIELDS: tuple[str, ...] = ("headline", "body", "cta")
_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template cannot be read or filled; the message names the template, the field and the fix."""


class CopyTemplate(GalaxyConfig):
    """One copy template.

    Attributes
    ----------
    name
        Short unique name (``benefit``, ``price``), shown in tables.
    headline, body, cta
        Text with ``{placeholder}`` fields in :meth:`str.format` style, e.g.
        ``"{name}: {tagline}"`` or ``"From £{price:.0f}. {feature_1}."``.
    version
        Bumped when the wording changes, so results of the old wording stay apart.
    """

    name: str = Field(min_length=1)
    headline: str = Field(min_length=1)
    body: str = ""
    cta: str = Field(min_length=1)
    version: int = Field(1, ge=1)

    @cached_property
    def template_id(self) -> str:
        """Content id (``tpl-...``) of the name, the three texts and the version."""
        return json_id("template", self.model_dump())


@dataclass(frozen=True)
class FilledCopy:
    """A template filled for one product.

    Attributes
    ----------
    template_id
        Id of the template it came from.
    headline, body, cta
        The filled texts.
    copy_id
        :func:`~galaxy_lib.creative.ids.text_id` of headline, body and call to action joined by newlines.
    """

    template_id: str
    headline: str
    body: str
    cta: str
    copy_id: str

    @property
    def text(self) -> str:
        """Headline, body and call to action joined by newlines (what ``copy_id`` hashes)."""
        return "\n".join((self.headline, self.body, self.cta))


#: On-brand templates used when none are given: a benefit, a price, a feature and an introduction.
#: Every headline stays within 45 characters for every catalogue product, none uses a banned phrase
#: or an unprovable claim; the price template brings the price disclaimer.
DEFAULT_TEMPLATES: tuple[CopyTemplate, ...] = (
    CopyTemplate(name="benefit", headline="{tagline}", body="{name}. {feature_1}. {feature_2}.", cta="Shop now"),
    CopyTemplate(
        name="price", headline="{name} from £{price:.0f}", body="{tagline}. {feature_1}.", cta="See the offer"
    ),
    CopyTemplate(name="feature", headline="{feature_1}", body="{tagline}, with the {name}.", cta="Find out more"),
    CopyTemplate(name="meet", headline="Meet the {name}", body="{tagline}. {feature_3}.", cta="Discover more"),
)


def placeholders(text: str) -> list[tuple[str, str]]:
    """List the ``(field name, format spec)`` pairs of a template text, in order.

    Raises
    ------
    ValueError
        When the text is not a valid format string (an unmatched brace), uses a positional
        ``{}`` placeholder or reaches into an object (``{name.upper}``, ``{features[0]}``).
    """
    found: list[tuple[str, str]] = []
    for _literal, field, spec, _conversion in _FORMATTER.parse(text):
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise ValueError("positional placeholder '{}': name a catalogue field, e.g. {name}")
        if not field.isidentifier():
            raise ValueError(f"placeholder {{{field}}}: use a plain field name, e.g. {{name}}, without . or []")
        if spec and "{" in spec:
            raise ValueError(f"placeholder {{{field}:{spec}}}: nested placeholders in a format spec are not allowed")
        found.append((field, spec or ""))
    return found


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fill(template: CopyTemplate, part: str, product: Mapping[str, Any]) -> str:
    text = getattr(template, part)
    where = f"template {template.name!r} (v{template.version}), field {part}"
    try:
        fields = placeholders(text)
    except ValueError as err:
        raise TemplateError(f"{where}: {text!r} is not a valid template text: {err}") from None
    available = ", ".join(sorted(map(str, product))) or "(none)"
    for field, _spec in fields:
        if field not in product:
            raise TemplateError(
                f"{where}: placeholder {{{field}}} is not a catalogue field. Available fields: {available}. "
                "Fix the placeholder's spelling or add the column to the catalogue."
            )
        if _missing(product[field]):
            raise TemplateError(
                f"{where}: placeholder {{{field}}} is empty for product {product.get('sku', '?')!r}: "
                "fill the catalogue value or use another template for this product"
            )
    values = {field: product[field] for field, _ in fields}
    try:
        filled = _FORMATTER.vformat(text, (), values)
    except (ValueError, TypeError) as err:
        bad = ", ".join(f"{{{f}:{s}}} = {values[f]!r}" for f, s in fields if s)
        raise TemplateError(f"{where}: {text!r} cannot be formatted ({err}); check the format specs {bad}") from None
    return " ".join(filled.split())


def fill_template(template: CopyTemplate, product: Mapping[str, Any]) -> FilledCopy:
    """Fill a template's headline, body and call to action from one catalogue row.

    Parameters
    ----------
    template
        The template.
    product
        One catalogue row (``sku``, ``name``, ``category``, ``price``, ``tagline``, ``feature_1`` ...),
        e.g. ``row.to_dict()`` of the products table.

    Returns
    -------
    FilledCopy
        The texts (runs of whitespace collapsed) and their ids.

    Raises
    ------
    TemplateError
        When a placeholder is not in ``product`` (the message names the template, the field,
        the placeholder and lists the available fields), is empty (None or NaN) for this product,
        or the text is not a valid format string.

    Examples
    --------
    >>> t = CopyTemplate(name="price", headline="{name} from £{price:.0f}", cta="Shop now")
    >>> fill_template(t, {"name": "Nova Kettle", "price": 59.0}).headline
    'Nova Kettle from £59'
    """
    texts = {part: _fill(template, part, product) for part in COPY_FIELDS}
    copy_id = text_id("\n".join(texts[p] for p in COPY_FIELDS))
    return FilledCopy(template_id=template.template_id, copy_id=copy_id, **texts)


def disclaimer_text(copy: FilledCopy | str, category: str, brand: BrandRules) -> str:
    """Join the wording of the disclaimers the copy calls for by spaces (empty when none applies).

    Which disclaimers apply is :func:`galaxy_lib.creative.copy.required_disclaimers`, the rule the
    guardrails check, so generated copy carries exactly what the guardrails ask for.
    """
    text = copy.text if isinstance(copy, FilledCopy) else str(copy)
    return " ".join(d.text for d in required_disclaimers(text, category, brand))


def _entries(source: str | Path | Iterable[Any]) -> tuple[str, list[Any]]:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise TemplateError(f"template file {path} does not exist: pass the path of a YAML list of templates")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise TemplateError(f"{path} is not valid YAML: {err}") from None
        if isinstance(raw, dict) and "templates" in raw:
            raw = raw["templates"]
        if not isinstance(raw, list):
            raise TemplateError(f"{path} must be a YAML list of templates (name, headline, body, cta, version)")
        return str(path), raw
    return "templates", list(source)


def load_templates(source: str | Path | Iterable[CopyTemplate | Mapping[str, Any]]) -> list[CopyTemplate]:
    """Read and check copy templates.

    Parameters
    ----------
    source
        A YAML file holding a list of templates (or a mapping with a ``templates`` list), or a list
        of :class:`CopyTemplate` or mappings. Each entry has ``name``, ``headline``, ``body``, ``cta``
        and optionally ``version``.

    Returns
    -------
    list of CopyTemplate
        In the order given.

    Raises
    ------
    TemplateError
        When the file is missing or not a list, an entry has a missing or unknown field, a text is
        not a valid template (the message names the entry, the template and the field), or two
        templates share a name.
    """
    where, raw = _entries(source)
    templates: list[CopyTemplate] = []
    for i, entry in enumerate(raw):
        if isinstance(entry, CopyTemplate):
            template = entry
        else:
            if not isinstance(entry, Mapping):
                raise TemplateError(f"{where}[{i}]: a template must be a mapping of name, headline, body, cta")
            try:
                template = CopyTemplate.model_validate(dict(entry))
            except ValidationError as err:
                label = f"{where}[{i}] ({entry.get('name', 'unnamed')!r})"
                lines = [f"Invalid template {label}:"]
                for e in err.errors():
                    field, message = error_parts(e)
                    if e["type"] == "extra_forbidden":
                        message = f"unknown field; the fields are {', '.join(CopyTemplate.model_fields)}"
                    lines.append(f"  - {field}: {message}.")
                raise TemplateError("\n".join(lines)) from None
        for part in COPY_FIELDS:
            try:
                placeholders(getattr(template, part))
            except ValueError as err:
                raise TemplateError(f"{where}[{i}]: template {template.name!r}, field {part}: {err}") from None
        templates.append(template)
    names = [t.name for t in templates]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise TemplateError(f"{where}: template names must be unique; {duplicated} appear more than once")
    return templates


# --------------------------------------------------------------------------- setting copy in type

Box = tuple[int, int, int, int]
#: Starting type sizes as a share of the variant's shorter side, and the smallest sizes (px) type shrinks to.
TYPE_SIZES: dict[str, float] = {"headline": 0.08, "body": 0.042, "cta": 0.04, "disclaimer": 0.024}
MIN_TYPE_PX: dict[str, int] = {"headline": 12, "body": 10, "cta": 10, "disclaimer": 10}
_MAX_LINES = {"headline": 2, "body": 3}
_FONT_ROLE = {"headline": "headline", "cta": "headline", "body": "body", "disclaimer": "body"}


class ContrastError(ValueError):
    """No brand text colour is readable over a background; the message lists the contrasts and the fix."""


def contrast_ratio(a: str | Sequence[int], b: str | Sequence[int]) -> float:
    """WCAG 2.x contrast ratio (1-21) of two colours given as ``#RRGGBB`` or RGB triples."""
    return images.contrast_ratio(*(hex_to_rgb(c) if isinstance(c, str) else c for c in (a, b)))


def best_text_colour(background: str, brand: BrandRules) -> tuple[str, float]:
    """Pick the brand text colour (hex) with the highest WCAG contrast over ``background`` (hex).

    Returns
    -------
    tuple of (str, float)
        The colour and its contrast ratio.

    Raises
    ------
    ContrastError
        When none reaches ``brand.min_contrast``.
    """
    scored = sorted(((contrast_ratio(brand.palette[n], background), n) for n in brand.text_colours), reverse=True)
    contrast, name = scored[0]
    if contrast < brand.min_contrast:
        tried = ", ".join(f"{n} {c:.2f}" for c, n in scored)
        raise ContrastError(
            f"no brand text colour reaches min_contrast {brand.min_contrast} over {background} ({tried}): "
            "choose another band colour or add a text colour to text_colours"
        )
    return brand.palette[name], contrast


def button_colour(band: str, brand: BrandRules) -> str:
    """Pick the palette colour (hex, not the band's) that stands out most from ``band`` and takes readable text.

    Raises
    ------
    ContrastError
        When no other palette colour takes a brand text colour at ``brand.min_contrast``.
    """

    def readable(colour: str) -> bool:
        return max(contrast_ratio(brand.palette[n], colour) for n in brand.text_colours) >= brand.min_contrast

    scored = [(contrast_ratio(c, band), c) for c in brand.palette.values() if c != band and readable(c)]
    if not scored:
        raise ContrastError(f"no palette colour besides the band {band} takes a brand text colour at min_contrast")
    return max(scored)[1]


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, max_lines: int | None) -> list[str] | None:
    """Greedy word wrap; None when a word is wider than ``width`` or more than ``max_lines`` are needed."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if font.getlength(trial) <= width:
            current = trial
            continue
        if not current or font.getlength(word) > width:
            return None
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    return None if max_lines is not None and len(lines) > max_lines else lines


@dataclass(frozen=True)
class TextBlock:
    """Lines set in one font and size."""

    lines: tuple[str, ...]
    font: ImageFont.FreeTypeFont
    size: int

    @property
    def line_height(self) -> int:
        """Distance between baselines, in pixels."""
        ascent, descent = self.font.getmetrics()
        return ascent + descent + round(0.12 * self.size)

    @property
    def height(self) -> int:
        """Height of all the lines, in pixels."""
        return self.line_height * len(self.lines) - round(0.12 * self.size) if self.lines else 0


@dataclass(frozen=True)
class CopyLayout:
    """Copy set to fit an area: the blocks, the button's ``(width, height)`` and the heights used."""

    headline: TextBlock
    body: TextBlock
    cta: TextBlock
    disclaimer: TextBlock
    button: tuple[int, int]
    main_height: int
    height: int


def _try_layout(texts: Mapping[str, str], fonts: Mapping[str, str], sizes: Mapping[str, int], box: Box):
    width, height = box[2] - box[0], box[3] - box[1]
    blocks = {}
    for part in ("headline", "body", "disclaimer"):
        size = sizes[part]
        while True:  # the headline alone shrinks further to fit its two lines
            font = _font(fonts[part], size)
            lines = _wrap(texts[part], font, width, _MAX_LINES.get(part))
            if lines is not None or part != "headline" or size <= MIN_TYPE_PX[part]:
                break
            size -= 1
        if lines is None:
            return None
        blocks[part] = TextBlock(tuple(lines), font, size)
    cta_font = _font(fonts["cta"], sizes["cta"])
    ascent, descent = cta_font.getmetrics()
    button = (round(cta_font.getlength(texts["cta"]) + 1.8 * sizes["cta"]), ascent + descent + sizes["cta"])
    if button[0] > width:
        return None
    cta = TextBlock((texts["cta"],), cta_font, sizes["cta"])
    gap_body = round(0.45 * blocks["body"].size) if blocks["body"].lines else 0
    main = blocks["headline"].height + gap_body + blocks["body"].height + round(0.7 * cta.size) + button[1]
    disclaimer = blocks["disclaimer"]
    total = main + (round(0.8 * disclaimer.size) + disclaimer.height if disclaimer.lines else 0)
    if total > height:
        return None
    return CopyLayout(blocks["headline"], blocks["body"], cta, disclaimer, button, main, total)


def fit_copy(
    copy: FilledCopy, disclaimer: str, brand: BrandRules, short_side: int, area: Box, min_scale: float = 0.0
) -> CopyLayout | None:
    """Set the copy at the largest type that fits ``area``, or None when it does not fit.

    Type starts at :data:`TYPE_SIZES` of ``short_side`` and shrinks in 7% steps, never below
    :data:`MIN_TYPE_PX`; the headline (brand headline font, at most 2 lines) also shrinks on its own
    to fit the width, the body (body font) takes at most 3 lines, the disclaimer as many as it needs.

    Parameters
    ----------
    copy, disclaimer
        The texts.
    brand
        Supplies the fonts.
    short_side
        The variant's shorter side, in pixels.
    area
        ``(x0, y0, x1, y1)`` the copy must stay inside.
    min_scale
        Give up (return None) once the type would shrink below this share of its starting size.
    """
    texts = {"headline": copy.headline, "body": copy.body, "cta": copy.cta, "disclaimer": disclaimer}
    fonts = {part: str(brand.font_path(role)) for part, role in _FONT_ROLE.items()}
    scale = 1.0
    while True:
        sizes = {k: max(MIN_TYPE_PX[k], round(v * short_side * scale)) for k, v in TYPE_SIZES.items()}
        layout = _try_layout(texts, fonts, sizes, area)
        if layout is not None:
            return layout
        if all(sizes[k] == MIN_TYPE_PX[k] for k in sizes) or scale < min_scale:
            return None
        scale *= 0.93


def _draw_block(draw: ImageDraw.ImageDraw, block: TextBlock, x: int, y: int, fill: str) -> list[Box]:
    boxes = []
    for line in block.lines:
        draw.text((x, y), line, font=block.font, fill=fill, anchor="la")
        boxes.append(tuple(int(v) for v in draw.textbbox((x, y), line, font=block.font, anchor="la")))
        y += block.line_height
    return boxes


def draw_copy(
    draw: ImageDraw.ImageDraw, layout: CopyLayout, area: Box, text: str, button: str, button_text: str
) -> Box:
    """Draw a :class:`CopyLayout` in ``area`` and return the box around everything drawn.

    Headline, body and the call-to-action button (a rounded rectangle) are left-aligned and
    centred vertically in the room the disclaimer leaves; the disclaimer sits at the bottom.

    Parameters
    ----------
    draw
        Drawing context of the image.
    layout
        From :func:`fit_copy` for the same ``area``.
    area
        ``(x0, y0, x1, y1)`` to draw in.
    text, button, button_text
        ``#RRGGBB`` of the text, the button and the button's label.
    """
    x = area[0]
    y = area[1] + (area[3] - area[1] - layout.height) // 2  # (room above the disclaimer - main height) / 2
    boxes = _draw_block(draw, layout.headline, x, y, text)
    y += layout.headline.height
    if layout.body.lines:
        y += round(0.45 * layout.body.size)
        boxes += _draw_block(draw, layout.body, x, y, text)
        y += layout.body.height
    y += round(0.7 * layout.cta.size)
    bw, bh = layout.button
    draw.rounded_rectangle((x, y, x + bw, y + bh), radius=bh // 3, fill=button)
    draw.text((x + bw / 2, y + bh / 2), layout.cta.lines[0], font=layout.cta.font, fill=button_text, anchor="mm")
    boxes.append((x, y, x + bw, y + bh))
    if layout.disclaimer.lines:
        boxes += _draw_block(draw, layout.disclaimer, x, area[3] - layout.disclaimer.height, text)
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)
