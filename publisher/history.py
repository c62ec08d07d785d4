"""`fdc history`: every Friday deployment the publisher knows and the runs between them, as a table and a chart.

It reads the state file only (no network), so it is safe next to a running service and cheap from cron. The
numbers come from publisher/record.py, the same functions that publish the record. The chart needs matplotlib
(the `history` extra); the table needs nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from common.config import ConfigError
from common.exits import EXIT_CONFIG, EXIT_OK
from publisher import config
from publisher import state as state_store
from publisher.record import Record, Run, Story, story
from publisher.report import day_label
from publisher.state import State

RED, BLUE, ORANGE = "#d62728", "#1f77b4", "#ff7f0e"
MISSING_MATPLOTLIB = (
    "fdc history: --png needs matplotlib, which is not installed: pip install 'friday-deploy-counter[history]' "
    "(or pip install matplotlib); the table works without it"
)


@dataclass(frozen=True)
class History:
    """What `fdc history` shows, computed from a state."""

    story: Story
    today: date
    tz: ZoneInfo
    days: tuple[str, ...]
    history_start: date | None
    tracking_start: date | None


def history_of(
    state: State, tz: ZoneInfo, days: tuple[str, ...], tracking_start: date | None, now: datetime
) -> History:
    today = now.astimezone(tz).date()
    return History(story(state.fridays, tracking_start, today), today, tz, days, state.history_start, tracking_start)


def _weeks(n: int) -> str:
    return f"{n} week{'' if n == 1 else 's'}"


def is_record(run: Run, rec: Record | None) -> bool:
    """The run that holds the record (a tie: the earlier one, as record() chose)."""
    return rec is not None and rec.start == run.start and rec.until == (None if run.current else run.end)


def _run_line(run: Run, h: History) -> str:
    end = f"today ({h.today.isoformat()})" if run.current else run.end.isoformat()
    mark = "  ← record" if is_record(run, h.story.record) else ""
    return f"{'':12}── {_weeks(run.weeks)} without a {day_label(h.days)} deployment, until {end}{mark}"


def table(h: History) -> str:
    """The Friday deployments oldest first, each run between them on its own line, then the record and the year."""
    label = day_label(h.days)
    out = [f"{label} deployments the publisher knows ({h.tz.key}):"]
    s = h.story
    if h.history_start is not None and (not s.fridays or h.history_start < s.fridays[0].friday):
        out.append(f"{h.history_start.isoformat()}  oldest production deployment the sources still had (not a run)")
    by_date: dict[date, list[str]] = {}
    for f in s.fridays:
        d = f.deployment
        started = d.started.astimezone(h.tz).strftime("%a %H:%M")
        ref = f"{d.source} {d.result_id}"
        by_date.setdefault(f.friday, []).append(
            f"{d.project} → {d.environment}  {d.version or '-'}  {d.state}  started {started}  ({ref})"
        )
    for run in s.runs:
        if run.opened_by == "tracking_start":
            out.append(f"{run.start.isoformat()}  tracking starts (tracking_start)")
        else:
            lines = by_date.get(run.start, [])
            for i, line in enumerate(lines):
                out.append(f"{run.start.isoformat() if i == 0 else '':10}  {line}")
        out.append(_run_line(run, h))
    if not s.runs:
        out.append(f"no {label} deployment seen yet, and no tracking_start: no run, no record")
    rec = s.record
    if rec is not None:
        until = f"until {rec.until.isoformat()}" if rec.until else "the current run, still going"
        out.append(f"Record: {_weeks(rec.weeks)}, from {rec.start.isoformat()}, {until}.")
    out.append(f"{label} deployments in the last 365 days: {s.friday_deploys_last_365_days}")
    return "\n".join(out)


def counter_line(run: Run) -> tuple[list[date], list[int]]:
    """The number as the counter showed it during the run: 0 from its start, +1 every 7 days, to its end."""
    xs = [run.start + timedelta(weeks=k) for k in range(run.weeks + 1)]
    return [*xs, run.end], [*range(run.weeks + 1), run.weeks]


def chart(h: History, path: Path) -> None:
    """A PNG: the counter over time (a saw tooth), each Friday deployment marked, the record highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates, ticker
    from matplotlib import pyplot as plt

    mdates: Any = dates  # matplotlib.dates has no type hints

    label = day_label(h.days)
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=120)
    try:
        rec = h.story.record
        for run in h.story.runs:
            xs, ys = counter_line(run)
            best = is_record(run, rec)
            ax.step(mdates.date2num(xs), ys, where="post", color=RED if best else BLUE, linewidth=2.4 if best else 1.4)
            if best:
                ax.axvspan(float(mdates.date2num(run.start)), float(mdates.date2num(run.end)), color=RED, alpha=0.08)
                ax.annotate(
                    f"record: {_weeks(run.weeks)}",
                    xy=(float(mdates.date2num(run.start + (run.end - run.start) / 2)), run.weeks),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    color=RED,
                    fontweight="bold",
                )
        fridays = sorted({f.friday for f in h.story.fridays})
        if fridays:
            ax.scatter(mdates.date2num(fridays), [0] * len(fridays), marker="v", s=70, color=ORANGE, zorder=3,
                       label=f"{label} deployment")  # fmt: skip
            ax.legend(loc="upper left", frameon=False)
        top = max((r.weeks for r in h.story.runs), default=1)
        ax.set_ylim(-0.6, top * 1.25 + 1)
        ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set_ylabel("weeks")
        ax.set_title(f"Weeks since a {label} deployment")
        ax.grid(axis="y", alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.xaxis.set_major_locator(mdates.AutoDateLocator())
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def read_only(path: Path) -> State:
    """The saved state as is: unlike state.load, nothing is cleaned up or rebuilt (a service may be writing)."""
    with path.open("rb") as f:
        raw = f.read(state_store.MAX_BYTES + 1)
    if len(raw) > state_store.MAX_BYTES:
        raise ValueError("far too large to be a state file")
    return State.from_json(json.loads(raw))


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    """`fdc history -c publisher.yaml [--png FILE]`: 0, or 2 for a bad config or a missing matplotlib."""
    try:
        cfg = config.load(args.config)
    except ConfigError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_CONFIG
    if args.png:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(MISSING_MATPLOTLIB, file=sys.stderr)
            return EXIT_CONFIG
    if not cfg.state_file.exists():
        print(f"fdc history: no state file at {cfg.state_file} yet: run the publisher first", file=sys.stderr)
        return EXIT_CONFIG
    tz = ZoneInfo(cfg.timezone)
    try:
        state = read_only(cfg.state_file)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"fdc history: cannot read the state file {cfg.state_file} ({str(e)[:200]})", file=sys.stderr)
        return EXIT_CONFIG
    if state.fingerprint != cfg.fingerprint():
        print("fdc history: the timezone, days or tracking_start changed since the state file was saved; the "
              "publisher will rebuild it at its next poll: showing what it holds now", file=sys.stderr)  # fmt: skip
    h = history_of(state, tz, cfg.days, cfg.tracking_start, now or datetime.now(tz))
    print(table(h))
    if args.png:
        chart(h, Path(args.png))
        print(f"wrote {args.png}")
    return EXIT_OK
