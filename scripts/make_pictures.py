#!/usr/bin/env python3
"""Regenerate the README's pictures of the LED matrix with the display node's own `capture` driver.

Run from the repository root: `.venv/bin/python scripts/make_pictures.py`. Each picture is exactly the frame
`fdc display` would light for that value and matrix size, so the README cannot drift from the code.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from display_node.config import DisplaySettings  # noqa: E402
from display_node.drivers import open_panel  # noqa: E402
from display_node.render import render  # noqa: E402

# (file name, value or None for "no data", 8x8 blocks, stale mark lit)
PICTURES: list[tuple[str, int | None, int, bool]] = [
    ("demo-3-4blocks", 3, 4, False),  # the top of the README: what `make demo` shows
    ("display-42-2blocks", 42, 2, False),
    ("display-3-2blocks", 3, 2, False),
    ("display-123-2blocks", 123, 2, False),
    ("display-7-1block", 7, 1, False),
    ("display-overflow-1block", 100, 1, False),
    ("display-1234-4blocks", 1234, 4, False),
    ("display-nodata-2blocks", None, 2, False),
    ("display-stale-2blocks", 42, 2, True),
]


def main(out: Path = ROOT / "docs" / "img") -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name, value, blocks, stale in PICTURES:
        with tempfile.TemporaryDirectory() as tmp:
            panel = open_panel(DisplaySettings(driver="capture", cascaded=blocks, brightness=15, capture_dir=Path(tmp)))
            panel.show(render(value, *panel.size, stale_mark=stale))
            (frame,) = sorted(Path(tmp).glob("frame_*.png"))
            shutil.copyfile(frame, out / f"{name}.png")
        print(f"wrote {out / name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
