"""The state file is input too: hostile content is one log line and a rebuild, kills leave no temp files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from publisher import state as store
from publisher.deployment import RAN
from publisher.friday import FridayDeploy
from publisher.scan import Frontier
from publisher.source import EnvInfo
from publisher.state import SourceState, State
from tests.factories import at, dep

FPS = {"bamboo": "b-fp", "file": "f-fp"}


def sample() -> State:
    friday = FridayDeploy(date(2026, 11, 13), dep(at("2026-11-13 16:42"), at("2026-11-13 16:51"), result_id=5))
    bamboo = SourceState("b-fp", friday, date(2026, 10, 1), {"7": EnvInfo("7", "Payments", "Production")},
                         {"7": Frontier(5, at("2026-11-13 16:42"))}, {"7": 5}, at("2026-11-26 09:00"))  # fmt: skip
    return State("fp", {"bamboo": bamboo, "file": SourceState("f-fp")})


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store.save(path, sample())
    assert store.load(path, "fp", FPS) == sample()


def test_one_source_changed_rebuilds_only_that_source(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    store.save(path, sample())
    with caplog.at_level("INFO"):
        s = store.load(path, "fp", {"bamboo": "b-fp", "file": "changed"})
    assert s.sources["bamboo"] == sample().sources["bamboo"] and "file" not in s.sources
    assert [r.getMessage() for r in caplog.records] == [
        f"the file: settings that shape the number changed since {path} was saved: rebuilding it"
    ]


@pytest.mark.parametrize(
    "content",
    [
        '{"format": 2, "fingerprint": "fp", "sources": {"bamboo": {"fingerprint": "b-fp", "environments": '
        '{"7": {"project": "P", "name": "N", "frontier": {"result_id": 1e400, '
        '"started": "2026-11-13T10:00:00+01:00"}}}}}}',
        '{"format": 2, "fingerprint": "fp", "sources": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"format": 2, "fingerprint": "fp", "sources": {"bamboo": {"fingerprint": "b-fp", "environments": []}}}',
        '{"format": 2, "fingerprint": 7, "sources": {}}',
        '{"format": 2, "fingerprint": "fp", "sources": {"bamboo": {"fingerprint": "b-fp", "best": '
        '{"friday": "2026-11-13", "deployment": {"result_id": true}}}}}',
        '{"format": 2, "fingerprint": "fp", "sources": {"bamboo": {"fingerprint": "b-fp", "environments": '
        '{"7": {"project": ["P"], "name": "N"}}}}}',
        "[" * 100_000,
        "\xff\xfe not json",
        "",
        "null",
    ],
)
def test_hostile_content_is_one_line_and_a_rebuild(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape") if "\xff" not in content else b"\xff\xfe not json")
    with caplog.at_level("INFO"):
        s = store.load(path, "fp", FPS)
    assert s == State("fp")
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"the state file {path} is corrupt (") and line.endswith("): rebuilding it from the sources")
    assert len(line) < 400


def test_temp_files_left_by_a_kill_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store.save(path, sample())
    (tmp_path / ".state.json.k1ll3d.tmp").write_text("half a state")
    (tmp_path / "other.txt").write_text("not ours")
    assert store.load(path, "fp", FPS) == sample()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt", "state.json"]


def test_a_format_1_file_carries_its_best_friday_over(tmp_path: Path) -> None:
    """A state written before sources were pluggable keeps the Friday that Bamboo may have expired since."""
    path = tmp_path / "state.json"
    old = {
        "format": 1,
        "fingerprint": "legacy-fp",
        "best": {"friday": "2026-11-13", "deployment": {
            "result_id": 5, "environment_id": 7, "project": "Payments", "environment": "Production",
            "version": "release-1", "state": "SUCCESS", "lifecycle": "FINISHED",
            "started": "2026-11-13T16:42:00+01:00", "finished": "2026-11-13T16:51:00+01:00", "url": None}},
        "history_start": "2026-10-01",
        "environments": {"7": {"project": "Payments", "name": "Production",
                               "frontier": {"result_id": 5, "started": "2026-11-13T16:42:00+01:00"}}},
        "discovered_at": "2026-11-26T09:00:00+01:00",
    }  # fmt: skip
    path.write_text(json.dumps(old))
    s = store.load(path, "fp", {"bamboo": "b-fp"}, ("bamboo", "legacy-fp"))
    b = s.sources["bamboo"]
    assert b.best is not None and b.best.deployment.key == ("bamboo", 5) and b.best.deployment.lifecycle == RAN
    assert b.best.deployment.environment_key == "7" and b.frontiers["7"] == Frontier(5, at("2026-11-13 16:42"))
    assert b.fingerprint == "b-fp" and s.history_start == date(2026, 10, 1)
    assert store.load(path, "fp", {"bamboo": "b-fp"}, ("bamboo", "another")) == State("fp")
