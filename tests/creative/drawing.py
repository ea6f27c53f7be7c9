"""Test helpers that draw real creative PNGs (and broken files) with Pillow.

``draw_ad`` draws what a designer would hand in: a solid background, a headline in the
brand's headline font at the top-left, an optional body line, and the brand logo PNG
pasted in the bottom-right corner. It returns the headline's box, so a test can pass it
as ``text_box``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from galaxy_lib.creative.brand import BrandRules, load_brand

ROOT = Path(__file__).resolve().parents[2]
BRAND_FILE = ROOT / "parameters" / "brand.yaml"

#: Colours the tests draw with (brand palette values and off-brand ones).
PURPLE = "#8E44AD"
MIST = "#F1ECF5"
WHITE = "#FFFFFF"
NIGHT = "#1E1E1E"
LIGHT_GREY = "#CFCFCF"
GREEN = "#27AE60"
RED = "#D63031"


def brand() -> BrandRules:
    """Galaxy Home's brand file, ``parameters/brand.yaml``."""
    return load_brand(BRAND_FILE)


def draw_ad(
    path: Path,
    rules: BrandRules,
    size: tuple[int, int] = (1080, 1080),
    background: str = PURPLE,
    headline: str = "Meet the new Nova Kettle",
    body: str = "",
    ink: str = WHITE,
    logo: bool = True,
    logo_size: float = 0.22,
) -> tuple[int, int, int, int]:
    """Draw and save an ad PNG; return the headline's box ``(x0, y0, x1, y1)`` (``(0, 0, 0, 0)`` without one)."""
    w, h = size
    short = min(w, h)
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    margin = round(0.06 * short)
    box = (0, 0, 0, 0)
    if headline:
        font = ImageFont.truetype(str(rules.font_path("headline")), size=round(0.075 * w))
        lines = _wrap(draw, headline, font, w - 2 * margin)
        text = "\n".join(lines)
        draw.multiline_text((margin, margin), text, font=font, fill=ink, spacing=round(0.2 * font.size))
        box = tuple(int(v) for v in draw.multiline_textbbox((margin, margin), text, font=font))
    if body:
        font = ImageFont.truetype(str(rules.font_path("body")), size=round(0.035 * w))
        draw.text((margin, box[3] + margin), body, font=font, fill=ink)
    if logo:
        mark = Image.open(rules.logo_path()).convert("RGBA")
        d = round(logo_size * short)
        mark = mark.resize((d, d), Image.Resampling.LANCZOS)
        gap = round(rules.logo.margin * short)
        img.paste(mark, (w - gap - d, h - gap - d), mark)
    img.save(path, format="PNG")
    return box  # type: ignore[return-value]


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def write_truncated_png(path: Path, rules: BrandRules) -> None:
    """A real PNG cut off halfway through its pixel data."""
    draw_ad(path, rules, size=(400, 400))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_text_as_png(path: Path) -> None:
    """A text file with a ``.png`` name."""
    path.write_text("headline: Meet the new Nova Kettle\n", encoding="utf-8")


def write_png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A tiny, valid-looking PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
