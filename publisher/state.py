"""What the publisher remembers between polls and restarts, saved atomically.

The best Friday deployment ever seen is kept so that Bamboo expiring old results, a restart or an outage
never makes the number jump; per-environment frontiers keep steady polls from re-reading history.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from common.files import write_atomically
from publisher.deployment import Deployment
from publisher.friday import FridayDeploy
from publisher.scan import Frontier

log = logging.getLogger("fdc.state")
FORMAT = 1


@dataclass(frozen=True)
class EnvInfo:
    """A matched production environment; keyed by id, so renames do not lose it."""

    id: int
    project: str
    name: str


@dataclass
class State:
    fingerprint: str  # the config that shapes the answer; a different one means rebuild from the source
    best: FridayDeploy | None = None
    history_start: date | None = None
    environments: dict[int, EnvInfo] = field(default_factory=dict)
    frontiers: dict[int, Frontier] = field(default_factory=dict)
    discovered_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "best": None
            if self.best is None
            else {"friday": self.best.friday.isoformat(), "deployment": self.best.deployment.to_dict()},
            "history_start": self.history_start.isoformat() if self.history_start else None,
            "environments": {
                str(e.id): {
                    "project": e.project,
                    "name": e.name,
                    "frontier": _frontier_json(self.frontiers.get(e.id)),
                }
                for e in self.environments.values()
            },
            "discovered_at": self.discovered_at.isoformat() if self.discovered_at else None,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> State:
        if d.get("format") != FORMAT:
            raise ValueError(f"unknown state format {d.get('format')!r}")
        best = d.get("best")
        envs: dict[int, EnvInfo] = {}
        frontiers: dict[int, Frontier] = {}
        for key, e in (d.get("environments") or {}).items():
            env_id = int(key)
            envs[env_id] = EnvInfo(env_id, str(e["project"]), str(e["name"]))
            if f := e.get("frontier"):
                frontiers[env_id] = Frontier(int(f["result_id"]), datetime.fromisoformat(f["started"]))
        return cls(
            fingerprint=str(d["fingerprint"]),
            best=None
            if not best
            else FridayDeploy(date.fromisoformat(best["friday"]), Deployment.from_dict(best["deployment"])),
            history_start=date.fromisoformat(d["history_start"]) if d.get("history_start") else None,
            environments=envs,
            frontiers=frontiers,
            discovered_at=datetime.fromisoformat(d["discovered_at"]) if d.get("discovered_at") else None,
        )


def _frontier_json(f: Frontier | None) -> dict[str, Any] | None:
    return None if f is None else {"result_id": f.result_id, "started": f.started.isoformat()}


def load(path: Path, fingerprint: str) -> State:
    """The saved state, or a fresh one (with one log line) when it is missing, unreadable or for another config."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        log.info("no state file at %s yet: reading the whole history", path)
        return State(fingerprint)
    except OSError as e:
        log.warning("cannot read the state file %s (%s): rebuilding it from the source", path, e.strerror)
        return State(fingerprint)
    try:
        state = State.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        log.warning("the state file %s is corrupt (%s): rebuilding it from the source", path, e)
        return State(fingerprint)
    if state.fingerprint != fingerprint:
        log.info(
            "the configuration that shapes the number changed since %s was saved: rebuilding from the source", path
        )
        return State(fingerprint)
    return state


def save(path: Path, state: State) -> None:
    """Atomically: a crash leaves the old state or the new one, whole."""
    write_atomically(path, json.dumps(state.to_json(), indent=1, sort_keys=True).encode("utf-8"))
