"""A thin adapter over GitLab's REST API v4 on the hardened HTTP client: sentences for every failure, shape
checks on every answer, `x-next-page` / `Link` paging with guards against pages that repeat or never end."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

from urllib3.util.retry import Retry

from publisher.fields import WireError
from publisher.http import Answer, HttpClient, HttpError, Traffic, parse_json
from publisher.sources.gitlab.wire import Env, Item, Project, deployment, environment, project

PER_PAGE = 100  # GitLab's maximum
MAX_PAGES = 2000  # of one listing: 200,000 items, far beyond any real project
T = TypeVar("T")
TOKEN_FIX = (
    "check gitlab.token (or FDC_GITLAB_TOKEN): a personal, group or project access token with the read_api scope"
)


class GitLabClient:
    """One HTTP client for one GitLab instance (its relative URL root included), shared by reader threads."""

    def __init__(
        self, url: str, token: str, *, verify: bool | str = True, timeout: float = 10.0, retry: Retry | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.api = f"{self.url}/api/v4"
        self.label = f"GitLab at {self.url}"
        headers = {"PRIVATE-TOKEN": token}
        fix = "check gitlab.url and the network"
        self.http = HttpClient(label=self.label, fix=fix, headers=headers, verify=verify, timeout=timeout, retry=retry)

    @property
    def traffic(self) -> Traffic:
        return self.http.traffic

    def close(self) -> None:
        self.http.close()

    # --- transport ------------------------------------------------------------------------------------------
    def get(self, path: str, what: str, params: Mapping[str, Any]) -> tuple[Any, Answer]:
        answer = self.http.request("GET", f"{self.api}/{path}", what=what, params=params)
        self._raise_for_status(answer, what)
        return parse_json(answer, self.label, what), answer

    def _raise_for_status(self, r: Answer, what: str) -> None:
        code = r.status
        if code < 400:
            return
        if code == 401:
            raise HttpError(f"{self.label} refused the token (HTTP 401): {TOKEN_FIX}", code)
        if code == 403:
            raise HttpError(
                f"{self.label} does not let the token read {what} (HTTP 403): the token needs the read_api scope, "
                "and its user at least the Reporter role in the project",
                code,
            )
        if code == 404:
            raise HttpError(
                f"{self.label} does not know {what} (HTTP 404), or the token's user cannot see it: check "
                "gitlab.projects and gitlab.url (with its relative URL root, if any)",
                code,
            )
        if code == 429:
            after = (r.header("Retry-After") or "").strip()
            wait = f" and asks to wait {int(after)} s" if after.isdigit() and len(after) < 7 else ""
            raise HttpError(
                f"{self.label} is rate limiting this token (HTTP 429){wait}: the next poll tries again "
                "(a longer poll_interval, or fewer projects, needs fewer requests)",
                code,
            )
        tries = r.retries
        again = f", also after {tries} retr{'y' if tries == 1 else 'ies'}" if tries else ""
        raise HttpError(f"{self.label} answered HTTP {code} for {what}{again}", code)

    def bad(self, what: str, problem: str) -> HttpError:
        return HttpError(f"{self.label} sent {what} that this version cannot read: {problem}")

    def pages(self, path: str, what: str, params: Mapping[str, Any], per_page: int = PER_PAGE,
              page: int = 1) -> Iterator[tuple[list[Any], Answer]]:  # fmt: skip
        """Each page's list, following `x-next-page` (else `Link: rel="next"`, else a full page), until the last."""
        for _ in range(MAX_PAGES):
            data, answer = self.get(path, what, {**params, "per_page": per_page, "page": page})
            if not isinstance(data, list):
                raise self.bad(what, f"a {type(data).__name__} instead of a list")
            yield data, answer
            following = next_page(answer, page, len(data) >= per_page)
            if following is None:
                return
            if following <= page:
                raise HttpError(
                    f"{self.label} sent page {page} of {what} pointing back to page {following} (a paging bug?)"
                )
            page = following
        raise HttpError(f"{self.label} sent more than {MAX_PAGES} pages of {what}: stopped reading (endless?)")

    # --- API ------------------------------------------------------------------------------------------------
    def project(self, path: str) -> Project:
        what = f"project {path!r}"
        data, _ = self.get(f"projects/{quote(path, safe='')}", what, {})
        return self._each(what, project, [data])[0]

    def group_projects(self, group: str) -> list[Project]:
        """The group's own projects and its subgroups', not those shared with it."""
        what = f"the projects of group {group!r}"
        params = {"include_subgroups": "true", "with_shared": "false", "order_by": "id", "sort": "asc"}
        out: list[Project] = []
        for items, _ in self.pages(f"groups/{quote(group, safe='')}/projects", what, params):
            out += self._each(what, project, items)
        return out

    def environments(self, proj: Project) -> list[Env]:
        what = f"the environments of project {proj.path!r}"
        out: list[Env] = []
        for items, _ in self.pages(f"projects/{proj.id}/environments", what, {}):
            out += self._each(what, environment, items)
        return out

    def deployments(self, proj: Project, what: str, params: Mapping[str, Any], env_key: str | None = None,
                    per_page: int = PER_PAGE, page: int = 1) -> Iterator[tuple[list[Item], Answer]]:  # fmt: skip
        for items, answer in self.pages(f"projects/{proj.id}/deployments", what, params, per_page, page):
            parsed = self._each(what, lambda i: deployment(i, proj=proj, env_key=env_key, base_url=self.url), items)
            yield parsed, answer

    def _each(self, what: str, parse: Callable[[Any], T], items: list[Any]) -> list[T]:
        try:
            return [parse(i) for i in items]
        except WireError as e:
            raise self.bad(what, str(e)) from None


def next_page(answer: Answer, page: int, full: bool) -> int | None:
    """The next page number GitLab gives, or None on the last page. Only the number is taken from `Link`: its
    address is never followed (it could point anywhere)."""
    header = answer.header("x-next-page")
    if header is not None:
        value = header.strip()
        return int(value) if value.isdigit() and len(value) < 10 else None
    link = answer.header("Link") or ""
    m = re.search(r'<([^>]*)>\s*;\s*rel="?next"?', link)
    if m:
        number = parse_qs(urlsplit(m[1]).query).get("page", [""])[0]
        return int(number) if number.isdigit() and len(number) < 10 else None
    return page + 1 if full else None


def answer_time(answer: Answer) -> datetime | None:
    """GitLab's clock at this answer (its Date header), for marks that must be on GitLab's clock."""
    try:
        return parsedate_to_datetime(answer.header("Date") or "")
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
