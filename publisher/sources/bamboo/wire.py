"""Bamboo's wire forms → Deployment. Pure: no HTTP here, and every field checked for type and size.

Real servers send epoch milliseconds and constant names (`SUCCESS`, `FINISHED`); the OpenAPI document for
Bamboo 12 says ISO 8601 strings and display names (`Successful`, `InProgress`). Both are accepted. Bamboo's
lifeCycleState maps onto the neutral lifecycle: FINISHED ran, IN_PROGRESS is running, PENDING and QUEUED
are waiting, NOT_BUILT never ran.
"""

from __future__ import annotations

import re
from typing import Any

from publisher.deployment import NOT_RUN, RAN, RUNNING, WAITING, Deployment, parse_state
from publisher.fields import WireError, identifier, shown
from publisher.times import TimeError, parse_time

MAX_NAME = 200  # names and versions longer than this are cut: they end up in MQTT payloads and the state file


def _key(value: str) -> str:
    return re.sub(r"[^a-z]", "", value.lower())


_LIFECYCLE = {"pending": WAITING, "queued": WAITING, "inprogress": RUNNING, "finished": RAN, "notbuilt": NOT_RUN}


def lifecycle(value: Any) -> str:
    """lifeCycleState in either spelling ("IN_PROGRESS", "InProgress") → the neutral lifecycle."""
    if isinstance(value, str) and (v := _LIFECYCLE.get(_key(value[:40]))):
        return v
    raise WireError(f"unknown lifeCycleState {shown(value)}")


def deployment_state(value: Any) -> str:
    try:
        return parse_state(value)
    except ValueError:
        raise WireError(f"unknown deploymentState {shown(value)}") from None


def name(value: Any) -> str:
    """A name or version as text, cut to MAX_NAME; anything but text or a number is empty."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value)[:MAX_NAME]


def result_url(base_url: str, result_id: int) -> str:
    return f"{base_url.rstrip('/')}/deploy/viewDeploymentResult.action?deploymentResultId={result_id}"


def parse_result(item: Any, *, env_key: str, project: str, environment: str, base_url: str | None) -> Deployment:
    """One `results[]` item of `deploy/environment/{id}/results`; a missing `finishedDate` means running."""
    if not isinstance(item, dict):
        raise WireError(f"a result is {type(item).__name__}, not an object")
    result_id = identifier(item.get("id"), "result id")
    version_obj = item.get("deploymentVersion")
    version = item.get("deploymentVersionName") or (version_obj.get("name") if isinstance(version_obj, dict) else "")
    started_raw = item.get("startedDate")
    if started_raw is None:
        raise WireError(f"result {result_id} has no startedDate")
    finished_raw = item.get("finishedDate")
    try:
        started = parse_time(started_raw)
        finished = parse_time(finished_raw) if finished_raw is not None else None
    except TimeError as e:
        raise WireError(f"result {result_id}: {e}") from None
    return Deployment(
        source="bamboo",
        result_id=result_id,
        environment_key=env_key,
        project=project,
        environment=environment,
        version=name(version),
        state=deployment_state(item.get("deploymentState")),
        lifecycle=lifecycle(item.get("lifeCycleState")),
        started=started,
        finished=finished,
        url=result_url(base_url, result_id) if base_url else None,
    )
