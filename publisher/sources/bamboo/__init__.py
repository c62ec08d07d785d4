"""The `bamboo:` source: Atlassian Bamboo's deployment projects, read over its REST API.

Which changed: one `POST deploy/dashboard/status` (or `GET deploy/dashboard`) gives every environment's
newest result id; each changed environment's results are read newest first (`deploy/environment/{id}/results`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import voluptuous as vol

from common import config as cc
from publisher import schema
from publisher.deployment import Deployment, ResultId
from publisher.http import OverHttp
from publisher.reader import page_sizes
from publisher.source import BuildContext, EnvInfo, SourceSpec, full_match, register
from publisher.sources.bamboo.api import BambooAuth, BambooClient


class BambooSource(OverHttp):
    """Bamboo as a Source: the client plus the patterns that pick production environments."""

    name = "bamboo"
    title = "Bamboo"
    relist = timedelta(hours=1)  # new deployment projects and environments are picked up this often

    client: BambooClient

    def __init__(self, client: BambooClient, projects: tuple[str, ...], environments: tuple[str, ...]) -> None:
        self.client, self.projects, self.patterns = client, projects, environments
        self.label = client.label
        self.memo: dict[str, Any] = {}

    def environments(self) -> list[EnvInfo]:
        return [
            e
            for e in self.client.environments()
            if full_match(self.projects, e.project) and full_match(self.patterns, e.name)
        ]

    def latest(self, envs: list[EnvInfo]) -> dict[str, ResultId | None]:
        newest = self.client.latest(sorted(int(e.key) for e in envs))
        return {str(k): v for k, v in newest.items()}

    def pages(self, env: EnvInfo, warm: bool) -> Iterator[list[Deployment]]:
        return self.client.results(env, page_sizes(warm))

    def nothing_matches(self) -> str:
        return (
            f"{self.label} has no environment matching bamboo.environments {list(self.patterns)} in a deployment "
            f"project matching bamboo.projects {list(self.projects)}: check those regexes"
        )


def _check(b: Mapping[str, Any]) -> list[str]:
    if b.get("token"):
        return []
    if b.get("username") and not b.get("password"):
        return ["bamboo.password: required with bamboo.username (or set FDC_BAMBOO_PASSWORD)"]
    if b.get("password") and not b.get("username"):
        return ["bamboo.username: required with bamboo.password (or set FDC_BAMBOO_USERNAME)"]
    if not b.get("username"):
        return [
            "bamboo: no credentials: set bamboo.token (or FDC_BAMBOO_TOKEN) to a personal access token, "
            "or bamboo.username and bamboo.password"
        ]
    return []


def _build(b: Mapping[str, Any], ctx: BuildContext) -> BambooSource:
    token = b.get("token")
    auth = BambooAuth(token, None if token else b.get("username"), None if token else b.get("password"))
    client = BambooClient(b["url"], auth, verify=b["verify"], timeout=b["timeout"])
    return BambooSource(client, tuple(b["projects"]), tuple(b["environments"]))


SPEC = register(
    SourceSpec(
        name="bamboo",
        order=10,
        schema={
            vol.Required("url"): schema.http_url("https://bamboo.example.com", (r"/rest(/|$)",)),
            vol.Optional("token"): schema.secret,
            vol.Optional("username"): cc.text,
            vol.Optional("password"): schema.secret,
            **schema.PATTERNS,
            **schema.HTTP,
        },
        env={
            "FDC_BAMBOO_TOKEN": ("bamboo", "token"),
            "FDC_BAMBOO_USERNAME": ("bamboo", "username"),
            "FDC_BAMBOO_PASSWORD": ("bamboo", "password"),
        },
        check=_check,
        fingerprint=lambda b: [b["url"], b["environments"], b["projects"]],
        secrets=lambda b: [b.get("token"), b.get("password")],
        summary=lambda b: f"Bamboo at {b['url']} (environments {b['environments']}, projects {b['projects']})",
        web_url=lambda b: f"{b['url']}/deploy/viewAllDeploymentProjects.action",
        build=_build,
        legacy_where=lambda b, ctx: str(b["url"]),
    )
)
