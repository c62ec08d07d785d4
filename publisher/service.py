"""The publisher's state holder: poll the sources, take pushes, compute the number and the messages that say it.

The loop around it (MQTT link, publishing, sleeping until the next poll) is publisher/loop.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from common.logs import REDACT
from common.payloads import ONLINE, encode_json, encode_weeks
from common.topics import Topics
from publisher import events as friday_events
from publisher import push, reader
from publisher import state as state_store
from publisher.config import PublisherConfig
from publisher.deployment import Deployment
from publisher.discovery import publisher_discovery
from publisher.friday import Count, FridayDeploy, count, friday_of, weekday_numbers
from publisher.plausible import clock_problem
from publisher.reader import PollRules, Relisting
from publisher.record import Story, remember, story
from publisher.report import state_payload
from publisher.source import Source, SourceError
from publisher.state import SourceState

log = logging.getLogger("fdc.publisher")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Publisher:
    """Holds the state and the current retained messages; every method is safe to call from paho's thread."""

    def __init__(self, cfg: PublisherConfig, sources: list[Source], clock: Callable[[], datetime] = utc_now) -> None:
        self.cfg = cfg
        self.sources = sources
        self.clock = clock
        self.tz = ZoneInfo(cfg.timezone)
        self.days = weekday_numbers(cfg.days)
        self.topics = Topics(cfg.topic_prefix)
        self.fingerprints = cfg.source_fingerprints()
        REDACT.add(cfg.secrets)
        self.state = state_store.load(cfg.state_file, cfg.fingerprint(), self.fingerprints, cfg.legacy_fingerprint())
        self.relisting = Relisting()
        self.error: str | None = None
        self.clock_error: str | None = None  # while set, no new number is published
        self.polled = False  # until the first poll, "no number" means "not asked yet", not "nothing found"
        self.count: Count | None = None
        self.story: Story | None = None  # runs, record, Fridays this year (publisher/record.py)
        self._read_well: set[str] = set()  # sources read well at least once by this process
        self._events: list[tuple[str, bytes]] = []  # `<prefix>/events` not sent yet (never retained)
        self.emit: Callable[[], None] | None = None  # sends the queued events (set by make_link)
        self._logged: dict[str, str] = {}  # per source, the problem already logged: one line per outage
        self._lock = threading.Lock()
        self._messages: list[tuple[str, bytes]] = []
        # Pushed deployments (publisher/receiver.py) arrive on another thread: state changes, saves and
        # publishes are serialised, so a push is never lost to a poll and no older number overtakes a newer one.
        self._fold = threading.Lock()
        self._saving = threading.Lock()
        self.publishing = threading.Lock()
        self.hints = threading.Event()  # set by the Bamboo webhook: poll now
        self.hinted = False  # a receiver can set `hints`: wait_for_news watches it
        self.announce: Callable[[], None] | None = None  # publishes the current messages (set by main)
        self.refresh()

    @property
    def titles(self) -> str:
        """The sources as a sentence names them: "Bamboo", "Bamboo and the deployments file"."""
        return " and ".join(s.title for s in self.sources) or "the sources"

    def poll(self) -> bool:
        """Read every source and recompute; a source that fails keeps its last good part of the state."""
        now = self.clock()
        rules = PollRules(tz=self.tz, days=self.days, tracking_start=self.cfg.tracking_start, now=now)
        sources = dict(self.state.sources)
        errors: list[str] = []
        notes: list[str] = []
        read_well: set[str] = set()
        self.clock_error = clock_problem(now, None, "")
        for source in self.sources if self.clock_error is None else []:
            st = self.state.source(source.name, self.fingerprints[source.name])
            try:
                outcome = reader.poll(source, st, rules, self.relisting)
            except SourceError as e:
                errors.append(self._problem(source.name, str(e)))
                continue
            except Exception as e:  # an answer no check foresaw, or a bug: one line, the last good number stays
                log.debug("reading %s failed", source.label, exc_info=True)
                text = f"{source.label} could not be read ({type(e).__name__}: {str(e)[:200]})"
                errors.append(self._problem(source.name, text))
                continue
            sources[source.name] = outcome.state
            read_well.add(source.name)
            notes += [f"{source.label}: {line}" for line in outcome.skipped]
            self._problem(source.name, "; ".join(outcome.skipped) or None, warning=True)
            if not self.clock_error:
                seen = source.server_time
                self.clock_error = clock_problem(now, seen, source.label) if seen is not None else None
        with self._fold:  # a push taken during this poll keeps its part, and its number is not overtaken
            if self.clock_error is not None:
                self._problem("clock", self.clock_error)
            else:
                self._problem("clock", None)
                polled = {s.name for s in self.sources}
                kept = {k: v for k, v in self.state.sources.items() if k not in polled}
                old = self.state
                self.state = replace(self.state, sources=self._refold({**sources, **kept}, now))
                self._news(old, now, quiet=read_well - self._read_well)
                self._read_well |= read_well
            # a server may echo anything back into a sentence: no secret reaches `<prefix>/state`
            self.error = REDACT.redact("; ".join([e for e in [self.clock_error] if e] + errors + notes)) or None
            self.polled = True
            self.refresh(now)
        return not errors and self.clock_error is None

    def _push_rules(self, now: datetime) -> push.Rules | None:
        section = dict(self.cfg.sections).get(push.NAME)
        return None if section is None else push.rules_for(section, self.tz, self.days, now)

    def _refold(self, sources: dict[str, SourceState], now: datetime) -> dict[str, SourceState]:
        """Pushed results still running, evaluated at `now` (one running into Friday becomes a Friday one)."""
        rules = self._push_rules(now)
        if rules is None or push.NAME not in sources:
            return sources
        part = push.refold(sources[push.NAME], rules)
        if part.best is not None and part.best not in part.fridays:  # a running one that ran into Friday
            part = replace(part, fridays=remember(part.fridays, [part.best]))
        return {**sources, push.NAME: part}

    def _news(self, old: state_store.State, now: datetime, quiet: set[str] | frozenset[str] = frozenset()) -> None:
        """Queue `<prefix>/events` for the Friday deployments this change brought (publisher/events.py decides)."""
        found = friday_events.decide(
            old,
            self.state,
            tracking_start=self.cfg.tracking_start,
            today=now.astimezone(self.tz).date(),
            first_poll=not self.polled,
            quiet=quiet,
        )
        for event in found:
            d = event.deployment
            log.info("a new Friday deployment: %s → %s %s (%s week(s) before)", d.project, d.environment,
                     d.version, event.weeks_before)  # fmt: skip
            with self._lock:
                self._events.append((self.topics.events, encode_json(event.payload(now, self.tz))))

    def take_events(self) -> list[tuple[str, bytes]]:
        """The queued `<prefix>/events` messages, once: they are news, never re-sent."""
        with self._lock:
            out, self._events = self._events, []
        return out

    def accept(self, dep: Deployment, merge: push.Merge | None = None, also: tuple[str, ...] = ()) -> push.Verdict:
        """Fold one pushed deployment into the state (from the receiver's threads), publish the number at once,
        then save; the verdict carries the number for the answer."""
        with self._fold:
            now = self.clock()
            rules = self._push_rules(now)
            if rules is None:
                return push.Verdict(False, "webhooks: is not configured")
            part = self.state.source(push.NAME, self.fingerprints[push.NAME])
            part, verdict = push.fold(part, dep, rules, merge, also)
            if verdict.counted:
                taken = push.find(part, dep)
                day = friday_of(taken, self.tz, self.days, now) if taken is not None else None
                if taken is not None and day is not None:  # kept for the record, like a polled one
                    part = replace(part, fridays=remember(part.fridays, [FridayDeploy(day, taken)]))
                old = self.state
                self.state = replace(self.state, sources=self._refold({**self.state.sources, push.NAME: part}, now))
                self._news(old, now)
                self.refresh(now)
            weeks = self.count.weeks if self.count is not None else None
        if verdict.counted:
            if self.announce is not None:
                self.announce()
            if self.emit is not None:
                self.emit()
            self.save()
        return replace(verdict, weeks=weeks)

    def hint(self) -> None:
        """A source says it has news (the Bamboo webhook): the service polls now instead of at its interval."""
        self.hints.set()

    def _problem(self, key: str, text: str | None, warning: bool = False) -> str:
        """Log a problem once while it lasts, and once when it is over."""
        before = self._logged.get(key)
        if text is not None and text != before:
            if warning:
                log.warning("%s", text)
            else:
                log.error("%s; keeping the last good number", text)
            self._logged[key] = text
        elif text is None and before is not None:
            del self._logged[key]
            label = next((s.label for s in self.sources if s.name == key), None)
            log.info("%s", f"{label} answers again" if label else f"the {key.replace('_', ' ')} is fine again")
        return text or ""

    def refresh(self, now: datetime | None = None) -> None:
        """Recompute the number from the state and today's local date (it changes at local midnight)."""
        now = now or self.clock()
        if self.clock_error is None and (wrong := clock_problem(now, None, "")) is not None:
            self.clock_error = wrong
            self.error = wrong
        if self.clock_error is not None:  # "today" cannot be trusted: keep what was computed from a sane clock
            c = self.count
        else:
            c = count(
                self.state.best, self.state.history_start, self.cfg.tracking_start, now.astimezone(self.tz).date()
            )
        told = self.story if self.clock_error is not None else None
        told = told or story(self.state.fridays, self.cfg.tracking_start, now.astimezone(self.tz).date())
        error = self.error
        if c is None and error is None:
            error = "no production deployment found yet, and no tracking_start configured"
        payload = state_payload(c, self.tz, now, self.cfg.source, error, told)
        messages = [(self.topics.status, ONLINE)]
        if c is not None:
            messages.append((self.topics.weeks, encode_weeks(c.weeks)))
        if c is not None or self.polled:
            messages.append((self.topics.state, encode_json(payload)))
        if c is not None and told.record is not None:  # no run yet: the record topic is left alone
            messages.append((self.topics.record, encode_weeks(told.record.weeks)))
        with self._lock:
            if c is not None and (self.count is None or self.count.weeks != c.weeks):
                log.info("%d week(s) since the last Friday deployment (counted from %s)", c.weeks, c.counted_from)
            self.count = c
            self.story = told
            self._messages = messages

    def messages(self) -> list[tuple[str, bytes]]:
        """status, weeks (only when there is a number), state and record (only when there is a run), in that order."""
        with self._lock:
            return list(self._messages)

    @property
    def ha_status_topic(self) -> str | None:
        return f"{self.cfg.discovery_prefix}/status" if self.cfg.homeassistant else None

    def discovery(self, remove: bool = False) -> list[tuple[str, bytes]]:
        """Home Assistant discovery configs (empty payloads with `remove`); none when HA is disabled."""
        if not self.cfg.homeassistant:
            return []
        return [
            (d.topic, b"" if remove or d.config is None else encode_json(d.config))
            for d in publisher_discovery(self.topics, self.cfg.discovery_prefix, self.cfg.web_url())
        ]

    def cancel(self) -> None:
        """Make a poll in progress end soon (from a signal handler: no locks)."""
        for source in self.sources:
            source.cancel()

    def save(self) -> str | None:
        """Save the state; on failure the sentence that says why (also logged), else None."""
        with self._saving:  # the poll loop and pushes save from two threads: the newest state is written last
            return self._save()

    def _save(self) -> str | None:
        try:
            state_store.save(self.cfg.state_file, self.state)
        except OSError as e:
            text = (
                f"cannot save the state file {self.cfg.state_file} ({e.strerror}): check state_file and its "
                "folder's permissions"
            )
            self._problem("state_file", text, warning=True)
            return text
        self._problem("state_file", None)
        return None
