"""One action for a burst of triggers, run on one thread of its own: Home Assistant's birth messages.

Home Assistant sends `online` on `<discovery_prefix>/status` once when it starts, but anyone allowed to write
that topic can send thousands. A timer per message would be a thread per message and an announcement per
message; this runs the action once per burst, on a single worker thread, however many triggers arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("fdc.mqtt")


def due_at(first: float, last: float, delay: float, quiet: float, longest: float) -> float:
    """When a burst that began at `first` and whose latest trigger came at `last` is answered: `delay` after its
    first trigger (the random spread), and not before it has been `quiet` for a while, but never later than
    `longest` after its first trigger (an endless burst still gets an answer now and then). Pure."""
    return min(max(first + delay, last + quiet), first + max(longest, delay))


class Debouncer:
    """`trigger()` from any thread; `action()` runs once per burst on the debouncer's one worker thread."""

    def __init__(
        self,
        action: Callable[[], None],
        delay: Callable[[], float],
        *,
        quiet: float = 1.0,
        longest: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "debounce",
    ) -> None:
        self.action, self.delay, self.quiet, self.longest, self.clock = action, delay, quiet, longest, clock
        self.name = name
        self.triggers = 0  # all triggers ever, for tests and logs
        self.runs = 0  # how often the action ran
        self._cond = threading.Condition()
        self._first: float | None = None  # the pending burst: its first trigger, its spread, its latest trigger
        self._spread = 0.0
        self._last = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None

    def trigger(self) -> None:
        with self._cond:
            if self._closed:
                return
            self.triggers += 1
            now = self.clock()
            if self._first is None:
                self._first, self._spread = now, self.delay()
            self._last = now
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def close(self) -> None:
        """Forget a pending burst and end the worker thread."""
        with self._cond:
            self._closed = True
            self._first = None
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._first is None:
                    self._cond.wait()
                if self._closed:
                    return
                assert self._first is not None
                when = due_at(self._first, self._last, self._spread, self.quiet, self.longest)
                wait = when - self.clock()
                if wait > 0:
                    self._cond.wait(wait)
                    continue  # a new trigger may have moved the time, or close() ended it
                self._first = None
                self.runs += 1
            try:
                self.action()
            except Exception:  # a failing action must not end the worker: the next burst tries again
                log.exception("error in %s", self.name)
