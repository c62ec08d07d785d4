"""Running `fdc publisher` in tests: a simulator with a known history, a config file, the subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.bamboo_sim import BambooSim
from tests.run_fdc import run_fdc, spawn_fdc

TZ = ZoneInfo("Europe/Berlin")
TOKEN = "e2e-token-7f3a9"
PREFIX = "friday-deploy"


def three_weeks_ago_friday() -> date:
    today = datetime.now(TZ).date()
    return today - timedelta(days=(today.weekday() - 4) % 7) - timedelta(weeks=3)


def bamboo_with_history() -> BambooSim:
    """A running simulator whose only Friday deployment was three Fridays ago (so the number is 3)."""
    s = BambooSim(token=TOKEN).start()
    prod = s.add_env("Payments", "Production")
    fri = three_weeks_ago_friday()
    for back in range(1, 40):  # a deployment on every other day before today, except Fridays after `fri`
        day = datetime.now(TZ).date() - timedelta(days=back)
        if day.weekday() == 4 and day != fri:
            continue
        start = datetime(day.year, day.month, day.day, 16, 42, 10, tzinfo=TZ)
        s.deploy(prod, start, start + timedelta(minutes=9), version=f"release-{day.isoformat()}")
    return s


def config(tmp_path: Path, sim: BambooSim, broker_port: int, **extra: object) -> Path:
    lines = {
        "timezone": "Europe/Berlin",
        "poll_interval": 1,
        "state_file": str(tmp_path / "state" / "state.json"),
        "topic_prefix": PREFIX,
        **extra,
    }
    text = "".join(f"{k}: {json.dumps(v)}\n" for k, v in lines.items())
    text += f"bamboo:\n  url: {sim.url}\n  timeout: 3\nmqtt:\n  host: 127.0.0.1\n  port: {broker_port}\n"
    p = tmp_path / "publisher.yaml"
    p.write_text(text)
    return p


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["FDC_BAMBOO_TOKEN"] = TOKEN
    return e


def fdc(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_fdc(*args, env=env(), timeout=timeout)


def spawn(*args: str) -> subprocess.Popen[str]:
    return spawn_fdc(*args, env=env())
