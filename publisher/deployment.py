"""One production deployment result, as the rule sees it, whatever source it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

# Bamboo's lifeCycleState values (constant names; wire.py maps display names onto these).
PENDING, QUEUED, IN_PROGRESS, FINISHED, NOT_BUILT = "PENDING", "QUEUED", "IN_PROGRESS", "FINISHED", "NOT_BUILT"
RAN = frozenset({IN_PROGRESS, FINISHED})  # touched production: counts, whatever deploymentState says
SETTLED = frozenset({FINISHED, NOT_BUILT})  # will not change any more


@dataclass(frozen=True)
class Deployment:
    """A deployment result; `finished` is None while it is still running."""

    result_id: int
    environment_id: int
    project: str
    environment: str
    version: str
    state: str  # SUCCESS | FAILED | UNKNOWN
    lifecycle: str  # one of the lifeCycleState constants above
    started: datetime  # timezone-aware
    finished: datetime | None
    url: str | None = None

    @property
    def ran(self) -> bool:
        return self.lifecycle in RAN

    @property
    def settled(self) -> bool:
        return self.lifecycle in SETTLED

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["started"] = self.started.isoformat()
        d["finished"] = self.finished.isoformat() if self.finished else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Deployment:
        return cls(
            result_id=int(d["result_id"]),
            environment_id=int(d["environment_id"]),
            project=str(d["project"]),
            environment=str(d["environment"]),
            version=str(d["version"]),
            state=str(d["state"]),
            lifecycle=str(d["lifecycle"]),
            started=datetime.fromisoformat(d["started"]),
            finished=datetime.fromisoformat(d["finished"]) if d.get("finished") else None,
            url=d.get("url"),
        )
