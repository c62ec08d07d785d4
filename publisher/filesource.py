"""Deployments from a JSON or YAML file instead of Bamboo: for teams whose CI is not Bamboo, and the demo.

The file is a list (or `{deployments: [...]}`) of `{project, environment, version, started, finished, state}`;
no `finished` means still running. Times without an offset are in the configured timezone. It is re-read when
it changes; every problem names its line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from publisher.deployment import FINISHED, IN_PROGRESS, Deployment
from publisher.friday import FridayDeploy, friday_of, later, local_date
from publisher.source import SourceError
from publisher.state import State
from publisher.wire import WireError, deployment_state, parse_date

log = logging.getLogger("fdc.file")
KEYS = {"project", "environment", "version", "started", "finished", "state", "url", "id"}
REQUIRED = ("project", "environment", "started")


def _stable_id(*parts: str) -> int:
    """Ids for results and environments that survive re-reads (a file has no ids of its own)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:6], "big")


def _when(value: Any, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise WireError(f"{value.isoformat()} has no time of day: write e.g. '{value.isoformat()} 16:42'")
    else:
        moment = parse_date(str(value).replace("T", " ", 1) if isinstance(value, str) else value)
        if isinstance(value, str) and not re.search(r"(Z|[+-]\d{2}:?\d{2})$", value.strip()):
            moment = moment.replace(tzinfo=None)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse(text: str, source: str, tz: ZoneInfo) -> list[Deployment]:
    """Every deployment in the file, or SourceError naming the line of the first problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" line {mark.line + 1}" if mark else ""
        raise SourceError(f"{source}{where}: not valid JSON or YAML ({e.problem or e.context})") from None
    if isinstance(data, dict) and "deployments" in data and isinstance(root, yaml.MappingNode):
        data = data["deployments"]
        root = next(v for k, v in root.value if k.value == "deployments")
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        raise SourceError(f"{source}: expected a list of deployments (or `deployments:` with a list)")
    out = []
    for item, node in zip(data, root.value, strict=True):
        line = f"{source} line {node.start_mark.line + 1}"
        if not isinstance(item, dict):
            raise SourceError(f"{line}: expected a deployment with project, environment, started, …")
        unknown = sorted(set(map(str, item)) - KEYS)
        if unknown:
            raise SourceError(f"{line}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
        missing = [k for k in REQUIRED if item.get(k) in (None, "")]
        if missing:
            raise SourceError(f"{line}: {missing[0]!r} is missing")
        try:
            started = _when(item["started"], tz)
            finished = _when(item["finished"], tz) if item.get("finished") not in (None, "") else None
            state = deployment_state(item.get("state") or "SUCCESS")
        except WireError as e:
            raise SourceError(f"{line}: {e}") from None
        if finished is not None and finished < started:
            raise SourceError(f"{line}: finished is before started")
        project, environment = str(item["project"]), str(item["environment"])
        version = str(item.get("version") or "")
        out.append(
            Deployment(
                result_id=int(item["id"]) if isinstance(item.get("id"), int) else
                _stable_id(project, environment, started.isoformat()),
                environment_id=_stable_id(project, environment),
                project=project,
                environment=environment,
                version=version,
                state=state,
                lifecycle=FINISHED if finished else IN_PROGRESS,
                started=started,
                finished=finished,
                url=str(item["url"]) if item.get("url") else None,
            )
        )  # fmt: skip
    return out


class FileSource:
    """A deployments file as a Source; its modification time says when to read it again."""

    name = "file"
    watch: float | None = 1.0

    def __init__(self, path: Path, projects: tuple[str, ...], environments: tuple[str, ...]) -> None:
        self.path, self.projects, self.environments = path, projects, environments
        self._seen: tuple[int, int] | None = None

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def changed(self) -> bool:
        return self._stamp() != self._seen

    def close(self) -> None:
        pass

    def poll(
        self, state: State, *, tz: ZoneInfo, days: frozenset[int], tracking_start: date | None, now: datetime
    ) -> State:
        stamp = self._stamp()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(f"the deployments file {self.path} does not exist: check file.path") from None
        except (OSError, UnicodeDecodeError) as e:
            raise SourceError(f"cannot read the deployments file {self.path} ({e}): check file.path") from None
        deps = [
            d
            for d in parse(text, str(self.path), tz)
            if d.ran
            and any(re.fullmatch(p, d.project, re.IGNORECASE) for p in self.projects)
            and any(re.fullmatch(e, d.environment, re.IGNORECASE) for e in self.environments)
        ]
        best = state.best
        history_start = state.history_start
        for d in deps:
            fri = friday_of(d, tz, days, now)
            if fri is not None and (tracking_start is None or fri >= tracking_start):
                best = later(best, FridayDeploy(fri, d))
            start = local_date(d.started, tz)
            history_start = start if history_start is None else min(history_start, start)
        if self._seen != stamp:
            log.info("read %d production deployment(s) from %s", len(deps), self.path)
        self._seen = stamp
        return replace(state, best=best, history_start=history_start)
