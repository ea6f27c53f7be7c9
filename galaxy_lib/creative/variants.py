"""Ad variants from master product images and copy templates.

For every product, template, platform and size the generator crops the master
image around its salient object, sets the copy on a solid band in a brand colour,
adds the required disclaimers and the logo, and writes a PNG named by its
content id (``var-...``): the same inputs give byte-identical files and ids.

Layout of one variant (:func:`render_variant`):

* the canvas is split into a **picture** and a solid **band**. Wide sizes
  (width/height >= 1.5) get a band down the side away from the object (right when the
  object is in the master's left half), other sizes a band along the bottom (the top when
  the object sits in the master's lower 40%). The band starts at 38% of the canvas and
  grows (to 68%) only when the copy cannot be set at a readable size;
* the picture is a :func:`salient_crop` of the master to the picture's own size, so the
  band never covers the object;
* the logo sits in the band, in ``brand.logo.corner`` when that corner is in the band,
  otherwise in the band's corner on the same edge (a right-hand band moves ``bottom_left``
  to ``bottom_right``); the text area excludes the logo's rows or columns, whichever leaves
  more room;
* headline (brand headline font, at most 2 lines, shrunk to fit), body (at most 3 lines),
  a call-to-action button and the disclaimers (small type, at least 10 px) are set inside
  the text area, so text never leaves the image. Text colour is the brand text colour with
  the highest WCAG contrast over the band.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont, ImageOps
from skimage.color import rgb2lab
from skimage.filters import gaussian, sobel
from skimage.transform import integral_image

from galaxy_lib.creative.brand import BrandRules
from galaxy_lib.creative.ids import file_id
from galaxy_lib.creative.templates import (
    MIN_TYPE_PX,
    ContrastError,
    CopyTemplate,
    FilledCopy,
    TemplateError,
    best_text_colour,
    button_colour,
    disclaimer_text,
    draw_copy,
    fill_template,
    fit_copy,
    load_templates,
)

__all__ = [
    "PROBLEM_COLUMNS",
    "VARIANT_COLUMNS",
    "LayoutError",
    "RenderedVariant",
    "VariantBatch",
    "VariantError",
    "contact_sheet",
    "generate_variants",
    "parse_box",
    "render_variant",
    "saliency_map",
    "salient_crop",
]

#: Columns of :attr:`VariantBatch.table`. ``text_box`` and ``logo_box`` are ``"x0,y0,x1,y1"`` strings
#: (pixels, x1/y1 exclusive; :func:`parse_box` reads them back); colours are ``#RRGGBB``.
VARIANT_COLUMNS: tuple[str, ...] = tuple(
    "variant_id master_id template_id template_name template_version copy_id sku category platform width height "
    "path headline body cta disclaimer text_box logo_box band_colour text_colour file_kb".split()
)
#: Columns of :attr:`VariantBatch.problems`; an empty ``template`` or ``platform`` means "all of them".
PROBLEM_COLUMNS: tuple[str, ...] = ("sku", "template", "platform", "reason")

Box = tuple[int, int, int, int]
_BAND_SHARES = (0.38, 0.44, 0.50, 0.56, 0.62, 0.68)  # of the canvas; the band grows only when the copy does not fit
_MIN_SCALE = 0.55  # type shrinks to this share of its starting size before the band grows


class VariantError(ValueError):
    """Variants cannot be made as asked; the message names the input, the value and the fix."""


class LayoutError(VariantError):
    """The copy does not fit the size even on the largest band at the smallest type."""


@dataclass(frozen=True)
class RenderedVariant:
    """One rendered variant.

    Attributes
    ----------
    image
        The RGB image, exactly the requested size.
    text_box
        ``(x0, y0, x1, y1)`` around everything set in type (headline, body, button, disclaimer).
    band_colour, text_colour
        ``#RRGGBB`` of the band and of the text on it.
    logo_box
        ``(x0, y0, x1, y1)`` of the pasted logo.
    band_box
        ``(x0, y0, x1, y1)`` of the solid band.
    """

    image: Image.Image
    text_box: Box
    band_colour: str
    text_colour: str
    logo_box: Box
    band_box: Box


@dataclass(frozen=True)
class VariantBatch:
    """What :func:`generate_variants` made: one row per PNG (:data:`VARIANT_COLUMNS`) and the problems."""

    table: pd.DataFrame
    problems: pd.DataFrame


def _palette_colour(name: str, brand: BrandRules, what: str) -> str:
    if name not in brand.palette:
        raise VariantError(f"{what} {name!r} is not a palette colour: use one of {', '.join(brand.palette)}")
    return brand.palette[name]


# --------------------------------------------------------------------------- saliency and crop


def saliency_map(image: Image.Image, size: int = 128) -> np.ndarray:
    """Where the eye goes: a small saliency map of a product photo, values in [0, 1].

    Neither scikit-image nor Pillow ships a saliency detector (OpenCV's ``saliency`` module
    lives in opencv-contrib, which is not a dependency), so this is a small one suited to
    product shots on a plain backdrop: on a copy whose longer side is ``size`` px,

    1. *colour distinctness*: CIE76 distance (Euclidean, in CIELAB) from the median colour of the
       image border (the backdrop), less the border's own spread (its 95th percentile), so
       a gentle backdrop gradient scores zero;
    2. *edge energy*: Sobel magnitude of the lightness channel;

    combined as ``0.7 * distinctness + 0.3 * edges`` (each scaled to [0, 1]) and smoothed by
    a Gaussian (sigma 1.5 px) so a window's sum rewards whole objects rather than single edges.

    Parameters
    ----------
    image
        The master image (any mode; it is converted to RGB).
    size
        Longer side of the map, in pixels.

    Returns
    -------
    numpy.ndarray
        ``float`` array of shape ``(h, w)`` with the image's aspect ratio; all zeros for a flat image.
    """
    small = ImageOps.contain(image.convert("RGB"), (size, size), Image.Resampling.BILINEAR)
    lab = rgb2lab(np.asarray(small, dtype=float) / 255.0)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    distance = np.linalg.norm(lab - np.median(border, axis=0), axis=-1)
    border_spread = np.percentile(np.concatenate([distance[0], distance[-1], distance[:, 0], distance[:, -1]]), 95)
    distinct = np.clip(distance - border_spread, 0, None)
    edges = sobel(lab[..., 0])

    def unit(a: np.ndarray) -> np.ndarray:
        top = a.max()
        return a / top if top > 1e-6 else np.zeros_like(a)

    combined = gaussian(0.7 * unit(distinct) + 0.3 * unit(edges), sigma=1.5)
    return unit(np.where(combined > 1e-3, combined, 0.0))


def _salient_centre(saliency: np.ndarray) -> tuple[float, float]:
    total = saliency.sum()
    if total <= 0:
        return 0.5, 0.5
    ys, xs = np.indices(saliency.shape)
    h, w = saliency.shape
    return float((xs * saliency).sum() / total + 0.5) / w, float((ys * saliency).sum() / total + 0.5) / h


def _best_offset(cumulative: np.ndarray, scale: float, span: int, window: int) -> int:
    """Window start (master px) whose saliency sum is highest; the middle of a plateau of equal sums."""
    starts = np.arange(span - window + 1)
    grid = np.arange(len(cumulative))
    sums = np.interp((starts + window) * scale, grid, cumulative) - np.interp(starts * scale, grid, cumulative)
    best = sums.max()
    if best <= 0:
        return (span - window) // 2
    near = starts[sums >= best - 1e-3 * cumulative[-1]]
    return int(near[len(near) // 2])


def salient_crop(
    image: Image.Image, width: int, height: int, saliency: np.ndarray | None = None
) -> tuple[Image.Image, Box]:
    """Crop the largest window of ``width:height`` that keeps the most saliency, resized to ``(width, height)``.

    The window spans the master's full height (or width) and slides along the other axis; each
    position's saliency is read off the integral image of the downsampled :func:`saliency_map`.
    When several positions keep (nearly) all of it, the middle one is taken, which centres the object.

    Parameters
    ----------
    image
        The master image.
    width, height
        Output size in pixels.
    saliency
        A precomputed :func:`saliency_map` of ``image`` (computed when None).

    Returns
    -------
    tuple of (PIL.Image.Image, tuple of int)
        The RGB crop resized with LANCZOS, and the window ``(x0, y0, x1, y1)`` in master pixels.
    """
    if width <= 0 or height <= 0:
        raise VariantError(f"crop size ({width}, {height}) must be positive")
    rgb = image.convert("RGB")
    mw, mh = rgb.size
    smap = saliency_map(rgb) if saliency is None else saliency
    table = integral_image(smap)
    ratio = width / height
    if mw / mh > ratio:  # master is wider: full height, slide along x
        cw, ch = min(mw, round(mh * ratio)), mh
        x0 = _best_offset(np.concatenate([[0.0], table[-1, :]]), smap.shape[1] / mw, mw, cw)
        y0 = 0
    else:  # master is taller (or equal): full width, slide along y
        cw, ch = mw, min(mh, round(mw / ratio))
        x0 = 0
        y0 = _best_offset(np.concatenate([[0.0], table[:, -1]]), smap.shape[0] / mh, mh, ch)
    box = (x0, y0, x0 + cw, y0 + ch)
    return rgb.resize((width, height), Image.Resampling.LANCZOS, box=box), box


# --------------------------------------------------------------------------- type and layout


@lru_cache(maxsize=32)
def _logo(path: str, width: int) -> Image.Image:
    with Image.open(path) as logo:
        rgba = logo.convert("RGBA")
    return rgba.resize((width, max(1, round(width * rgba.height / rgba.width))), Image.Resampling.LANCZOS)


def _regions(size: tuple[int, int], side: str, share: float, brand: BrandRules, logo_size: tuple[int, int]):
    """Band box, picture box, logo box and text area for a band on ``side`` covering ``share`` of the canvas."""
    w, h = size
    short = min(w, h)
    margin = max(4, round(brand.logo.margin * short))
    if side in ("left", "right"):
        bw = round(w * share)
        band = (w - bw, 0, w, h) if side == "right" else (0, 0, bw, h)
        picture = (0, 0, w - bw, h) if side == "right" else (bw, 0, w, h)
    else:
        bh = round(h * share)
        band = (0, h - bh, w, h) if side == "bottom" else (0, 0, w, bh)
        picture = (0, 0, w, h - bh) if side == "bottom" else (0, bh, w, h)
    vertical, horizontal = brand.logo.corner.split("_")
    if side in ("top", "bottom"):
        vertical = side
    else:
        horizontal = side
    lw, lh = logo_size
    lx = band[2] - margin - lw if horizontal == "right" else band[0] + margin
    ly = band[3] - margin - lh if vertical == "bottom" else band[1] + margin
    logo = (lx, ly, lx + lw, ly + lh)
    inner = (band[0] + margin, band[1] + margin, band[2] - margin, band[3] - margin)
    gap = max(2, margin // 2)
    beside = (inner[0], inner[1], lx - gap, inner[3]) if horizontal == "right" else (logo[2] + gap, *inner[1:])
    if vertical == "bottom":
        above = (inner[0], inner[1], inner[2], ly - gap)
    else:
        above = (inner[0], logo[3] + gap, inner[2], inner[3])
    area = max((beside, above), key=lambda b: max(0, b[2] - b[0]) * max(0, b[3] - b[1]))
    return band, picture, logo, area


def render_variant(
    master: Image.Image,
    copy: FilledCopy,
    brand: BrandRules,
    size: tuple[int, int],
    disclaimer: str = "",
    *,
    band_colour: str = "galaxy_purple",
    saliency: np.ndarray | None = None,
) -> RenderedVariant:
    """Render one variant: salient crop, solid band with the copy, button, disclaimer and logo.

    The layout is described in the module docstring.

    Parameters
    ----------
    master
        The master product image.
    copy
        Filled copy (:func:`~galaxy_lib.creative.templates.fill_template`).
    brand
        The brand rules (palette, text colours, fonts, logo, minimum contrast).
    size
        ``(width, height)`` of the variant in pixels.
    disclaimer
        Required disclaimer wording (:func:`~galaxy_lib.creative.templates.disclaimer_text`), set in small type.
    band_colour
        Palette name of the band's colour.
    saliency
        A precomputed :func:`saliency_map` of ``master``.

    Returns
    -------
    RenderedVariant

    Raises
    ------
    VariantError
        When ``band_colour`` is not a palette name.
    ContrastError
        When no brand text colour reaches ``brand.min_contrast`` over the band.
    LayoutError
        When the copy does not fit even on the largest band at the smallest type.
    """
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise VariantError(f"variant size {size} must be two positive integers (width, height)")
    band_hex = _palette_colour(band_colour, brand, "band_colour")
    text_hex, _ = best_text_colour(band_hex, brand)
    button_hex = button_colour(band_hex, brand)
    button_text, _ = best_text_colour(button_hex, brand)
    smap = saliency_map(master) if saliency is None else saliency
    cx, cy = _salient_centre(smap)
    if w / h >= 1.5:
        side = "right" if cx <= 0.5 else "left"
    else:
        side = "top" if cy > 0.6 else "bottom"
    short = min(w, h)
    logo = _logo(str(brand.logo_path()), max(1, round(brand.logo.size * short)))
    layout = None
    for i, share in enumerate(_BAND_SHARES):
        band, picture, logo_box, area = _regions((w, h), side, share, brand, logo.size)
        if area[2] - area[0] > 0 and area[3] - area[1] > 0:
            min_scale = 0.0 if i == len(_BAND_SHARES) - 1 else _MIN_SCALE
            layout = fit_copy(copy, disclaimer, brand, short, area, min_scale)
        if layout is not None:
            break
    if layout is None:
        raise LayoutError(
            f"the copy of {copy.copy_id} ({len(copy.headline)}-character headline, {len(copy.body)}-character "
            f"body, {len(disclaimer)}-character disclaimer) does not fit {w}x{h} even on a "
            f"{_BAND_SHARES[-1]:.0%} band at {MIN_TYPE_PX['body']} px type: shorten the template's text"
        )
    canvas = Image.new("RGB", (w, h), band_hex)
    pw, ph = picture[2] - picture[0], picture[3] - picture[1]
    canvas.paste(salient_crop(master, pw, ph, smap)[0], picture[:2])
    canvas.paste(logo, logo_box[:2], logo)
    text_box = draw_copy(ImageDraw.Draw(canvas), layout, area, text_hex, button_hex, button_text)
    if text_box[0] < 0 or text_box[1] < 0 or text_box[2] > w or text_box[3] > h:
        raise LayoutError(f"text box {text_box} runs outside the {w}x{h} image")  # guarded by the fit; kept as a check
    return RenderedVariant(canvas, text_box, band_hex, text_hex, logo_box, band)


# --------------------------------------------------------------------------- batch


def parse_box(value: str) -> Box:
    """``"x0,y0,x1,y1"`` (a ``text_box`` or ``logo_box`` cell) -> ``(x0, y0, x1, y1)``."""
    parts = [int(v) for v in str(value).split(",")]
    if len(parts) != 4:
        raise ValueError(f"{value!r} is not a box: write four integers x0,y0,x1,y1")
    return parts[0], parts[1], parts[2], parts[3]


def _box_text(box: Box) -> str:
    return ",".join(str(int(v)) for v in box)


def _save_png(image: Image.Image, out_dir: Path, max_kb: float) -> tuple[Path, str, float, bool]:
    """Write ``image`` as ``<variant id>.png``; quantised to 256 colours when over ``max_kb``.

    Returns the path, the id, the size in KiB and whether it still exceeds ``max_kb``.
    """
    fd, name = tempfile.mkstemp(prefix=".variant-", suffix=".png", dir=out_dir)
    os.close(fd)
    tmp = Path(name)
    try:
        image.save(tmp, "PNG", optimize=True)
        if tmp.stat().st_size / 1024 > max_kb:
            image.quantize(colors=256).save(tmp, "PNG", optimize=True)
        variant_id = file_id("variant", tmp)
        kb = tmp.stat().st_size / 1024
        path = out_dir / f"{variant_id}.png"
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, variant_id, kb, kb > max_kb


def _read_master(value: Any) -> tuple[Image.Image, Path]:
    if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
        raise VariantError("no master_image: give the path of the product's master image")
    path = Path(str(value))
    if not path.is_file():
        raise VariantError(f"master image {path} does not exist: fix master_image or add the file")
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB"), path
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise VariantError(f"master image {path} cannot be read ({err}): replace the file") from None


def generate_variants(
    products: pd.DataFrame,
    templates: Sequence[CopyTemplate | Mapping[str, Any]] | str | Path,
    brand: BrandRules,
    out_dir: str | Path,
    platforms: Sequence[str] | None = None,
    band_colour: str = "galaxy_purple",
    progress: bool = False,
) -> VariantBatch:
    """Render every product x template x platform x variant size and write the PNGs.

    Each PNG is saved with ``optimize=True``; when it is larger than the platform's
    ``max_file_kb`` it is quantised to 256 colours and saved again, and if it is still too
    large the variant is kept (the ``file_size`` guardrail fails it) and a problem recorded.
    Files are named ``<variant_id>.png`` in ``out_dir``, ``variant_id`` being the content id
    of the file's bytes, so the same inputs give the same files and ids.

    Parameters
    ----------
    products
        Catalogue rows: ``sku``, ``name``, ``category``, ``master_image`` (path) and the fields the
        templates use (``price``, ``tagline``, ``feature_1`` ... ``feature_4``).
    templates
        Copy templates, or a YAML file of them (:func:`~galaxy_lib.creative.templates.load_templates`).
    brand
        The brand rules.
    out_dir
        Folder for the PNGs (created when missing).
    platforms
        Platform names to render for; all of the brand file's when None.
    band_colour
        Palette name of the text band's colour.
    progress
        Show a progress bar.

    Returns
    -------
    VariantBatch
        ``table`` with :data:`VARIANT_COLUMNS` (one row per PNG, in product, template, platform,
        size order) and ``problems`` with :data:`PROBLEM_COLUMNS`: a missing or unreadable master,
        an unknown platform, a template placeholder the catalogue lacks, copy that does not fit a
        size, or a file over the size limit. One bad item never stops the batch.

    Raises
    ------
    VariantError
        When ``products`` lacks a required column, or ``band_colour`` is not a palette colour
        or takes no text colour at ``brand.min_contrast``.
    """
    from tqdm.auto import tqdm

    missing = [c for c in ("sku", "name", "category", "master_image") if c not in products.columns]
    if missing:
        raise VariantError(f"products lacks column(s) {missing}: the catalogue needs sku, name, category, master_image")
    best_text_colour(_palette_colour(band_colour, brand, "band_colour"), brand)
    templates = load_templates(templates)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    problems: list[dict[str, str]] = []
    sizes: list[tuple[str, tuple[int, int], float]] = []
    for name in brand.platforms if platforms is None else platforms:
        if name not in brand.platforms:
            reason = f"unknown platform {name!r}: the brand file knows {', '.join(brand.platforms)}"
            problems.append({"sku": "", "template": "", "platform": name, "reason": reason})
            continue
        spec = brand.platforms[name]
        sizes += [(name, (int(w), int(h)), spec.max_file_kb) for w, h in spec.variant_sizes]
    rows: list[dict[str, Any]] = []
    bar = tqdm(total=len(products) * len(templates) * len(sizes), desc="variants", disable=not progress)
    for product in products.to_dict("records"):
        sku = str(product["sku"])
        try:
            master, master_path = _read_master(product["master_image"])
        except VariantError as err:
            problems.append({"sku": sku, "template": "", "platform": "", "reason": str(err)})
            bar.update(len(templates) * len(sizes))
            continue
        master_id = file_id("master", master_path)
        smap = saliency_map(master)
        for template in templates:
            try:
                copy = fill_template(template, product)
            except TemplateError as err:
                problems.append({"sku": sku, "template": template.name, "platform": "", "reason": str(err)})
                bar.update(len(sizes))
                continue
            disclaimer = disclaimer_text(copy, str(product["category"]), brand)
            per_copy = {"master_id": master_id, "template_id": template.template_id, "template_name": template.name}
            per_copy |= {"template_version": template.version, "copy_id": copy.copy_id, "sku": sku}
            per_copy |= {"category": str(product["category"]), "headline": copy.headline, "body": copy.body}
            per_copy |= {"cta": copy.cta, "disclaimer": disclaimer}
            for platform, size, max_kb in sizes:
                bar.update(1)
                where = {"sku": sku, "template": template.name, "platform": platform}
                try:
                    variant = render_variant(
                        master, copy, brand, size, disclaimer, band_colour=band_colour, saliency=smap
                    )
                except (VariantError, ContrastError) as err:
                    problems.append({**where, "reason": f"{size[0]}x{size[1]}: {err}"})
                    continue
                path, variant_id, kb, too_big = _save_png(variant.image, out, max_kb)
                if too_big:
                    reason = f"{size[0]}x{size[1]}: {kb:.0f} KiB after quantising, over max_file_kb {max_kb:g}"
                    problems.append({**where, "reason": reason})
                rows.append(
                    {**per_copy, "variant_id": variant_id, "platform": platform, "width": size[0], "height": size[1]}
                    | {"path": str(path), "text_box": _box_text(variant.text_box), "file_kb": round(kb, 1)}
                    | {"logo_box": _box_text(variant.logo_box), "band_colour": variant.band_colour}
                    | {"text_colour": variant.text_colour}
                )
    bar.close()
    return VariantBatch(
        table=pd.DataFrame(rows, columns=list(VARIANT_COLUMNS)),
        problems=pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS)),
    )


def contact_sheet(
    paths: Iterable[str | Path], thumb: int = 220, columns: int = 6, labels: Sequence[str] | None = None
) -> Image.Image:
    """Lay thumbnails out in a grid with small labels, to look over a batch of variants.

    Parameters
    ----------
    paths
        Image files; an unreadable one shows as a grey cell labelled "unreadable".
    thumb
        Longest side of a thumbnail, in pixels.
    columns
        Thumbnails per row.
    labels
        One label per image; the file name and the image size by default.

    Returns
    -------
    PIL.Image.Image
        RGB sheet, ``columns`` (or fewer) cells wide.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("contact_sheet needs at least one image path")
    if thumb < 16 or columns < 1:
        raise ValueError(f"thumb ({thumb}) must be at least 16 and columns ({columns}) at least 1")
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} images: give one label per image")
    font = ImageFont.load_default(size=max(9, thumb // 18))
    pad, label_h = max(4, thumb // 30), max(12, thumb // 12)
    cell_w, cell_h = thumb + 2 * pad, thumb + label_h + 2 * pad
    cols = min(columns, len(paths))
    rows = -(-len(paths) // cols)
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), "#FFFFFF")
    draw = ImageDraw.Draw(sheet)
    for i, path in enumerate(paths):
        x, y = (i % cols) * cell_w + pad, (i // cols) * cell_h + pad
        try:
            with Image.open(path) as image:
                label = f"{path.stem} {image.width}x{image.height}"
                small = ImageOps.contain(image.convert("RGB"), (thumb, thumb), Image.Resampling.LANCZOS)
            sheet.paste(small, (x + (thumb - small.width) // 2, y + (thumb - small.height) // 2))
        except (OSError, ValueError):
            label = f"{path.name} unreadable"
            draw.rectangle((x, y, x + thumb - 1, y + thumb - 1), fill="#CCCCCC")
        text = labels[i] if labels is not None else label
        while len(text) > 4 and draw.textlength(text, font=font) > thumb:
            text = text[:-2] + "…"
        draw.text((x, y + thumb + 2), text, font=font, fill="#1E1E1E")
    return sheet
