"""GitLab's deployments, put in the order the scanner needs: newest first by start. Pure.

GitLab lists a project's deployments by id (creation order) or by `updated_at`, never by start. Creation order
is not start order: a manual or approval-blocked job's deployment is created with its pipeline and may start
days later, after deployments created after it. Read by id, such a deployment sits deep in the list, below
results that started long before it, and the scanner, which stops at the first result that started before its
floor (or its frontier), would never reach it — on a cold start a Friday deployment could be missed.

So the source reads `order_by=updated_at&sort=desc`. A deployment that ran was last updated no earlier than it
started (its status became `running` when its job started, then final), and one that never ran was updated no
earlier than it was created, which is its start here. Hence, once the pages read reach down to an `updated_at`
of U, nothing unread started after U (give or take MARGIN for clocks of GitLab's own processes). StartOrder holds
what it was given and releases, sorted by start, only what started at or after U + MARGIN: every page it hands
out is newest first by start, and no later page holds anything that started later. The cost is at most the
page that crosses the line; a cold start still reads no deeper than the floor needs.

Waiting deployments (created, blocked) are left out: they do not count, and kept in they would hold the
reader's frontier below them for as long as a manual job is never played (often forever), making every poll
read that environment again. When one does start, its `updated_at` moves to now, the source's change check
(publisher/sources/gitlab/changes.py) sees it, and it comes first by start: it is read then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from publisher.deployment import WAITING, Deployment
from publisher.sources.gitlab.wire import Item

MARGIN = timedelta(minutes=1)


class StartOrder:
    def __init__(self) -> None:
        self._held: dict[int, Deployment] = {}
        self._fetched: set[int] = set()
        self._bound: datetime | None = None  # the lowest updated_at read so far

    def fresh(self, items: list[Item]) -> bool:
        """True when these items hold anything not read before (a page that only repeats means a paging bug)."""
        return any(int(i.dep.result_id) not in self._fetched for i in items)

    def add(self, items: list[Item]) -> list[Deployment]:
        """Take the next page as GitLab sent it; return what can now be handed on, newest first by start."""
        for item in items:
            rid = int(item.dep.result_id)
            self._bound = item.updated if self._bound is None else min(self._bound, item.updated)
            if rid in self._fetched:  # pages overlap when the page size changes, or a deployment moved up
                continue
            self._fetched.add(rid)
            if item.dep.lifecycle != WAITING:
                self._held[rid] = item.dep
        if self._bound is None:
            return []
        line = self._bound + MARGIN
        return self._release([d for d in self._held.values() if d.started >= line])

    def rest(self) -> list[Deployment]:
        """Everything still held, once GitLab has no more pages."""
        return self._release(list(self._held.values()))

    @property
    def count(self) -> int:
        return len(self._fetched)

    def _release(self, deps: list[Deployment]) -> list[Deployment]:
        for d in deps:
            del self._held[int(d.result_id)]
        return sorted(deps, key=lambda d: (d.started, int(d.result_id)), reverse=True)
