#!/usr/bin/env python3
"""Draw the README's picture of the Home Assistant dashboard card (docs/img/ha-dashboard.png) with Pillow.

Run from the repository root: `.venv/bin/python scripts/make_dashboard_picture.py` (`make pictures` runs it). It is
a drawing, not a screenshot: CI has no Home Assistant and no browser. It draws what the README's card YAML shows
for the example state below (the `<prefix>/state` example of the README, one display without power), in Home
Assistant's default light theme, so the picture and the YAML are changed together.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]

# The example state the card is drawn for.
WEEKS = 3
RECORD = 11  # the weeks sensor's `record` attribute; None: the card leaves the line out
LAST = "Payments release-42, Fri 6 Nov 2026, 16:42"
PROBLEMS = ["Friday Deploy display hamburg-lobby Connectivity: off"]

WIDTH, PAD, GAP = 640, 16, 8
BACKGROUND, CARD, BORDER = "#fafafa", "#ffffff", "#e0e0e0"
TEXT, SECONDARY, ACCENT, WARN = "#212121", "#727272", "#03a9f4", "#db4437"


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font (the same on every machine, so the PNG does not depend on installed fonts)."""
    return ImageFont.load_default(size=size)


def card(draw: ImageDraw.ImageDraw, top: int, height: int) -> None:
    draw.rounded_rectangle((PAD, top, WIDTH - PAD, top + height), radius=12, fill=CARD, outline=BORDER)


def draw_card(weeks: int, record: int | None, last: str, problems: list[str]) -> Image.Image:
    """The vertical stack: the entity card with the number, then the markdown card (record, last, problems)."""
    lines: list[tuple[str, str, str]] = []  # (bold label, text, colour of text)
    if record is not None:
        lines.append(("Record:", f"{record} weeks", TEXT))
    lines.append(("Last Friday deployment:", last, TEXT))
    lines.append(("Problems:", "" if problems else "none", TEXT))
    bullets = [f"-  {p}" for p in problems]
    number_h, line_h = 140, 30
    text_h = PAD * 2 + line_h * (len(lines) + len(bullets))
    height = PAD + number_h + GAP + text_h + PAD
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    top = PAD
    card(draw, top, number_h)
    draw.ellipse((PAD * 2, top + PAD, PAD * 2 + 40, top + PAD + 40), fill="#e1f5fe")
    draw.text((PAD * 2 + 20, top + PAD + 20), "!", font=font(24), fill=ACCENT, anchor="mm")
    draw.text(
        (PAD * 2 + 56, top + PAD + 20), "Weeks since a Friday deployment", font=font(20), fill=SECONDARY, anchor="lm"
    )
    big = font(64)
    draw.text((PAD * 2, top + number_h - PAD), str(weeks), font=big, fill=TEXT, anchor="ls")
    x = PAD * 2 + draw.textlength(str(weeks), font=big) + 8
    draw.text((x, top + number_h - PAD - 6), "w", font=font(28), fill=SECONDARY, anchor="ls")

    top += number_h + GAP
    card(draw, top, text_h)
    y = top + PAD + line_h // 2
    bold, body = font(18), font(18)  # the bundled font has no bold: labels are darker
    for label, text, colour in lines:
        draw.text((PAD * 2, y), label, font=bold, fill=TEXT, anchor="lm")
        if text:
            x = PAD * 2 + draw.textlength(label, font=bold) + 8
            draw.text((x, y), text, font=body, fill=SECONDARY if colour == TEXT else colour, anchor="lm")
        y += line_h
    for bullet in bullets:
        draw.text((PAD * 3, y), bullet, font=body, fill=WARN, anchor="lm")
        y += line_h
    return image


def main(out: Path = ROOT / "docs" / "img" / "ha-dashboard.png") -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_card(WEEKS, RECORD, LAST, PROBLEMS).save(out, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
