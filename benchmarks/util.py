"""What every bench shares: result rows, percentiles, /proc readings and a description of the machine."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Goal:
    text: str
    met: bool
    evidence: str


@dataclass
class Report:
    """What one bench hands back to the runner: a markdown table, goals, notes, and raw facts for the tests."""

    title: str
    setup: str
    header: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        out = [f"## {self.title}", "", self.setup, ""]
        if self.table:
            out.append("| " + " | ".join(self.header) + " |")
            out.append("|" + "|".join("---" for _ in self.header) + "|")
            out += ["| " + " | ".join(r) + " |" for r in self.table]
            out.append("")
        if self.goals:
            out += ["| goal | met | evidence |", "|---|---|---|"]
            out += [f"| {g.text} | {'yes' if g.met else '**no**'} | {g.evidence} |" for g in self.goals]
            out.append("")
        out += [f"- {n}" for n in self.notes]
        if self.notes:
            out.append("")
        return "\n".join(out)


def ratio(value: float, baseline: float) -> str:
    """`value / baseline` as a ratio column entry."""
    if baseline == 0:
        return "–"
    r = value / baseline
    if r == 0:
        return "0×"
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.3f}×" if r >= 0.001 else f"{r:.1e}×"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size from /proc/<pid>/status (VmRSS)."""
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else 0


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process (all its threads) from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram() -> str:
    try:
        m = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        if m:
            return f"{int(m.group(1)) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _mosquitto() -> str:
    from tests.broker import mosquitto_path

    try:
        out = subprocess.run([mosquitto_path(), "-h"], capture_output=True, text=True, timeout=10)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    first = (out.stdout or out.stderr).splitlines()
    return first[0].strip() if first else "unknown"


def machine() -> dict[str, str]:
    import paho.mqtt
    import requests

    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": _ram(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "mosquitto": _mosquitto(),
        "paho-mqtt": paho.mqtt.__version__,
        "requests": requests.__version__,
    }


def kb(n: float) -> str:
    return f"{n / 1024:,.1f} KB" if n < 10 * 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def ms(seconds: float) -> str:
    v = seconds * 1000
    return f"{v:,.0f} ms" if v >= 100 else f"{v:.1f} ms" if v >= 1 else f"{v:.3f} ms"


def stop_all(procs: list[subprocess.Popen[Any]]) -> None:
    """SIGTERM every process, then wait for each (SIGKILL after 10 s): a bench leaves nothing running."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
