"""The one way tests run the `fdc` command: as a subprocess of this interpreter, like a user's shell would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any

FDC = [sys.executable, "-m", "fdc"]


def fdc_command(*args: str) -> list[str]:
    """The argv that runs `fdc ARGS…` with this checkout's code."""
    return [*FDC, *args]


def run_fdc(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 60, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run `fdc ARGS…` to completion; stdout and stderr are captured as text."""
    return subprocess.run(
        fdc_command(*args),
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        timeout=timeout,
        **kw,
    )


def spawn_fdc(*args: str, env: Mapping[str, str] | None = None, **kw: Any) -> subprocess.Popen[str]:
    """Start `fdc ARGS…` in the background (stdout/stderr piped unless given)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(fdc_command(*args), text=True, env=None if env is None else dict(env), **kw)
