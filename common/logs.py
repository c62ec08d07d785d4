"""Log set-up both halves share: one format, secrets redacted, libraries' chatter kept out."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable

PARTIAL = 20  # the shortest start of a secret redacted on its own (sentences cut what they show at 40 characters)


class RedactSecrets(logging.Filter):
    """Last line of defence: a secret that slips into a log message is replaced by ***."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, values: Iterable[str | None]) -> None:
        self.secrets.update(v for v in values if v and len(v) >= 3)

    def redact(self, text: str) -> str:
        """Every secret replaced, and so is the start of one that a sentence shortened (`'abcdefgh...`)."""
        for s in self.secrets:
            text = text.replace(s, "***")
            for k in range(len(s) - 1, PARTIAL - 1, -1):
                if s[:k] in text:
                    text = text.replace(s[:k], "***")
                    break
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg, record.args = self.redact(record.getMessage()), None
        return True


REDACT = RedactSecrets()


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (a test harness may swap and close the one there was at start)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def setup_logging(level: str) -> None:
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACT)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3 warns once per retry with reprs of its internals; our HTTP client says it once per outage instead.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


class RateLimitedLog:
    """At most `burst` lines per `window` seconds; the rest are counted and reported in one line later."""

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        level: int = logging.WARNING,
        summary: str = "%d more bad payloads were ignored without a log line",
    ) -> None:
        self.logger, self.burst, self.window, self.clock = logger, burst, window, clock
        self.level, self.summary = level, summary
        self._start = -window
        self._count = 0
        self.suppressed = 0

    def warning(self, msg: str, *args: object) -> None:
        """Log at this limiter's level (warning unless set otherwise), or count the line."""
        now = self.clock()
        if now - self._start >= self.window:
            if self.suppressed:
                self.logger.log(self.level, self.summary, self.suppressed)
            self._start, self._count, self.suppressed = now, 0, 0
        if self._count < self.burst:
            self._count += 1
            self.logger.log(self.level, msg, *args)
        else:
            self.suppressed += 1

    info = warning
