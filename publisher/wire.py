"""Bamboo's wire forms → Deployment. Pure: no HTTP here.

Real servers send epoch milliseconds and constant names (`SUCCESS`, `FINISHED`); the OpenAPI document for
Bamboo 12 says ISO 8601 strings and display names (`Successful`, `InProgress`). Both are accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from publisher.deployment import FINISHED, IN_PROGRESS, NOT_BUILT, PENDING, QUEUED, Deployment


class WireError(ValueError):
    """A result Bamboo sent that cannot be understood; names the field."""


def _key(value: str) -> str:
    return re.sub(r"[^a-z]", "", value.lower())


_LIFECYCLE = {
    _key(v): v for v in (PENDING, QUEUED, IN_PROGRESS, FINISHED, NOT_BUILT)
}  # "inprogress" covers IN_PROGRESS and InProgress
_STATE = {"success": "SUCCESS", "successful": "SUCCESS", "failed": "FAILED", "unknown": "UNKNOWN"}


def lifecycle(value: Any) -> str:
    if isinstance(value, str) and (v := _LIFECYCLE.get(_key(value))):
        return v
    raise WireError(f"unknown lifeCycleState {value!r}")


def deployment_state(value: Any) -> str:
    if value is None:
        return "UNKNOWN"
    if isinstance(value, str) and (v := _STATE.get(_key(value))):
        return v
    raise WireError(f"unknown deploymentState {value!r}")


def parse_date(value: Any) -> datetime:
    """Epoch milliseconds, ISO 8601, or the webhook's `2024-07-10 16:59:19 +0300`; naive times are UTC."""
    if isinstance(value, bool):
        raise WireError(f"not a date: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return datetime.fromtimestamp(int(s) / 1000, tz=UTC)
        s = re.sub(r"\s+([+-]\d{2}):?(\d{2})$", r"\1:\2", s)  # "16:59:19 +0300" → "16:59:19+03:00"
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            raise WireError(f"not a date: {value!r}") from None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    raise WireError(f"not a date: {value!r}")


def result_url(base_url: str, result_id: int) -> str:
    return f"{base_url.rstrip('/')}/deploy/viewDeploymentResult.action?deploymentResultId={result_id}"


def parse_result(
    item: dict[str, Any], *, environment_id: int, project: str, environment: str, base_url: str | None
) -> Deployment:
    """One `results[]` item of `deploy/environment/{id}/results`; a missing `finishedDate` means running."""
    try:
        result_id = int(item["id"])
        version = item.get("deploymentVersionName") or (item.get("deploymentVersion") or {}).get("name") or ""
        started_raw = item.get("startedDate")
        if started_raw is None:
            raise WireError("result has no startedDate")
        finished_raw = item.get("finishedDate")
        return Deployment(
            result_id=result_id,
            environment_id=environment_id,
            project=project,
            environment=environment,
            version=str(version),
            state=deployment_state(item.get("deploymentState")),
            lifecycle=lifecycle(item.get("lifeCycleState")),
            started=parse_date(started_raw),
            finished=parse_date(finished_raw) if finished_raw is not None else None,
            url=result_url(base_url, result_id) if base_url else None,
        )
    except KeyError as e:
        raise WireError(f"result has no {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        if isinstance(e, WireError):
            raise
        raise WireError(f"malformed result: {e}") from None
