"""The `file:` source: deployments from a JSON or YAML file, for CIs without a source module, and the demo.

The file is a list (or `{deployments: [...]}`) of `{project, environment, version, started, finished, state}`;
no `finished` means still running. Times without an offset are in the configured timezone. It is re-read
within a second of a write; every problem names the line of the bad value.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import voluptuous as vol
import yaml

from common import config as cc
from publisher import schema
from publisher.deployment import RAN, RUNNING, Deployment, ResultId, parse_state
from publisher.source import BuildContext, EnvInfo, SourceError, SourceSpec, full_match, register
from publisher.times import TimeError, parse_time

KEYS = {"project", "environment", "version", "started", "finished", "state", "url", "id"}
REQUIRED = ("project", "environment", "started")
MAX_BYTES = 16 * 1024 * 1024


def _stable_id(*parts: str) -> int:
    """Ids for results and environments that survive re-reads (a file has no ids of its own)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:6], "big")


def _when(value: Any, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        raise TimeError(f"{value.isoformat()} has no time of day: write e.g. '{value.isoformat()} 16:42'")
    if isinstance(value, str):
        value = value.replace("T", " ", 1)
    return parse_time(value, naive_tz=tz)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def parse(text: str, source: str, tz: ZoneInfo) -> list[Deployment]:
    """Every deployment in the file, or SourceError naming the line of the first problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" line {mark.line + 1}" if mark else ""
        raise SourceError(f"{source}{where}: not valid JSON or YAML ({e.problem or e.context})") from None
    except (yaml.YAMLError, RecursionError):
        raise SourceError(f"{source}: not valid JSON or YAML") from None
    if isinstance(data, dict) and "deployments" in data and isinstance(root, yaml.MappingNode):
        data = data["deployments"]
        root = next(v for k, v in root.value if k.value == "deployments")
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        raise SourceError(f"{source}: expected a list of deployments (or `deployments:` with a list)")
    out = []
    for item, node in zip(data, root.value, strict=True):
        if not isinstance(item, dict) or not isinstance(node, yaml.MappingNode):
            raise SourceError(
                f"{source} line {_line(node)}: expected a deployment with project, environment, started, …"
            )
        lines = {str(k.value): _line(v) for k, v in node.value}
        unknown = sorted(set(map(str, item)) - KEYS)
        if unknown:
            raise SourceError(
                f"{source} line {lines.get(unknown[0], _line(node))}: unknown key {unknown[0]!r} "
                f"(known: {', '.join(sorted(KEYS))})"
            )
        missing = [k for k in REQUIRED if item.get(k) in (None, "")]
        if missing:
            raise SourceError(f"{source} line {lines.get(missing[0], _line(node))}: {missing[0]!r} is missing")
        key = "started"
        try:
            started = _when(item["started"], tz)
            key = "finished"
            finished = _when(item["finished"], tz) if item.get("finished") not in (None, "") else None
            key = "state"
            state = parse_state(item.get("state") or "SUCCESS")
        except ValueError as e:  # TimeError too
            raise SourceError(f"{source} line {lines.get(key, _line(node))}: {key}: {e}") from None
        if finished is not None and finished < started:
            raise SourceError(f"{source} line {lines.get('finished', _line(node))}: finished is before started")
        project, environment = str(item["project"]), str(item["environment"])
        rid = item.get("id")
        out.append(
            Deployment(
                source="file",
                result_id=rid if isinstance(rid, int | str) and not isinstance(rid, bool) else
                _stable_id(project, environment, started.isoformat()),
                environment_key=str(_stable_id(project, environment)),
                project=project,
                environment=environment,
                version=str(item.get("version") or ""),
                state=state,
                lifecycle=RAN if finished else RUNNING,
                started=started,
                finished=finished,
                url=str(item["url"]) if item.get("url") else None,
            )
        )  # fmt: skip
    return out


class FileSource:
    """A deployments file as a Source; its modification time says when to read it again."""

    name = "file"
    title = "the deployments file"
    watch: float | None = 1.0
    relist = timedelta(0)  # the file is the list: read it again on every poll
    incremental = False  # an edit can change any entry: a changed environment is read whole
    server_time: datetime | None = None

    def __init__(self, path: Path, projects: tuple[str, ...], environments: tuple[str, ...], tz: ZoneInfo) -> None:
        self.path, self.projects, self.patterns, self.tz = path, projects, environments, tz
        self.label = f"the deployments file {path}"
        self.memo: dict[str, Any] = {}
        self._stamp_seen: tuple[int, int] | None = None
        self._parsed: tuple[tuple[int, int] | None, dict[str, list[Deployment]]] | None = None

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _by_env(self) -> dict[str, list[Deployment]]:
        """The file's matching deployments per environment, newest first; parsed once per version of the file."""
        stamp = self._stamp()
        self._stamp_seen = stamp  # a bad file is reported once, not re-read every second
        if self._parsed is not None and self._parsed[0] == stamp and stamp is not None:
            return self._parsed[1]
        try:
            if stamp is not None and stamp[1] > MAX_BYTES:
                raise SourceError(f"{self.label} is larger than {MAX_BYTES // 1024 // 1024} MiB: is it the right file?")
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(f"{self.label} does not exist: check file.path") from None
        except (OSError, UnicodeDecodeError) as e:
            raise SourceError(f"cannot read {self.label} ({e}): check file.path") from None
        envs: dict[str, list[Deployment]] = {}
        for d in parse(text, str(self.path), self.tz):
            if full_match(self.projects, d.project) and full_match(self.patterns, d.environment):
                envs.setdefault(d.environment_key, []).append(d)
        for deps in envs.values():
            deps.sort(key=lambda d: d.started, reverse=True)
        self._parsed = (stamp, envs)
        return envs

    def environments(self) -> list[EnvInfo]:
        return [EnvInfo(key, deps[0].project, deps[0].environment) for key, deps in self._by_env().items()]

    def latest(self, envs: list[EnvInfo]) -> dict[str, ResultId | None]:
        by_env = self._by_env()
        return {e.key: _digest(by_env.get(e.key, [])) for e in envs}

    def pages(self, env: EnvInfo, warm: bool) -> Iterator[list[Deployment]]:
        yield list(self._by_env().get(env.key, []))

    def nothing_matches(self) -> str:
        return (
            f"{self.label} has no deployment to an environment matching file.environments {list(self.patterns)} "
            f"in a project matching file.projects {list(self.projects)}: check those regexes and the file"
        )

    def changed(self) -> bool:
        return self._stamp() != self._stamp_seen

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


def _digest(deps: list[Deployment]) -> str | None:
    if not deps:
        return None
    text = "\n".join(repr(d.to_dict()) for d in deps)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _path(section: Mapping[str, Any], ctx: BuildContext) -> Path:
    """Relative to the config file, so a config and its history can travel together."""
    p = Path(os.path.expanduser(section["path"]))
    return p if p.is_absolute() else ctx.config_dir / p


SPEC = register(
    SourceSpec(
        name="file",
        order=40,
        schema={vol.Required("path"): cc.text, **schema.PATTERNS},
        fingerprint=lambda f: [f["path"], f["environments"], f["projects"]],
        summary=lambda f: f"the deployments file {f['path']} (environments {f['environments']})",
        build=lambda f, ctx: FileSource(_path(f, ctx), tuple(f["projects"]), tuple(f["environments"]), ctx.tz),
        legacy_where=lambda f, ctx: str(_path(f, ctx)),
    )
)
