"""`fdc history`: the table of Friday deployments and runs read from the state file, and the chart."""

from __future__ import annotations

import argparse
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from publisher import config
from publisher import state as state_store
from publisher.friday import FridayDeploy
from publisher.history import MISSING_MATPLOTLIB, chart, counter_line, history_of, run, table
from publisher.record import Run
from publisher.state import SourceState, State
from tests.factories import BERLIN, at, dep
from tests.run_fdc import run_fdc

FRI = date(2025, 3, 7)


def fd(day: date, version: str, rid: int) -> FridayDeploy:
    return FridayDeploy(day, dep(at(f"{day.isoformat()} 16:42"), at(f"{day.isoformat()} 16:51"), version=version,
                                 result_id=rid, source="file"))  # fmt: skip


def setup(tmp_path: Path, fridays: list[FridayDeploy], history_start: date | None = None) -> Path:
    (tmp_path / "history.yaml").write_text("[]\n")
    cfg = tmp_path / "publisher.yaml"
    cfg.write_text(f"timezone: Europe/Berlin\nstate_file: {tmp_path / 'state.json'}\nfile: {{path: history.yaml}}\n")
    c = config.load(cfg)
    best = max(fridays, key=lambda f: f.friday, default=None)
    part = SourceState(c.source_fingerprints()["file"], best=best, history_start=history_start, fridays=tuple(fridays))
    state_store.save(c.state_file, State(c.fingerprint(), {"file": part}))
    return cfg


def test_the_table_lists_fridays_and_the_runs_between_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    may = FRI + timedelta(weeks=11)
    cfg = setup(tmp_path, [fd(FRI, "release-40", 1), fd(may, "release-52-hotfix", 2)], FRI - timedelta(days=30))
    now = datetime.combine(may + timedelta(weeks=3, days=1), datetime.min.time(), BERLIN)
    assert run(argparse.Namespace(config=str(cfg), png=None), now=now) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Friday deployments the publisher knows (Europe/Berlin):"
    assert out[1] == "2025-02-05  oldest production deployment the sources still had (not a run)"
    assert out[2].startswith("2025-03-07  Payments → Production  release-40  SUCCESS  started Fri 16:42  (file 1)")
    assert out[3].strip() == "── 11 weeks without a Friday deployment, until 2025-05-23  ← record"
    assert out[4].startswith("2025-05-23  Payments → Production  release-52-hotfix")
    assert out[5].strip() == "── 3 weeks without a Friday deployment, until today (2025-06-14)"
    assert out[6] == "Record: 11 weeks, from 2025-03-07, until 2025-05-23."
    assert out[7] == "Friday deployments in the last 365 days: 2"


def test_no_friday_yet_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = setup(tmp_path, [], FRI)
    assert run(argparse.Namespace(config=str(cfg), png=None), now=datetime(2025, 6, 1, tzinfo=BERLIN)) == 0
    out = capsys.readouterr().out
    assert "no Friday deployment seen yet, and no tracking_start: no run, no record" in out
    assert "Record:" not in out and out.rstrip().endswith("in the last 365 days: 0")


def test_the_counter_line_is_a_saw_tooth() -> None:
    xs, ys = counter_line(Run(FRI, FRI + timedelta(weeks=2, days=3), 2, True, "deploy"))
    assert xs == [FRI, FRI + timedelta(weeks=1), FRI + timedelta(weeks=2), FRI + timedelta(weeks=2, days=3)]
    assert ys == [0, 1, 2, 2]


def test_the_chart_is_a_png(tmp_path: Path) -> None:
    fridays = [fd(FRI + timedelta(weeks=w), f"r{w}", w + 1) for w in (0, 4, 15, 19)]
    state = State("g", {"file": SourceState("fp", best=fridays[-1], fridays=tuple(fridays))})
    h = history_of(state, BERLIN, ("friday",), None, datetime(2025, 9, 1, tzinfo=BERLIN))
    assert h.story.record is not None and h.story.record.weeks == 11
    chart(h, tmp_path / "h.png")
    with Image.open(tmp_path / "h.png") as img:
        assert img.format == "PNG" and img.size == (1200, 432)
    assert "Record: 11 weeks" in table(h)


def test_the_command_line(tmp_path: Path) -> None:
    """`fdc history -c … --png FILE` end to end, and the sentence when matplotlib is missing."""
    today = date.today()
    friday = today - timedelta(days=(today.weekday() - 4) % 7)
    cfg = setup(tmp_path, [fd(friday - timedelta(weeks=6), "a", 1), fd(friday, "b", 2)])
    r = run_fdc("history", "-c", str(cfg), "--png", str(tmp_path / "out.png"))
    assert r.returncode == 0, r.stderr
    assert "── 6 weeks without a Friday deployment" in r.stdout and f"wrote {tmp_path / 'out.png'}" in r.stdout
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    blocker = tmp_path / "no-mpl" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is not installed')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker.parent}{os.pathsep}{Path.cwd()}"}
    r = run_fdc("history", "-c", str(cfg), "--png", str(tmp_path / "x.png"), env=env)
    assert r.returncode == 2 and r.stderr.strip() == MISSING_MATPLOTLIB and not (tmp_path / "x.png").exists()
    assert run_fdc("history", "-c", str(cfg), env=env).returncode == 0  # the table needs no matplotlib

    (tmp_path / "state.json").write_text("{not json")
    r = run_fdc("history", "-c", str(cfg))
    assert r.returncode == 2 and "cannot read the state file" in r.stderr
    assert (tmp_path / "state.json").read_text() == "{not json"  # read only: nothing rebuilt or removed
