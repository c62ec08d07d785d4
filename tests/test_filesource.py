"""The `file` source: JSON or YAML deployments, clear errors with the line, re-read when it changes."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest

from publisher.deployment import RAN, RUNNING
from publisher.friday import weekday_numbers
from publisher.reader import PollRules, Relisting, poll
from publisher.source import SourceError
from publisher.sources.file import FileSource, parse
from publisher.state import SourceState
from tests.factories import BERLIN, at
from tests.run_fdc import fdc_command

YAML = """\
# exported from our CI
- project: Payments
  environment: Production
  version: release-42
  started: 2026-11-06 16:42:10+01:00
  finished: 2026-11-06 16:51:02+01:00
  state: SUCCESS
- project: Payments
  environment: Production
  version: release-43
  started: "2026-11-19 09:00"      # no offset: the configured timezone
  finished: "2026-11-19T09:10:00"
  state: Failed
- project: Payments
  environment: Staging
  version: release-44
  started: 2026-11-27 10:00:00
- project: Website
  environment: production
  version: web-9
  started: 2026-11-25 23:00:00
"""


def test_yaml_parses_with_local_times_and_running_deployments() -> None:
    deps = parse(YAML, "d.yaml", BERLIN)
    assert [d.version for d in deps] == ["release-42", "release-43", "release-44", "web-9"]
    assert deps[0].started == at("2026-11-06 16:42:10") and deps[0].lifecycle == RAN
    assert deps[1].started == at("2026-11-19 09:00") and deps[1].finished == at("2026-11-19 09:10")
    assert deps[1].state == "FAILED"
    assert deps[3].finished is None and deps[3].lifecycle == RUNNING
    assert len({d.result_id for d in deps}) == 4
    assert parse(YAML, "d.yaml", BERLIN)[0].result_id == deps[0].result_id  # stable across re-reads


def test_json_form() -> None:
    item = {"project": "P", "environment": "Production", "version": "v1",
            "started": "2026-11-13T10:00:00Z", "finished": "2026-11-13T10:05:00Z"}  # fmt: skip
    text = json.dumps({"deployments": [item]})
    (d,) = parse(text, "d.json", BERLIN)
    assert d.started == at("2026-11-13 11:00") and d.state == "SUCCESS"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- project: P\n  environment: Production\n  started: yesterday\n",
         "d.yaml line 3: started: not a time: 'yesterday'"),
        ("- project: P\n  environment: Production\n  started: 2026-11-13 10:00\n"
         "- project: P\n  environment: Production\n  finshed: 2026-11-13 10:00\n  started: 2026-11-13 10:00\n",
         "d.yaml line 6: unknown key 'finshed' (known: environment, finished, id, project, started, state, url, "
         "version)"),
        ("- project: P\n  started: 2026-11-13 10:00\n", "d.yaml line 1: 'environment' is missing"),
        ("- project: P\n  environment: E\n  started: 2026-11-13\n",
         "d.yaml line 3: started: 2026-11-13 has no time of day: write e.g. '2026-11-13 16:42'"),
        ("- project: P\n  environment: E\n  started: 2026-11-13 10:00\n  finished: 2026-11-13 09:00\n",
         "d.yaml line 4: finished is before started"),
        ("- project: P\n  environment: E\n  started: 2026-11-13 10:00\n  state: GREAT\n",
         "d.yaml line 4: state: unknown state 'GREAT'"),
        ("- project: [P\n", "d.yaml line 2: not valid JSON or YAML"),
        ('[{"project": "P",\n "environment": "E"\n "started": "2026-11-13 10:00"}]', "d.yaml line 3: not valid JSON"),
        ("project: P\n", "d.yaml: expected a list of deployments (or `deployments:` with a list)"),
    ],
)  # fmt: skip
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(SourceError) as e:
        parse(text, "d.yaml", BERLIN)
    assert str(e.value).startswith(message), str(e.value)


def read(src: FileSource, st: SourceState, now: datetime) -> SourceState:
    rules = PollRules(tz=BERLIN, days=weekday_numbers(["friday"]), tracking_start=None, now=now)
    return poll(src, st, rules, Relisting()).state


def test_poll_finds_the_friday_and_rereads_on_change(tmp_path: Path) -> None:
    path = tmp_path / "deployments.yaml"
    path.write_text(YAML)
    src = FileSource(path, (".*",), ("production",), BERLIN)
    assert src.changed()
    s = read(src, SourceState("fp"), at("2026-11-26 09:00"))
    assert s.best is not None and s.best.deployment.version == "release-42" and s.best.friday == date(2026, 11, 6)
    assert s.history_start == date(2026, 11, 6) and not src.changed()
    # web-9 is still running: it touches Friday the 27th once that day starts
    s = read(src, s, at("2026-11-27 00:30"))
    assert s.best is not None and s.best.deployment.version == "web-9"
    path.write_text(YAML + "- {project: API, environment: Production, started: 2026-11-27 11:00}\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert src.changed()
    s = read(src, s, at("2026-11-27 12:00"))
    assert s.best is not None and s.best.deployment.project == "API"


def test_an_edit_anywhere_in_the_file_is_read(tmp_path: Path) -> None:
    """A file is not an append-only log: an older entry edited into a Friday deployment counts."""
    path = tmp_path / "deployments.yaml"
    path.write_text(YAML)
    src = FileSource(path, (".*",), ("production",), BERLIN)
    s = read(src, SourceState("fp"), at("2026-11-26 09:00"))
    path.write_text(
        YAML.replace('started: "2026-11-19 09:00"', 'started: "2026-11-20 09:00"').replace(
            'finished: "2026-11-19T09:10:00"', 'finished: "2026-11-20T09:10:00"'
        )
    )
    s = read(src, s, at("2026-11-26 09:05"))
    assert s.best is not None and s.best.deployment.version == "release-43" and s.best.friday == date(2026, 11, 20)


def test_missing_file_is_a_sentence(tmp_path: Path) -> None:
    src = FileSource(tmp_path / "nope.yaml", (".*",), ("production",), BERLIN)
    with pytest.raises(SourceError, match=r"nope.yaml does not exist: check file.path"):
        read(src, SourceState("fp"), at("2026-11-26 09:00"))


def test_publisher_with_a_file_source(tmp_path: Path) -> None:
    (tmp_path / "history.yaml").write_text(YAML)
    cfg = tmp_path / "publisher.yaml"
    cfg.write_text("timezone: Europe/Berlin\nfile:\n  path: history.yaml\n")  # relative to the config file
    cmd = fdc_command("publisher", "-c", str(cfg), "--once", "--dry-run", "--json")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    state = json.loads(r.stdout)
    assert state["source"] == "file" and state["since"] == "deploy"
    assert state["last_friday_deploy"]["version"] in ("release-42", "web-9")  # web-9 may run into a Friday
    bad = tmp_path / "history.yaml"
    bad.write_text("- project: P\n  environment: Production\n  started: someday\n")
    r = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and f"{bad} line 3: started: not a time: 'someday'" in r.stdout + r.stderr


def test_the_shipped_example_parses() -> None:
    path = Path(__file__).resolve().parents[1] / "examples" / "deployments.yaml"
    src = FileSource(path, (".*",), ("production",), BERLIN)
    s = read(src, SourceState("fp"), at("2026-11-26 09:00"))
    assert s.best is not None and s.best.friday == date(2026, 10, 30)
    assert s.best.deployment.version.endswith("-hotfix")


def test_a_bad_file_is_reported_once_not_every_second(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from publisher.config import load
    from publisher.service import Publisher

    (tmp_path / "history.yaml").write_text("- project: P\n  environment: Production\n  started: someday\n")
    cfg_path = tmp_path / "publisher.yaml"
    cfg_path.write_text(f"timezone: Europe/Berlin\nstate_file: {tmp_path / 's.json'}\nfile: {{path: history.yaml}}\n")
    cfg = load(cfg_path)
    pub = Publisher(cfg, cfg.make_sources(), lambda: at("2026-11-26 09:00"))
    caplog.clear()
    with caplog.at_level("INFO"):
        for _ in range(5):
            assert pub.poll() is False
            assert not pub.sources[0].changed()  # the service would not wake up for it again
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        f"{tmp_path / 'history.yaml'} line 3: started: not a time: 'someday'; keeping the last good number"
    ]
