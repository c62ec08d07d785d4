"""Run a command on a real pseudo-terminal and rebuild the screen it drew, to check what a person would see.

The screen model knows only what the terminal driver may send (text, newline, `ESC[nF` cursor up to column 0,
`ESC[2K` clear line); anything else is kept verbatim, so a stray escape shows up in the assertions."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import threading
from collections.abc import Mapping, Sequence

_CONTROL = re.compile(r"\x1b\[(\d*)([FK])|\r?\n")


def screen(raw: str) -> list[str]:
    """The lines on screen after `raw`, top to bottom (a tall terminal: nothing scrolls away)."""
    lines: list[str] = [""]
    row = 0
    pos = 0
    for m in _CONTROL.finditer(raw):
        lines[row] += raw[pos : m.start()]
        pos = m.end()
        if m.group(2) == "F":
            row = max(0, row - int(m.group(1) or 1))
            lines[row] = lines[row]  # column 0 of that line; the next text overwrites after a clear
        elif m.group(2) == "K":
            lines[row] = ""
        else:
            row += 1
            if row == len(lines):
                lines.append("")
    lines[row] += raw[pos:]
    return lines


class PtyProcess:
    """A process whose stdin, stdout and stderr are one pty, as in a terminal window; `output` grows."""

    def __init__(self, cmd: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(list(cmd), stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.master = master
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO once the last writer closed the pty
                return
            if not data:
                return
            self.chunks.append(data)

    @property
    def output(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")

    def screen(self) -> list[str]:
        return screen(self.output)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.reader.join(5)
        os.close(self.master)
