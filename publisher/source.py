"""The seam every source plugs into: what a source supplies, and the registry the config loader reads.

A source is one module under publisher/sources/ that registers a SourceSpec: its config section's schema,
its secret environment variables, the keys that shape the saved state, and how to build it. The incremental
read, the fold into the state and the rule are source-neutral (reader.py, scan.py, friday.py): a source only
lists its production environments, says which changed, and reads one environment's pages newest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from publisher.deployment import Deployment, ResultId


class SourceError(Exception):
    """The source could not be read; `str()` is a sentence for people (never a secret)."""


@dataclass(frozen=True)
class EnvInfo:
    """A matched production environment; keyed by the source's id, so renames do not lose it."""

    key: str
    project: str
    name: str


class Source(Protocol):
    name: str  # its config section: "bamboo", "file", …; also its word in `<prefix>/state`'s `source`
    title: str  # how sentences name it: "Bamboo", "the deployments file"
    label: str  # which one: "Bamboo at https://bamboo.example.com"
    watch: float | None  # seconds between cheap `changed()` checks, or None when only poll_interval applies
    relist: timedelta  # how often the list of environments is read again
    incremental: bool  # False: a changed environment is read whole (a file can change anywhere)
    # The source's own notes kept in the state file (JSON values: e.g. ETags and what they stood for). The reader
    # hands in the saved notes before each poll and saves them with the state after a good one.
    memo: dict[str, Any]

    @property
    def server_time(self) -> datetime | None:
        """The source's own clock at its latest answer (HTTP Date), if it has one."""
        ...

    def environments(self) -> list[EnvInfo]:
        """Every production environment the config's patterns match (may be empty)."""
        ...

    def latest(self, envs: list[EnvInfo]) -> dict[str, ResultId | None]:
        """A marker of each environment's newest result (its id; None: never deployed) — cheaply, for many."""
        ...

    def pages(self, env: EnvInfo, warm: bool) -> Iterator[list[Deployment]]:
        """The environment's results, newest first by start, page by page (`warm`: only the top is likely new)."""
        ...

    def nothing_matches(self) -> str:
        """The sentence for a source where no environment matches the patterns."""
        ...

    def changed(self) -> bool:
        """True when a poll now could find something new (a file that was written)."""
        ...

    def cancel(self) -> None:
        """Stop: a read in progress ends soon with SourceError (from a signal handler, so no locks)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class BuildContext:
    """What a source may need from the rest of the config."""

    config_dir: Path  # relative paths in a section are relative to the config file
    tz: ZoneInfo  # for times without an offset


@dataclass(frozen=True)
class SourceSpec:
    """A source's registration: the config loader and `make_sources` look sources up here, never by name."""

    name: str
    order: int  # place in `<prefix>/state`'s `source` ("bamboo+github")
    schema: Mapping[Any, Any]  # voluptuous schema of its config section
    build: Callable[[Mapping[str, Any], BuildContext], Source]
    env: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # FDC_* secrets → key path in the config
    check: Callable[[Mapping[str, Any]], list[str]] = lambda section: []  # cross-key problems, as sentences
    fingerprint: Callable[[Mapping[str, Any]], list[Any]] = lambda section: []  # keys that shape the saved state
    secrets: Callable[[Mapping[str, Any]], list[str | None]] = lambda section: []  # values never to log
    summary: Callable[[Mapping[str, Any]], str] = lambda section: ""  # "Bamboo at …" for the start-up log line
    # the source's web UI for people (Home Assistant's "Visit" link on the publisher's device), None: none known
    web_url: Callable[[Mapping[str, Any]], str | None] = lambda section: None
    # where a one-source state file of format 1 came from (its fingerprint's first key), to carry it over
    legacy_where: Callable[[Mapping[str, Any], BuildContext], str] | None = None
    polled: bool = True  # False: counted and kept in the state, but fed by pushes, never polled (`push`)
    section: str = ""  # its config section's key when that is not `name` (`webhooks:` for `push`)

    @property
    def key(self) -> str:
        """The top-level config key of its section."""
        return self.section or self.name


_REGISTRY: dict[str, SourceSpec] = {}


def register(spec: SourceSpec) -> SourceSpec:
    _REGISTRY[spec.name] = spec
    return spec


def specs() -> list[SourceSpec]:
    """Every registered source, in `state.source` order."""
    import publisher.push  # (the push receiver's section registers itself too)
    import publisher.sources  # noqa: F401  (the built-in sources register themselves on import)

    return sorted(_REGISTRY.values(), key=lambda s: s.order)


def full_match(patterns: tuple[str, ...] | list[str], text: str) -> bool:
    """Case-insensitive full match of any pattern: how every source picks projects and environments."""
    return any(re.fullmatch(p, text, re.IGNORECASE) for p in patterns)
