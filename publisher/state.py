"""What the publisher remembers between polls and restarts, saved atomically.

Per source: the best Friday deployment ever seen (so that expiring history, a restart or an outage never make
the number jump), the history start, and per-environment frontiers that keep steady polls from re-reading
history. Each source's part carries the fingerprint of the config keys that shape it: changing one source's
settings rebuilds only that source. The file is input like any other: anything implausible is one log line
and a rebuild, never a crash.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from common.files import remove_stale_temp_files, write_atomically
from publisher.deployment import (
    NOT_RUN,
    RAN,
    RUNNING,
    WAITING,
    Deployment,
    ResultId,
    saved_id,
    saved_text,
    saved_time,
)
from publisher.friday import FridayDeploy, later
from publisher.record import remember
from publisher.scan import Frontier
from publisher.source import EnvInfo

log = logging.getLogger("fdc.state")
FORMAT = 2
MAX_BYTES = 64 * 1024 * 1024  # far beyond any real state; a bigger file is not ours
_V1_LIFECYCLE = {"FINISHED": RAN, "IN_PROGRESS": RUNNING, "PENDING": WAITING, "QUEUED": WAITING, "NOT_BUILT": NOT_RUN}


@dataclass
class SourceState:
    fingerprint: str  # the source's config keys that shape its part; a different one means rebuild it
    best: FridayDeploy | None = None
    history_start: date | None = None
    environments: dict[str, EnvInfo] = field(default_factory=dict)
    frontiers: dict[str, Frontier] = field(default_factory=dict)
    markers: dict[str, ResultId] = field(default_factory=dict)  # newest result marker at the last read
    discovered_at: datetime | None = None  # wall clock of the last environment listing (saved for --once)
    memo: dict[str, Any] = field(default_factory=dict)  # the source's own notes (e.g. ETags), JSON, kept as is
    # Every Friday deployment seen (bounded: publisher/record.remember), so the record is computed, never guessed.
    fridays: tuple[FridayDeploy, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "best": None if self.best is None else _best_json(self.best),
            "history_start": self.history_start.isoformat() if self.history_start else None,
            "environments": {
                key: {
                    "project": e.project,
                    "name": e.name,
                    "frontier": _frontier_json(self.frontiers.get(key)),
                    "marker": self.markers.get(key),
                }
                for key, e in self.environments.items()
            },
            "discovered_at": self.discovered_at.isoformat() if self.discovered_at else None,
            "memo": self.memo,
            "fridays": [_best_json(f) for f in self.fridays],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SourceState:
        envs: dict[str, EnvInfo] = {}
        frontiers: dict[str, Frontier] = {}
        markers: dict[str, ResultId] = {}
        listed = d.get("environments", {})
        if not isinstance(listed, dict):
            raise ValueError("environments is not a mapping")
        for key, e in listed.items():
            envs[key] = EnvInfo(key, saved_text(e["project"]), saved_text(e["name"]))
            if f := e.get("frontier"):
                frontiers[key] = Frontier(saved_id(f["result_id"]), saved_time(f["started"]))
            if e.get("marker") is not None:
                markers[key] = saved_id(e["marker"])
        best = d.get("best")
        memo = d.get("memo", {})
        if not isinstance(memo, dict):
            raise ValueError("memo is not a mapping")
        fridays = d.get("fridays", [])
        if not isinstance(fridays, list):
            raise ValueError("fridays is not a list")
        return cls(
            fingerprint=saved_text(d["fingerprint"]),
            best=None if not best else FridayDeploy(date.fromisoformat(best["friday"]), _deployment(best)),
            history_start=date.fromisoformat(d["history_start"]) if d.get("history_start") else None,
            environments=envs,
            frontiers=frontiers,
            markers=markers,
            discovered_at=saved_time(d["discovered_at"]) if d.get("discovered_at") else None,
            memo=memo,
            fridays=tuple(FridayDeploy(date.fromisoformat(f["friday"]), _deployment(f)) for f in fridays),
        )


@dataclass
class State:
    fingerprint: str  # what shapes every source's answer alike: timezone, days, tracking_start
    sources: dict[str, SourceState] = field(default_factory=dict)

    @property
    def best(self) -> FridayDeploy | None:
        best = None
        for s in self.sources.values():
            best = later(best, s.best)
        return best

    @property
    def history_start(self) -> date | None:
        return min((s.history_start for s in self.sources.values() if s.history_start), default=None)

    @property
    def fridays(self) -> tuple[FridayDeploy, ...]:
        """Every Friday deployment kept by any source, and each source's best (a file saved before they were kept)."""
        out: list[FridayDeploy] = []
        for s in self.sources.values():
            out += remember(s.fridays, [s.best] if s.best else [])
        return tuple(out)

    def source(self, name: str, fingerprint: str) -> SourceState:
        """This source's part; a fresh one when it has none yet."""
        return self.sources.get(name) or SourceState(fingerprint)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "sources": {name: s.to_json() for name, s in self.sources.items()},
        }

    @classmethod
    def from_json(cls, d: Any) -> State:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"unknown state format {d.get('format') if isinstance(d, dict) else None!r}")
        sources = d.get("sources") or {}
        if not isinstance(sources, dict):
            raise ValueError("sources is not a mapping")
        return cls(saved_text(d["fingerprint"]), {saved_text(k): SourceState.from_json(v) for k, v in sources.items()})


