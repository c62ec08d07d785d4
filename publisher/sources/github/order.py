"""One page of GitHub deployments (newest first by *creation*) handed out newest first by *start*.

GitHub lists deployments by creation, but the scanner needs them by start: a deployment created on Friday that
waited for approval until Monday started after the ones created over the weekend, and the scanner stops at the
first result that started before its floor, assuming everything below it started earlier still. Each status bumps
a deployment's `updated_at`, so its start lies in [created_at, updated_at]: a deployment already judged is
released once no unjudged one on the page could have started after it, which keeps the order right while
reading the statuses of only as many deployments as the scanner consumes (usually one ahead).

Across pages the order holds as long as a deployment does not wait for approval while a whole page (10 on the
first page, 100 below it) of later ones is created and run in the same environment. A waiting deployment the
reader has seen keeps the environment unsettled (its frontier stays below it), so when it finally starts it
sorts above the frontier and is read; one left below the first page is the remaining blind spot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from publisher.deployment import Deployment
from publisher.sources.github.wire import Item


def by_start(items: list[Item], judge: Callable[[Item], Deployment]) -> Iterator[list[Deployment]]:
    """Chunks of the page newest first by start; `judge` (which reads statuses) is called lazily, in page order."""
    bounds: list[datetime | None] = [None] * (len(items) + 1)  # bounds[i]: the latest start any items[i:] can have
    for i in range(len(items) - 1, -1, -1):
        later = bounds[i + 1]
        bounds[i] = items[i].latest_start if later is None else max(later, items[i].latest_start)
    held: list[Deployment] = []
    for i, item in enumerate(items):
        held.append(judge(item))
        bound = bounds[i + 1]
        ready = [d for d in held if bound is None or d.started >= bound]
        if ready:
            held = [d for d in held if d not in ready]
            yield sorted(ready, key=lambda d: (d.started, d.result_id), reverse=True)
