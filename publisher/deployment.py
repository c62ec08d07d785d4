"""One production deployment result, as the rule sees it, whatever source it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Where a result is in its life, in words every source maps onto (Bamboo's lifeCycleState, GitHub's statuses…).
RAN = "ran"  # touched production and finished, whatever its outcome
RUNNING = "running"  # touching production now: counts up to *now*
WAITING = "waiting"  # queued, pending, waiting for approval: did not run (yet)
NOT_RUN = "not_run"  # will never run (not built, skipped, cancelled before it started)
LIFECYCLES = (RAN, RUNNING, WAITING, NOT_RUN)
TOUCHED = frozenset({RAN, RUNNING})  # these count
SETTLED = frozenset({RAN, NOT_RUN})  # these will not change any more
STATES = ("SUCCESS", "FAILED", "UNKNOWN")

ResultId = int | str
_STATE_WORDS = {"success": "SUCCESS", "successful": "SUCCESS", "failed": "FAILED", "failure": "FAILED",
                "unknown": "UNKNOWN"}  # fmt: skip


def parse_state(value: object) -> str:
    """An outcome in any usual spelling ("SUCCESS", "Successful", "failed") → SUCCESS | FAILED | UNKNOWN."""
    if value is None:
        return "UNKNOWN"
    if isinstance(value, str) and (v := _STATE_WORDS.get("".join(c for c in value[:40].lower() if c.isalpha()))):
        return v
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ValueError(f"unknown state {shown}")


@dataclass(frozen=True)
class Deployment:
    """A deployment result; `finished` is None while it is still running. Known by (source, result_id)."""

    source: str  # the source's config section name: "bamboo", "file", …
    result_id: ResultId
    environment_key: str  # the source's stable key of the environment (ids survive renames)
    project: str
    environment: str
    version: str
    state: str  # SUCCESS | FAILED | UNKNOWN
    lifecycle: str  # one of LIFECYCLES
    started: datetime  # timezone-aware
    finished: datetime | None
    url: str | None = None

    @property
    def key(self) -> tuple[str, ResultId]:
        return self.source, self.result_id

    @property
    def ran(self) -> bool:
        return self.lifecycle in TOUCHED

    @property
    def settled(self) -> bool:
        return self.lifecycle in SETTLED

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "result_id": self.result_id,
            "environment_key": self.environment_key,
            "project": self.project,
            "environment": self.environment,
            "version": self.version,
            "state": self.state,
            "lifecycle": self.lifecycle,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "url": self.url,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Deployment:
        """Strict: a saved file is input too; anything odd raises ValueError (the caller rebuilds)."""
        rid = saved_id(d["result_id"])
        if d["lifecycle"] not in LIFECYCLES or d["state"] not in STATES:
            raise ValueError("unknown lifecycle or state")
        started = saved_time(d["started"])
        finished = saved_time(d["finished"]) if d.get("finished") else None
        url = d.get("url")
        return cls(
            source=saved_text(d["source"]),
            result_id=rid,
            environment_key=saved_text(d["environment_key"]),
            project=saved_text(d["project"]),
            environment=saved_text(d["environment"]),
            version=saved_text(d["version"]),
            state=d["state"],
            lifecycle=d["lifecycle"],
            started=started,
            finished=finished,
            url=None if url is None else saved_text(url),
        )


def saved_text(value: Any) -> str:
    """Text read back from the state file, or ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


def saved_id(value: Any) -> ResultId:
    """A result id read back from the state file: an integer or text, nothing else (not true, not 1e400)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"a result id of {type(value).__name__}")
    return value


def saved_time(value: Any) -> datetime:
    """An ISO 8601 time with its offset, read back from the state file, or ValueError."""
    moment = datetime.fromisoformat(saved_text(value))
    if moment.tzinfo is None:
        raise ValueError("a time without an offset")
    return moment
