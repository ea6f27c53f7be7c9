"""Features of creative image files: size, colours, contrast, detail and the brand logo.

Every number here is measured on the PNG (or JPEG) file itself, so a guardrail or a
model sees what a viewer sees, not what the creative's metadata claims.

How each feature is measured
----------------------------
* **Reading.** :func:`read_image` decodes with Pillow, applies the EXIF orientation and
  flattens transparency onto white. Files that are missing, empty, not an image,
  truncated or corrupt, or larger than :data:`MAX_PIXELS` (a decompression bomb is
  refused from its header, before it is decoded) raise :class:`ImageReadError`;
  :func:`image_feature_table` turns that into a row of its ``problems`` table instead.
* **Dominant colours.** k-means (scikit-learn, ``k`` = :data:`N_COLOURS`, fixed seed) in
  CIELAB on a nearest-neighbour downsample of at most 96x96 px. Nearest-neighbour
  sampling keeps real pixel colours (no blending of text into background). A cluster's
  colour is the median RGB of its pixels; ``dominant_hex`` is the largest cluster.
* **Palette distance.** CIEDE2000 (scikit-image) from the dominant colour to the nearest
  brand palette colour.
* **Contrast (an estimate).** Inside ``text_box`` when given (clustered anew, ``k`` = 4),
  else over the whole downsample with the detected logo's box masked out: the
  background is the largest colour cluster, the text the cluster of at least
  :data:`MIN_TEXT_SHARE` of the region's pixels with the highest WCAG 2.x contrast
  against it. Without such a cluster (a plain image) the ratio is NaN. It is an
  estimate: it does not locate glyphs, so a large non-text shape can stand in for text.
* **Brightness.** Mean WCAG relative luminance (0 black - 1 white).
* **Colourfulness.** Hasler & Süsstrunk (2003), M = σ_rgyb + 0.3 μ_rgyb on 0-255 RGB
  (written here: a two-line formula).
* **Edge density.** Share of pixels whose Sobel gradient (scikit-image, on a grayscale
  copy with the longer side at most 256 px) exceeds :data:`EDGE_THRESHOLD`: a proxy for
  how much text and detail the image carries.
* **Logo.** Normalised cross-correlation (``skimage.feature.match_template``, grayscale) of
  the central 68 % of the brand logo: the white disc, the letter and the inside of the ring,
  none of the creative's background around the logo. A coarse search over the whole image
  tries logo widths of 0.6-1.45 times ``brand.logo.size`` of the shorter side, each on a copy
  shrunk so the template is about 14 px wide; a fine search around the best place, at about
  32 px, refines the scale by ±10 %. Near-flat windows are skipped (their correlation is
  numerically unstable). ``logo_score`` is the best correlation, ``has_logo`` whether it
  reaches ``brand.logo.min_match``, ``logo_box`` the logo's box (x0, y0, x1, y1, pixels of
  the original) at the best match.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.feature import match_template
from skimage.filters import sobel
from sklearn.cluster import KMeans

from galaxy_lib.creative.brand import BrandRules
from galaxy_lib.creative.ids import content_id

__all__ = [
    "EDGE_THRESHOLD",
    "MAX_FILE_MB",
    "MAX_PIXELS",
    "MIN_TEXT_SHARE",
    "N_COLOURS",
    "ImageFeatures",
    "ImageReadError",
    "colourfulness",
    "contrast_ratio",
    "image_feature_table",
    "image_features",
    "read_image",
    "relative_luminance",
]

#: Largest image decoded, in pixels (about 6300 x 6300); larger headers are refused unread.
MAX_PIXELS: int = 40_000_000
#: Largest file read, in MiB.
MAX_FILE_MB: float = 100.0
#: Colour clusters of the dominant-colour k-means.
N_COLOURS: int = 5
#: Smallest share of the region a colour cluster needs to count as text (thin type covers only 1-3 % of an ad).
MIN_TEXT_SHARE: float = 0.01
#: Sobel magnitude (gray 0-1) above which a pixel counts as an edge.
EDGE_THRESHOLD: float = 0.1
_COLOUR_SIDE = 96  # longer side of the colour downsample
_TEXT_SIDE = 128  # longer side of the text-box downsample
_EDGE_SIDE = 256  # longer side of the edge downsample
_COARSE_SIDE = 14  # template width (px) of the coarse logo search
_FINE_SIDE = 32  # template width (px) of the fine logo search
_LOGO_CROP = 0.68  # central share of the logo's width used as template (inside the ring's outer edge)
_LOGO_SCALES = (0.6, 0.8, 1.0, 1.2, 1.45)  # times brand.logo.size, coarse search
_REFINE = (0.9, 1.0, 1.1)  # times the coarse diameter, fine search
_SEED = 0
_BOX_COLUMNS = ("logo_x0", "logo_y0", "logo_x1", "logo_y1")


class ImageReadError(ValueError):
    """An image file could not be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class ImageFeatures:
    """Features of one image file (see the module docstring for how each is measured).

    Attributes
    ----------
    path
        The file.
    image_id
        Content id of the file's bytes (``cre-...``, :func:`galaxy_lib.creative.ids.file_id`).
    width, height, pixels
        Size in pixels.
    aspect_ratio
        Width over height.
    file_kb
        File size in KiB.
    dominant_colours
        ``(hex, share)`` of the colour clusters, largest first; shares sum to 1.
    dominant_hex, dominant_share
        The largest cluster's colour and share.
    palette_distance, palette_name
        CIEDE2000 from the dominant colour to the nearest palette colour, and its name.
    contrast_ratio
        Estimated WCAG contrast of text over background (1-21; NaN when no text colour is found).
    text_hex, background_hex
        The colours the contrast was measured between (``""`` when none).
    contrast_region
        ``"text_box"`` or ``"image"`` (the whole image, logo masked out).
    brightness
        Mean relative luminance, 0-1.
    colourfulness
        Hasler & Süsstrunk colourfulness (0 for gray; about 100+ is very colourful).
    edge_density
        Share of pixels on a strong edge, 0-1.
    logo_score, has_logo, logo_box
        Best logo correlation (0-1), whether it reaches ``brand.logo.min_match``, and the
        logo's box ``(x0, y0, x1, y1)`` at that match.
    """

    path: str
    image_id: str
    width: int
    height: int
    aspect_ratio: float
    pixels: int
    file_kb: float
    dominant_colours: tuple[tuple[str, float], ...]
    dominant_hex: str
    dominant_share: float
    palette_distance: float
    palette_name: str
    contrast_ratio: float
    text_hex: str
    background_hex: str
    contrast_region: str
    brightness: float
    colourfulness: float
    edge_density: float
    logo_score: float
    has_logo: bool
    logo_box: tuple[int, int, int, int]

    def as_dict(self) -> dict[str, object]:
        """Flat dict for a table row: colours as ``"#8E44AD 0.812, ..."`` and the box as four columns."""
        row = asdict(self)
        row["dominant_colours"] = ", ".join(f"{h} {s:.3f}" for h, s in self.dominant_colours)
        box = row.pop("logo_box")
        row.update(zip(_BOX_COLUMNS, box, strict=True))
        return row


