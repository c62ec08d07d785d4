"""`fdc display --driver terminal` on a real pty: log lines land under the drawing, never inside it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from display_node.drivers import TERMINAL_FOOTER
from display_node.render import pixels, render
from tests.broker import Broker, wait_until
from tests.pty_screen import PtyProcess, screen
from tests.run_fdc import fdc_command


def matrix(value: int | None, width: int) -> list[str]:
    return [r.replace("#", "█").replace(".", "·") for r in pixels(render(value, width, 8))]


def is_matrix_row(line: str) -> bool:
    return bool(line) and set(line) <= {"█", "·"}


def test_screen_model_sees_a_log_line_written_across_the_drawing() -> None:
    """The check below would catch the old behaviour: a log line between two in-place redraws."""
    frame = [f"\x1b[2K{r}\n" for r in matrix(7, 8)]
    garbled = screen("".join(frame) + "2026-01-01 INFO showing '8'\n" + "\x1b[8F" + "".join(frame))
    assert sum(map(is_matrix_row, garbled)) > 8


def test_log_lines_stay_under_the_matrix_on_a_terminal(broker: Broker, tmp_path: Path) -> None:
    cfg = tmp_path / "display.yaml"
    cfg.write_text(
        f"node_id: pty-node\nmqtt: {{host: 127.0.0.1, port: {broker.port}}}\n"
        f"display: {{driver: terminal, cascaded: 2}}\nstate_file: {tmp_path / 'state.json'}\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    term = PtyProcess(fdc_command("display", "-c", str(cfg)), env=env)
    try:

        def shown(value: int | None) -> bool:
            rows = [line for line in term.screen() if is_matrix_row(line)]
            return rows == matrix(value, 16)

        wait_until(lambda: shown(None), 20, f"the no-data frame on the pty (screen: {term.screen()})")
        for payload in ("42", "abc", "7"):
            subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-r", "-t", "friday-deploy/weeks", "-m", payload],
                           check=True, timeout=15)  # fmt: skip
            if payload != "abc":
                wait_until(lambda v=int(payload): shown(v), 20, f"{payload} on the pty (screen: {term.screen()})")
        wait_until(lambda: any("ignored a bad payload" in line for line in term.screen()), 20, "the log line")
        lines = term.screen()
        top = lines.index(matrix(7, 16)[0])
        assert lines[top : top + 8] == matrix(7, 16)  # the drawing is whole, one copy of it
        footer = lines[top + 8 : top + 8 + TERMINAL_FOOTER]
        assert any("ignored a bad payload" in line for line in footer)
        assert all(not line for line in lines[top + 8 + TERMINAL_FOOTER :])  # nothing written below the footer
        before = lines[:top]
        assert not any("INFO" in line or "WARNING" in line for line in before)  # no log line above it either
        assert "logs: the latest lines show here, under the matrix" in term.output
    finally:
        term.proc.send_signal(2)
        term.proc.wait(15)
        term.close()
