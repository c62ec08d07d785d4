"""Pure rendering: a number (or "no data") and the matrix geometry → a 1-bit PIL image. No MQTT, no device.

Kept free of I/O so every pixel the LEDs will show can be asserted in a test, and so the capture pictures
in the README are exactly what a Pi lights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from luma.core.legacy import font as legacy_font
from PIL import Image, ImageDraw

NO_DATA = None  # the value meaning "the topic was cleared / nothing received yet"

# Largest first: CP437 has bold 2-px strokes; LCD is 5x7; SEG7 is 3x7 (no '+' or '-'); TINY is 3x5.
FONTS: tuple[tuple[str, Sequence[Sequence[int]]], ...] = (
    ("CP437", legacy_font.CP437_FONT),
    ("LCD", legacy_font.LCD_FONT),
    ("SEG7", legacy_font.SEG7_FONT),
    ("TINY", legacy_font.TINY_FONT),
)


@dataclass(frozen=True)
class Layout:
    """What to draw: the text, the font chosen for it, and where the stale mark goes."""

    text: str
    font: str
    columns: tuple[int, ...]  # one byte per pixel column, bit 0 = top row (luma's legacy font format)
    x: int
    y: int
    mark: tuple[int, int] | None


def glyph(font: Sequence[Sequence[int]], ch: str) -> list[int]:
    """Columns of one character with blank columns trimmed, as luma's `proportional` wrapper does."""
    cols = list(font[ord(ch)])
    lit = [i for i, c in enumerate(cols) if c]
    return cols[lit[0] : lit[-1] + 1] if lit else []


def shape(text: str, font: Sequence[Sequence[int]]) -> list[int] | None:
    """Columns of `text` with one blank column between characters; None if a character has no glyph."""
    out: list[int] = []
    for i, ch in enumerate(text):
        g = glyph(font, ch)
        if not g:
            return None
        if i:
            out.append(0)
        out.extend(g)
    return out


def _fit(text: str, width: int, height: int) -> tuple[str, list[int]] | None:
    """The largest font in which `text` fits into width x height, or None."""
    for name, font in FONTS:
        cols = shape(text, font)
        if cols is None or len(cols) > width:
            continue
        rows = [y for y in range(8) if any(c >> y & 1 for c in cols)]
        if rows and rows[-1] - rows[0] + 1 <= height:
            return name, cols
    return None


def candidates(value: int | None, width: int) -> list[str]:
    """Texts to try, best first: the number itself, then `99+`, `9+` (never a cut-off number)."""
    if value is None:
        return ["-" * max(1, min(3, width // 8)), "-"]
    digits = str(value)
    return [digits, *("9" * n + "+" for n in range(len(digits) - 1, 0, -1)), "+"]


def layout(value: int | None, width: int, height: int, align: str = "right") -> Layout:
    """Choose text, font and position; the stale mark gets a corner pixel the text leaves dark."""
    for text in candidates(value, width):
        fit = _fit(text, width, height)
        if fit is None:
            continue
        name, cols = fit
        rows = [y for y in range(8) if any(c >> y & 1 for c in cols)]
        ink_h = rows[-1] - rows[0] + 1
        y = (height - ink_h) // 2 - rows[0]
        x = (width - len(cols)) // 2 if align == "center" or value is None else width - len(cols)
        lit = _lit(cols, x, y)
        corners = [(0, height - 1), (0, 0), (width - 1, height - 1), (width - 1, 0)]
        edges = [(x0, y0) for x0 in (0, width - 1) for y0 in range(height)]
        mark = next((p for p in corners + edges if p not in lit), None)
        return Layout(text, name, tuple(cols), x, y, mark)
    raise ValueError(f"a {width}x{height} matrix is too small for any text")  # unreachable for 8x8 and up


def _lit(cols: Sequence[int], x: int, y: int) -> set[tuple[int, int]]:
    return {(x + i, y + j) for i, c in enumerate(cols) for j in range(8) if c >> j & 1}


def draw(lay: Layout, width: int, height: int, stale_mark: bool = False) -> Image.Image:
    """The frame as a mode "1" image (white = LED on); `stale_mark` lights the mark pixel."""
    image = Image.new("1", (width, height), 0)
    lit = [(px, py) for px, py in _lit(lay.columns, lay.x, lay.y) if 0 <= px < width and 0 <= py < height]
    if stale_mark and lay.mark is not None:
        lit.append(lay.mark)
    if lit:  # one call for all pixels: putpixel per LED was 40 % of a node's CPU per update (BENCHMARKS.md)
        ImageDraw.Draw(image).point(lit, fill=1)
    return image


def render(
    value: int | None, width: int, height: int = 8, align: str = "right", stale_mark: bool = False
) -> Image.Image:
    """Value + geometry → frame. `value` None draws the "no data" glyph (dashes)."""
    return draw(layout(value, width, height, align), width, height, stale_mark)


def pixels(image: Image.Image) -> list[str]:
    """Rows of `#` (on) and `.` (off): how tests and the terminal driver read a frame."""
    w, h = image.size
    px = image.convert("1").load()
    assert px is not None
    return ["".join("#" if px[x, y] else "." for x in range(w)) for y in range(h)]
