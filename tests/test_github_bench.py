"""benchmarks/github_cost.py at a tiny size: the values it reports, never its times."""

from __future__ import annotations

from benchmarks import github_cost
from benchmarks.github_cost import Cost, GitHubSizes

TINY = GitHubSizes(repos=3, history=12, steady_polls=2, deep=120, depths=(3, 40, None))


def test_steady_polls_are_free_and_cold_starts_read_only_what_the_answer_needs() -> None:
    rep = github_cost.run(TINY)
    steady = rep.facts["steady"]
    assert steady.right
    assert all(p == Cost(requests=3, not_modified=3, units=0) for p in steady.steady)  # one 304 per repository
    assert all(p == Cost(requests=33, not_modified=0, units=33) for p in steady.naive)  # 3 × (1 page + 10 statuses)
    assert steady.news == Cost(requests=4, not_modified=2, units=2)  # its page and the new deployment's statuses
    assert steady.after == Cost(requests=3, not_modified=3, units=0)
    colds = {c.depth: c for c in rep.facts["cold"]}
    assert set(colds) == {5, 41, None}
    for c in colds.values():
        assert c.right and c.lists == c.needed_lists and c.statuses == c.needed_statuses
    assert (colds[5].lists, colds[41].lists, colds[None].lists) == (1, 2, 3)
    assert all(g.met for g in rep.goals)
