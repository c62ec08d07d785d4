"""Noticing bursts on `<prefix>/weeks`: a broker drops what a slow client cannot take, so after a burst the node
reads the retained number again and ends on the truth. Pure: the caller gives the time."""

from __future__ import annotations

BURST = 5  # more `weeks` messages than this within BURST_WINDOW is a burst: some may have been dropped
BURST_WINDOW = 1.0  # seconds
RESYNC_QUIET = 0.5  # seconds without a `weeks` message after a burst: then the retained number is read again
RESYNC_EVERY = 5.0  # seconds; during an endless burst it is read again this often


class Bursts:
    """Notices bursts on `<prefix>/weeks` and says when to read the retained number again (no clock of its own:
    the caller gives the time)."""

    def __init__(self) -> None:
        self._window_start = -BURST_WINDOW
        self._in_window = 0
        self._last = 0.0
        self._since: float | None = None  # a burst since the last re-read: when it began
        self._last_resync = 0.0
        self.seen = 0  # bursts noticed

    def message(self, t: float) -> None:
        if t - self._window_start >= BURST_WINDOW:
            self._window_start, self._in_window = t, 0
        self._in_window += 1
        self._last = t
        if self._in_window > BURST and self._since is None:
            self._since = t
            self.seen += 1

    def due(self, t: float) -> float | None:
        """Seconds until the retained number should be read again (0: now); None when nothing is pending."""
        if self._since is None:
            return None
        when = min(self._last + RESYNC_QUIET, max(self._since, self._last_resync) + RESYNC_EVERY)
        return max(0.0, when - t)

    def resynced(self, t: float) -> None:
        self._last_resync = t
        self._window_start, self._in_window = t, 0  # the retained message this brings is not part of a burst
        # a burst still running counts again from here; its next messages keep it pending
        self._since = t if t - self._last < RESYNC_QUIET else None
