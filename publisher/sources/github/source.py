"""GitHub as a Source: repositories (and `owner/*`), their matching environments, and each one's deployments.

Per steady poll each environment costs one conditional request: its first page of deployments with the ETag
of the last answer. GitHub answers 304 when nothing in it changed (no new deployment, no new status: a status
bumps its deployment's `updated_at`), and 304s cost no rate limit. The ETags, that page and what its
deployments' statuses said live in `memo`, which the reader keeps in the state file, so a `--once` from cron
is as cheap. Only deployments whose `updated_at` moved, or that still wait or run, have their statuses read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from publisher import fields
from publisher.deployment import SETTLED, Deployment, ResultId
from publisher.fields import WireError
from publisher.http import OverHttp
from publisher.source import EnvInfo, full_match
from publisher.sources.github import wire
from publisher.sources.github.api import GitHubClient
from publisher.sources.github.discovery import Discovery
from publisher.sources.github.order import by_start
from publisher.sources.github.wire import Item, Run

log = logging.getLogger("fdc.github")
FIRST = 10  # the first page of an environment: what each steady poll asks for, conditionally
DEEP = 100  # pages below it
MAX_PAGES = 1000  # per listing: far beyond any real history, small enough to end a loop
CHANGED = "changed"  # latest()'s marker for "the first page changed": never a frontier, so the reader reads it
WORKERS = 6


class GitHubSource(OverHttp):
    name = "github"
    title = "GitHub"
    relist = timedelta(hours=1)  # owners' repositories and repositories' environments are listed this often

    client: GitHubClient

    def __init__(self, client: GitHubClient, repositories: tuple[str, ...], environments: tuple[str, ...]) -> None:
        self.client, self.repositories, self.patterns = client, repositories, environments
        self.label = client.label
        self.memo: dict[str, Any] = {}
        self.discovery = Discovery(client, self._part)
        self._fresh: dict[str, list[Item]] = {}  # first pages latest() read this poll, for pages()
        self._lock = threading.Lock()  # reader threads share the memo's parts

    def _now(self) -> datetime:
        return self.client.http.server_time or datetime.now(UTC)

    def _part(self, name: str) -> dict[str, Any]:
        with self._lock:
            part = self.memo.get(name)
            if not isinstance(part, dict):
                part = self.memo[name] = {}
            return part

    def _entry(self, key: str) -> dict[str, Any]:
        lists = self._part("lists")
        entry = lists.get(key)
        if not isinstance(entry, dict):
            entry = lists[key] = {}
        return entry

    # --- environments -------------------------------------------------------------------------------------------
    def environments(self) -> list[EnvInfo]:
        repos: dict[str, str] = {}
        for spec in self.repositories:
            owner, _, name = spec.partition("/")
            for repo in self.discovery.owner_repos(owner) if name == "*" else [spec]:
                repos.setdefault(repo.lower(), repo)
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="github") as pool:
            names = list(pool.map(self.discovery.env_names, repos.values()))
        envs = [
            EnvInfo(f"{key}:{env}", repo, env)
            for (key, repo), found in zip(repos.items(), names, strict=True)
            for env in sorted(found)
            if full_match(self.patterns, env)
        ]
        keep = {e.key for e in envs}
        lists = self._part("lists")
        for key in [k for k in lists if k not in keep]:
            del lists[key]
        return envs

    # --- which changed ----------------------------------------------------------------------------------------
    def latest(self, envs: list[EnvInfo]) -> dict[str, ResultId | None]:
        self._fresh = {}
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="github") as pool:
            peeks = list(pool.map(self._peek, envs))
        keep = {str(i.id) for items in self._fresh.values() for i in items}
        runs = self._part("runs")
        for key in [k for k in runs if k not in keep]:
            del runs[key]
        return {e.key: p for e, p in zip(envs, peeks, strict=True)}

    def _peek(self, env: EnvInfo) -> ResultId | None:
        items, fresh = self._first_page(env)
        self._fresh[env.key] = items
        if not items:
            return None
        top = self._entry(env.key).get("top")
        return top if not fresh and isinstance(top, int) and not isinstance(top, bool) else CHANGED

    def _first_page(self, env: EnvInfo) -> tuple[list[Item], bool]:
        lists = self._part("lists")
        entry = lists.get(env.key)
        remembered: list[Item] | None = None
        etag = entry.get("etag") if isinstance(entry, dict) else None
        if isinstance(entry, dict) and isinstance(etag, str):
            try:
                remembered = [wire.item_from_json(v) for v in fields.array(entry.get("items"), "items")]
            except WireError:
                remembered = None
        what = f"the deployments of {env.project} to {env.name!r}"
        params = {"environment": env.name, "per_page": FIRST}
        reply = self.client.get(
            f"/repos/{env.project}/deployments",
            what,
            params=params,
            etag=etag if remembered is not None and isinstance(etag, str) else None,
        )
        if not reply.fresh and remembered is not None:
            return remembered, False
        items = self._items(reply.data, what)
        lists[env.key] = {"etag": reply.etag, "items": [wire.item_json(i) for i in items]} if reply.etag else {}
        return items, True

    def _items(self, data: Any, what: str) -> list[Item]:
        try:
            return [wire.parse_item(x) for x in fields.array(data, "the list of deployments")]
        except WireError as e:
            raise self.client.bad(what, str(e)) from None

    # --- reading ----------------------------------------------------------------------------------------------
    def pages(self, env: EnvInfo, warm: bool) -> Iterator[list[Deployment]]:
        """Newest first by start (order.py); the first page from latest() when it read one, else asked for now."""
        items = self._fresh.pop(env.key, None)
        if items is None:
            items, _ = self._first_page(env)
        seen = {i.id for i in items}
        first = True
        for chunk in by_start(items, lambda i: self._deployment(env, i, remember=True)):
            if first:  # the frontier a settled read ends with: what latest() reports while the page stays the same
                self._entry(env.key)["top"] = chunk[0].result_id
                first = False
            yield chunk
        if len(items) < FIRST:
            return
        what = f"the deployments of {env.project} to {env.name!r}"
        url: str | None = f"/repos/{env.project}/deployments"
        params: dict[str, Any] | None = {"environment": env.name, "per_page": DEEP, "page": 1}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            reply = self.client.get(url, what, params=params)
            page = self._items(reply.data, what)
            new = [i for i in page if i.id not in seen]
            seen.update(i.id for i in new)
            yield from by_start(new, lambda i: self._deployment(env, i, remember=False))
            url, params = (reply.next if page else None), None
        raise self.client.bad(what, f"more than {MAX_PAGES} pages")

    def _deployment(self, env: EnvInfo, item: Item, remember: bool) -> Deployment:
        run = self._run(env.project, item, remember)
        return wire.deployment(
            item,
            run,
            env_key=env.key,
            project=env.project,
            environment=env.name,
            page=f"{self.client.web}/{env.project}/deployments",
        )

    def _run(self, repo: str, item: Item, remember: bool) -> Run:
        """What the statuses say: remembered while `updated_at` stands still and it settled, else read again."""
        runs = self._part("runs")
        rec = runs.get(str(item.id)) if remember else None
        stamp = item.updated.isoformat()
        old: Run | None = None
        if isinstance(rec, dict) and rec.get("u") == stamp:
            try:
                old = wire.run_from_json(rec.get("d"))
            except WireError:
                old = None
        if old is not None and old.lifecycle in SETTLED:
            return old
        etag = rec.get("etag") if old is not None and isinstance(rec, dict) else None
        what = f"the statuses of deployment {item.id} of {repo}"
        url: str | None = f"/repos/{repo}/deployments/{item.id}/statuses"
        reply = self.client.get(
            f"/repos/{repo}/deployments/{item.id}/statuses",
            what,
            params={"per_page": 100},
            etag=etag if isinstance(etag, str) else None,
        )
        now = self._now()
        if not reply.fresh and old is not None:
            run = wire.aged(item, old, now)
        else:
            statuses: list[wire.Status] = []
            first_etag = reply.etag
            for _ in range(10):  # more than 1,000 statuses on one deployment is not a deployment
                try:
                    statuses += [wire.parse_status(s) for s in fields.array(reply.data, "the list of statuses")]
                except WireError as e:
                    raise self.client.bad(what, str(e)) from None
                url = reply.next
                if url is None:
                    break
                reply = self.client.get(url, what)
            run, etag = wire.judge(item, statuses, now), first_etag
        if remember:
            runs[str(item.id)] = {"u": stamp, "etag": etag, "d": wire.run_json(run)}
        return run

    def nothing_matches(self) -> str:
        return (
            f"{self.label} has no environment matching github.environments {list(self.patterns)} in "
            f"github.repositories {list(self.repositories)}: check those (an environment exists once a workflow "
            "job with `environment:` ran, or a deployment to it was made)"
        )
