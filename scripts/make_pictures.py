#!/usr/bin/env python3
"""Regenerate the README's pictures of the LED matrix with the display node's own `capture` driver, and the
`fdc history` chart of a sample state (SAMPLE_FRIDAYS) with the command's own drawing code.

Run from the repository root: `.venv/bin/python scripts/make_pictures.py`. Each picture is exactly the frame
`fdc display` would light for that value and matrix size, so the README cannot drift from the code.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from display_node.config import DisplaySettings  # noqa: E402
from display_node.drivers import open_panel  # noqa: E402
from display_node.render import render  # noqa: E402
from publisher.deployment import RAN, Deployment  # noqa: E402
from publisher.friday import FridayDeploy  # noqa: E402
from publisher.history import chart, history_of, table  # noqa: E402
from publisher.state import SourceState, State  # noqa: E402

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


# The history chart: a team's two years, seen on 2026-11-26 (times in Europe/Berlin): (Friday, version, hour).
HISTORY_TODAY = date(2026, 11, 26)
SAMPLE_FRIDAYS = [
    ("2025-01-10", "release-12-hotfix", 17), ("2025-02-21", "release-19", 16), ("2025-03-07", "release-21-hotfix", 18),
    ("2025-05-23", "release-33", 15), ("2025-06-27", "release-37-hotfix", 17), ("2025-08-15", "release-44", 16),
    ("2025-10-24", "release-52-hotfix", 19), ("2026-02-13", "release-63", 16), ("2026-03-13", "release-66", 11),
    ("2026-03-13", "release-66-hotfix", 17), ("2026-06-19", "release-78", 16), ("2026-09-04", "release-86-hotfix", 18),
    ("2026-11-06", "release-93-hotfix", 16),
]  # fmt: skip


def sample_history() -> State:
    """A state as the publisher would have saved it after reading that history (the file source's part)."""
    tz = ZoneInfo("Europe/Berlin")
    fridays = []
    for n, (day, version, hour) in enumerate(SAMPLE_FRIDAYS, start=1):
        start = datetime.combine(date.fromisoformat(day), time(hour, 42), tz)
        d = Deployment("file", f"sample-{n}", "payments-production", "Payments", "Production", version, "SUCCESS",
                       RAN, start, start + timedelta(minutes=9))  # fmt: skip
        fridays.append(FridayDeploy(start.date(), d))
    part = SourceState("sample", best=fridays[-1], history_start=date(2024, 11, 4), fridays=tuple(fridays))
    return State("sample", {"file": part})


def history_picture(out: Path) -> None:
    tz = ZoneInfo("Europe/Berlin")
    h = history_of(sample_history(), tz, ("friday",), None, datetime.combine(HISTORY_TODAY, time(9), tz))
    chart(h, out / "history.png")
    print(f"wrote {out / 'history.png'}; its table (fdc history):\n{table(h)}")


def main(out: Path = ROOT / "docs" / "img") -> int:
    out.mkdir(parents=True, exist_ok=True)
    for name, value, blocks, stale in PICTURES:
        with tempfile.TemporaryDirectory() as tmp:
            panel = open_panel(DisplaySettings(driver="capture", cascaded=blocks, brightness=15, capture_dir=Path(tmp)))
            panel.show(render(value, *panel.size, stale_mark=stale))
            (frame,) = sorted(Path(tmp).glob("frame_*.png"))
            shutil.copyfile(frame, out / f"{name}.png")
        print(f"wrote {out / name}.png")
    history_picture(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
