"""Several sources in one publisher, end to end: `fdc publisher --once` against simulators and a real broker."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.bamboo_sim import BambooSim
from tests.broker import Broker, Recorder
from tests.github_sim import GitHubSim
from tests.publisher_run import PREFIX, TOKEN, TZ, config, three_weeks_ago_friday
from tests.run_fdc import run_fdc


@pytest.fixture
def github() -> Iterator[GitHubSim]:
    s = GitHubSim(token="gh-e2e-token").start()
    yield s
    s.stop()


def last_week_friday() -> datetime:
    fri = three_weeks_ago_friday() + timedelta(weeks=2)
    return datetime(fri.year, fri.month, fri.day, 16, 42, tzinfo=TZ)


def test_bamboo_and_github_in_one_publisher(
    tmp_path: Path, bamboo: BambooSim, github: GitHubSim, broker: Broker
) -> None:
    """A team moving from Bamboo to GitHub Actions: Bamboo's Friday is 3 weeks old, GitHub's 1 week."""
    github.add_repo("acme/payments")
    fri = last_week_friday()
    run = "https://github.com/acme/payments/actions/runs/7"
    sha = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0"
    github.deploy("acme/payments", "production", fri, ("in_progress", fri), ("success", fri + timedelta(minutes=9)),
                  sha=sha, log_url=run)  # fmt: skip
    cfg = config(tmp_path, bamboo, broker.port)
    cfg.write_text(cfg.read_text() + f"github:\n  url: {github.url}\n  repositories: [acme/payments]\n  timeout: 3\n")
    env = {**os.environ, "FDC_BAMBOO_TOKEN": TOKEN, "FDC_GITHUB_TOKEN": "gh-e2e-token"}

    dry = run_fdc("publisher", "-c", str(cfg), "--once", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == (
        f"1 week since the last Friday deployment: acme/payments → production, a1b2c3d, "
        f"{fri:%a %Y-%m-%d %H:%M}–{fri + timedelta(minutes=9):%H:%M} Europe/Berlin (SUCCESS) "
        "https://github.com/acme/payments/actions/runs/7"
    )

    r = run_fdc("publisher", "-c", str(cfg), "--once", env=env)
    assert r.returncode == 0, r.stderr
    assert "gh-e2e-token" not in r.stderr + r.stdout and TOKEN not in r.stderr + r.stdout
    rec = Recorder(broker, f"{PREFIX}/#")
    try:
        assert rec.wait_for(f"{PREFIX}/weeks") == b"1"
        state = json.loads(rec.wait_for(f"{PREFIX}/state"))
    finally:
        rec.close()
    assert state["source"] == "bamboo+github" and state["error"] is None
    last = state["last_friday_deploy"]
    assert (last["source"], last["project"], last["environment"]) == ("github", "acme/payments", "production")
    saved = json.loads((tmp_path / "state" / "state.json").read_text())
    assert set(saved["sources"]) == {"bamboo", "github"}
    assert saved["sources"]["bamboo"]["best"]["friday"] == three_weeks_ago_friday().isoformat()

    url = github.url
    github.stop()  # GitHub goes away: Bamboo still counts, the number stays, the error names GitHub
    again = run_fdc("publisher", "-c", str(cfg), "--once", "--dry-run", "--json", env=env)
    assert again.returncode == 3
    out = json.loads(again.stdout)
    assert out["weeks"] == 1 and out["error"].startswith(f"cannot reach GitHub at {url}")
