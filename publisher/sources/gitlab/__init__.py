"""The `gitlab:` source: GitLab's deployments to production environments, read over its REST API v4.

At each listing (hourly): the configured projects (`path_with_namespace`, or `group/*` through
`/groups/:id/projects?include_subgroups=true`) and their environments, matched by name — and an environment of
tier `production` also by the word "production". A steady poll is one request per project (changes.py); an
environment with news is read newest first by start (order.py) with the `environment` filter.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import voluptuous as vol

from publisher import schema
from publisher.deployment import Deployment, ResultId
from publisher.http import HttpError, OverHttp
from publisher.source import BuildContext, EnvInfo, SourceSpec, full_match, register
from publisher.sources.gitlab import changes
from publisher.sources.gitlab.api import PER_PAGE, GitLabClient, answer_time, next_page
from publisher.sources.gitlab.order import StartOrder
from publisher.sources.gitlab.wire import Env, Project

WARM_PAGE = 10  # a steady read of an environment with news usually needs only its newest few
MAX_ITEMS = 200_000  # read of one environment in one poll: far beyond any real history
_PATH = r"[\w.-]+(/[\w.-]+)*"


class GitLabSource(OverHttp):
    name = "gitlab"
    title = "GitLab"
    relist = timedelta(hours=1)  # new projects and environments are picked up this often

    client: GitLabClient

    def __init__(self, client: GitLabClient, projects: tuple[str, ...], environments: tuple[str, ...]) -> None:
        self.client, self.projects, self.patterns = client, projects, environments
        self.label = client.label
        self.memo: dict[str, Any] = {}
        self._notes: changes.Notes | None = None
        self._notes_lock = threading.Lock()

    @property
    def notes(self) -> changes.Notes:
        """The memo the reader handed in for this poll (it replaces the dict before each poll)."""
        with self._notes_lock:  # a cold poll's first reads ask for it from several reader threads at once
            if self._notes is None or self._notes.memo is not self.memo:
                self._notes = changes.Notes(self.memo)
            return self._notes

    def matches(self, env: Env) -> bool:
        tier = env.tier == "production" and full_match(self.patterns, "production")
        return tier or full_match(self.patterns, env.name)

    def environments(self) -> list[EnvInfo]:
        found: dict[int, Project] = {}
        for entry in self.projects:
            if entry.endswith("/*"):
                listed = self.client.group_projects(entry[:-2])
                if not listed:
                    raise HttpError(
                        f"{self.label} has no projects the token can see in group {entry[:-2]!r} or its subgroups "
                        "(projects shared with the group do not count): check gitlab.projects and the token's access"
                    )
            else:
                listed = [self.client.project(entry)]
            found.update((p.id, p) for p in listed)
        return [
            EnvInfo(f"{p.id}:{e.id}", p.path, e.name)
            for p in found.values()
            for e in self.client.environments(p)
            if self.matches(e)
        ]

    def latest(self, envs: list[EnvInfo]) -> dict[str, ResultId | None]:
        return changes.latest(self.client, self.notes, envs)

    def pages(self, env: EnvInfo, warm: bool) -> Iterator[list[Deployment]]:
        """Pages newest first by start (order.py), noting the environment's top and, first time, `since`."""
        notes, pid, eid = self.notes, changes.project_id(env), changes.env_id(env)
        proj = Project(pid, env.project, "")
        what = f"the deployments of environment {env.name!r} of project {env.project!r}"
        params = {"environment": env.name, "order_by": "updated_at", "sort": "desc"}
        order, topped = StartOrder(), False
        for size in [WARM_PAGE, PER_PAGE] if warm else [PER_PAGE]:
            more = False
            for items, answer in self.client.deployments(proj, what, params, env.key, per_page=size):
                if order.count == 0:
                    mark = answer_time(answer) or max((it.updated for it in items), default=None)
                    if mark is not None:
                        notes.read_at(pid, mark)
                mine = [it for it in items if it.env_id == eid]
                if mine and not order.fresh(mine):
                    raise HttpError(f"{self.label} sent the same page of {what} twice: stopped reading (a paging bug?)")
                released = order.add(mine)
                if order.count > MAX_ITEMS:
                    raise HttpError(f"{self.label} has more than {MAX_ITEMS:,} deployments in {what}: stopped reading")
                if released:
                    if not topped:
                        notes.set_top(env.key, released[0])
                        topped = True
                    yield released
                if size == WARM_PAGE:  # the small first page: go on with full pages, from the top again
                    more = next_page(answer, 1, len(items) >= size) is not None
                    break
            if not more:
                break
        rest = order.rest()
        if not topped:
            notes.set_top(env.key, rest[0] if rest else None)
        if rest:
            yield rest

    def nothing_matches(self) -> str:
        return (
            f"{self.label} has no environment matching gitlab.environments {list(self.patterns)} in gitlab.projects "
            f"{list(self.projects)}: check those (an environment of tier production matches the word production)"
        )


def project_entries(value: Any) -> list[str]:
    """Literal `group/project` paths, or `group/*`: not regexes."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise vol.Invalid("expected a list of project paths (acme/payments) or groups (acme/*)")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not re.fullmatch(_PATH + r"(/\*)?", v.strip().strip("/")) or "/" not in v:
            raise vol.Invalid(
                f"item {i}: {v!r} is neither a project's path (acme/payments) nor a group's projects (acme/*); "
                "these are literal paths, not regexes"
            )
    return [v.strip().strip("/") for v in value]


def _check(g: Mapping[str, Any]) -> list[str]:
    if g.get("token"):
        return []
    return ["gitlab: no token: set gitlab.token (or FDC_GITLAB_TOKEN) to an access token with the read_api scope"]


def _build(g: Mapping[str, Any], ctx: BuildContext) -> GitLabSource:
    client = GitLabClient(g["url"], g["token"], verify=g["verify"], timeout=g["timeout"])
    return GitLabSource(client, tuple(g["projects"]), tuple(g["environments"]))


SPEC = register(
    SourceSpec(
        name="gitlab",
        order=30,
        schema={
            vol.Optional("url", default="https://gitlab.com"): schema.http_url("https://gitlab.com", (r"/api(/|$)",)),
            vol.Optional("token"): schema.secret,
            vol.Required("projects"): project_entries,
            vol.Optional("environments", default=["production"]): schema.regexes,
            **schema.HTTP,
        },
        env={"FDC_GITLAB_TOKEN": ("gitlab", "token")},
        check=_check,
        fingerprint=lambda g: [g["url"], g["projects"], g["environments"]],
        secrets=lambda g: [g.get("token")],
        summary=lambda g: f"GitLab at {g['url']} (projects {g['projects']}, environments {g['environments']})",
        build=_build,
        web_url=lambda g: str(g["url"]),
    )
)