# --------------------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ImageReadError(path, "the file does not exist")
    if not path.is_file():
        raise ImageReadError(path, "is not a file (a folder?)")
    size = path.stat().st_size
    if size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes)")
    if size > MAX_FILE_MB * 2**20:
        raise ImageReadError(path, f"the file is {size / 2**20:.0f} MiB, above the {MAX_FILE_MB:.0f} MiB read limit")
    return path.read_bytes()


def _decode(path: Path, data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w <= 0 or h <= 0:
                raise ImageReadError(path, f"the header gives an empty size {w}x{h}")
            if w * h > MAX_PIXELS:
                raise ImageReadError(
                    path,
                    f"the image is {w}x{h} = {w * h / 1e6:.0f} Mpx, above the {MAX_PIXELS / 1e6:.0f} Mpx decode "
                    "limit (a decompression bomb or an oversized master): resize it before checking",
                )
            img.load()
            img = ImageOps.exif_transpose(img)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(path, "is not an image file Pillow can read (not PNG, JPEG, ...)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageReadError(path, f"refused as a decompression bomb ({err})") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as err:
        raise ImageReadError(path, f"the image data is corrupt or truncated ({type(err).__name__}: {err})") from None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def read_image(path: str | Path) -> tuple[Image.Image, bytes]:
    """Decode an image file to RGB (transparency flattened onto white).

    Parameters
    ----------
    path
        PNG, JPEG or another format Pillow reads.

    Returns
    -------
    tuple
        The RGB image and the file's bytes.

    Raises
    ------
    ImageReadError
        The file is missing, empty, not an image, corrupt or truncated, or above
        :data:`MAX_PIXELS` / :data:`MAX_FILE_MB`; ``.reason`` says which.
    """
    path = Path(path)
    data = _read_bytes(path)
    return _decode(path, data), data


# --------------------------------------------------------------------------- colour helpers


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, dtype=float) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def relative_luminance(rgb: np.ndarray | Sequence[float]) -> np.ndarray:
    """WCAG 2.x relative luminance of sRGB colours (0-255, last axis RGB); written here, a short formula."""
    lin = _linear(np.asarray(rgb, dtype=float))
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(rgb_a: Sequence[float], rgb_b: Sequence[float]) -> float:
    """WCAG 2.x contrast ratio (1-21) between two sRGB colours (0-255); written here, a short formula.

    Examples
    --------
    >>> round(contrast_ratio((255, 255, 255), (0, 0, 0)), 1)
    21.0
    """
    la, lb = float(relative_luminance(rgb_a)), float(relative_luminance(rgb_b))
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of ``(..., 3)`` sRGB pixels (0-255); written here.

    ``rg = R - G``, ``yb = (R + G) / 2 - B``, ``M = sqrt(σ_rg² + σ_yb²) + 0.3 sqrt(μ_rg² + μ_yb²)``.
    """
    px = np.asarray(rgb, dtype=float).reshape(-1, 3)
    rg = px[:, 0] - px[:, 1]
    yb = 0.5 * (px[:, 0] + px[:, 1]) - px[:, 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _hex(rgb: Sequence[float]) -> str:
    r, g, b = (round(float(c)) for c in rgb)
    return f"#{r:02X}{g:02X}{b:02X}"


def _lab(rgb: np.ndarray) -> np.ndarray:
    return rgb2lab(np.asarray(rgb, dtype=float).reshape(-1, 1, 3) / 255.0).reshape(-1, 3)


def _downsample(img: Image.Image, longest: int, resample: Image.Resampling) -> Image.Image:
    w, h = img.size
    scale = min(1.0, longest / max(w, h))
    if scale >= 1.0:
        return img
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)


@dataclass(frozen=True)
class _Clusters:
    labels: np.ndarray  # cluster per pixel
    colours: np.ndarray  # (k, 3) median RGB per cluster


def _cluster(pixels: np.ndarray, k: int) -> _Clusters:
    """k-means in CIELAB on the distinct colours, weighted by their pixel counts (same result, less work)."""
    packed = (pixels[:, 0].astype(np.int32) << 16) | (pixels[:, 1].astype(np.int32) << 8) | pixels[:, 2]
    codes, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    unique = np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], axis=1)
    if len(unique) <= k:
        unique_labels = np.arange(len(unique))
    else:
        km = KMeans(n_clusters=k, n_init=1, random_state=_SEED, max_iter=100)
        unique_labels = km.fit_predict(_lab(unique), sample_weight=counts)
    _, labels = np.unique(unique_labels[inverse], return_inverse=True)  # clusters 0..n-1, none empty
    colours = np.array([np.median(pixels[labels == c], axis=0) for c in range(int(labels.max()) + 1)])
    return _Clusters(labels=labels, colours=colours)


def _contrast(clusters: _Clusters, keep: np.ndarray) -> tuple[float, str, str]:
    """(ratio, text hex, background hex) over the pixels where ``keep`` is true."""
    labels = clusters.labels[keep]
    if labels.size == 0:
        return math.nan, "", ""
    shares = np.bincount(labels, minlength=len(clusters.colours)) / labels.size
    bg = int(np.argmax(shares))
    best, text = math.nan, -1
    for c in np.flatnonzero(shares >= MIN_TEXT_SHARE):
        if c == bg:
            continue
        ratio = contrast_ratio(clusters.colours[c], clusters.colours[bg])
        if math.isnan(best) or ratio > best:
            best, text = ratio, int(c)
    if text < 0:
        return math.nan, "", _hex(clusters.colours[bg])
    return best, _hex(clusters.colours[text]), _hex(clusters.colours[bg])


# --------------------------------------------------------------------------- logo (constants above)


@lru_cache(maxsize=8)
def _logo_gray(logo_file: str) -> Image.Image:
    logo = Image.open(logo_file).convert("RGBA")
    flat = Image.new("RGB", logo.size, (255, 255, 255))
    flat.paste(logo, mask=logo.getchannel("A"))
    w, h = flat.size
    cw, ch = w * _LOGO_CROP, h * _LOGO_CROP
    box = (round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2))
    return flat.convert("L").crop(box)


@lru_cache(maxsize=256)
def _template(logo_file: str, side: int) -> tuple[np.ndarray, float]:
    """Return the logo's central crop at ``side`` x ``side`` px (float32, 0-1) and its standard deviation."""
    template = np.asarray(_logo_gray(logo_file).resize((side, side), Image.Resampling.LANCZOS), np.float32) / 255
    return template, float(template.std())


def _best_window(ncc: np.ndarray, gray: np.ndarray, side: int, min_std: float) -> tuple[float, int, int]:
    """``(score, x, y)`` of the best window that is not near-flat (those are numerically unstable, > 1 even)."""
    ncc = np.nan_to_num(ncc, nan=0.0, posinf=0.0, neginf=0.0)
    for _ in range(32):
        y, x = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
        score = float(ncc[y, x])
        if score <= 0 or gray[y : y + side, x : x + side].std() >= min_std:
            return min(1.0, max(0.0, score)), int(x), int(y)
        ncc[max(0, y - side // 4) : y + side // 4 + 1, max(0, x - side // 4) : x + side // 4 + 1] = 0.0
    return 0.0, 0, 0


def _gray(img: Image.Image, short_side: int) -> tuple[np.ndarray, float]:
    """Grayscale (mode ``L``) image as 0-1 floats with the shorter side at most ``short_side``, and its scale."""
    w, h = img.size
    scale = min(1.0, short_side / min(w, h))
    if scale < 1.0:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255, scale


def _search(gray: np.ndarray, logo_file: str, diameters: Sequence[float]) -> tuple[float, float, float, float]:
    """Best ``(score, centre x, centre y, diameter)`` of the logo template over ``diameters`` (pixels of ``gray``)."""
    best = (0.0, gray.shape[1] / 2, gray.shape[0] / 2, float(diameters[0]))
    for diameter in diameters:
        side = round(diameter * _LOGO_CROP)
        if side < 6 or side > min(gray.shape):
            continue
        template, template_std = _template(logo_file, side)
        score, x, y = _best_window(match_template(gray, template), gray, side, 0.25 * template_std)
        if score > best[0]:
            best = (score, x + side / 2, y + side / 2, float(diameter))
    return best


def _find_logo(gray_img: Image.Image, brand: BrandRules) -> tuple[float, tuple[int, int, int, int]]:
    """Best correlation of the logo's central crop, and the logo's box in original pixels.

    Coarse search: for each scale of :data:`_LOGO_SCALES` the whole grayscale image is shrunk so
    the template is about :data:`_COARSE_SIDE` px wide (an image pyramid: large logos are sought
    on small copies). Fine search: around the best place, at a resolution where the template is
    about :data:`_FINE_SIDE` px, the scale is refined by :data:`_REFINE`.
    """
    w, h = gray_img.size
    logo_file = str(brand.logo_path())
    best = (0.0, 0.0, 0.0, 0.0)
    for factor in _LOGO_SCALES:
        diameter = brand.logo.size * factor * min(w, h)
        gray, scale = _gray(gray_img, round(min(w, h) * _COARSE_SIDE / (diameter * _LOGO_CROP)))
        score, cx, cy, d = _search(gray, logo_file, [diameter * scale])
        if score > best[0]:
            best = (score, cx / scale, cy / scale, d / scale)
    score, cx, cy, diameter = best
    if score <= 0:
        return 0.0, (0, 0, 0, 0)
    reach = 0.75 * diameter * max(_REFINE)  # half the window: the largest refined logo plus a margin
    x0, y0 = max(0, round(cx - reach)), max(0, round(cy - reach))
    window = gray_img.crop((x0, y0, min(w, round(cx + reach)), min(h, round(cy + reach))))
    fine_scale = min(1.0, _FINE_SIDE / (diameter * _LOGO_CROP))
    fine, fine_scale = _gray(window, round(min(window.size) * fine_scale))
    refined = _search(fine, logo_file, [diameter * fine_scale * f for f in _REFINE])
    if refined[0] > score:
        score = refined[0]
        cx, cy, diameter = refined[1] / fine_scale + x0, refined[2] / fine_scale + y0, refined[3] / fine_scale
    r = diameter / 2
    return score, (max(0, round(cx - r)), max(0, round(cy - r)), min(w, round(cx + r)), min(h, round(cy + r)))


# --------------------------------------------------------------------------- features


def _check_box(path: Path, box: Sequence[float], size: tuple[int, int]) -> tuple[int, int, int, int]:
    if len(box) != 4:
        raise ValueError(f"{path}: text_box must be (x0, y0, x1, y1), got {tuple(box)}")
    w, h = size
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(
            f"{path}: text_box {tuple(box)} leaves no area inside the {w}x{h} image: give (x0, y0, x1, y1) in pixels"
        )
    return x0, y0, x1, y1


def _palette_match(rgb: np.ndarray, brand: BrandRules) -> tuple[float, str]:
    names = list(brand.palette_rgb)
    lab = _lab(np.array([brand.palette_rgb[n] for n in names], dtype=float))
    dist = deltaE_ciede2000(np.broadcast_to(_lab(rgb), lab.shape), lab)
    i = int(np.argmin(dist))
    return float(dist[i]), names[i]


def _features(
    path: Path, img: Image.Image, data: bytes, brand: BrandRules, text_box: Sequence[float] | None
) -> ImageFeatures:
    w, h = img.size
    small = _downsample(img, _COLOUR_SIDE, Image.Resampling.NEAREST)
    sw, sh = small.size
    pixels = np.asarray(small, dtype=np.uint8).reshape(-1, 3)
    clusters = _cluster(pixels, N_COLOURS)
    shares = np.bincount(clusters.labels) / clusters.labels.size
    order = np.argsort(-shares, kind="stable")
    dominant = clusters.colours[order[0]]
    distance, palette_name = _palette_match(dominant, brand)

    gray_img = img.convert("L")
    logo_score, logo_box = _find_logo(gray_img, brand)
    has_logo = logo_score >= brand.logo.min_match

    if text_box is not None:
        region = _downsample(img.crop(_check_box(path, text_box, (w, h))), _TEXT_SIDE, Image.Resampling.NEAREST)
        region_px = np.asarray(region, dtype=np.uint8).reshape(-1, 3)
        ratio, text_hex, bg_hex = _contrast(_cluster(region_px, 4), np.ones(len(region_px), dtype=bool))
        where = "text_box"
    else:
        keep = np.ones((sh, sw), dtype=bool)
        if has_logo:
            # Mask the logo's box, padded by a tenth of its size, in downsample coordinates.
            bx0, by0, bx1, by1 = logo_box
            pad = 0.1 * (bx1 - bx0)
            fx, fy = sw / w, sh / h
            keep[
                max(0, math.floor((by0 - pad) * fy)) : math.ceil((by1 + pad) * fy),
                max(0, math.floor((bx0 - pad) * fx)) : math.ceil((bx1 + pad) * fx),
            ] = False
        ratio, text_hex, bg_hex = _contrast(clusters, keep.reshape(-1))
        where = "image"

    gray = np.asarray(_downsample(gray_img, _EDGE_SIDE, Image.Resampling.BILINEAR), dtype=float) / 255
    edges = float((sobel(gray) > EDGE_THRESHOLD).mean()) if min(gray.shape) >= 3 else 0.0

    return ImageFeatures(
        path=str(path),
        image_id=content_id("creative", data),
        width=w,
        height=h,
        aspect_ratio=w / h,
        pixels=w * h,
        file_kb=len(data) / 1024,
        dominant_colours=tuple((_hex(clusters.colours[c]), float(shares[c])) for c in order),
        dominant_hex=_hex(dominant),
        dominant_share=float(shares[order[0]]),
        palette_distance=distance,
        palette_name=palette_name,
        contrast_ratio=float(ratio),
        text_hex=text_hex,
        background_hex=bg_hex,
        contrast_region=where,
        brightness=float(relative_luminance(pixels).mean()),
        colourfulness=colourfulness(pixels),
        edge_density=edges,
        logo_score=float(logo_score),
        has_logo=bool(has_logo),
        logo_box=logo_box,
    )


def image_features(path: str | Path, brand: BrandRules, text_box: Sequence[float] | None = None) -> ImageFeatures:
    """Measure one image file (see the module docstring for each feature).

    Parameters
    ----------
    path
        The image file.
    brand
        Brand rules (palette and logo).
    text_box
        ``(x0, y0, x1, y1)`` in pixels of the text area, for the contrast estimate; ``None``
        estimates over the whole image with the logo masked out.

    Returns
    -------
    ImageFeatures

    Raises
    ------
    ImageReadError
        The file cannot be read (``.reason`` says why).
    ValueError
        ``text_box`` has no area inside the image.
    """
    path = Path(path)
    img, data = read_image(path)
    return _features(path, img, data, brand, text_box)


def image_feature_table(
    paths: Sequence[str | Path],
    brand: BrandRules,
    creative_ids: Sequence[str] | None = None,
    text_boxes: Sequence[Sequence[float] | None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of many image files; a file that cannot be read becomes a problem row, never an exception.

    Parameters
    ----------
    paths
        Image files.
    brand
        Brand rules.
    creative_ids
        Id per path; default the content id of the file (``file_id("creative", path)``).
    text_boxes
        Optional text box per path (``None`` entries: whole image).

    Returns
    -------
    features : pandas.DataFrame
        One row per readable file: ``creative_id``, then the columns of
        :meth:`ImageFeatures.as_dict` (``path``, ``image_id``, ``width`` ... ``logo_y1``).
    problems : pandas.DataFrame
        ``creative_id`` (``None`` when the file could not be read at all and no id was given),
        ``path``, ``reason``.
    """
    paths = [Path(p) for p in paths]
    for name, given in (("creative_ids", creative_ids), ("text_boxes", text_boxes)):
        if given is not None and len(given) != len(paths):
            raise ValueError(f"{name} has {len(given)} entries for {len(paths)} paths: give one per path or None")
    rows, problems = [], []
    for i, path in enumerate(paths):
        cid = creative_ids[i] if creative_ids is not None else None
        try:
            data = _read_bytes(path)
            cid = cid if cid is not None else content_id("creative", data)
            feats = _features(path, _decode(path, data), data, brand, text_boxes[i] if text_boxes else None)
            rows.append({"creative_id": cid, **feats.as_dict()})
        except Exception as err:  # one bad file never stops the batch
            reason = err.reason if isinstance(err, ImageReadError) else f"{type(err).__name__}: {err}"
            problems.append({"creative_id": cid, "path": str(path), "reason": reason})
    columns = ["creative_id", *(f for f in ImageFeatures.__dataclass_fields__ if f != "logo_box"), *_BOX_COLUMNS]
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(problems, columns=["creative_id", "path", "reason"])
