"""The 2016 blog post's script (../shared/seed/), ported to Python 3 as faithfully as possible: the baseline.

Only what Python 3 forces changed: `sys.maxint` became `MAXINT` (the same 2**63 - 1 a 64-bit Pi's Python 2
had), `.iteritems()` became `.items()`, and `/` on the integer `.days` became `//` (Python 2 floor division).
The Bamboo URL is a parameter so the benchmark can point it at the simulator; the request pattern, the
loops and every `break` are the original's.

Its bugs, left in on purpose (the benchmark and tests/test_benchmarks.py show the wrong answers):

1. No Friday deployment found → it returns `sys.maxint` (9223372036854775807), which the LEDs then show.
2. First page only: `deploy/environment/{id}/results` without `max-result` returns Bamboo's default page of
   25 results, so a Friday deployment 26 or more deployments ago in that environment is never seen.
3. The Pi's local clock and timezone: `datetime.fromtimestamp()` and `datetime.now()` are naive local times, so
   a Pi on UTC misses a Berlin deployment at Friday 00:30 (Thursday 23:30 UTC) and counts Friday 23:30 UTC
   deploys that were Saturday in the office.
4. Weeks from the deployment's *moment*, not its Friday's date: `(now - start).days // 7`, so the counter goes
   up at the time of day of the deployment, one week late or early depending on when it runs.
5. Only the start and finish weekdays are looked at: a deployment running from Thursday to Saturday touched a
   Friday but is not counted.
6. A running deployment has no `finishedDate`: `dep['finishedDate']` raises KeyError and the cron run dies.
7. `lifeCycleState` is ignored: queued, pending and not-built results with a date count as deployments.
8. Only environments named exactly `Production` (case-sensitive), one per project name (a dict keyed by the
   project's name, so two projects with the same name keep only the last), and only those with a result on
   the dashboard.
9. No timeout on `requests.get`: a hung Bamboo hangs the cron job; and nothing is remembered between runs, so
   Bamboo's expiry of old results changes the number.
10. It stops at the first environment where the number is 0 (fine), but reads every environment in full on every
    run: 1 + (number of production environments) requests every 5 minutes, however little changed.
"""

from __future__ import annotations

import datetime
from typing import Any

import requests

MAXINT = 2**63 - 1  # sys.maxint on the 64-bit Python 2 the script ran on

BAMBOO_URL = "https://<bamboo host>/rest/api/latest"
DASHBOARD_URL = BAMBOO_URL + "/deploy/dashboard"
RESULTS_URL = BAMBOO_URL + "/deploy/environment/{}/results"


def get_weeks_since_friday_deploy(user: str, passwd: str, bamboo: str | None = None) -> int:
    """The original function; `bamboo` (e.g. http://127.0.0.1:8085) replaces `<bamboo host>`."""
    dashboard_url, results_url = DASHBOARD_URL, RESULTS_URL
    if bamboo is not None:
        dashboard_url = bamboo.rstrip("/") + "/rest/api/latest/deploy/dashboard"
        results_url = bamboo.rstrip("/") + "/rest/api/latest/deploy/environment/{}/results"

    weeks_since_friday_deploy = MAXINT
    r = requests.get(dashboard_url, auth=(user, passwd))
    r.raise_for_status()

    prod_env_ids: dict[str, Any] = {}

    # first get all production environments' ids which will
    # be used to get deployments
    for project in r.json():
        name = project["deploymentProject"]["name"]
        envs = project["environmentStatuses"]

        for env in envs:
            if env["environment"]["name"] == "Production":
                if "deploymentResult" not in env:
                    continue
                else:
                    prod_env_ids[name] = env["environment"]["id"]

    for _key, value in prod_env_ids.items():
        # no need to continue if it's already 0
        if weeks_since_friday_deploy == 0:
            break

        r = requests.get(results_url.format(value), auth=(user, passwd))
        r.raise_for_status()
        deployments = r.json()["results"]

        for dep in deployments:
            start = datetime.datetime.fromtimestamp(dep["startedDate"] / 1e3)
            end = datetime.datetime.fromtimestamp(dep["finishedDate"] / 1e3)
            if start.isoweekday() == 5 or end.isoweekday() == 5:
                weeks = (datetime.datetime.now() - start).days // 7
                if weeks < weeks_since_friday_deploy:
                    weeks_since_friday_deploy = weeks
                weeks = (datetime.datetime.now() - end).days // 7
                if weeks < weeks_since_friday_deploy:
                    weeks_since_friday_deploy = weeks

                # it is possible to get a negative number in an edge case,
                # if the script runs very close to the time of deployment
                if weeks_since_friday_deploy < 0:
                    weeks_since_friday_deploy = 0
                break

            # once it's 0, no need to continue further
            if weeks_since_friday_deploy == 0:
                break

    return weeks_since_friday_deploy
