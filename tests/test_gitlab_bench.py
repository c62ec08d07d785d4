"""The GitLab poll-cost bench at a tiny size: its figures, not its times."""

from __future__ import annotations

from benchmarks import gitlab_cost
from benchmarks.gitlab_cost import GitLabSizes

TINY = GitLabSizes(projects=3, polls=3, depths=(30, 250), cold_envs=3)


def test_steady_polls_are_one_request_per_project_and_cold_starts_read_only_what_is_needed() -> None:
    rep = gitlab_cost.run(TINY)
    s = rep.facts["steady"]
    assert (s["requests_per_poll"], s["busy_requests_per_poll"], s["naive_requests_per_poll"]) == (3, 4, 3)
    assert s["listing_per_hour"] == 4  # the group's projects, then each project's environments
    assert s["bytes_per_poll"] == 6  # `[]` three times
    assert s["naive_bytes_per_poll"] > 10_000
    assert [(c["read"], c["needed"], c["weeks"]) for c in rep.facts["cold"]] == [(3, 3, 5), (6, 6, 23)]
    assert all(g.met for g in rep.goals), rep.markdown()
