"""The `github:` source: deployments of GitHub (or GitHub Enterprise Server) repositories, over REST.

REST rather than GraphQL because only REST answers conditional requests with a free 304: a steady poll is one
`If-None-Match` request per watched environment, which GitHub does not count against the rate limit
(benchmarks/github_cost.py measures it). See source.py for what is read when, order.py for the start order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from publisher import schema
from publisher.source import BuildContext, SourceSpec, register
from publisher.sources.github.api import GitHubClient, web_base
from publisher.sources.github.source import GitHubSource
from publisher.sources.github.wire import REPO

DEFAULT_URL = "https://api.github.com"


def repositories(value: Any) -> list[str]:
    """Literal `owner/name` or `owner/*` (not regexes: GitHub cannot be asked for "every repository matching")."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise vol.Invalid("expected a list of repositories like acme/payments or acme/*")
    for i, v in enumerate(value):
        if not isinstance(v, str) or not (REPO.fullmatch(v) or REPO.fullmatch(v.replace("/*", "/x"))):
            raise vol.Invalid(f"item {i}: {v!r} is neither owner/name nor owner/* (these are not regexes)")
    return value


def api_url(value: Any) -> str:
    url: str = schema.http_url("https://api.github.com or https://HOST/api/v3", (r"/repos(/|$)", r"/graphql$"))(value)
    if url.lower().rstrip("/") in ("https://github.com", "http://github.com", "https://www.github.com"):
        raise vol.Invalid("is the web address: the API of github.com is at https://api.github.com")
    return url


def _check(g: Mapping[str, Any]) -> list[str]:
    if not g.get("token"):
        return [
            "github: no token: set github.token (or FDC_GITHUB_TOKEN) to a token with the repo_deployment scope "
            "(classic) or Deployments: read (fine-grained)"
        ]
    return []


def _build(g: Mapping[str, Any], ctx: BuildContext) -> GitHubSource:
    client = GitHubClient(g["url"], g.get("token"), verify=g["verify"], timeout=g["timeout"])
    return GitHubSource(client, tuple(g["repositories"]), tuple(g["environments"]))


SPEC = register(
    SourceSpec(
        name="github",
        order=20,
        schema={
            vol.Optional("url", default=DEFAULT_URL): api_url,
            vol.Optional("token"): schema.secret,
            vol.Required("repositories"): repositories,
            vol.Optional("environments", default=["production"]): schema.regexes,
            **schema.HTTP,
        },
        env={"FDC_GITHUB_TOKEN": ("github", "token")},
        check=_check,
        fingerprint=lambda g: [g["url"], sorted(r.lower() for r in g["repositories"]), g["environments"]],
        secrets=lambda g: [g.get("token")],
        summary=lambda g: f"GitHub at {g['url']} (repositories {g['repositories']}, environments {g['environments']})",
        build=_build,
        web_url=lambda g: web_base(str(g["url"])),
    )
)

__all__ = ["SPEC", "GitHubClient", "GitHubSource"]
