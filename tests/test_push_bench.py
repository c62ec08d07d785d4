"""The push-latency bench at a tiny size, so `make bench` never rots. Values are asserted; times never are."""

from __future__ import annotations

from benchmarks import push_latency

TINY = push_latency.PushSizes(pushes=3, polled_rounds=1, poll_interval=1.0)


def test_every_push_and_every_polled_deployment_reaches_the_node() -> None:
    rep = push_latency.run(TINY)
    f = rep.facts
    assert f["total"] == TINY.pushes + TINY.polled_rounds + 1
    assert len(f["pushed"]) == TINY.pushes and None not in f["pushed"]
    assert len(f["polled"]) == TINY.polled_rounds and None not in f["polled"]
    assert len(f["posted"]) == TINY.pushes
    assert set(range(1, f["total"] + 1)) <= set(f["shown"])  # every number from the first to the last was shown
    assert len(rep.table) == 5 and len(rep.goals) == 1
