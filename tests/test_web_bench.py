"""The web display bench at a tiny size: it runs, and its facts add up (values, not times)."""

from __future__ import annotations

import os

import pytest

from benchmarks.web_display import WebSizes, chromium_missing, run


def test_web_bench_tiny() -> None:
    missing = chromium_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the web bench cannot run: {missing}")
        pytest.skip(missing)
    rep = run(WebSizes(rounds=3, idle=0.5))
    f = rep.facts
    assert (f["rounds"], f["web_samples"], f["web_missed"]) == (3, 3, 0)
    assert (f["baseline_samples"], f["baseline_missed"]) == (3, 0)
    assert f["idle_rss"] > 10 * 1024 * 1024 and f["idle_cpu"] >= 0
    assert [row[0] for row in rep.table] == [
        "MAX7219 node (dummy driver, in-process): publish → frame",
        "`fdc web` + headless Chromium: publish → number in the DOM",
    ]
    assert [row[1:3] for row in rep.table] == [["3", "0"], ["3", "0"]]
    assert "`fdc web` at rest with one page open" in rep.markdown()
