"""Every bench once at a tiny size, so `make bench` never rots. Values are asserted; times never are."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from benchmarks import fanout, flood, footprint, poll_cost
from benchmarks.runner import PRESETS, main
from benchmarks.script_2016 import MAXINT, get_weeks_since_friday_deploy
from tests.bamboo_sim import BambooSim

TINY = PRESETS["tiny"]


def test_poll_cost_steady_polls_are_cheap_and_the_script_is_wrong_on_a_deep_friday() -> None:
    rep = poll_cost.run(TINY.poll)
    cases = rep.facts["cases"]
    assert len(cases) == len(TINY.poll.envs) * len(TINY.poll.results)
    for c in cases:
        assert c["truth"] is not None
        assert c["cold"].weeks == c["truth"] and c["steady"].weeks == c["truth"] and c["news"].weeks == c["truth"]
        assert c["steady"].requests == 1 < c["script"].requests
        assert c["steady"].bytes * 10 < c["script"].bytes
        assert c["news"].requests == 2  # the status call, then one page of the environment with news
        if c["results"] > 25:  # the one Friday is 40 deployments back: past the script's single page of 25
            assert c["script"].weeks == MAXINT
        else:
            assert c["script"].weeks == c["truth"]
    three = [c for c in cases if c["envs"] == 3]
    assert all(c["script"].requests == 4 for c in three)  # the dashboard, then every environment in full


def test_the_script_crashes_on_a_running_deployment_and_reads_only_exact_production() -> None:
    sim = BambooSim(token=None, username="u", password="p").start()
    try:
        prod = sim.add_env("Payments", "production")  # lower case: the script's == 'Production' misses it
        now = datetime.now().astimezone()
        friday = now - timedelta(days=(now.weekday() - 4) % 7 or 7)
        sim.deploy(prod, friday, friday + timedelta(minutes=5))
        assert get_weeks_since_friday_deploy("u", "p", sim.url) == MAXINT
        other = sim.add_env("Website", "Production")
        sim.deploy(other, now - timedelta(minutes=5))  # still running: no finishedDate
        with pytest.raises(KeyError, match="finishedDate"):
            get_weeks_since_friday_deploy("u", "p", sim.url)
    finally:
        sim.stop()


def test_fanout_delivers_every_frame() -> None:
    rep = fanout.run(TINY.fanout)
    cases = rep.facts["cases"]
    assert {c["kind"] for c in cases} == {"in-process", "subprocess", "showing"}
    for c in cases:
        n, rounds = c["n"], TINY.fanout.showing_rounds if c["kind"] == "showing" else TINY.fanout.rounds
        assert c["missed"] == 0 and c["base_missed"] == 0
        assert len(c["lat"]) == n * rounds == len(c["base"])
        assert all(t > 0 for t in c["lat"])


def test_footprint_samples_an_idle_node_and_times_frames_over_spi() -> None:
    rep = footprint.run(TINY.footprint)
    node, bare = rep.facts["node"], rep.facts["bare"]
    assert min(node.rss) > 10 * 2**20 and min(bare.rss) > 5 * 2**20
    assert node.wall >= TINY.footprint.idle_seconds
    for blocks, r in rep.facts["renders"].items():
        assert r["spi"] == 16 * blocks  # 8 digit registers × (register, value) bytes per chip
        assert r["p50"] > 0 and r["d50"] > 0
    assert len(rep.goals) == 3


def test_flood_is_coalesced_and_the_last_value_is_shown() -> None:
    rep = flood.run(TINY.flood)
    f = rep.facts
    assert f["received"] == f["sent"]
    assert f["value"] == flood.LAST and f["shown_last"]
    assert 1 <= f["renders"] <= f["received"]


def test_runner_writes_the_document(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    assert main(["--size", "tiny", "--only", "poll", "--envs", "1", "--results", "25", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks") and "## Machine" in text and "mosquitto version" in text
    assert "| 1 × 25 |" in text and "## Goals" in text