def _best_json(best: FridayDeploy) -> dict[str, Any]:
    return {"friday": best.friday.isoformat(), "deployment": best.deployment.to_dict()}


def _deployment(best: dict[str, Any]) -> Deployment:
    return Deployment.from_dict(best["deployment"])


def _frontier_json(f: Frontier | None) -> dict[str, Any] | None:
    return None if f is None else {"result_id": f.result_id, "started": f.started.isoformat()}


def _from_v1(d: dict[str, Any], name: str, fingerprint: str, source_fingerprint: str) -> State:
    """Format 1 (one Bamboo or file source, Bamboo's words) → format 2, keeping the best Friday and frontiers."""
    envs = {}
    for key, e in (d.get("environments") or {}).items():
        envs[str(int(key))] = {"project": e["project"], "name": e["name"], "frontier": e.get("frontier")}
    best = d.get("best")
    if best:
        old = best["deployment"]
        dep = {k: v for k, v in old.items() if k != "environment_id"}
        dep.update(
            source=name, environment_key=str(int(old["environment_id"])), lifecycle=_V1_LIFECYCLE[old["lifecycle"]]
        )
        best = {"friday": best["friday"], "deployment": dep}
    part = {"fingerprint": source_fingerprint, "best": best, "history_start": d.get("history_start"),
            "environments": envs, "discovered_at": d.get("discovered_at")}  # fmt: skip
    return State(fingerprint, {name: SourceState.from_json(part)})


def load(path: Path, fingerprint: str, sources: dict[str, str], legacy: tuple[str, str] | None = None) -> State:
    """The saved state; parts for another config are dropped (with one log line each), a bad file is rebuilt.

    `sources` maps each configured source to its fingerprint; `legacy` is (source, format-1 fingerprint) of
    the one-source config a format-1 file was written for.
    """
    remove_stale_temp_files(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        log.info("no state file at %s yet: reading the whole history", path)
        return State(fingerprint)
    except OSError as e:
        log.warning("cannot read the state file %s (%s): rebuilding it from the sources", path, e.strerror)
        return State(fingerprint)
    try:
        if len(raw) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 1024 // 1024} MiB")
        data = json.loads(raw)
        if isinstance(data, dict) and data.get("format") == 1 and legacy is not None:
            name = legacy[0]
            if data.get("fingerprint") != legacy[1] or name not in sources:
                raise _Other()
            state = _from_v1(data, name, fingerprint, sources[name])
        else:
            state = State.from_json(data)
    except _Other:
        log.info("the configuration that shapes the number changed since %s was saved: rebuilding", path)
        return State(fingerprint)
    except Exception as e:  # RecursionError, OverflowError, KeyError…: whatever is in it, it is not a state
        log.warning("the state file %s is corrupt (%s): rebuilding it from the sources", path, _short(e))
        return State(fingerprint)
    if state.fingerprint != fingerprint:
        log.info("the timezone, days or tracking_start changed since %s was saved: rebuilding", path)
        return State(fingerprint)
    for name in list(state.sources):
        if name not in sources:
            del state.sources[name]
        elif state.sources[name].fingerprint != sources[name]:
            log.info("the %s: settings that shape the number changed since %s was saved: rebuilding it", name, path)
            del state.sources[name]
    return state


class _Other(Exception):
    """A format-1 file written for another configuration."""


def _short(e: Exception) -> str:
    text = str(e) if not isinstance(e, RecursionError) else "nested too deeply"
    return (text or type(e).__name__)[:200]


def save(path: Path, state: State) -> None:
    """Atomically: a crash leaves the old state or the new one, whole."""
    write_atomically(path, json.dumps(state.to_json(), indent=1, sort_keys=True).encode("utf-8"))
