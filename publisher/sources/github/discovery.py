"""Which environments to watch: `owner/*` listings and each repository's environment names, hourly.

A classic token with only `repo_deployment` may not read a private repository's environments API (it needs
`repo`; a fine-grained token Actions: read), so names come from that API when it answers and always from the
repository's latest 100 deployments. Every listing is a conditional request with the ETag in the memo: an
hourly re-listing that finds nothing new is all 304s, free of rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from publisher import fields
from publisher.fields import WireError
from publisher.http import HttpError
from publisher.source import SourceError
from publisher.sources.github import wire
from publisher.sources.github.api import GitHubClient, RateLimited

MAX_PAGES = 1000
DEEP = 100


class Discovery:
    """Listings on one client; `part()` gives the memo's dict for ETags (the source's memo changes each poll)."""

    def __init__(self, client: GitHubClient, part: Callable[[str], dict[str, Any]]) -> None:
        self.client, self.label, self._part = client, client.label, part

    def owner_repos(self, owner: str) -> list[str]:
        what = f"the repositories of {owner!r}"
        try:
            repos = self._listing(f"/orgs/{owner}/repos", {"type": "all"}, what, _repo_names)
        except RateLimited:
            raise
        except HttpError as e:
            if e.status != 404:
                raise
            path, params = f"/users/{owner}/repos", {"type": "owner"}
            if self._login().lower() == owner.lower():  # the token's own user: its private repositories too
                path, params = "/user/repos", {"affiliation": "owner"}
            missing = f"{self.label} knows no organisation or user {owner!r} (HTTP 404): check github.repositories"
            repos = self._listing(path, params, what, _repo_names, missing)
        if not repos:
            raise SourceError(
                f"{self.label} lists no repositories of {owner!r} that the token can read: check "
                f"github.repositories ({owner}/*) and that the token has access to {owner}'s repositories"
            )
        return repos

    def _login(self) -> str:
        try:
            reply = self.client.get("/user", "the token's user")
        except RateLimited:
            raise
        except HttpError:
            return ""  # an app's token has no user
        data = reply.data
        login = data.get("login") if isinstance(data, dict) else None
        return login if isinstance(login, str) else ""

    def env_names(self, repo: str) -> set[str]:
        """Environment names from the environments API (when the token may read it) and recent deployments."""
        names: set[str] = set()
        try:
            names |= set(
                self._conditional(
                    f"env:{repo}",
                    f"/repos/{repo}/environments",
                    {"per_page": 100},
                    f"the environments of {repo}",
                    _env_list,
                    _strings,
                )
            )
        except RateLimited:
            raise
        except HttpError as e:  # a classic token with only repo_deployment may not list a private repo's
            if e.status not in (403, 404):
                raise
        missing = (
            f"{self.label} does not know the repository {repo} (HTTP 404), or the token cannot see it: "
            "check github.repositories and the token's access to it"
        )
        names |= set(
            self._conditional(
                f"deps:{repo}",
                f"/repos/{repo}/deployments",
                {"per_page": DEEP},
                f"the deployments of {repo}",
                _env_of_deployments,
                _strings,
                missing,
            )
        )
        return names

    def _listing(
        self,
        path: str,
        params: dict[str, Any],
        what: str,
        parse: Callable[[Any], list[str]],
        missing: str | None = None,
    ) -> list[str]:
        """Every page of a listing, each page conditional (a re-listing an hour later is mostly 304s)."""
        out: list[str] = []
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": 100}
        for _ in range(MAX_PAGES):
            if url is None:
                return out
            key = f"list:{url}?{sorted(query.items()) if query else ''}"
            page = self._conditional(key, url, query, what, lambda d, nxt: [parse(d), nxt], _page_value, missing)
            out += page[0]
            url, query = page[1], None
        raise self.client.bad(what, f"more than {MAX_PAGES} pages")

    def _conditional(
        self,
        key: str,
        url: str,
        params: dict[str, Any] | None,
        what: str,
        parse: Callable[[Any, str | None], Any],
        check: Callable[[Any], Any],
        missing: str | None = None,
    ) -> Any:
        """A GET with the remembered ETag; on 304 what the answer meant last time (checked again: the memo is input)."""
        cache = self._part("etags")
        entry = cache.get(key)
        etag, remembered = None, None
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str):
            try:
                etag, remembered = entry[0], check(entry[1])
            except WireError:
                etag = None
        reply = self.client.get(url, what, params=params, etag=etag, missing=missing)
        if not reply.fresh:
            return remembered
        try:
            value = parse(reply.data, reply.next)
        except WireError as e:
            raise self.client.bad(what, str(e)) from None
        if reply.etag:
            cache[key] = [reply.etag, value]
        else:
            cache.pop(key, None)
        return value


def _repo_names(data: Any) -> list[str]:
    out = []
    for r in fields.array(data, "the list of repositories"):
        name = wire.text(fields.obj(r, "a repository").get("full_name"), "full_name")
        if not wire.REPO.fullmatch(name):
            raise WireError(f"full_name {fields.shown(name)} is not owner/name")
        out.append(name)
    return out


def _strings(value: Any) -> list[str]:
    return [wire.text(v, "a remembered name") for v in fields.array(value, "remembered names")]


def _page_value(value: Any) -> list[Any]:
    a = fields.array(value, "a remembered page")
    if len(a) != 2 or not (a[1] is None or isinstance(a[1], str)):
        raise WireError("a remembered page is malformed")
    return [_strings(a[0]), a[1]]


def _env_list(data: Any, _next: str | None = None) -> list[str]:
    envs = fields.array(fields.obj(data, "the environments").get("environments"), "environments")
    return [wire.text(fields.obj(e, "an environment").get("name"), "environment name") for e in envs]


def _env_of_deployments(data: Any, _next: str | None = None) -> list[str]:
    return sorted(
        {
            wire.text(fields.obj(d, "a deployment").get("environment"), "environment")
            for d in fields.array(data, "the list of deployments")
        }
    )
