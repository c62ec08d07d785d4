"""A thin adapter over Bamboo's deploy REST API, on the hardened HTTP client. Answers in plain data.

Every failure becomes a BambooError whose message is a sentence naming the URL and what to check; the
token or password never appears in it. Every answer is checked for shape before it is used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from urllib3.util.retry import Retry

from publisher.deployment import Deployment
from publisher.fields import WireError, identifier
from publisher.http import Answer, HttpClient, HttpError, Traffic, parse_json
from publisher.source import EnvInfo
from publisher.sources.bamboo.wire import name, parse_result

log = logging.getLogger("fdc.bamboo")


BambooError = HttpError  # Bamboo could not be read: `str()` is a sentence for people, `status` the HTTP status if any


@dataclass(frozen=True)
class BambooAuth:
    token: str | None = None
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"BambooAuth(token={'***' if self.token else None}, username={self.username!r})"

    @property
    def who(self) -> str:
        return "the personal access token" if self.token else f"user {self.username!r}"

    @property
    def fix(self) -> str:
        if self.token:
            return "check bamboo.token (or FDC_BAMBOO_TOKEN)"
        return "check bamboo.username and bamboo.password (or FDC_BAMBOO_USERNAME / FDC_BAMBOO_PASSWORD)"


class BambooClient:
    """One HTTP client for one Bamboo server, safe to share between a few reader threads."""

    def __init__(
        self,
        url: str,
        auth: BambooAuth,
        *,
        verify: bool | str = True,
        timeout: float = 10.0,
        retry: Retry | None = None,
        pool_size: int = 8,
    ) -> None:
        self.url = url.rstrip("/")
        self.api = f"{self.url}/rest/api/latest"
        self.auth = auth
        self.label = f"Bamboo at {self.url}"
        self.status_endpoint = True  # POST deploy/dashboard/status; switched off when the server lacks it
        headers = {"Accept": "application/json", "User-Agent": "friday-deploy-counter"}
        if auth.token:
            headers["Authorization"] = f"Bearer {auth.token}"
        basic = (auth.username, auth.password or "") if not auth.token and auth.username is not None else None
        self.http = HttpClient(label=self.label, fix="check bamboo.url and the network", headers=headers,
                               basic_auth=basic, verify=verify, timeout=timeout, retry=retry,
                               pool_size=pool_size)  # fmt: skip

    @property
    def traffic(self) -> Traffic:
        return self.http.traffic

    def close(self) -> None:
        self.http.close()

    # --- transport ------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        answer = self.http.request(method, f"{self.api}/{path}", what=what, **kw)
        self._raise_for_status(answer, what)
        return parse_json(answer, self.label, what)

    def _raise_for_status(self, r: Answer, what: str) -> None:
        code = r.status
        if code < 400:
            return
        if code == 401:
            raise BambooError(f"{self.label} refused {self.auth.who}: {self.auth.fix}", code)
        if code == 403:
            raise BambooError(
                f"{self.label} does not let {self.auth.who} view {what} (HTTP 403): grant it view "
                "permission, or narrow bamboo.projects / bamboo.environments",
                code,
            )
        if code == 404:
            raise BambooError(
                f"{self.label} does not know {what} (HTTP 404): check bamboo.url (the address you open "
                "Bamboo at, with its context path if any)",
                code,
            )
        tries = r.retries
        again = f", also after {tries} retr{'y' if tries == 1 else 'ies'}" if tries else ""
        raise BambooError(f"{self.label} answered HTTP {code} for {what}{again}", code)

    def _bad(self, what: str, problem: str) -> BambooError:
        return BambooError(f"{self.label} sent {what} that this version cannot read: {problem}")

    # --- API ------------------------------------------------------------------------------------------------
    def environments(self) -> list[EnvInfo]:
        """Every deployment project's environments (`deploy/project/all`)."""
        what = "the list of deployment projects"
        data = self._call("GET", "deploy/project/all", what)
        if not isinstance(data, list):
            raise self._bad(what, f"a {type(data).__name__} instead of a list")
        envs = []
        try:
            for project in data:
                if not isinstance(project, dict):
                    raise WireError(f"a project is {type(project).__name__}, not an object")
                listed = project.get("environments") or []
                if not isinstance(listed, list):
                    raise WireError(f"'environments' of project {name(project.get('name'))!r} is not a list")
                for env in listed:
                    if not isinstance(env, dict):
                        raise WireError(f"an environment is {type(env).__name__}, not an object")
                    env_id = identifier(env.get("id"), "environment id")
                    envs.append(EnvInfo(str(env_id), name(project.get("name")), name(env.get("name"))))
        except WireError as e:
            raise self._bad(what, str(e)) from None
        return envs

    def latest(self, env_ids: list[int]) -> dict[int, int | None]:
        """The newest result id of each environment, in one request (None: never deployed)."""
        if not env_ids:
            return {}
        if self.status_endpoint:
            what = "the environments' latest results"
            try:
                data = self._call("POST", "deploy/dashboard/status", what, json={"ids": env_ids})
            except BambooError as e:
                if e.status not in (404, 405, 415):
                    raise
                log.info("%s has no POST deploy/dashboard/status: using GET deploy/dashboard", self.label)
                self.status_endpoint = False
            else:
                if not isinstance(data, list):
                    raise self._bad(what, f"a {type(data).__name__} instead of a list")
                out: dict[int, int | None] = dict.fromkeys(env_ids)
                try:
                    for item in data:
                        if not isinstance(item, dict) or item.get("deploymentResultId") is None:
                            continue
                        env_id = identifier(item.get("environmentId"), "environmentId")
                        if env_id in out:
                            out[env_id] = identifier(item["deploymentResultId"], "deploymentResultId")
                except WireError as e:
                    raise self._bad(what, str(e)) from None
                return out
        what = "the deployment dashboard"
        data = self._call("GET", "deploy/dashboard", what)
        if not isinstance(data, list):
            raise self._bad(what, f"a {type(data).__name__} instead of a list")
        found: dict[int, int | None] = dict.fromkeys(env_ids)
        try:
            for project in data:
                statuses = project.get("environmentStatuses") if isinstance(project, dict) else None
                for status in statuses if isinstance(statuses, list) else []:
                    env = status.get("environment") if isinstance(status, dict) else None
                    result = status.get("deploymentResult") if isinstance(status, dict) else None
                    if not isinstance(env, dict) or not isinstance(result, dict) or result.get("id") is None:
                        continue
                    env_id = identifier(env.get("id"), "environment id")
                    if env_id in found:
                        found[env_id] = identifier(result["id"], "result id")
        except WireError as e:
            raise self._bad(what, str(e)) from None
        return found

    def results(self, env: EnvInfo, page_sizes: Iterator[int]) -> Iterator[list[Deployment]]:
        """Pages of an environment's results, newest first, until Bamboo has no more (or the caller stops)."""
        start = 0
        what = f"the results of environment {env.name!r} (id {env.key}) of project {env.project!r}"
        for size in page_sizes:
            params = {"start-index": start, "max-result": size, "max-results": size}
            data = self._call("GET", f"deploy/environment/{env.key}/results", what, params=params)
            items = data.get("results") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise self._bad(what, "no 'results' list")
            try:
                page = [
                    parse_result(i, env_key=env.key, project=env.project, environment=env.name, base_url=self.url)
                    for i in items
                ]
            except WireError as e:
                raise self._bad(what, str(e)) from None
            yield page
            served = data.get("max-result")
            page_size = served if isinstance(served, int) and not isinstance(served, bool) and served > 0 else size
            if not items or len(items) < min(size, page_size):
                return
            start += len(items)
