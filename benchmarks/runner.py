"""`python -m benchmarks` (`make bench`): run every bench and write BENCHMARKS.md.

Sizes: `--size full` (the issue's sizes, several minutes), `small` (a minute or so), `tiny` (what the tests
run); single dimensions can be overridden, e.g. `--envs 1,50 --results 25,500 --nodes 10,100 --idle 20`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import fanout, flood, footprint, github_cost, gitlab_cost, poll_cost, push_latency, web_display
from benchmarks.util import Report, machine

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Sizes:
    poll: poll_cost.PollSizes
    fanout: fanout.FanoutSizes
    footprint: footprint.FootprintSizes
    flood: flood.FloodSizes
    github: github_cost.GitHubSizes
    gitlab: gitlab_cost.GitLabSizes
    push: push_latency.PushSizes
    web: web_display.WebSizes


PRESETS = {
    "full": Sizes(
        poll_cost.PollSizes(),
        fanout.FanoutSizes(),
        footprint.FootprintSizes(),
        flood.FloodSizes(),
        github_cost.GitHubSizes(),
        gitlab_cost.GitLabSizes(),
        push_latency.PushSizes(),
        web_display.WebSizes(rounds=50, idle=10.0),
    ),
    "small": Sizes(
        poll_cost.PollSizes(envs=(1, 50), results=(25, 500)),
        fanout.FanoutSizes(in_process=(10, 100), subprocesses=3, rounds=10, showing_rounds=5),
        footprint.FootprintSizes(idle_seconds=10, settle_seconds=2, frames=300),
        flood.FloodSizes(seconds=3),
        github_cost.GitHubSizes(repos=10, deep=300, depths=(5, 40, None)),
        gitlab_cost.GitLabSizes(depths=(50, 500)),
        push_latency.PushSizes(pushes=50, polled_rounds=5, poll_interval=1.0),
        web_display.WebSizes(rounds=20, idle=3.0),
    ),
    "tiny": Sizes(
        poll_cost.PollSizes(envs=(1, 3), results=(25, 60), latency=0.002),
        fanout.FanoutSizes(in_process=(3,), subprocesses=2, rounds=3, nagle_rows=(), split=0, showing_rounds=3),
        footprint.FootprintSizes(idle_seconds=2, settle_seconds=0.5, blocks=(1, 8), frames=20),
        flood.FloodSizes(rate=2000, seconds=1),
        github_cost.GitHubSizes(repos=3, history=12, steady_polls=2, deep=120, depths=(3, 40, None)),
        gitlab_cost.GitLabSizes(projects=3, polls=3, depths=(30, 250), cold_envs=3),
        push_latency.PushSizes(pushes=3, polled_rounds=1, poll_interval=1.0),
        web_display.WebSizes(rounds=3, idle=0.5),
    ),
}

BENCHES: dict[str, Callable[[Sizes], Report]] = {
    "poll": lambda s: poll_cost.run(s.poll),
    "fanout": lambda s: fanout.run(s.fanout),
    "footprint": lambda s: footprint.run(s.footprint),
    "flood": lambda s: flood.run(s.flood),
    "github": lambda s: github_cost.run(s.github),
    "gitlab": lambda s: gitlab_cost.run(s.gitlab),
    "push": lambda s: push_latency.run(s.push),
    "web": lambda s: web_display.run(s.web),
}


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def sizes_from(args: argparse.Namespace) -> Sizes:
    s = PRESETS[args.size]
    poll, fan, foot, fl = s.poll, s.fanout, s.footprint, s.flood
    if args.envs:
        poll = dataclasses.replace(poll, envs=_ints(args.envs))
    if args.results:
        poll = dataclasses.replace(poll, results=_ints(args.results))
    if args.latency is not None:
        poll = dataclasses.replace(poll, latency=args.latency / 1000)
    if args.nodes:
        fan = dataclasses.replace(fan, in_process=_ints(args.nodes))
    if args.subprocesses is not None:
        fan = dataclasses.replace(fan, subprocesses=args.subprocesses)
    if args.rounds:
        fan = dataclasses.replace(fan, rounds=args.rounds)
    if args.idle is not None:
        foot = dataclasses.replace(foot, idle_seconds=args.idle)
    if args.flood_seconds is not None:
        fl = dataclasses.replace(fl, seconds=args.flood_seconds)
    if args.flood_rate is not None:
        fl = dataclasses.replace(fl, rate=args.flood_rate)
    return Sizes(poll, fan, foot, fl, s.github, s.gitlab, s.push, s.web)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def document(
    reports: list[Report], sizes: Sizes, size_name: str, seconds: float, command: str, load_before: str
) -> str:
    m = machine()
    m["load average (1, 5, 15 min) before / after"] = f"{load_before} / {loadavg()}"
    out = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} in {seconds / 60:.1f} "
        f"minutes (sizes: `{size_name}`). Regenerate with `make bench` (or `python -m benchmarks --help` for "
        "smaller sizes). Every figure stands next to a baseline measured in the same run, and the ratio between "
        "them is what carries over to other machines; the absolute times are this machine's.",
        "",
        "Everything runs on 127.0.0.1: the project's Bamboo simulator (tests/bamboo_sim.py), a real mosquitto "
        "started by the test suite's broker fixture (tests/broker.py), and the real display node code.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in m.items()],
        "",
        "## Goals",
        "",
        "| bench | goal | met | evidence |",
        "|---|---|---|---|",
    ]
    for r in reports:
        for g in r.goals:
            out.append(f"| {r.title} | {g.text} | {'yes' if g.met else '**no**'} | {g.evidence} |")
    out.append("")
    for r in reports:
        out.append(r.markdown())
    return "\n".join(out).rstrip() + "\n"


def _in_fresh_process(name: str, argv: list[str]) -> Report:
    """One bench in its own interpreter, so no bench's memory or threads leak into the next one's figures."""
    rest = [a for i, a in enumerate(argv) if a != "--only" and (i == 0 or argv[i - 1] != "--only")]
    rest = [a for a in rest if not a.startswith("--only=")]
    with tempfile.TemporaryDirectory(prefix="fdc-bench-") as tmp:
        out = Path(tmp) / "report.pickle"
        cmd = [sys.executable, "-m", "benchmarks", *rest, "--only", name, "--worker", str(out)]
        done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench {name} failed (exit {done.returncode})")
        with open(out, "rb") as f:
            report: Report = pickle.load(f)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0] if __doc__ else "")
    p.add_argument("--size", choices=sorted(PRESETS), default="full")
    p.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHES)}")
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md", help="where to write (default BENCHMARKS.md)")
    p.add_argument("--envs", help="poll: production environment counts, e.g. 1,50,200")
    p.add_argument("--results", help="poll: results of history per environment, e.g. 25,500,5000")
    p.add_argument("--latency", type=float, help="poll: simulated Bamboo latency per request, ms")
    p.add_argument("--nodes", help="fan-out: node counts, e.g. 10,100,500")
    p.add_argument("--subprocesses", type=int, help="fan-out: number of `fdc display` subprocesses (0: skip)")
    p.add_argument("--rounds", type=int, help="fan-out: publishes per node count")
    p.add_argument("--idle", type=float, help="footprint: seconds of idle sampling")
    p.add_argument("--flood-seconds", type=float)
    p.add_argument("--flood-rate", type=int, help="flood: messages per second")
    p.add_argument("--worker", metavar="PICKLE", help=argparse.SUPPRESS)  # run --only in this process, pickle it
    argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    sizes = sizes_from(args)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        p.error(f"unknown bench {', '.join(unknown)}: pick from {', '.join(BENCHES)}")
    if args.worker:
        with open(args.worker, "wb") as f:
            pickle.dump(BENCHES[names[0]](sizes), f)
        return 0
    t0 = time.monotonic()
    load_before = loadavg()
    reports: list[Report] = []
    for name in names:
        t = time.monotonic()
        print(f"bench {name} ...", file=sys.stderr, flush=True)
        reports.append(_in_fresh_process(name, argv))
        print(f"bench {name}: {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
    command = "python -m benchmarks" + (" " + " ".join(argv)).rstrip()
    text = document(reports, sizes, args.size, time.monotonic() - t0, command.strip(), load_before)
    args.out.write_text(text, encoding="utf-8")
    for r in reports:
        for g in r.goals:
            print(f"{'ok ' if g.met else 'MISS'} {r.title}: {g.text} ({g.evidence})", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def run_all(size: str = "tiny", only: list[str] | None = None) -> dict[str, Any]:
    """For the tests: run benches at a preset size, return their reports by name (writes nothing)."""
    sizes = PRESETS[size]
    return {name: BENCHES[name](sizes) for name in (only or list(BENCHES))}


if __name__ == "__main__":
    sys.exit(main())
